// tests/integration/metrics-scrape.bench.mjs — what one GET /metrics costs the daemon while it
// holds N idle WebSocket connections: the daemon's CPU per scrape (from /proc/<pid>/stat) and
// the round trip of one scrape, over S sequential scrapes on one keep-alive connection.
// A benchmark, not a test: it prints figures.
//
//   SOKETI_BIN=/tmp/build/soketi SOKETI_PLUGIN_DIR_TEST=/tmp/build/plugins/.libs \
//       node tests/integration/metrics-scrape.bench.mjs [connections=10000] [scrapes=2000]
import net from 'node:net';
import { cleanup, cpuTicks, idleConnections, startServer } from './harness.mjs';

const conns = Number(process.argv[2] ?? 10000);
const scrapes = Number(process.argv[3] ?? 2000);

/** Sends GET path on a keep-alive socket count times, one after the other; resolves the
 * round trips in ms. */
function scrapeLoop(server, count, path = '/metrics') {
    return new Promise((resolve, reject) => {
        const s = net.connect(server.metricsPort, server.host);
        const rtts = [];
        let buf = Buffer.alloc(0);
        let t0 = 0;
        const send = () => { t0 = process.hrtime.bigint(); s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`); };
        s.on('connect', send);
        s.on('error', reject);
        s.on('data', (d) => {
            buf = Buffer.concat([buf, d]);
            for (;;) {
                const end = buf.indexOf('\r\n\r\n');
                if (end < 0) return;
                const len = Number(/content-length:\s*(\d+)/i.exec(buf.subarray(0, end).toString('latin1'))[1]);
                if (buf.length < end + 4 + len) return;
                buf = buf.subarray(end + 4 + len);
                rtts.push(Number(process.hrtime.bigint() - t0) / 1e6);
                if (rtts.length === count) { s.destroy(); resolve(rtts); return; }
                send();
            }
        });
    });
}

const server = await startServer({ env: { SOKETI_METRICS_ENABLED: 'true' }, readyTimeoutMs: 20000 });
const sockets = await idleConnections(server, conns);
await scrapeLoop(server, 50); // warm up
const ticks0 = cpuTicks(server.proc.pid);
const t0 = Date.now();
const rtts = (await scrapeLoop(server, scrapes)).sort((a, b) => a - b);
const wall = Date.now() - t0;
const cpuMs = (cpuTicks(server.proc.pid) - ticks0) * 10; // USER_HZ 100
const q = (p) => rtts[Math.min(rtts.length - 1, Math.floor(rtts.length * p))].toFixed(3);
console.log(`${conns} idle connections, ${scrapes} sequential scrapes in ${wall} ms`);
console.log(`daemon CPU per scrape: ${(cpuMs / scrapes).toFixed(3)} ms`);
console.log(`scrape round trip: p50 ${q(0.5)} ms, p99 ${q(0.99)} ms`);
for (const s of sockets) s.destroy();
await server.stop();
await cleanup();
