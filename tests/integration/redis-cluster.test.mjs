// tests/integration/redis-cluster.test.mjs — the redis-cluster adapter (adapter_redis_cluster.so):
// daemons in soketi's cluster mode (SOKETI_ADAPTER_REDIS_CLUSTER_MODE=true, or the driver
// redis-cluster) on a real Redis Cluster of 3 masters with a replica each, seeded with one node.
// Broadcasts reach every node exactly once, REST counts and presence span the nodes, the
// subscriber count that queries wait for is summed over every cluster node, a soketi 1.6 node
// and a soketi-c node share the cluster, the cluster down at start or restarted is survived,
// ASK/MOVED replies are followed (a fake node sends them: Redis 7 never redirects a PUBLISH),
// and killing a master (SIGKILL, then the replica's failover) interrupts delivery only briefly.
//
// One cluster serves the whole file (creating one takes seconds); each test uses its own
// adapter.redis.prefix so that it only sees its own daemons. The failover test runs last.
// With SOKETI_REFERENCE=1 the same tests run soketi 1.6 nodes (what only soketi-c logs is
// then not checked).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import {
    REFERENCE, REFERENCE_BIN, cleanup, disconnect, expectExactlyOnce, listener, pusherClient, pusherRest, restRequest,
    sleep, startRedisCluster, startServer, subscribe, until, waitFor,
} from './harness.mjs';

after(cleanup);

const TIMEOUT_MS = 1000; // adapter.redis.requestsTimeout for these tests
let rc = null;

before(async () => {
    rc = await startRedisCluster({ masters: 3, replicas: 1 });
});
after(() => rc?.stop());

const reqChannel = (prefix) => `${prefix}#redis-adapter#comms#req`;

/** PUBSUB NUMSUB of channel on every live node of the cluster: { port: count }. */
async function numsubByNode(channel, cluster = rc) {
    const out = {};
    await Promise.all(cluster.nodes.map(async (n) => {
        try { out[n.port] = (await n.command('PUBSUB', 'NUMSUB', channel))[1]; } catch { /* down */ }
    }));
    return out;
}

const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0);

let prefixes = 0;

/**
 * n daemons in cluster mode on the shared cluster, each seeded with one node (seeds[i], by
 * default the first master for every daemon), with a prefix of their own; all subscribed.
 * driver[i] 'redis-cluster' asks for the plugin by name; reference[i] true runs soketi 1.6;
 * cluster: the Redis Cluster (rc), wait: false when it is down.
 * Stopped (and checked for a clean exit) when test t ends.
 */
async function daemons(t, n, { seeds = [], driver = [], reference = [], cluster = rc, wait = true } = {}) {
    const prefix = `rc${++prefixes}`;
    const env = (i) => ({
        ...(driver[i] === 'redis-cluster'
            ? { SOKETI_ADAPTER_DRIVER: 'redis-cluster' }
            : { SOKETI_ADAPTER_DRIVER: 'redis', SOKETI_ADAPTER_REDIS_CLUSTER_MODE: 'true' }),
        SOKETI_DB_REDIS_CLUSTER_NODES: JSON.stringify([{ host: '127.0.0.1', port: seeds[i] ?? cluster.ports[0] }]),
        SOKETI_ADAPTER_REDIS_PREFIX: prefix,
        SOKETI_ADAPTER_REDIS_REQUESTS_TIMEOUT: String(TIMEOUT_MS),
    });
    const nodes = await Promise.all(Array.from({ length: n },
        (_, i) => startServer({ env: env(i), reference: reference[i] ?? REFERENCE })));
    t.after(async () => {
        const exits = await Promise.all(nodes.map((s) => s.stop('SIGTERM', 5000)));
        for (const [i, e] of exits.entries()) {
            assert.deepEqual(e, { code: 0, signal: null }, `daemon ${i} exited cleanly\n${nodes[i].output()}`);
        }
    });
    if (!wait) return { prefix, nodes };
    await until(async () => sum(await numsubByNode(reqChannel(prefix), cluster)) === n, 8000, `${n} subscribers`);
    await until(() => nodes.every((s, i) => (reference[i] ?? REFERENCE) || /cross-node delivery is on/.test(s.output())),
        5000, 'delivery on');
    return { prefix, nodes };
}

/**
 * Triggers an event on A and one on B every 200 ms until each crossed to the other node's
 * listener (onA on A, onB on B); resolves how many ms that took.
 */
async function untilCrossDelivery([a, b], [onA, onB], timeoutMs, what) {
    const started = Date.now();
    let n = 0;
    await until(async () => {
        n += 1;
        await Promise.allSettled([
            pusherRest(a).trigger(onA.ch.name, 'tick', { n, from: 'a' }),
            pusherRest(b).trigger(onB.ch.name, 'tick', { n, from: 'b' }),
        ]);
        await sleep(200);
        return onB.got.some((d) => d.from === 'a' && d.n === n) && onA.got.some((d) => d.from === 'b' && d.n === n);
    }, timeoutMs, what);
    return Date.now() - started;
}

/** A raw Redis connection on port subscribed to channel; close() unsubscribes. */
function rawSubscriber(port, channel) {
    return new Promise((resolve, reject) => {
        const sock = net.connect(port, '127.0.0.1');
        sock.on('connect', () => sock.write(`*2\r\n$9\r\nSUBSCRIBE\r\n$${Buffer.byteLength(channel)}\r\n${channel}\r\n`));
        sock.once('data', () => resolve({ close: () => sock.destroy() }));
        sock.on('error', reject);
    });
}

/** One RESP command (an array of bulk strings) from buf: { argv, next } or null when incomplete. */
function parseCommand(buf) {
    const eol = buf.indexOf('\r\n');
    if (eol < 0) return null;
    const n = Number(buf.toString('latin1', 1, eol));
    const argv = [];
    let at = eol + 2;
    for (let k = 0; k < n; k++) {
        const e = buf.indexOf('\r\n', at);
        if (e < 0) return null;
        const len = Number(buf.toString('latin1', at + 1, e));
        if (buf.length < e + 2 + len + 2) return null;
        argv.push(buf.toString('utf8', e + 2, e + 2 + len));
        at = e + 2 + len + 2;
    }
    return { argv, next: at };
}

const bulk = (str) => `$${Buffer.byteLength(str)}\r\n${str}\r\n`;

/**
 * A fake two-node cluster on two ports, for what Redis 7 never does to a PUBLISH: `first`
 * masters every slot and `second` is its replica (setMap(['second']) makes second the only
 * node). A PUBLISH on first is answered ASK (the first time) or MOVED (then) to second;
 * second forwards every PUBLISH to the real node forwardPort, so it reaches the real
 * cluster's subscribers. SUBSCRIBE is confirmed (nothing is ever delivered), PUBSUB NUMSUB
 * counts 0. seen: every command each port received, as [port name, COMMAND, ...args].
 */
async function fakeCluster(forwardPort) {
    const seen = [];
    const ports = {};
    let listed = ['first', 'second'];
    let publishesOnFirst = 0;
    const forward = net.connect(forwardPort, '127.0.0.1');
    forward.on('data', () => {}); // its replies are not needed
    forward.on('error', () => {});
    const sockets = new Set();
    const node = (name) => (sock) => {
        sockets.add(sock);
        sock.on('close', () => sockets.delete(sock));
        sock.on('error', () => {});
        let buf = Buffer.alloc(0);
        sock.on('data', (d) => {
            buf = Buffer.concat([buf, d]);
            for (let r = parseCommand(buf); r; r = parseCommand(buf)) {
                buf = buf.subarray(r.next);
                const [cmd, ...args] = r.argv;
                const c = cmd.toUpperCase();
                seen.push([name, c, ...args]);
                if (c === 'CLUSTER' && args[0]?.toUpperCase() === 'SLOTS') {
                    const entry = (n) => `*3\r\n${bulk('127.0.0.1')}:${ports[n]}\r\n${bulk(`${n}`.padEnd(40, '0'))}`;
                    sock.write(`*1\r\n*${2 + listed.length}\r\n:0\r\n:16383\r\n${listed.map(entry).join('')}`);
                } else if (c === 'SUBSCRIBE') {
                    args.forEach((ch, i) => sock.write(`*3\r\n${bulk('subscribe')}${bulk(ch)}:${i + 1}\r\n`));
                } else if (c === 'PUBSUB') {
                    sock.write(`*2\r\n${bulk(args[1])}:0\r\n`);
                } else if (c === 'PUBLISH' && name === 'first') {
                    publishesOnFirst += 1;
                    sock.write(`-${publishesOnFirst === 1 ? 'ASK' : 'MOVED'} 8465 127.0.0.1:${ports.second}\r\n`);
                } else if (c === 'PUBLISH') {
                    forward.write(`*3\r\n${bulk('PUBLISH')}${bulk(args[0])}${bulk(args[1])}`);
                    sock.write(':1\r\n');
                } else if (c === 'ASKING') {
                    sock.write('+OK\r\n');
                } else {
                    sock.write(`-ERR fake node: ${c}\r\n`);
                }
            }
        });
    };
    const servers = [];
    for (const name of ['first', 'second']) {
        const srv = net.createServer(node(name));
        await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
        ports[name] = srv.address().port;
        servers.push(srv);
    }
    return {
        ports,
        seen,
        setMap: (names) => { listed = names; },
        close: () => {
            forward.destroy();
            for (const sock of sockets) sock.destroy();
            return Promise.all(servers.map((srv) => new Promise((resolve) => srv.close(resolve))));
        },
    };
}

// ---------------------------------------------------------------------------

test('both ways of asking for it load adapter_redis_cluster.so; one seed node is enough', async (t) => {
    // A: driver redis + clusterMode, seeded with a master; B: driver redis-cluster (soketi-c's
    // name; soketi 1.6 only has clusterMode), seeded with a replica
    const replica = (await rc.slotsOf(rc.ports[0]))[0].replicas[0];
    const { nodes: [a, b] } = await daemons(t, 2, {
        seeds: [rc.ports[0], replica], driver: REFERENCE ? [] : ['redis', 'redis-cluster'],
    });
    if (!REFERENCE) {
        for (const s of [a, b]) {
            assert.match(s.output(), /adapter_redis_cluster\.so/);
            assert.match(s.output(), /cluster map: 6 nodes \(3 masters\) serve 16384 of 16384 slots/);
        }
    }
});

test('a REST event on A reaches the subscribers on A and B exactly once, and the other way', async (t) => {
    const { nodes: [a, b] } = await daemons(t, 2);
    const ls = [await listener(a, 'news', 'headline'), await listener(b, 'news', 'headline'),
        await listener(b, 'news', 'headline')];
    await pusherRest(a).trigger('news', 'headline', { n: 1 });
    await expectExactlyOnce(ls, { n: 1 });
    for (const l of ls) l.got.length = 0;
    await pusherRest(b).trigger('news', 'headline', { n: 2 });
    await expectExactlyOnce(ls, { n: 2 });

    // socket exclusion across nodes
    for (const l of ls) l.got.length = 0;
    await pusherRest(a).trigger('news', 'headline', { n: 3 }, { socket_id: ls[1].socketId });
    await expectExactlyOnce([ls[0], ls[2]], { n: 3 });
    assert.deepEqual(ls[1].got, []);
    ls.forEach((l) => disconnect(l.client));
});

test('channel counts are summed over the nodes; presence spans them', async (t) => {
    const { nodes: [a, b] } = await daemons(t, 2);
    await listener(a, 'count-ch', 'x');
    await listener(a, 'count-ch', 'x');
    await listener(b, 'count-ch', 'x');
    await listener(b, 'only-b', 'x');
    const user = (srv, id) => pusherClient(srv, { presenceData: { user_id: id, user_info: { name: id } } });

    const alice = await subscribe(user(a, 'alice'), 'presence-room');
    assert.equal(alice.members.count, 1);
    const bobAdded = waitFor(alice, 'pusher:member_added');
    const bob = await subscribe(user(b, 'bob'), 'presence-room');
    assert.equal(bob.members.count, 2, 'the member list of a new subscriber has members of both nodes');
    assert.deepEqual(bob.members.get('alice'), { id: 'alice', info: { name: 'alice' } });
    assert.equal((await bobAdded).id, 'bob');

    const expected = {
        'count-ch': { subscription_count: 3, occupied: true },
        'only-b': { subscription_count: 1, occupied: true },
        'presence-room': { subscription_count: 2, occupied: true },
    };
    for (const srv of [a, b]) {
        const started = Date.now();
        const res = await restRequest(srv, { path: '/channels' });
        assert.deepEqual(res.json.channels, expected);
        assert.ok(Date.now() - started < TIMEOUT_MS * 0.8, 'answered by every node, not by the timeout');
        const one = await restRequest(srv, { path: '/channels/presence-room' });
        assert.deepEqual(one.json, { subscription_count: 2, occupied: true, user_count: 2 });
        const users = await restRequest(srv, { path: '/channels/presence-room/users' });
        assert.deepEqual(users.json.users.map((u) => u.id).sort(), ['alice', 'bob']);
    }
});

test('queries wait for the subscribers of every cluster node (PUBSUB NUMSUB summed)', { skip: REFERENCE && 'times soketi-c' }, async (t) => {
    const { prefix, nodes: [a, b] } = await daemons(t, 2);
    await listener(b, 'ch', 'x');
    const timed = async () => {
        const started = Date.now();
        const res = await restRequest(a, { path: '/channels/ch' });
        assert.deepEqual(res.json, { subscription_count: 1, occupied: true });
        return Date.now() - started;
    };
    assert.ok(await timed() < TIMEOUT_MS * 0.8, 'two nodes answer at once');
    // a third listener on a cluster node where no daemon subscribes: counted, never answers
    const counts = await numsubByNode(reqChannel(prefix));
    const empty = rc.ports.find((p) => counts[p] === 0);
    const silent = await rawSubscriber(empty, reqChannel(prefix));
    try {
        assert.ok(await timed() >= TIMEOUT_MS * 0.9, 'a subscriber on another cluster node is waited for');
    } finally {
        silent.close();
    }
    await until(async () => sum(await numsubByNode(reqChannel(prefix))) === 2, 3000, 'the raw subscriber gone');
    assert.ok(await timed() < TIMEOUT_MS * 0.8, 'at once again');
});

test('mixed cluster with soketi 1.6 in cluster mode: events and counts both ways', {
    skip: REFERENCE ? 'every node is soketi already'
        : !fs.existsSync(REFERENCE_BIN) && `soketi 1.6 is not installed at ${REFERENCE_BIN}`,
}, async (t) => {
    const { nodes: [ours, theirs] } = await daemons(t, 2, { reference: [false, true] });
    const x = await listener(ours, 'mixed', 'ev');
    const y = await listener(theirs, 'mixed', 'ev');
    await pusherRest(theirs).trigger('mixed', 'ev', { from: 'soketi' });
    await expectExactlyOnce([x, y], { from: 'soketi' });
    for (const l of [x, y]) l.got.length = 0;
    await pusherRest(ours).trigger('mixed', 'ev', { from: 'soketi-c' });
    await expectExactlyOnce([x, y], { from: 'soketi-c' });
    await listener(theirs, 'only-theirs', 'ev');
    for (const srv of [ours, theirs]) {
        const started = Date.now();
        const res = await restRequest(srv, { path: '/channels' });
        assert.deepEqual(res.json.channels, {
            mixed: { subscription_count: 2, occupied: true },
            'only-theirs': { subscription_count: 1, occupied: true },
        });
        assert.ok(Date.now() - started < TIMEOUT_MS * 0.8, 'both nodes count the same subscribers');
    }
});

test('the cluster down at start, then restarted mid-run: local delivery meanwhile, cross-node delivery resumes', async (t) => {
    const rc2 = await startRedisCluster({ masters: 3, replicas: 0 });
    t.after(() => rc2.stop());
    await Promise.all(rc2.nodes.map((n) => n.stop()));
    const { prefix, nodes: [a, b] } = await daemons(t, 2, { cluster: rc2, wait: false });
    if (!REFERENCE) {
        await until(() => /cannot connect the publisher to redis at 127\.0\.0\.1:\d+: Connection refused/.test(a.output()),
            3000, 'the failure logged');
    }
    const onA = await listener(a, 'down', 'tick');
    const onB = await listener(b, 'down', 'tick');
    await pusherRest(a).trigger('down', 'tick', { local: 1 });
    await until(() => onA.got.length === 1, 3000, 'local delivery while the cluster is down');
    await sleep(300);
    assert.deepEqual(onB.got, []);

    await Promise.all(rc2.nodes.map((n) => n.start()));
    await rc2.waitReady();
    const joinedMs = await untilCrossDelivery([a, b], [onA, onB], 15000, 'delivery once the cluster is up');
    t.diagnostic(`cross-node delivery ${joinedMs} ms after the cluster was ready`);

    await Promise.all(rc2.nodes.map((n) => n.restart()));
    await rc2.waitReady();
    const resumedMs = await untilCrossDelivery([a, b], [onA, onB], 15000, 'delivery after the restart');
    t.diagnostic(`cross-node delivery ${resumedMs} ms after the restarted cluster was ready`);
    await until(async () => sum(await numsubByNode(reqChannel(prefix), rc2)) === 2, 3000, 'one subscriber each');
    for (const s of [a, b]) assert.equal(s.proc.exitCode, null, `daemon alive\n${s.output()}`);
});

test('ASK and MOVED replies to a PUBLISH are followed; a node that leaves the map is dropped', {
    skip: REFERENCE && 'tests soketi-c\'s own cluster routing',
}, async (t) => {
    const fake = await fakeCluster(rc.ports[0]);
    t.after(() => fake.close());
    // A sees only the fake cluster, B the real one: what A publishes reaches B only through
    // the fake's second node
    const { nodes: [a, b] } = await daemons(t, 2, { seeds: [fake.ports.first, rc.ports[0]], wait: false });
    await until(() => [a, b].every((s) => /cross-node delivery is on/.test(s.output())), 5000, 'delivery on');
    assert.match(a.output(), /cluster map: 2 nodes \(1 masters\)/);
    const onB = await listener(b, 'redir', 'ev');
    const publishes = (name) => fake.seen.filter(([n, c, ch]) => n === name && c === 'PUBLISH' && ch.endsWith('#redis-adapter'));

    await pusherRest(a).trigger('redir', 'ev', { n: 1 }); // ASK
    await expectExactlyOnce([onB], { n: 1 });
    const askAt = fake.seen.findIndex(([n, c]) => n === 'second' && c === 'ASKING');
    assert.ok(askAt >= 0, 'ASKING sent to the node ASK names');
    assert.equal(fake.seen[askAt + 1][1], 'PUBLISH', 'the PUBLISH right after ASKING');
    onB.got.length = 0;

    // MOVED: followed, and the map is asked for again; it now lists the second node only
    fake.setMap(['second']);
    await pusherRest(a).trigger('redir', 'ev', { n: 2 });
    await expectExactlyOnce([onB], { n: 2 });
    assert.equal(publishes('first').length, 2);
    assert.equal(publishes('second').length, 2);
    await until(() => /cluster map: 1 nodes \(1 masters\)/.test(a.output()), 3000, 'the first node dropped from the map');
    onB.got.length = 0;
    await pusherRest(a).trigger('redir', 'ev', { n: 3 });
    await expectExactlyOnce([onB], { n: 3 });
    assert.equal(publishes('first').length, 2, 'nothing published on a node out of the map');
    assert.equal(publishes('second').length, 3);
    // the subscriber is on the second node now, whichever it started on
    const subscribes = fake.seen.filter(([, c]) => c === 'SUBSCRIBE').map(([n]) => n);
    assert.equal(subscribes.at(-1), 'second', `subscribed on ${subscribes}`);
    assert.equal(a.proc.exitCode, null);
});

test('a master killed (SIGKILL): delivery resumes, the replica takes over, no daemon crashes', async (t) => {
    const { prefix, nodes: [a, b] } = await daemons(t, 2);
    const slots = await rc.slotsOf(rc.ports[0]);
    const masters = slots.map((s) => s.master);
    // kill the master a daemon subscribes on if there is one, else the one serving the
    // broadcast channel's slot (where soketi-c publishes it)
    const counts = await numsubByNode(reqChannel(prefix));
    const slot = await rc.command(rc.ports[0], 'CLUSTER', 'KEYSLOT', `${prefix}#redis-adapter`);
    const victim = masters.find((p) => counts[p] > 0) ?? slots.find((s) => s.from <= slot && slot <= s.to).master;
    const replicaOfVictim = slots.find((s) => s.master === victim).replicas[0];

    const onA = await listener(a, 'live', 'tick');
    const onB = await listener(b, 'live', 'tick');
    await pusherRest(a).trigger('live', 'tick', { n: 0 });
    await expectExactlyOnce([onA, onB], { n: 0 });

    await rc.node(victim).stop('SIGKILL');
    const killedAt = Date.now();
    // keep publishing from A and B until the events cross both ways again
    const resumedMs = await untilCrossDelivery([a, b], [onA, onB], 15000, 'delivery across nodes after the kill');
    t.diagnostic(`cross-node delivery resumed ${resumedMs} ms after the SIGKILL of master ${victim}`);

    // the replica is promoted; the daemons notice the new map
    await until(async () => (await rc.slotsOf(replicaOfVictim)).some((s) => s.master === replicaOfVictim),
        15000, `replica ${replicaOfVictim} promoted`);
    if (!REFERENCE) {
        await until(() => [a, b].every((s) => /cluster map: 5 nodes \(3 masters\)/.test(s.output())), 10000,
            'the daemons to drop the dead master from their map');
    }
    t.diagnostic(`failover seen ${Date.now() - killedAt} ms after the SIGKILL`);

    // exactly once again, both ways, and cluster-wide counts answer without waiting
    for (const l of [onA, onB]) l.got.length = 0;
    await pusherRest(a).trigger('live', 'tick', { after: 1 });
    await expectExactlyOnce([onA, onB], { after: 1 });
    for (const l of [onA, onB]) l.got.length = 0;
    await pusherRest(b).trigger('live', 'tick', { after: 2 });
    await expectExactlyOnce([onA, onB], { after: 2 });
    const started = Date.now();
    const res = await restRequest(a, { path: '/channels/live' });
    assert.deepEqual(res.json, { subscription_count: 2, occupied: true });
    assert.ok(Date.now() - started < TIMEOUT_MS * 0.8, 'answered by every node, not by the timeout');
    for (const s of [a, b]) assert.equal(s.proc.exitCode, null, `daemon alive\n${s.output()}`);
});
