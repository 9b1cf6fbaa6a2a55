// tests/integration/cluster.test.mjs — the cluster adapter (adapter_cluster.so): soketi-c nodes
// that find each other with node-discover's UDP hellos, no broker, act as one Pusher server.
// Broadcasts cross nodes exactly once, REST counts, presence members and termination span
// them; a node joining late takes part within a hello; a killed node makes queries wait
// requestsTimeout until its peers drop it after nodeTimeout; an event too large for one
// datagram stays on its node (logged, counted); unicast, port, prefix and hostname are
// honoured; inconsistent timeouts are refused; hostile datagrams are bounded.
//
// Every daemon runs in a network namespace of a private LAN (netns.mjs), so that broadcasts
// to 255.255.255.255 (soketi's default) never reach a real network: this needs root, and
// fails with a clear message without it (SOKETI_TEST_NO_NETNS=1 skips the file). With
// SOKETI_REFERENCE=1 the nodes are soketi 1.6 and what only soketi-c does is skipped.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
    REFERENCE, SANITIZED, checkCountsAcrossNodes, checkPresenceAcrossNodes, checkTerminateAcrossNodes, cleanup,
    expectExactlyOnce, expectNoEvent, listener, pusherRest, restRequest, rssKiB, sleep, until,
} from './harness.mjs';
import {
    CHECK_MS, NODE_TIMEOUT_MS, TIMEOUT_MS, cleanupLans, clusterEnv as nodeEnv, createLan, metric, netnsSkip,
    peersOf, startNode, timed, waitPeers,
} from './netns.mjs';

after(cleanup);
after(cleanupLans);

const OURS = REFERENCE && 'what only soketi-c does (its log lines, metrics and bounds)';

describe('soketi-c nodes on one LAN, soketi\'s defaults (broadcast to 255.255.255.255:11002)', { skip: netnsSkip }, () => {
    let lan; let a; let b; let c;
    before(async () => {
        lan = await createLan(4);
        [a, b] = await Promise.all([startNode(lan, 0, { env: nodeEnv() }), startNode(lan, 1, { env: nodeEnv() })]);
        await Promise.all([waitPeers(a, 1), waitPeers(b, 1)]);
    });

    test('two nodes find each other and act as one server', async () => {
        if (!REFERENCE) assert.match(a.output(), /UDP 0\.0\.0\.0:11002, broadcast to 255\.255\.255\.255:11002, hostName 0\.0\.0\.0, channel cluster-adapter/);
        await checkCountsAcrossNodes(a, b, TIMEOUT_MS);
        const x = await listener(a, 'room', 'ev');
        const y = await listener(b, 'room', 'ev');
        await pusherRest(a).trigger('room', 'ev', { n: 1 });
        await expectExactlyOnce([x, y], { n: 1 });
        // socket_id excludes a socket of the other node
        await pusherRest(b).trigger('room', 'ev', { n: 2 }, { socket_id: x.socketId });
        await until(() => y.got.length === 2, 3000, 'the second event on b');
        await expectNoEvent(x.ch, 'ev', 300);
        await checkPresenceAcrossNodes(a, b);
        await checkTerminateAcrossNodes(a, b);
    });

    test('a node joining late is found by its first hello and takes part', async () => {
        c = await startNode(lan, 2, { env: nodeEnv() });
        await Promise.all([waitPeers(a, 2), waitPeers(b, 2), waitPeers(c, 2)]);
        const x = await listener(a, 'late', 'ev');
        const y = await listener(b, 'late', 'ev');
        const z = await listener(c, 'late', 'ev');
        await pusherRest(b).trigger('late', 'ev', { n: 3 });
        await expectExactlyOnce([x, y, z], { n: 3 });
        const { json, ms } = await timed(c, '/channels/late');
        assert.equal(json.subscription_count, 3);
        assert.ok(ms < TIMEOUT_MS, `three answers (${ms} ms)`);
        const users = await restRequest(c, { path: '/channels/presence-room/users' });
        assert.deepEqual(users.json.users.map((u) => u.id).sort(), ['alice', 'bob']);
    });

    test('a killed node: queries wait requestsTimeout for it until its peers drop it after nodeTimeout', async () => {
        const z = await listener(c, 'gone', 'ev');
        await until(async () => (await timed(a, '/channels/gone')).json.subscription_count === 1, 3000, 'c\'s socket seen by a');
        z.client.disconnect();
        c.proc.kill('SIGKILL');
        await c.exited;
        const killedAt = Date.now();
        const first = await timed(a, '/channels/room');
        assert.equal(first.json.subscription_count, 2, 'the live nodes\' part');
        assert.ok(first.ms >= TIMEOUT_MS - 100 && first.ms < TIMEOUT_MS + 1500,
            `answered at requestsTimeout while c is still counted (${first.ms} ms)`);
        if (!REFERENCE) {
            await until(() => /left: not heard from for 2000 ms; 1 other node\(s\)/.test(a.output()),
                NODE_TIMEOUT_MS + CHECK_MS + 2000, 'c dropped by a');
            // nodeTimeout runs from c's last hello, at most helloInterval (500 ms) before the kill
            const after = Date.now() - killedAt;
            assert.ok(after >= NODE_TIMEOUT_MS - 500 - 200, `not before nodeTimeout (${after} ms)`);
        } else {
            await sleep(NODE_TIMEOUT_MS + CHECK_MS + 500);
        }
        const later = await timed(a, '/channels/room');
        assert.equal(later.json.subscription_count, 2);
        assert.ok(later.ms < TIMEOUT_MS / 2, `no wait once c is dropped (${later.ms} ms)`);
    });

    test('an event too large for one datagram reaches its own node only, logged and counted', async () => {
        const x = await listener(a, 'big', 'ev');
        const y = await listener(b, 'big', 'ev');
        const before = REFERENCE ? 0 : await metric(a, 'soketi_adapter_messages_dropped_total');
        // 50 KB fits one datagram with its envelope (64 KiB): it crosses
        await pusherRest(a).trigger('big', 'ev', 'm'.repeat(50 * 1024));
        await until(() => x.got.length === 1 && y.got.length === 1, 3000, 'the 50 KB event on both');
        // 70 KB does not
        const big = 'x'.repeat(70 * 1024);
        await pusherRest(a).trigger('big', 'ev', big);
        await until(() => x.got.length === 2, 3000, 'the 70 KB event on a');
        assert.equal(x.got[1], big);
        await expectNoEvent(y.ch, 'ev', 1000);
        if (!REFERENCE) {
            assert.match(a.output(), /a broadcast on channel big of app app-id takes \d+ bytes as a packet, more than one UDP datagram holds \(65507\): delivered to this node's clients only/);
            assert.equal(await metric(a, 'soketi_adapter_messages_dropped_total'), before + 1);
        }
        // the next one crosses again
        await pusherRest(a).trigger('big', 'ev', 'small');
        await until(() => y.got.length === 2, 3000, 'a small event on b');
    });

    test('hostile datagrams: junk, deep nesting, a flood of new nodes; the node stays up and serves', { skip: OURS }, async () => {
        const rssBefore = rssKiB(a.proc.pid);
        // from the fourth namespace, straight to a's port
        const script = `
            const dgram = require('node:dgram');
            const crypto = require('node:crypto');
            const s = dgram.createSocket('udp4');
            const send = (b) => new Promise((r) => s.send(b, 11002, process.argv[1], r));
            (async () => {
                for (let i = 0; i < 200; i++) await send(crypto.randomBytes(1 + (i * 331) % 65000));
                for (let i = 0; i < 50; i++) await send(Buffer.from('['.repeat(60000)));
                for (let i = 0; i < 50; i++) await send(Buffer.from('{"event":"hello","iid":"' + 'i'.repeat(100) + '","data":{"isMaster":true}}'));
                for (let i = 0; i < 2000; i++) {
                    await send(Buffer.from(JSON.stringify({ event: 'hello', pid: 'p', iid: 'fake-' + i, hostName: 'h',
                        data: { isMaster: true, isMasterEligible: true, weight: 1, address: '127.0.0.1' } })));
                }
                for (let i = 0; i < 300; i++) {
                    await send(Buffer.from(JSON.stringify({ event: 'cluster-adapter#comms#req', pid: 'p', iid: 'fake-' + i,
                        hostName: 'h', data: JSON.stringify({ requestId: 'r' + i, appId: 'app-id', type: 1 }) })));
                    await send(Buffer.from(JSON.stringify({ event: 'cluster-adapter', pid: 'p', iid: 'fake-' + i,
                        hostName: 'h', data: '{"uuid":' + '['.repeat(200) })));
                }
                s.close();
            })();`;
        await promisify(execFile)('ip', ['netns', 'exec', lan.nodes[3].ns, process.execPath, '-e', script, a.host]);
        // still serving: a broadcast from b reaches a at once
        const x = await listener(a, 'after', 'ev');
        await pusherRest(b).trigger('after', 'ev', { ok: true });
        await until(() => x.got.length === 1, 2000, 'a broadcast from b after the flood');
        assert.match(a.output(), /ignored a hello from a new node at [\d.]+:\d+: the node table is full \(cluster\.maxNodes is 256\)/);
        assert.match(a.output(), /dropped a datagram of \d+ bytes from [\d.]+:\d+: not a packet/);
        if (!SANITIZED) {
            const grown = rssKiB(a.proc.pid) - rssBefore;
            assert.ok(grown < 20 * 1024, `RSS grew ${grown} KiB`);
        }
        // the fake nodes never say hello again: dropped after nodeTimeout, b stays
        await until(() => /left: not heard from for 2000 ms; 1 other node\(s\)/.test(a.output().split('the node table is full').pop()),
            NODE_TIMEOUT_MS + CHECK_MS + 3000, 'the fake nodes dropped');
        const { json, ms } = await timed(a, '/channels/after');
        assert.equal(json.subscription_count, 1);
        assert.ok(ms < TIMEOUT_MS / 2, `no fake node waited for (${ms} ms)`);
    });
});

describe('cluster.* options', { skip: netnsSkip }, () => {
    let lan;
    before(async () => { lan = await createLan(3); });

    test('unicast, port, prefix and hostname; another cluster on the same port stays apart', async () => {
        const [n0, n1] = lan.nodes;
        const env = (name) => nodeEnv({
            SOKETI_CLUSTER_PORT: '12001',
            SOKETI_CLUSTER_UNICAST_ADDRESSES: `${n0.addr},${n1.addr}`,
            SOKETI_CLUSTER_PREFIX: 'tenant',
            SOKETI_CLUSTER_HOST: name,
        });
        const [u, v] = await Promise.all([startNode(lan, 0, { env: env('node-u') }), startNode(lan, 1, { env: env('node-v') })]);
        // a node of another cluster (no prefix) broadcasting on the same port: u and v hear it
        const w = await startNode(lan, 2, { env: nodeEnv({ SOKETI_CLUSTER_PORT: '12001' }) });
        await Promise.all([waitPeers(u, 1), waitPeers(v, 1)]);
        if (!REFERENCE) {
            assert.match(u.output(), /UDP 0\.0\.0\.0:12001, unicast to [\d.]+:12001 and the other unicast addresses, hostName node-u, channel tenant#cluster-adapter/);
            assert.match(u.output(), /node [0-9a-f-]{36} \(node-v, [\d.]+:12001\) joined/);
            await until(() => /of another cluster \(channel cluster-adapter\) seen: not counted/.test(u.output()), 2000, 'w seen by u');
        }
        const x = await listener(u, 'uni', 'ev');
        const y = await listener(v, 'uni', 'ev');
        const z = await listener(w, 'uni', 'ev');
        await pusherRest(v).trigger('uni', 'ev', { u: 1 });
        await expectExactlyOnce([x, y], { u: 1 });
        await pusherRest(w).trigger('uni', 'ev', { w: 1 });
        await until(() => z.got.length === 1, 2000, 'w\'s own event');
        await sleep(300);
        assert.deepEqual(z.got, [{ w: 1 }]);
        assert.equal(x.got.length, 1, 'nothing of the other cluster');
        const { json, ms } = await timed(u, '/channels/uni');
        assert.equal(json.subscription_count, 2);
        // soketi counts w as a node of its cluster and waits requestsTimeout for it
        if (!REFERENCE) assert.ok(ms < TIMEOUT_MS, `the node of the other cluster is not waited for (${ms} ms)`);
        if (!REFERENCE) assert.equal(peersOf(w), 0);
    });

    test('inconsistent timeouts are refused at start, as node-discover refuses them', { skip: OURS }, async () => {
        await assert.rejects(startNode(lan, 2, { env: nodeEnv({ SOKETI_CLUSTER_NODE_TIMEOUT: '400', SOKETI_CLUSTER_PORT: '12002' }) }),
            /cluster\.\*: nodeTimeout must be greater than or equal to checkInterval/);
        await assert.rejects(startNode(lan, 2, { env: nodeEnv({ SOKETI_CLUSTER_MASTER_TIMEOUT: '1000', SOKETI_CLUSTER_PORT: '12002' }) }),
            /cluster\.\*: masterTimeout must be greater than or equal to nodeTimeout/);
    });
});
