// tests/integration/workers.test.mjs — `workers = 2`: two worker processes share the port
// (SO_REUSEPORT) and behave as one server through the supervisor's relay: a broadcast
// reaches subscribers on both exactly once, presence members and counts span both, a
// worker killed with SIGKILL is replaced and its members are gone from the others'
// answers (they get member_removed, the webhooks fire once), SIGTERM closes every client on
// every worker with 4200.
//
// Which worker holds a connection is read from the kernel (ss -tnp): the server side of
// each established connection names the worker's pid.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import {
    APP, REFERENCE, cleanup, disconnect, expectNoEvent, httpRequest, parsePrometheus, pusherClient, pusherRest, rawPusher,
    rawWs, restRequest, sleep,
    closeWebhookReceivers, expectWebhooks, startRedis, startServer, subscribe, until,
    waitConnected, waitFor, webhookCount, webhookSetup,
} from './harness.mjs';

after(cleanup);

const skip = REFERENCE ? 'soketi-c only (workers)' : false;

/** client port -> pid of the worker holding it, for connections to port. */
function connectionsByWorker(port) {
    const out = execFileSync('ss', ['-Htnp', 'state', 'established', `( sport = :${port} )`]).toString();
    const map = new Map();
    for (const line of out.split('\n')) {
        const m = line.match(/:(\d+)\s+\S+:(\d+)\s+users:\(\("[^"]*",pid=(\d+)/);
        if (m && Number(m[1]) === port) map.set(Number(m[2]), Number(m[3]));
    }
    return map;
}

/** The pids of the supervisor's children (its workers). */
function workerPids(srv) {
    const pid = srv.proc.pid;
    const text = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return text ? text.split(/\s+/).map(Number) : [];
}

async function startWorkers(env = {}) {
    const srv = await startServer({ env: { SOKETI_WORKERS: '2', ...env } });
    await until(() => /all 2 workers listen/.test(srv.output()), 5000, 'every worker listening');
    assert.equal(workerPids(srv).length, 2);
    return srv;
}

/** A connected pusher-js client on srv, with the pid of the worker it landed on. Clients are
 *  made one at a time, so the one new connection is this client's. */
async function placedClient(srv, opts = {}) {
    const before = connectionsByWorker(srv.port);
    const client = pusherClient(srv, opts);
    await waitConnected(client);
    let pid;
    await until(() => {
        for (const [p, w] of connectionsByWorker(srv.port)) if (!before.has(p)) pid = w;
        return pid !== undefined;
    }, 2000, 'the new connection in ss');
    return { client, pid };
}

/** A client on worker pid: clients are made until the kernel puts one there. */
async function clientOn(srv, pid, opts = {}) {
    for (let i = 0; i < 64; i++) {
        const c = await placedClient(srv, opts);
        if (c.pid === pid) return c.client;
        disconnect(c.client);
    }
    throw new Error(`no connection landed on worker ${pid} in 64 tries`);
}

/** Raw sockets made by make() until there are at least min of them and both workers hold
 *  some (the kernel's spread is a hash: a few may all land on one). */
async function rawOnBoth(srv, make, min = 4) {
    const sockets = [];
    while (sockets.length < min || new Set(connectionsByWorker(srv.port).values()).size < 2) {
        if (sockets.length >= 64) throw new Error('64 connections, all on one worker');
        sockets.push(await make());
    }
    return sockets;
}

test('workers = 2: two processes share the port; a broadcast reaches everyone exactly once', { skip }, async () => {
    const srv = await startWorkers();
    const out = srv.output();
    assert.match(out, /supervisor: worker 1 started/);
    assert.match(out, /worker 2: adapter 'workers' loaded/);
    const listeners = [];
    for (let i = 0; i < 16; i++) {
        const { client, pid } = await placedClient(srv);
        const ch = await subscribe(client, 'fan-out');
        const got = [];
        ch.bind('ev', (d) => got.push(d));
        listeners.push({ got, pid });
    }
    assert.equal(new Set(listeners.map((l) => l.pid)).size, 2, 'the clients are spread over both workers');
    const rest = pusherRest(srv);
    // one at a time: two requests may reach two workers, and then have no order (README)
    for (let i = 0; i < 4; i++) {
        await rest.trigger('fan-out', 'ev', { n: i });
        await until(() => listeners.every((l) => l.got.length >= i + 1), 3000, `event ${i} everywhere`);
    }
    await sleep(300);
    for (const l of listeners) assert.deepEqual(l.got, [0, 1, 2, 3].map((n) => ({ n })));
});

test('presence members, /channels and /users span both workers, whichever answers', { skip }, async () => {
    const srv = await startWorkers();
    const [w1, w2] = workerPids(srv);
    const member = (id) => ({ presenceData: { user_id: id, user_info: { id } } });
    const alice = await clientOn(srv, w1, member('alice'));
    const ac = await subscribe(alice, 'presence-room');
    assert.equal(ac.members.count, 1);
    const added = waitFor(ac, 'pusher:member_added');
    const bob = await clientOn(srv, w2, member('bob'));
    const bc = await subscribe(bob, 'presence-room');
    assert.equal(bc.members.count, 2, 'bob sees alice, who is on the other worker');
    assert.deepEqual(bc.members.get('alice'), { id: 'alice', info: { id: 'alice' } });
    assert.deepEqual(await added, { id: 'bob', info: { id: 'bob' } });

    // alice again, on bob's worker: nobody is told she joined, and she counts once
    const noAdd = expectNoEvent(bc, 'pusher:member_added', 500);
    const alice2 = await clientOn(srv, w2, member('alice'));
    await subscribe(alice2, 'presence-room');
    await noAdd;
    const plain = await clientOn(srv, w1);
    await subscribe(plain, 'plain');

    // HTTP requests are spread over the workers too: each answer is the host's
    for (let i = 0; i < 8; i++) {
        const chans = await restRequest(srv, { path: '/channels' });
        assert.deepEqual(chans.json.channels, {
            'presence-room': { subscription_count: 3, occupied: true },
            plain: { subscription_count: 1, occupied: true },
        });
        const one = await restRequest(srv, { path: '/channels/presence-room' });
        assert.deepEqual(one.json, { subscription_count: 3, occupied: true, user_count: 2 });
        const users = await restRequest(srv, { path: '/channels/presence-room/users' });
        assert.deepEqual(users.json.users.map((u) => u.id).sort(), ['alice', 'bob']);
    }

    // alice's last socket leaves (on worker 1's side and worker 2's): bob is told once
    const noRemove = expectNoEvent(bc, 'pusher:member_removed', 500);
    disconnect(alice2);
    await noRemove;
    const removed = waitFor(bc, 'pusher:member_removed');
    disconnect(alice);
    assert.deepEqual(await removed, { id: 'alice', info: { id: 'alice' } });
});

test('terminate_connections closes a user on every worker', { skip }, async () => {
    const srv = await startWorkers();
    const rest = pusherRest(srv);
    const signin = async () => {
        const ws = await rawPusher(srv);
        ws.send({ event: 'pusher:signin', data: rest.authenticateUser(ws.socketId, { id: 'target' }) });
        assert.equal((await ws.nextJson()).event, 'pusher:signin_success');
        return ws;
    };
    const sockets = await rawOnBoth(srv, signin);
    const res = await restRequest(srv, { method: 'POST', path: '/users/target/terminate_connections', body: {} });
    assert.equal(res.status, 200);
    for (const ws of sockets) {
        assert.equal((await ws.nextJson()).data.code, 4009);
        assert.equal((await ws.nextClose()).code, 4009);
    }
});

test('a worker killed with SIGKILL is replaced; its members are gone from the answers', { skip }, async () => {
    const srv = await startWorkers();
    const [w1, w2] = workerPids(srv);
    const member = (id) => ({ presenceData: { user_id: id, user_info: {} } });
    const stays = await clientOn(srv, w1, member('stays'));
    await subscribe(stays, 'presence-crash');
    const doomed = await clientOn(srv, w2, member('doomed'));
    await subscribe(doomed, 'presence-crash');
    process.kill(w2, 'SIGKILL');
    await until(() => /worker 2 \(pid \d+\) was killed by signal 9/.test(srv.output()), 3000, 'the crash logged');
    await until(() => workerPids(srv).length === 2 && !workerPids(srv).includes(w2), 5000, 'a new worker 2');
    await until(() => (srv.output().match(/worker 2: soketi-c .* listening/g) || []).length === 2, 5000,
        'the new worker listening');
    disconnect(doomed); // it would reconnect, to either worker
    for (let i = 0; i < 6; i++) {
        const users = await restRequest(srv, { path: '/channels/presence-crash/users' });
        assert.deepEqual(users.json.users, [{ id: 'stays' }]);
    }
    // the replacement serves and relays: a client on it hears an event published anywhere
    const fresh = await clientOn(srv, workerPids(srv).find((p) => p !== w1));
    const ch = await subscribe(fresh, 'after-crash');
    const got = waitFor(ch, 'ev');
    const sc = stays.subscribe('after-crash');
    await waitFor(sc, 'pusher:subscription_succeeded');
    const got2 = waitFor(sc, 'ev');
    await pusherRest(srv).trigger('after-crash', 'ev', { ok: 1 });
    assert.deepEqual(await got, { ok: 1 });
    assert.deepEqual(await got2, { ok: 1 });
});

/** A raw socket on worker pid joined to presence channel as member (user_id, no info);
 *  the member_added of others that come first are skipped. */
async function rawMemberOn(srv, pid, channel, userId, others = []) {
    const ws = await rawOn(srv, pid);
    const member = { user_id: userId, user_info: {} };
    const { auth, channel_data: channelData } = pusherRest(srv).authorizeChannel(ws.socketId, channel, member);
    ws.send({ event: 'pusher:subscribe', data: { channel, auth, channel_data: channelData } });
    assert.equal((await ws.nextEvent('pusher_internal:subscription_succeeded')).channel, channel);
    for (const c of others) {
        ws.send({ event: 'pusher:subscribe', data: { channel: c } });
        assert.equal((await ws.nextEvent('pusher_internal:subscription_succeeded')).channel, c);
    }
    return ws;
}

test('a worker killed with SIGKILL: its members leave for the others once, webhooks once', { skip }, async (t) => {
    t.after(closeWebhookReceivers);
    const hooks = await webhookSetup();
    const srv = await startWorkers(hooks.env);
    hooks.rest = pusherRest(srv);
    const [w1, w2] = workerPids(srv);
    // a pusher-js watcher on worker 1, and a raw one there for the exact JSON
    const watcher = await clientOn(srv, w1, { presenceData: { user_id: 'watcher', user_info: {} } });
    const wc = await subscribe(watcher, 'presence-gone');
    const removed = [];
    wc.bind('pusher:member_removed', (m) => removed.push(m));
    const raw = await rawMemberOn(srv, w1, 'presence-gone', 'raw');
    const rawRemoved = [];
    raw.onMessage = (m) => { if (m.json?.event === 'pusher_internal:member_removed') rawRemoved.push(m.text); };
    // 'both' on both workers; 7 (a JSON number) and a plain channel on worker 2 alone. Raw
    // sockets: they do not reconnect when their worker dies.
    const both1 = await rawMemberOn(srv, w1, 'presence-gone', 'both');
    const both2 = await rawMemberOn(srv, w2, 'presence-gone', 'both');
    const x = await rawMemberOn(srv, w2, 'presence-gone', 7, ['only-on-2']);
    await until(() => wc.members.count === 4, 3000, 'watcher, raw, both and 7');
    await expectWebhooks(hooks, 'presence-gone', 'member_added', 1, { userId: 7 });
    await expectWebhooks(hooks, 'only-on-2', 'channel_occupied', 1);

    process.kill(w2, 'SIGKILL');
    await until(() => removed.length >= 1, 3000, 'member_removed for 7');
    await sleep(500);
    assert.deepEqual(removed, [{ id: 7, info: {} }], 'once, for 7 alone (both is on worker 1 too)');
    assert.deepEqual(rawRemoved, [JSON.stringify({
        event: 'pusher_internal:member_removed', channel: 'presence-gone', data: JSON.stringify({ user_id: 7 }),
    })], 'the id is still a JSON number');
    assert.equal(wc.members.count, 3);
    await expectWebhooks(hooks, 'presence-gone', 'member_removed', 1, { userId: 7 });
    await expectWebhooks(hooks, 'only-on-2', 'channel_vacated', 1);
    assert.equal(webhookCount(hooks, 'presence-gone', 'member_removed', 'both'), 0);
    assert.equal(webhookCount(hooks, 'presence-gone', 'channel_vacated'), 0);
    for (const ws of [both2, x]) ws.destroy();

    // the replacement comes up and serves: 7 joins again through it, once for everyone
    await until(() => workerPids(srv).length === 2 && !workerPids(srv).includes(w2), 5000, 'a new worker 2');
    await until(() => (srv.output().match(/worker 2: soketi-c .* listening/g) || []).length === 2, 5000,
        'the new worker listening');
    const added = waitFor(wc, 'pusher:member_added');
    const again = await rawMemberOn(srv, workerPids(srv).find((p) => p !== w1), 'presence-gone', 7);
    assert.deepEqual(await added, { id: 7, info: {} });
    await expectWebhooks(hooks, 'presence-gone', 'member_added', 2, { userId: 7 });
    const users = await restRequest(srv, { path: '/channels/presence-gone/users' });
    assert.deepEqual(users.json.users.map((u) => u.id).sort(), [7, 'both', 'raw', 'watcher']);
    for (const ws of [raw, both1, again]) ws.destroy();
});

test('SIGTERM: every client on every worker gets 4200; all exit 0', { skip }, async () => {
    const srv = await startWorkers({ SOKETI_SHUTDOWN_GRACE_PERIOD: '500' });
    const sockets = await rawOnBoth(srv, () => rawPusher(srv));
    const pids = workerPids(srv);
    const exited = srv.stop('SIGTERM', 8000);
    for (const ws of sockets) {
        const m = await ws.nextJson(3000);
        assert.equal(m.data.code, 4200);
        assert.equal((await ws.nextClose(3000)).code, 4200);
    }
    const { code, signal } = await exited;
    assert.equal(signal, null);
    assert.equal(code, 0);
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), 'no worker outlives the supervisor');
    assert.match(srv.output(), /supervisor: every worker has stopped/);
});

test('a worker that cannot start stops the start: exit 1', { skip }, async () => {
    await assert.rejects(startServer({ env: { SOKETI_WORKERS: '2', SOKETI_ADAPTER_DRIVER: 'nosuch' } }),
        /before it listened: stopping/);
});

test('workers must be auto or 1..1024', { skip }, async () => {
    await assert.rejects(startServer({ env: { SOKETI_WORKERS: 'many' } }), /workers: 'many' is neither auto/);
});

test('with the redis adapter each worker is one node of the cluster', { skip }, async (t) => {
    const redis = await startRedis();
    t.after(() => redis.stop());
    const env = { SOKETI_ADAPTER_DRIVER: 'redis', SOKETI_DB_REDIS_PORT: String(redis.port),
        SOKETI_ADAPTER_REDIS_REQUESTS_TIMEOUT: '1000' };
    const a = await startWorkers(env);
    assert.match(a.output(), /each worker is one node of the adapter's cluster/);
    assert.doesNotMatch(a.output(), /adapter 'workers' loaded/);
    const b = await startServer({ env });
    await until(async () => (await redis.command('PUBSUB', 'NUMSUB', 'redis-adapter#comms#req'))[1] === 3,
        8000, 'two workers and one more node on Redis');
    const listeners = [];
    for (const [srv, n] of [[a, 10], [b, 2]]) {
        for (let i = 0; i < n; i++) {
            const { client, pid } = await placedClient(srv);
            const ch = await subscribe(client, 'across');
            const got = [];
            ch.bind('ev', (d) => got.push(d));
            listeners.push({ got, pid });
        }
    }
    assert.equal(new Set(listeners.map((l) => l.pid)).size, 3, 'clients on both workers and the other node');
    // one at a time: across nodes, two events from two nodes have no order
    await pusherRest(b).trigger('across', 'ev', { via: 'b' });
    await until(() => listeners.every((l) => l.got.length >= 1), 3000, 'the first event everywhere');
    await pusherRest(a).trigger('across', 'ev', { via: 'a' });
    await until(() => listeners.every((l) => l.got.length >= 2), 3000, 'both events everywhere');
    await sleep(300);
    for (const l of listeners) assert.deepEqual(l.got, [{ via: 'b' }, { via: 'a' }]);
    for (let i = 0; i < 4; i++) {
        const one = await restRequest(i % 2 ? a : b, { path: '/channels/across' });
        assert.deepEqual(one.json, { subscription_count: 12, occupied: true });
    }
});

test('config check: workers = auto is one per core', { skip }, async () => {
    const cores = (await import('node:os')).availableParallelism();
    const out = execFileSync(process.env.SOKETI_BIN, ['config', 'check'], {
        env: { PATH: process.env.PATH, SOKETI_WORKERS: 'auto' },
    }).toString();
    if (cores > 1) assert.match(out, new RegExp(`adapter local, 1 app\\(s\\), ${cores} workers\\n`));
    else assert.match(out, /adapter local, 1 app\(s\)\n/);
});

test('webhooks fire once per host: occupied, vacated, member_added, member_removed', { skip }, async (t) => {
    t.after(closeWebhookReceivers);
    const hooks = await webhookSetup();
    const srv = await startWorkers(hooks.env);
    hooks.rest = pusherRest(srv);
    const [w1, w2] = workerPids(srv);
    const member = (id) => ({ presenceData: { user_id: id, user_info: {} } });
    const a = await clientOn(srv, w1, member('alice'));
    const b = await clientOn(srv, w2, member('alice'));
    await subscribe(a, 'wh-ch');
    await subscribe(b, 'wh-ch');
    await subscribe(a, 'presence-wh');
    await subscribe(b, 'presence-wh');
    await expectWebhooks(hooks, 'wh-ch', 'channel_occupied', 1);
    await expectWebhooks(hooks, 'presence-wh', 'member_added', 1, { userId: 'alice' });
    disconnect(a);
    await sleep(300);
    disconnect(b);
    await expectWebhooks(hooks, 'wh-ch', 'channel_vacated', 1);
    await expectWebhooks(hooks, 'presence-wh', 'member_removed', 1, { userId: 'alice' });
});

/** A raw Pusher socket on worker pid (made until the kernel puts one there). */
async function rawOn(srv, pid) {
    for (let i = 0; i < 64; i++) {
        const before = connectionsByWorker(srv.port);
        const ws = await rawPusher(srv);
        let on;
        await until(() => {
            for (const [p, w] of connectionsByWorker(srv.port)) if (!before.has(p)) on = w;
            return on !== undefined;
        }, 2000, 'the new connection in ss');
        if (on === pid) return ws;
        ws.destroy();
        await until(() => connectionsByWorker(srv.port).size === before.size, 2000, 'the extra one closed');
    }
    throw new Error(`no connection landed on worker ${pid} in 64 tries`);
}

test('watchlist: online and offline once per host, whichever worker holds whom', { skip }, async () => {
    const srv = await startWorkers();
    const [w1, w2] = workerPids(srv);
    const rest = pusherRest(srv);
    const signin = async (pid, user) => {
        const ws = await rawOn(srv, pid);
        ws.send({ event: 'pusher:signin', data: rest.authenticateUser(ws.socketId, user) });
        assert.equal((await ws.nextJson()).event, 'pusher:signin_success');
        return ws;
    };
    const events = (m) => {
        assert.equal(m.event, 'pusher_internal:watchlist_events', JSON.stringify(m));
        return JSON.parse(m.data).events;
    };
    const bob = await signin(w2, { id: 'bob' });
    const alice = await signin(w1, { id: 'alice', watchlist: ['bob', 'carol'] });
    assert.deepEqual(events(await alice.nextJson()), [
        { name: 'online', user_ids: ['bob'] }, { name: 'offline', user_ids: ['carol'] },
    ]);
    const carolOn2 = await signin(w2, { id: 'carol' });
    assert.deepEqual(events(await alice.nextJson()), [{ name: 'online', user_ids: ['carol'] }]);
    const carolOn1 = await signin(w1, { id: 'carol' });
    await assert.rejects(alice.nextJson(400), /timed out/, 'carol was online already');
    carolOn2.destroy();
    await assert.rejects(alice.nextJson(400), /timed out/, 'carol is still on worker 1');
    carolOn1.destroy();
    assert.deepEqual(events(await alice.nextJson()), [{ name: 'offline', user_ids: ['carol'] }]);
    await assert.rejects(alice.nextJson(300), /timed out/, 'exactly once');
    bob.destroy();
    assert.deepEqual(events(await alice.nextJson()), [{ name: 'offline', user_ids: ['bob'] }]);
    alice.destroy();
});

// ---- limits held by the supervisor for the host (hub_store.h) ----

test('maxConnections: a quota of 3 holds for the host, connections racing on both workers', { skip }, async () => {
    const srv = await startWorkers({ SOKETI_DEFAULT_APP_MAX_CONNS: '3' });
    const answer = async (ws) => {
        const m = await ws.nextJson();
        return m.event === 'pusher:error' ? m.data.code : m.event;
    };
    for (let round = 0; round < 3; round++) {
        // 12 at once: the kernel spreads them (all 12 on one worker: 1 time in 2048); the
        // supervisor admits exactly 3. (The refused ones close at once, so ss cannot be
        // asked where they were.)
        const socks = await Promise.all(Array.from({ length: 12 }, () => rawWs(srv)));
        const answers = await Promise.all(socks.map(answer));
        const inside = socks.filter((_, i) => answers[i] === 'pusher:connection_established');
        assert.equal(inside.length, 3, answers.join());
        assert.equal(answers.filter((a) => a === 4100).length, 9, answers.join());
        // one leaves: one place is free for the host, whichever worker takes the next
        inside[0].destroy();
        await sleep(200);
        const next = await rawWs(srv);
        assert.equal(await answer(next), 'pusher:connection_established');
        const over = await rawWs(srv);
        assert.equal(await answer(over), 4100);
        for (const ws of [...socks, next, over]) ws.destroy();
        await until(() => connectionsByWorker(srv.port).size === 0, 3000, 'every connection closed');
        await sleep(200);
    }
});

test('rate limits: maxBackendEventsPerSecond and maxReadRequestsPerSecond hold for the host', { skip }, async () => {
    const srv = await startWorkers({
        SOKETI_DEFAULT_APP_MAX_BACKEND_EVENTS_PER_SEC: '4',
        SOKETI_DEFAULT_APP_MAX_READ_REQ_PER_SEC: '3',
    });
    // each request is a new connection (agent: false): the kernel spreads them over both
    await sleep(1100);
    const events = [];
    for (let i = 0; i < 12; i++) {
        const res = await restRequest(srv, { method: 'POST', path: '/events', body: { name: 'e', channel: 'rl', data: '{}' } });
        events.push(res.status);
    }
    assert.deepEqual(events, [200, 200, 200, 200, ...Array(8).fill(429)]);
    await sleep(1100);
    const reads = [];
    for (let i = 0; i < 10; i++) reads.push((await restRequest(srv, { path: '/channels' })).status);
    assert.deepEqual(reads, [200, 200, 200, ...Array(7).fill(429)]);
    await sleep(1100);
    assert.equal((await restRequest(srv, { method: 'POST', path: '/events', body: { name: 'e', channel: 'rl', data: '{}' } })).status, 200, 'a new window');
});

test('presence member limit: 3 of 12 racing joins across both workers get in, atomically', { skip }, async () => {
    const srv = await startWorkers({ SOKETI_PRESENCE_MAX_MEMBERS: '3' });
    const rest = pusherRest(srv);
    const sockets = await rawOnBoth(srv, () => rawPusher(srv), 12);
    // every join sent before any answer is read: they race in both workers
    sockets.forEach((ws, i) => {
        const member = { user_id: `u${i}`, user_info: {} };
        const { auth, channel_data: channelData } = rest.authorizeChannel(ws.socketId, 'presence-race', member);
        ws.send({ event: 'pusher:subscribe', data: { channel: 'presence-race', auth, channel_data: channelData } });
    });
    // the answer to the join: member_added of the others may come first
    const answer = async (ws) => {
        for (;;) {
            const m = await ws.nextJson();
            if (m.event !== 'pusher_internal:member_added') return m;
        }
    };
    const answers = await Promise.all(sockets.map(answer));
    const joined = answers.filter((m) => m.event === 'pusher_internal:subscription_succeeded');
    const refused = answers.filter((m) => m.event === 'pusher:subscription_error');
    assert.equal(joined.length, 3, JSON.stringify(answers));
    assert.equal(refused.length, sockets.length - 3);
    for (const m of refused) assert.equal(m.data.status, 4100);
    const users = await restRequest(srv, { path: '/channels/presence-race/users' });
    assert.equal(users.json.users.length, 3);
    // a member leaves: one place is free, for the host
    const inside = sockets.filter((_, i) => answers[i].event === 'pusher_internal:subscription_succeeded');
    inside[0].destroy();
    await until(async () => (await restRequest(srv, { path: '/channels/presence-race/users' })).json.users.length === 2, 3000, 'the member gone');
    const late = await rawPusher(srv);
    const m = { user_id: 'late', user_info: {} };
    const a = rest.authorizeChannel(late.socketId, 'presence-race', m);
    late.send({ event: 'pusher:subscribe', data: { channel: 'presence-race', auth: a.auth, channel_data: a.channel_data } });
    assert.equal((await late.nextJson()).event, 'pusher_internal:subscription_succeeded');
});

test('cache channels: an event cached through one worker is the host\'s', { skip }, async () => {
    const srv = await startWorkers();
    const [w1, w2] = workerPids(srv);
    const rest = pusherRest(srv);
    await rest.trigger('cache-host', 'ev', { n: 1 });
    for (const pid of [w1, w2, w1, w2]) {
        const ws = await rawOn(srv, pid);
        ws.send({ event: 'pusher:subscribe', data: { channel: 'cache-host' } });
        assert.equal((await ws.nextJson()).event, 'pusher_internal:subscription_succeeded');
        const m = await ws.nextJson();
        assert.equal(m.event, 'ev', `worker ${pid}: ${JSON.stringify(m)}`);
        assert.deepEqual(JSON.parse(m.data), { n: 1 });
        ws.destroy();
    }
});

test('rateLimiter.driver / cache.driver redis are refused with workers and the local adapter', { skip }, async () => {
    for (const env of [{ SOKETI_RATE_LIMITER_DRIVER: 'redis' }, { SOKETI_CACHE_DRIVER: 'redis' }]) {
        await assert.rejects(startServer({ env: { SOKETI_WORKERS: '2', ...env } }), /offers no shared store/);
    }
});

test('/metrics reports the host: each scrape sums both workers, one block per family', { skip }, async () => {
    const srv = await startWorkers({ SOKETI_METRICS_ENABLED: 'true' });
    const clients = [];
    const pids = new Set();
    while (clients.length < 6 || pids.size < 2) {
        if (clients.length >= 64) throw new Error('64 clients, all on one worker');
        const { client, pid } = await placedClient(srv);
        await subscribe(client, 'm-host');
        clients.push(client);
        pids.add(pid);
    }
    const n = clients.length;
    const got = clients.map((c) => waitFor(c.channel('m-host'), 'ev'));
    await pusherRest(srv).trigger('m-host', 'ev', { x: 1 });
    await Promise.all(got);
    const labels = { app_id: APP.id, port: String(srv.port) };
    const sent = new Set();
    for (let i = 0; i < 8; i++) {
        // a new connection each time: the kernel gives it to either worker
        const res = await httpRequest({ host: srv.host, port: srv.metricsPort }, { path: '/metrics' });
        assert.equal(res.status, 200);
        const p = parsePrometheus(res.text); // fails on a family declared twice
        assert.equal(p.get('soketi_connected', labels), n, `scrape ${i}: every client of the host`);
        assert.equal(p.get('soketi_new_connections_total', labels), n);
        assert.equal(p.get('soketi_workers_answered'), 2);
        assert.equal(p.get('soketi_workers_missing'), 0);
        // connection_established, subscription_succeeded and the event, to every client
        assert.ok(p.get('soketi_ws_messages_sent_total', labels) >= 3 * n);
        sent.add(p.get('soketi_ws_messages_sent_total', labels));
        assert.ok(p.get('soketi_process_resident_memory_bytes') > 0);
    }
    assert.equal(sent.size, 1, 'the same sum whichever worker answered');
    for (const c of clients) disconnect(c);
});
