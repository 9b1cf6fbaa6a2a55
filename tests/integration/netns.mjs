// tests/integration/netns.mjs — a private LAN of network namespaces for the cluster
// adapter's tests, so that no UDP announcement ever reaches the real network.
//
// DESIGN: createLan(n) makes n node namespaces, each with one interface (eth0,
// 198.18.X.<i+1>/24, default route via the hub) plugged into a bridge in a hub namespace.
// Broadcast (255.255.255.255 goes out through the default route), multicast and unicast
// among the nodes stay on that bridge. The test process, in its own namespace, reaches
// the nodes' HTTP and WebSocket ports through one veth pair to the hub (198.19.X.1/30 on
// our side, a route to the LAN through it) and the hub's forwarding; broadcasts are never
// forwarded, so none reaches this namespace's interfaces either. Addresses are from
// 198.18.0.0/15 (RFC 2544, never routed), X chosen so that no interface here uses it.
//
// Every namespace is named sktc<pid>-<k>… and deleted by lan.destroy(), by cleanupLans()
// (register it with after()), by an 'exit' hook, and, for a run that was killed, by the
// next createLan() (namespaces whose pid is gone). Deleting the hub removes the veth pair
// and our route. Needs root (CI runs as root); SOKETI_TEST_NO_NETNS=1 skips these tests
// for developers who cannot create namespaces (netnsSkip says so), anything else fails
// with a clear message.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';

import { REFERENCE, httpRequest, restRequest, sleep, startServer, until } from './harness.mjs';

const run = promisify(execFile);
const lans = new Set();
let counter = 0;

/** The reason to skip the namespace tests (SOKETI_TEST_NO_NETNS=1), or false. */
export const netnsSkip = ['1', 'true', 'yes'].includes(String(process.env.SOKETI_TEST_NO_NETNS || '').toLowerCase())
    && 'SOKETI_TEST_NO_NETNS=1: the cluster adapter tests need network namespaces (root); skipped';

/** Throws a clear error when this process cannot create network namespaces. */
export function requireNetns() {
    if (process.getuid && process.getuid() !== 0) {
        throw new Error('the cluster adapter tests create network namespaces (`ip netns add`) and must run '
            + 'as root, as CI does; set SOKETI_TEST_NO_NETNS=1 to skip them on a developer machine');
    }
    try {
        execFileSync('ip', ['-V'], { stdio: 'ignore' });
    } catch {
        throw new Error('the cluster adapter tests need the `ip` command (package iproute2)');
    }
}

async function ip(...args) {
    try {
        return (await run('ip', args)).stdout;
    } catch (err) {
        throw new Error(`ip ${args.join(' ')}: ${err.stderr || err.message}`);
    }
}

/** Deletes namespaces and links left by runs whose process is gone. */
function sweepStale() {
    let names = [];
    try {
        names = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]);
    } catch { return; }
    for (const name of names) {
        const m = /^sktc(\d+)-/.exec(name);
        if (m && !fs.existsSync(`/proc/${m[1]}`)) {
            // daemons that outlived their test process: a killed run's
            try {
                for (const pid of execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).split(/\s+/).filter(Boolean)) {
                    try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
                }
            } catch { /* no such namespace any more */ }
            try { execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' }); } catch { /* gone */ }
        }
    }
}

/** A /24 of 198.18.0.0/16 (and its /30 in 198.19) that no interface of this namespace uses. */
function freeSubnet() {
    const used = execFileSync('ip', ['-o', 'addr'], { encoding: 'utf8' });
    for (let tries = 0; tries < 500; tries++) {
        const x = 1 + Math.floor(Math.random() * 254);
        if (!used.includes(`198.18.${x}.`) && !used.includes(`198.19.${x}.`)) return x;
    }
    throw new Error('no free subnet in 198.18.0.0/16');
}

function destroySync(lan) {
    for (const ns of [...lan.nodes.map((n) => n.ns), lan.hub]) {
        try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }); } catch { /* gone */ }
    }
    lans.delete(lan);
}

process.on('exit', () => {
    for (const lan of [...lans]) destroySync(lan);
});
// Interrupted (^C, a runner's SIGTERM): exit, so that the 'exit' hooks stop the daemons and
// remove the namespaces.
for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => process.exit(sig === 'SIGINT' ? 130 : 143));
}

/**
 * A LAN of n node namespaces. Resolves { nodes: [{ ns, addr }], subnet: '198.18.X',
 * broadcast: '198.18.X.255', exec(i, cmd, args) (the argv prefix that runs cmd in node i's
 * namespace), destroy() }. Throws (after removing what it made) when it cannot.
 */
export async function createLan(n) {
    requireNetns();
    sweepStale();
    // another test file may pick the same subnet at the same moment: its route then exists
    for (let attempt = 1; ; attempt++) {
        try {
            return await tryLan(n);
        } catch (err) {
            if (attempt === 3 || !/exists/i.test(err.message)) throw err;
        }
    }
}

async function tryLan(n) {
    const id = `sktc${process.pid}-${counter++}`;
    const x = freeSubnet();
    const lan = {
        hub: `${id}h`,
        nodes: Array.from({ length: n }, (_, i) => ({ ns: `${id}n${i}`, addr: `198.18.${x}.${i + 1}` })),
        subnet: `198.18.${x}`,
        broadcast: `198.18.${x}.255`,
        wrap: (i) => ['ip', 'netns', 'exec', lan.nodes[i].ns],
        async destroy() { destroySync(lan); },
    };
    lans.add(lan);
    const rootLink = `sk${process.pid % 1000000}x${counter}`;
    try {
        await ip('netns', 'add', lan.hub);
        await ip('-n', lan.hub, 'link', 'set', 'lo', 'up');
        await ip('-n', lan.hub, 'link', 'add', 'br0', 'type', 'bridge');
        await ip('-n', lan.hub, 'addr', 'add', `198.18.${x}.254/24`, 'dev', 'br0');
        await ip('-n', lan.hub, 'link', 'set', 'br0', 'up');
        await run('ip', ['netns', 'exec', lan.hub, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
        for (const [i, node] of lan.nodes.entries()) {
            await ip('netns', 'add', node.ns);
            await ip('-n', node.ns, 'link', 'set', 'lo', 'up');
            await ip('-n', lan.hub, 'link', 'add', `v${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', node.ns);
            await ip('-n', lan.hub, 'link', 'set', `v${i}`, 'master', 'br0', 'up');
            await ip('-n', node.ns, 'addr', 'add', `${node.addr}/24`, 'dev', 'eth0');
            await ip('-n', node.ns, 'link', 'set', 'eth0', 'up');
            await ip('-n', node.ns, 'route', 'add', 'default', 'via', `198.18.${x}.254`);
        }
        // our way in: a veth pair to the hub, routed (the hub forwards, broadcasts stay put)
        await ip('link', 'add', rootLink, 'type', 'veth', 'peer', 'name', 'up0', 'netns', lan.hub);
        await ip('-n', lan.hub, 'addr', 'add', `198.19.${x}.2/30`, 'dev', 'up0');
        await ip('-n', lan.hub, 'link', 'set', 'up0', 'up');
        await ip('addr', 'add', `198.19.${x}.1/30`, 'dev', rootLink);
        await ip('link', 'set', rootLink, 'up');
        await ip('route', 'add', `198.18.${x}.0/24`, 'via', `198.19.${x}.2`);
    } catch (err) {
        destroySync(lan);
        try { execFileSync('ip', ['link', 'del', rootLink], { stdio: 'ignore' }); } catch { /* gone with the hub */ }
        throw err;
    }
    return lan;
}

/** Removes every LAN this process made (register with after()). */
export async function cleanupLans() {
    for (const lan of [...lans]) destroySync(lan);
}

/**
 * startServer() inside node i's namespace of lan, listening on its address: soketi-c, or
 * soketi 1.6.1 with reference: true (default: SOKETI_REFERENCE). env and the rest as startServer's.
 */
export function startNode(lan, i, opts = {}) {
    return startServer({ reference: REFERENCE, ...opts, host: lan.nodes[i].addr, wrap: lan.wrap(i) });
}

// ---------------------------------------------------------------------------
// The cluster adapter's nodes on such a LAN (cluster.test.mjs, cluster-mixed.test.mjs).

export const TIMEOUT_MS = 1000; // adapter.cluster.requestsTimeout of these tests
export const NODE_TIMEOUT_MS = 2000; // soketi's cluster.nodeTimeout
export const CHECK_MS = 500; // soketi's cluster.checkInterval

/** The env of a cluster-adapter node on soketi's cluster defaults (what the harness sets to
 *  keep other tests' soketi instances apart is undone), plus extra. */
export function clusterEnv(extra = {}) {
    return {
        SOKETI_ADAPTER_DRIVER: 'cluster',
        SOKETI_ADAPTER_CLUSTER_REQUESTS_TIMEOUT: String(TIMEOUT_MS),
        SOKETI_CLUSTER_PORT: undefined,
        SOKETI_CLUSTER_HOST: undefined,
        SOKETI_CLUSTER_BROADCAST_ADDRESS: undefined,
        SOKETI_EVENT_MAX_SIZE_IN_KB: '200',
        SOKETI_METRICS_ENABLED: 'true',
        SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES: 'true',
        SOKETI_DEFAULT_APP_USER_AUTHENTICATION: 'true',
        ...extra,
    };
}

/** How many other nodes a soketi-c node's log last said it knows. */
export function peersOf(srv) {
    const all = [...srv.output().matchAll(/(\d+) other node\(s\) in the cluster/g)];
    return all.length ? Number(all[all.length - 1][1]) : 0;
}

/** Waits until srv knows n other nodes (a soketi node does not say: a hello's time then). */
export async function waitPeers(srv, n, timeoutMs = 3000) {
    if (srv.reference) return sleep(1200);
    return until(() => peersOf(srv) === n, timeoutMs, `${n} other nodes known to ${srv.host}`);
}

/** A signed REST GET on srv: resolves { json, ms } (how long it took). */
export async function timed(srv, path) {
    const t0 = Date.now();
    const res = await restRequest(srv, { path });
    assert.equal(res.status, 200, res.text);
    return { json: res.json, ms: Date.now() - t0 };
}

/** A sample of srv's /metrics (0 when absent). */
export async function metric(srv, name) {
    const res = await httpRequest({ host: srv.host, port: srv.metricsPort }, { path: '/metrics' });
    assert.equal(res.status, 200);
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(res.text);
    return m ? Number(m[1]) : 0;
}
