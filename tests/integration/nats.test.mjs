// tests/integration/nats.test.mjs — the nats adapter (adapter_nats.so): several daemons on
// one nats-server act as one Pusher server. Broadcasts, socket exclusion and client events
// cross nodes exactly once; REST counts, presence members and /users are cluster-wide; user
// termination, send-to-user and the connection quota span nodes; the subjects and JSON are
// soketi's (checked with a raw NATS client); adapter.nats.prefix separates clusters; and with
// soketi 1.6 installed ($SOKETI_REFERENCE_BIN) a mixed soketi + soketi-c cluster on NATS is
// checked both ways.
//
// Every test starts its own nats-server and daemons. With SOKETI_REFERENCE=1 the same tests
// run a cluster of soketi 1.6 nodes (what only soketi-c does is then not checked). Without
// libnats (adapter_nats.so not built) or nats-server the file fails, unless
// SOKETI_TEST_ALLOW_NO_NATS=1.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
    APP, REFERENCE, REFERENCE_BIN, checkCountsAcrossNodes, checkMixedCluster, checkPresenceAcrossNodes,
    checkTerminateAcrossNodes, cleanup, disconnect, expectExactlyOnce, listener, natsClient, natsEnv, natsSkip,
    pusherRest, rawPusher, rawWs, restRequest, sleep, startNats, startServer, until, waitNatsListeners,
    channelsOf,
} from './harness.mjs';

after(cleanup);

const skip = natsSkip();
const BCAST = 'nats-adapter';
const REQ = 'nats-adapter#comms#req';
const RES = 'nats-adapter#comms#res';
const TIMEOUT_MS = 1000; // adapter.nats.requestsTimeout (natsEnv)


/** A nats-server and n daemons on it, subscribed; stopped when test t ends. */
async function cluster(t, n, extra = {}, natsOpts = {}) {
    const nats = await startNats(natsOpts);
    t.after(async () => { await nats.stop(); nats.remove(); });
    const nodes = await Promise.all(Array.from({ length: n }, () => startServer({ env: natsEnv(nats, extra) })));
    t.after(() => Promise.all(nodes.map((s) => s.stop('SIGTERM', 5000))));
    await waitNatsListeners(nats, n);
    return { nats, nodes };
}

// ---------------------------------------------------------------------------

test('three nodes: a REST trigger on A reaches subscribers on A, B and C exactly once', { skip }, async (t) => {
    const { nodes: [a, b, c] } = await cluster(t, 3);
    const ls = [await listener(a, 'news', 'headline'), await listener(b, 'news', 'headline'),
        await listener(c, 'news', 'headline')];
    await pusherRest(a).trigger('news', 'headline', { n: 1 });
    await expectExactlyOnce(ls, { n: 1 });
    await pusherRest(c).triggerBatch([{ channel: 'news', name: 'headline', data: JSON.stringify({ n: 2 }) }]);
    await until(() => ls.every((l) => l.got.length === 2), 3000, 'the batch event');
    ls.forEach((l) => disconnect(l.client));
});

test('two nodes: socket_id exclusion and client events cross nodes, never back to the excluded socket', { skip }, async (t) => {
    const { nodes: [a, b] } = await cluster(t, 2, { SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES: 'true' });
    const excluded = await listener(b, 'excl', 'ev');
    const sameNode = await listener(b, 'excl', 'ev');
    const other = await listener(a, 'excl', 'ev');
    await pusherRest(a).trigger('excl', 'ev', { x: 1 }, { socket_id: excluded.socketId });
    await expectExactlyOnce([sameNode, other], { x: 1 });
    assert.deepEqual(excluded.got, []);

    const sender = await listener(a, 'private-chat', 'client-hi');
    const onA = await listener(a, 'private-chat', 'client-hi');
    const onB = await listener(b, 'private-chat', 'client-hi');
    assert.equal(sender.ch.trigger('client-hi', { m: 'hello' }), true);
    await expectExactlyOnce([onA, onB], { m: 'hello' });
    assert.deepEqual(sender.got, []);
});

test('two nodes: channel lists and counts sum the nodes, user_count counts a user once, /users lists every node\'s members', { skip }, async (t) => {
    const { nodes: [a, b] } = await cluster(t, 2);
    await checkCountsAcrossNodes(a, b, TIMEOUT_MS);
    for (const srv of [a, b]) {
        const users = await restRequest(srv, { path: '/channels/presence-room/users' });
        assert.deepEqual(users.json.users.map((u) => u.id).sort(), ['alice', 'bob']);
    }
});

test('presence: member_added for a user\'s first socket in the cluster, member_removed for its last', { skip }, async (t) => {
    const { nodes: [a, b] } = await cluster(t, 2);
    await checkPresenceAcrossNodes(a, b);
});

test('terminate_connections, send-to-user and maxConnections span the nodes', { skip }, async (t) => {
    // soketi only accepts pusher:signin with user authentication on; soketi-c always does
    const { nodes: [a, b] } = await cluster(t, 2, {
        SOKETI_DEFAULT_APP_USER_AUTHENTICATION: 'true', SOKETI_DEFAULT_APP_MAX_CONNS: '3',
    });
    await checkTerminateAcrossNodes(a, b);
    await sleep(300); // the bystander's close reaches its node
    const rest = pusherRest(a);
    const onB = await rawPusher(b);
    onB.send({ event: 'pusher:signin', data: rest.authenticateUser(onB.socketId, { id: 'dest' }) });
    assert.equal((await onB.nextJson()).event, 'pusher:signin_success');
    await rest.sendToUser('dest', 'note', { hi: 1 });
    assert.deepEqual(await onB.nextJson(), { event: 'note', channel: '#server-to-user-dest', data: JSON.stringify({ hi: 1 }) });
    // three connections in the cluster: a fourth is refused on either node
    const others = [await rawPusher(a), await rawPusher(b)];
    for (const srv of [a, b]) {
        const ws = await rawWs(srv);
        const m = await ws.nextJson();
        assert.equal(m.event, 'pusher:error');
        assert.equal(m.data.code, 4100);
    }
    [onB, ...others].forEach((ws) => ws.destroy());
});

test('wire format: soketi\'s subjects and JSON both ways, and the node count asks NATS', { skip: skip || (REFERENCE && 'soketi-c\'s own wire checks') }, async (t) => {
    const { nats, nodes: [a] } = await cluster(t, 1);
    const member = { presenceData: { user_id: 'wire-user', user_info: { w: 1 } } };
    const pl = await listener(a, 'presence-wire', 'x', member);
    const l = await listener(a, 'wire', 'ev');
    const cli = await natsClient(nats.port);
    const res = cli.sub(RES);
    const reqs = cli.sub(REQ);
    const bcast = cli.sub(BCAST);
    await cli.flush();
    const ask = async (type, opts) => {
        const requestId = `req-${type}-${Math.random()}`;
        cli.pub(REQ, JSON.stringify({ requestId, appId: APP.id, type, ...(opts ? { opts } : {}) }));
        const find = () => res.messages.find((m) => JSON.parse(m.data).requestId === requestId);
        await until(find, 2000, `answer to type ${type}`);
        const { requestId: _, ...rest } = JSON.parse(find().data);
        return rest;
    };
    const ids = [pl.socketId, l.socketId].sort();
    assert.deepEqual((await ask(0)).sockets.map((s) => s.id).sort(), ids);
    assert.deepEqual((await ask(1)).channels.sort(), [['presence-wire', [pl.socketId]], ['wire', [l.socketId]]]);
    assert.deepEqual((await ask(2, { channel: 'wire' })).sockets.map((s) => s.id), [l.socketId]);
    assert.deepEqual(await ask(3, { channel: 'presence-wire' }), { members: [['wire-user', { w: 1 }]] });
    assert.deepEqual(await ask(4), { totalCount: 2 });
    assert.deepEqual(await ask(5, { channel: 'presence-wire' }), { totalCount: 1 });
    assert.deepEqual(await ask(6, { channel: 'wire' }), { totalCount: 1 });
    assert.deepEqual(await ask(7, { channel: 'wire', wsId: l.socketId }), { exists: true });
    assert.deepEqual((await ask(8)).channelsWithSocketsCount.sort(), [['presence-wire', 1], ['wire', 1]]);
    assert.deepEqual(await ask(9, { userId: 'nobody' }), {});

    // a broadcast as soketi's NatsAdapter publishes it (jc.encode of the parsed envelope)
    const data = JSON.stringify({ event: 'ev', channel: 'wire', data: JSON.stringify({ from: 'soketi' }) });
    cli.pub(BCAST, JSON.stringify({ uuid: 'some-soketi', appId: APP.id, channel: 'wire', data, exceptingId: null }));
    await until(() => l.got.length === 1, 2000, 'the soketi broadcast');
    assert.deepEqual(l.got, [{ from: 'soketi' }]);

    // what we publish is what soketi expects
    await pusherRest(a).trigger('wire', 'ev', { to: 'soketi' }, { socket_id: pl.socketId });
    await until(() => bcast.messages.length === 1, 2000, 'our broadcast on nats');
    const m = JSON.parse(bcast.messages[0].data);
    assert.deepEqual(Object.keys(m), ['uuid', 'appId', 'channel', 'data', 'exceptingId']);
    assert.deepEqual([m.appId, m.channel, m.exceptingId], [APP.id, 'wire', pl.socketId]);
    assert.deepEqual(JSON.parse(m.data), { event: 'ev', channel: 'wire', data: JSON.stringify({ to: 'soketi' }) });
    // and a query of ours: a soketi-shaped request, answered in soketi's shape by the raw
    // client posing as a second node (the count says two nodes listen now)
    const query = restRequest(a, { path: '/channels/wire' });
    await until(() => reqs.messages.length === 1, 2000, 'our request on nats');
    // soketi's fields, plus the sender's uuid (soketi-c's, for per-peer bounds; soketi ignores it)
    const { uuid, ...r } = JSON.parse(reqs.messages[0].data);
    assert.deepEqual(r, { requestId: r.requestId, appId: APP.id, type: 6, opts: { channel: 'wire' } });
    assert.equal(typeof uuid, 'string');
    cli.pub(RES, JSON.stringify({ requestId: r.requestId, totalCount: 5 }));
    const started = Date.now();
    assert.deepEqual((await query).json, { subscription_count: 6, occupied: true });
    assert.ok(Date.now() - started < TIMEOUT_MS, 'resolved by the answer, not the timeout');
    cli.close();
});

test('adapter.nats.prefix separates clusters on one NATS; nodesNumber replaces the count', { skip }, async (t) => {
    const nats = await startNats({ jetstream: false });
    t.after(async () => { await nats.stop(); nats.remove(); });
    const env1 = natsEnv(nats, { SOKETI_ADAPTER_NATS_PREFIX: 'one', SOKETI_ADAPTER_NATS_NODES_NUMBER: '2' });
    const env2 = natsEnv(nats, { SOKETI_ADAPTER_NATS_PREFIX: 'two' });
    const [a, b, c] = await Promise.all([startServer({ env: env1 }), startServer({ env: env1 }), startServer({ env: env2 })]);
    t.after(() => Promise.all([a, b, c].map((s) => s.stop('SIGTERM', 5000))));
    await waitNatsListeners(nats, 2, 'one#nats-adapter#comms#req');
    await waitNatsListeners(nats, 1, 'two#nats-adapter#comms#req');
    const onB = await listener(b, 'pfx', 'ev');
    const onC = await listener(c, 'pfx', 'ev');
    await pusherRest(a).trigger('pfx', 'ev', { p: 1 });
    await until(() => onB.got.length === 1, 3000, 'delivery within the prefix');
    await sleep(300);
    assert.deepEqual(onC.got, []);
    const started = Date.now();
    assert.deepEqual(await channelsOf(a), { pfx: { subscription_count: 1, occupied: true } });
    assert.ok(Date.now() - started < TIMEOUT_MS, 'two nodes answered (nodesNumber 2)');
});

// ---------------------------------------------------------------------------
// A mixed cluster with the real soketi 1.6.

const haveSoketi = fs.existsSync(REFERENCE_BIN);

test('mixed cluster with soketi 1.6 on NATS: events, counts, presence and termination both ways', {
    skip: skip || (!haveSoketi && `soketi 1.6 is not installed at ${REFERENCE_BIN}`) || (REFERENCE && 'already soketi'),
    timeout: 30000,
}, async (t) => {
    const nats = await startNats({ jetstream: false });
    t.after(async () => { await nats.stop(); nats.remove(); });
    const common = natsEnv(nats, { SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES: 'true', SOKETI_DEFAULT_APP_USER_AUTHENTICATION: 'true' });
    const [ours, theirs] = await Promise.all([
        startServer({ env: common }),
        startServer({ env: common, reference: true, readyTimeoutMs: 20000 }),
    ]);
    t.after(() => Promise.all([ours.stop('SIGTERM', 5000), theirs.stop('SIGKILL')]));
    await waitNatsListeners(nats, 2);

    await checkMixedCluster(ours, theirs);
});
