// tests/integration/hostile-protocol.test.mjs — one client must not cost the server (or the
// cluster) more than its connection's budgets, whatever Pusher messages it sends:
//   - operations waiting for the cluster or the cache: at most
//     connectionLimits.maxPendingRequests per connection (a hung peer, a stalled Redis),
//     the rest refused at once; a client that leaves while they wait is freed safely;
//   - channels: at most connectionLimits.maxChannels per connection, each subscribe O(1);
//   - a repeated presence subscribe asks the cluster nothing;
//   - GET /channels over 150,000 channels answers without stalling other clients;
//   - event data is measured as it travels (escapes included);
//   - %00 in a path and auth_version other than 1.0 are refused;
//   - a REST body nobody signed is refused from its head, never buffered;
//   - a client that only receives is pinged rather than dropped as silent.
// Bounds are generous (the suite also runs under ASan on a loaded 2-core machine).

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import net from 'node:net';
import { after, test } from 'node:test';

import {
    APP, OPCODES, REFERENCE, SANITIZED, cleanup, cpuTicks, httpRequest, pusherClient, pusherRest, rawHttp,
    rawPusher, restRequest, rssKiB, signQuery, sleep, startRedis, startServer, subscribe, until, waitConnected,
} from './harness.mjs';

after(cleanup);

const skip = REFERENCE ? 'soketi-c budgets' : false;

function presenceAuth(socketId, channel, data) {
    const sig = createHmac('sha256', APP.secret).update(`${socketId}:${channel}:${data}`).digest('hex');
    return `${APP.key}:${sig}`;
}

/** Sends a presence subscribe for channel as user on raw ws. */
function presenceSubscribe(ws, channel, user) {
    const channelData = JSON.stringify({ user_id: user });
    ws.send({
        event: 'pusher:subscribe',
        data: { channel, auth: presenceAuth(ws.socketId, channel, channelData), channel_data: channelData },
    });
}

/** Every message ws receives within ms, parsed. */
async function collect(ws, ms) {
    const out = [];
    const deadline = Date.now() + ms;
    for (;;) {
        const left = deadline - Date.now();
        if (left <= 0) return out;
        try { out.push(await ws.nextJson(left)); } catch { return out; }
    }
}

/** Round trip of pusher:ping on raw ws, in ms. */
async function pingMs(ws) {
    const t0 = process.hrtime.bigint();
    ws.send({ event: 'pusher:ping', data: {} });
    await ws.nextEvent('pusher:pong', 10000);
    return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** A raw Redis connection subscribed (SUBSCRIBE, counted by PUBSUB NUMSUB) or
 *  pattern-subscribed (PSUBSCRIBE, not counted) to channel; counts the messages it gets. */
async function redisListener(port, channel, { pattern = false } = {}) {
    const sock = net.connect(port, '127.0.0.1');
    await new Promise((r) => sock.on('connect', r));
    let count = 0;
    let bytes = 0;
    sock.on('data', (d) => { bytes += d.length; count += (d.toString('latin1').match(/\$7\r\nmessage|\$8\r\npmessage/g) || []).length; });
    const cmd = pattern ? 'PSUBSCRIBE' : 'SUBSCRIBE';
    sock.write(`*2\r\n$${cmd.length}\r\n${cmd}\r\n$${channel.length}\r\n${channel}\r\n`);
    await sleep(100);
    sock.unref(); /* a failed test must not keep the file's process alive */
    return { count: () => count, bytes: () => bytes, close: () => sock.destroy() };
}

test('a hung peer: presence subscribes past maxPendingRequests are refused; a client leaving meanwhile is freed', { skip }, async () => {
    const redis = await startRedis();
    const server = await startServer({
        env: {
            SOKETI_ADAPTER_DRIVER: 'redis',
            SOKETI_DB_REDIS_PORT: String(redis.port),
            SOKETI_ADAPTER_REDIS_REQUESTS_TIMEOUT: '3000',
            SOKETI_CONNECTION_LIMITS_MAX_PENDING_REQUESTS: '50',
        },
    });
    // a peer that listens to requests and never answers: every cluster query waits
    const hung = await redisListener(redis.port, 'redis-adapter#comms#req');
    const ws = await rawPusher(server);
    for (let i = 0; i < 300; i++) presenceSubscribe(ws, `presence-h${i}`, `u${i}`);
    const got = await collect(ws, 1500);
    const busy = got.filter((m) => m.event === 'pusher:subscription_error'
        && m.data.type === 'LimitReached' && /Too many requests of this connection/.test(m.data.error));
    assert.equal(busy.length, 250, `refused past the budget: ${JSON.stringify(got.slice(0, 3))}`);
    ws.destroy(); // leaves while 50 queries wait
    await sleep(4000); // they time out and answer a closed socket
    const bystander = await rawPusher(server);
    assert.ok(await pingMs(bystander) < 1000);
    bystander.destroy();
    hung.close();
    assert.equal(server.proc.exitCode, null, 'the daemon is still running');
    await server.stop();
    await redis.stop();
});

test('a stalled Redis cache: repeated cache channel subscribes are bounded too', { skip }, async () => {
    const redis = await startRedis();
    const server = await startServer({
        env: {
            SOKETI_ADAPTER_DRIVER: 'redis',
            SOKETI_DB_REDIS_PORT: String(redis.port),
            SOKETI_CACHE_DRIVER: 'redis',
            SOKETI_CONNECTION_LIMITS_MAX_PENDING_REQUESTS: '20',
        },
    });
    const ws = await rawPusher(server);
    ws.send({ event: 'pusher:subscribe', data: { channel: 'cache-x' } });
    assert.equal((await ws.nextJson()).event, 'pusher_internal:subscription_succeeded');
    assert.equal((await ws.nextJson()).event, 'pusher:cache_miss');
    // Redis stops answering for 3 s: every cache lookup waits
    const pause = redis.command('CLIENT', 'PAUSE', '3000', 'ALL');
    await pause;
    for (let i = 0; i < 200; i++) ws.send({ event: 'pusher:subscribe', data: { channel: 'cache-x' } });
    const got = await collect(ws, 1000);
    const busy = got.filter((m) => m.event === 'pusher:subscription_error' && m.data.type === 'LimitReached');
    assert.ok(busy.length >= 180, `refused past the budget: ${busy.length} of ${got.length}`);
    ws.destroy();
    await sleep(2500);
    const bystander = await rawPusher(server);
    assert.ok(await pingMs(bystander) < 1000);
    bystander.destroy();
    await server.stop();
    await redis.stop();
});

test('a repeated presence subscribe asks the cluster nothing', { skip }, async () => {
    const redis = await startRedis();
    const env = { SOKETI_ADAPTER_DRIVER: 'redis', SOKETI_DB_REDIS_PORT: String(redis.port) };
    const a = await startServer({ env });
    const b = await startServer({ env });
    await until(async () => (await redis.command('PUBSUB', 'NUMSUB', 'redis-adapter#comms#req'))[1] === 2,
        5000, 'both nodes subscribed');
    // 20 members with 2 KB of user_info on node B
    const info = 'x'.repeat(1900);
    const members = [];
    for (let i = 0; i < 20; i++) {
        const ws = await rawPusher(b);
        const data = JSON.stringify({ user_id: `b${i}`, user_info: { info } });
        ws.send({ event: 'pusher:subscribe', data: { channel: 'presence-amp', auth: presenceAuth(ws.socketId, 'presence-amp', data), channel_data: data } });
        await ws.nextEvent('pusher_internal:subscription_succeeded');
        members.push(ws);
    }
    const ws = await rawPusher(a);
    presenceSubscribe(ws, 'presence-amp', 'attacker');
    await ws.nextEvent('pusher_internal:subscription_succeeded', 5000);
    const requests = await redisListener(redis.port, 'redis-adapter#comms#*', { pattern: true });
    for (let i = 0; i < 300; i++) presenceSubscribe(ws, 'presence-amp', 'attacker');
    const got = await collect(ws, 1500);
    assert.equal(got.length, 300);
    for (const m of got) {
        assert.deepEqual(m, { event: 'pusher:error', data: { code: null, message: 'Existing subscription to channel presence-amp' } });
    }
    assert.equal(requests.count(), 0, 'no request or answer crossed Redis');
    requests.close();
    ws.destroy();
    for (const m of members) m.destroy();
    await a.stop();
    await b.stop();
    await redis.stop();
});

test('30,000 subscribes on one socket: O(1) each, capped by maxChannels, other clients unaffected', { skip }, async () => {
    const server = await startServer({ env: { SOKETI_CONNECTION_LIMITS_MAX_CHANNELS: '25000' } });
    const bystander = await rawPusher(server);
    const ws = await rawPusher(server);
    const cpu0 = cpuTicks(server.proc.pid);
    for (let i = 0; i < 30000; i++) ws.send({ event: 'pusher:subscribe', data: { channel: `c-${i}` } });
    const pings = [];
    let ok = 0;
    let refused = 0;
    while (ok + refused < 30000) {
        pings.push(await pingMs(bystander));
        for (const m of await collect(ws, 50)) {
            if (m.event === 'pusher_internal:subscription_succeeded') ok++;
            else if (m.event === 'pusher:subscription_error' && /maximum of 25000 channels/.test(m.data.error)) refused++;
        }
    }
    const cpuSec = (cpuTicks(server.proc.pid) - cpu0) / 100;
    assert.equal(ok, 25000);
    assert.equal(refused, 5000);
    // measured: 0.09 s of the daemon's CPU (2.5 s with the linear search it replaced)
    assert.ok(cpuSec < 1.5, `the daemon spent ${cpuSec} s of CPU on 30,000 subscribes`);
    assert.ok(Math.max(...pings) < 1500, `bystander ping max ${Math.max(...pings)} ms`);
    ws.destroy();
    bystander.destroy();
    await server.stop();
});

test('GET /channels over 150,000 channels: a quick answer, other clients unaffected', { skip }, async () => {
    const server = await startServer({ env: { SOKETI_CONNECTION_LIMITS_MAX_CHANNELS: '32768' } });
    const sockets = [];
    for (let s = 0; s < 6; s++) {
        const ws = await rawPusher(server);
        for (let i = 0; i < 25000; i++) ws.send({ event: 'pusher:subscribe', data: { channel: `ch-${s}-${i}` } });
        sockets.push(ws);
    }
    for (const ws of sockets) {
        let n = 0;
        while (n < 25000) n += (await collect(ws, 200)).length;
    }
    const bystander = await rawPusher(server);
    const cpu0 = cpuTicks(server.proc.pid);
    const t0 = Date.now();
    const [r, ping] = await Promise.all([
        restRequest(server, { path: '/channels', timeoutMs: 20000 }),
        (async () => { await sleep(5); return pingMs(bystander); })(),
    ]);
    const ms = Date.now() - t0;
    const cpuMs = (cpuTicks(server.proc.pid) - cpu0) * 10;
    console.log(`# GET /channels over 150,000 channels: ${ms} ms, daemon CPU ${cpuMs} ms, bystander ping ${ping.toFixed(1)} ms`);
    assert.equal(r.status, 200);
    assert.equal(Object.keys(r.json.channels).length, 150000);
    // measured: 460 ms of the daemon's CPU before (a jansson tree of 300,000 objects), 50 ms
    // after, 80 ms under ASan
    assert.ok(cpuMs < 400, `the answer cost the daemon ${cpuMs} ms of CPU`);
    assert.ok(ping < 1500, `bystander ping ${ping} ms`);
    for (const ws of sockets) ws.destroy();
    bystander.destroy();
    await server.stop();
});

test('event data is measured as it travels: escapes count', { skip }, async () => {
    const server = await startServer({
        env: { SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES: 'true', SOKETI_WS_MAX_PAYLOAD_IN_KB: '2048' },
    });
    const ws = await rawPusher(server);
    const auth = `${APP.key}:${createHmac('sha256', APP.secret).update(`${ws.socketId}:private-x`).digest('hex')}`;
    ws.send({ event: 'pusher:subscribe', data: { channel: 'private-x', auth } });
    await ws.nextEvent('pusher_internal:subscription_succeeded');
    // 60,000 characters, 360,000 bytes as sent
    ws.send({ event: 'client-big', channel: 'private-x', data: '\u0001'.repeat(60000) });
    const m = await ws.nextJson();
    assert.equal(m.event, 'pusher:error');
    assert.equal(m.data.code, 4301);
    assert.match(m.data.message, /less than 100 KB/);
    // the same through the HTTP API
    const r = await restRequest(server, { method: 'POST', path: '/events', body: { name: 'e', channel: 'c', data: '\u0001'.repeat(60000) } });
    assert.equal(r.status, 413);
    ws.destroy();
    await server.stop();
});

test('%00 in a path and auth_version other than 1.0 are refused', { skip }, async () => {
    const server = await startServer();
    const { responses: [ws] } = await rawHttp(server, 'GET /app/app-key%00x HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
        + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    assert.equal(ws.status, 400);
    const body = JSON.stringify({ name: 'e', channel: 'c', data: 'd' });
    const qs = signQuery({ method: 'POST', path: '/apps/app-id/events', body }).replace('auth_version=1.0', 'auth_version=2.0');
    const r = await httpRequest(server, { method: 'POST', path: `/apps/app-id/events?${qs}`, body });
    assert.equal(r.status, 401);
    const zero = await httpRequest(server, { method: 'POST', path: `/apps/app-id%00/events?${signQuery({ method: 'POST', path: '/apps/app-id%00/events', body })}`, body });
    assert.equal(zero.status, 400);
    await server.stop();
});

/** Sends a request head announcing a body of `length` bytes, then body bytes as long as the
 *  server reads them (up to `send`); resolves { status, sent }. */
function headThenBody(server, head, length, send) {
    return new Promise((resolve) => {
        const sock = net.connect(server.port, '127.0.0.1');
        let got = '';
        let sent = 0;
        const chunk = Buffer.alloc(256 * 1024, 'x');
        const pump = () => {
            while (sent < send && !sock.destroyed) {
                sent += chunk.length;
                if (!sock.write(chunk)) return sock.once('drain', pump);
            }
        };
        sock.on('connect', () => { sock.write(`${head}Content-Length: ${length}\r\n\r\n`); pump(); });
        sock.on('data', (d) => { got += d.toString('latin1'); });
        sock.on('error', () => { /* reset by the server after its answer */ });
        sock.on('close', () => resolve({ status: Number((/^HTTP\/1\.1 (\d+)/.exec(got) || [])[1]), sent }));
        setTimeout(() => sock.destroy(), 8000);
    });
}

test('a REST body nobody signed is refused from its head, never buffered', { skip }, async () => {
    const server = await startServer();
    const rss0 = rssKiB(server.proc.pid);
    const p = '/apps/app-id/events';
    const forged = `auth_key=app-key&auth_timestamp=${Math.floor(Date.now() / 1000)}&auth_version=1.0`
        + `&body_md5=${'0'.repeat(32)}&auth_signature=${'0'.repeat(64)}`;
    const results = await Promise.all([0, 1, 2, 3].map(() => headThenBody(server,
        `POST ${p}?${forged} HTTP/1.1\r\nHost: x\r\n`, 50 * 1024 * 1024, 50 * 1024 * 1024)));
    for (const r of results) assert.equal(r.status, 401);
    const unknown = await headThenBody(server, 'POST /nope HTTP/1.1\r\nHost: x\r\n', 50 * 1024 * 1024, 10 * 1024 * 1024);
    assert.equal(unknown.status, 404);
    const grew = rssKiB(server.proc.pid) - rss0;
    if (!SANITIZED) assert.ok(grew < 8 * 1024, `RSS grew ${grew} KiB for 4 refused 50 MB bodies`);
    // a signed head whose body is not the one it signed: read, then refused
    const body = JSON.stringify({ name: 'e', channel: 'c', data: 'd' });
    const qs = signQuery({ method: 'POST', path: p, body });
    const r = await httpRequest(server, { method: 'POST', path: `${p}?${qs}`, body: body.replace('"d"', '"x"') });
    assert.equal(r.status, 401);
    assert.equal((await restRequest(server, { method: 'POST', path: '/events', body })).status, 200);
    await server.stop();
});

test('the presence member limit holds across a Redis cluster under 300 simultaneous joins', { skip }, async () => {
    const redis = await startRedis();
    const env = { SOKETI_ADAPTER_DRIVER: 'redis', SOKETI_DB_REDIS_PORT: String(redis.port), SOKETI_PRESENCE_MAX_MEMBERS: '100' };
    const nodes = [await startServer({ env }), await startServer({ env })];
    await until(async () => (await redis.command('PUBSUB', 'NUMSUB', 'redis-adapter#comms#req'))[1] === 2,
        5000, 'both nodes subscribed');
    const sockets = [];
    for (let i = 0; i < 300; i++) sockets.push(await rawPusher(nodes[i % 2]));
    sockets.forEach((ws, i) => presenceSubscribe(ws, 'presence-race', `u${i}`));
    // each socket's answer (member_added of others may come before it)
    const answer = async (ws) => {
        for (;;) {
            const m = await ws.nextJson(15000).catch(() => null);
            if (!m || m.event === 'pusher_internal:subscription_succeeded' || m.event === 'pusher:subscription_error') return m;
        }
    };
    const answers = await Promise.all(sockets.map(answer));
    const ok = answers.filter((m) => m && m.event === 'pusher_internal:subscription_succeeded').length;
    const full = answers.filter((m) => m && m.event === 'pusher:subscription_error' && m.data.status === 4100).length;
    assert.equal(ok, 100, `admitted ${ok}, refused ${full}`);
    assert.equal(full, 200);
    const users = await restRequest(nodes[0], { path: '/channels/presence-race/users' });
    assert.equal(users.json.users.length, 100);
    for (const ws of sockets) ws.destroy();
    for (const n of nodes) await n.stop();
    await redis.stop();
});

test('a client that only receives is pinged, not dropped; one that answers nothing is closed with 4201', { skip }, async () => {
    const server = await startServer({ env: { SOKETI_WS_IDLE_TIMEOUT: '4' } });
    // pusher-js sends nothing while events keep coming (activity_timeout is 30 s): only the
    // pongs its WebSocket answers to our pings keep it
    const client = pusherClient(server);
    await waitConnected(client);
    const id = client.connection.socket_id;
    const ch = await subscribe(client, 'news');
    let got = 0;
    ch.bind('tick', () => { got++; });
    const errors = [];
    client.connection.bind('error', (e) => errors.push(e));
    const rest = pusherRest(server);
    for (let i = 0; i < 10; i++) {
        await rest.trigger('news', 'tick', { i });
        await sleep(1000);
    }
    assert.equal(client.connection.state, 'connected');
    assert.equal(client.connection.socket_id, id, 'the same connection throughout');
    assert.equal(got, 10);
    assert.deepEqual(errors, []);
    // a raw client that never answers the ping (nor sends anything) is closed
    const ws = await rawPusher(server);
    const ping = await ws.nextControl(4000);
    assert.equal(ping.opcode, OPCODES.PING);
    const close = await ws.nextClose(5000);
    assert.equal(close.code, 4201);
    await server.stop();
});
