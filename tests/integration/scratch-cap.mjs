import { spawn } from 'node:child_process';
import { createLan, startNode, cleanupLans, clusterEnv } from './netns.mjs';
import { cleanup, sleep, pusherRest, restRequest } from './harness.mjs';
const lan = await createLan(2);
try {
  const S = await startNode(lan, 0, { env: clusterEnv(), reference: process.argv[2] === 'ref' });
  const cap = spawn('ip', ['netns', 'exec', lan.nodes[1].ns, process.execPath, '-e',
    `const s=require('node:dgram').createSocket({type:'udp4',reuseAddr:true}); s.on('message',(m,r)=>console.log(r.address, m.toString())); s.bind(11002);`]);
  let out = ''; cap.stdout.on('data', (d) => { out += d; });
  await sleep(1200);
  await pusherRest(S).trigger('ch', 'ev', { a: 'b"c' });
  await restRequest(S, { path: '/channels' });
  await sleep(300);
  cap.kill();
  console.log(out.split('\n').filter((l, i, a) => !l.includes('"hello"') || a.findIndex((x) => x.includes('"hello"')) === i).join('\n'));
} finally { await cleanup(); await cleanupLans(); }
