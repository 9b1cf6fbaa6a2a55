// tests/integration/nats-faults.test.mjs — the nats adapter when things go wrong, where soketi
// 1.6 (reconnect: false) stays deaf to its peers until restarted: nats-server down at start or
// restarted mid-run, the server of a three-server NATS cluster a node is connected to killed,
// garbage on the subjects, a frozen peer, a node that falls behind (slow consumer), and the
// ways of logging in (user and password, token, NKey, TLS).
//
// Every test starts its own nats-server(s) and daemons. soketi-c only: SOKETI_REFERENCE=1
// skips the file (soketi does not survive most of it).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
    APP, REFERENCE, cleanup, httpRequest, listener, makeCert, natsClient, natsEnv, natsListeners, natsSkip, pusherRest, restRequest,
    sleep, startNats, startNatsCluster, startServer, until,
    channelsOf,
} from './harness.mjs';

after(cleanup);

const skip = natsSkip() || (REFERENCE && 'soketi 1.6 connects to NATS with reconnect: false');
const REQ = 'nats-adapter#comms#req';
const TIMEOUT_MS = 1000; // adapter.nats.requestsTimeout (natsEnv)
const listeners = natsListeners;

/** Two daemons with env on nats, and a listener on channel on each. */
async function pair(t, nats, env = natsEnv(nats)) {
    const nodes = await Promise.all([startServer({ env }), startServer({ env })]);
    t.after(() => Promise.all(nodes.map((s) => s.stop('SIGTERM', 5000))));
    return nodes;
}

async function stopped(t, nats) {
    t.after(async () => { await nats.stop(); nats.remove(); });
    return nats;
}

// ---------------------------------------------------------------------------

test('NATS down at start: the daemon starts, serves its own clients, says so, and joins when NATS comes', { skip }, async (t) => {
    const nats = await stopped(t, await startNats({ start: false, jetstream: false }));
    const [a, b] = await pair(t, nats);
    await until(() => /cannot connect to nats/.test(a.output()), 3000, 'the failure logged');
    const onA = await listener(a, 'boot', 'ev');
    const onB = await listener(b, 'boot', 'ev');
    await pusherRest(a).trigger('boot', 'ev', { phase: 1 });
    await until(() => onA.got.length === 1, 3000, 'local delivery without NATS');
    const started = Date.now();
    assert.deepEqual(await channelsOf(a), { boot: { subscription_count: 1, occupied: true } });
    assert.ok(Date.now() - started < TIMEOUT_MS, 'answered at once from this node');

    await nats.start();
    await until(async () => (await listeners(nats)) === 2, 10000, 'both nodes on NATS');
    await pusherRest(a).trigger('boot', 'ev', { phase: 2 });
    await until(() => onB.got.length === 1, 3000, 'cross-node delivery once NATS came');
    assert.deepEqual(onB.got, [{ phase: 2 }]);
    assert.match(a.output(), /cross-node delivery is on/);
});

test('nats-server restarted mid-run: local delivery meanwhile, cross-node delivery resumes by itself', { skip }, async (t) => {
    const nats = await stopped(t, await startNats({ jetstream: false }));
    const [a, b] = await pair(t, nats);
    await until(async () => (await listeners(nats)) === 2, 5000, 'both nodes on NATS');
    const onA = await listener(a, 'restart', 'ev');
    const onB = await listener(b, 'restart', 'ev');
    await pusherRest(a).trigger('restart', 'ev', { n: 1 });
    await until(() => onB.got.length === 1, 3000, 'cross-node delivery');

    await nats.stop();
    await until(() => /lost the connection to nats/.test(a.output()), 5000, 'the loss logged');
    await pusherRest(a).trigger('restart', 'ev', { n: 2 });
    await until(() => onA.got.length === 2, 3000, 'local delivery while NATS is down');
    const started = Date.now();
    assert.deepEqual(await channelsOf(b), { restart: { subscription_count: 1, occupied: true } });
    assert.ok(Date.now() - started < TIMEOUT_MS);

    await nats.start();
    await until(async () => (await listeners(nats)) === 2, 10000, 'both nodes back on NATS');
    await pusherRest(a).trigger('restart', 'ev', { n: 3 });
    await until(() => onB.got.length === 2, 3000, 'cross-node delivery after the restart');
    assert.deepEqual(onB.got, [{ n: 1 }, { n: 3 }]);
    assert.deepEqual(await channelsOf(a), { restart: { subscription_count: 2, occupied: true } });
});

test('a NATS cluster of three: the server a node is connected to is killed, the node moves on and delivery resumes', { skip, timeout: 40000 }, async (t) => {
    const nc = await startNatsCluster({ jetstream: false });
    t.after(() => nc.stop());
    const [s0, s1] = nc.servers;
    // each node is given one server only: it learns the others from the cluster
    const a = await startServer({ env: natsEnv([`127.0.0.1:${s0.port}`]) });
    const b = await startServer({ env: natsEnv([`127.0.0.1:${s1.port}`]) });
    t.after(() => Promise.all([a.stop('SIGTERM', 5000), b.stop('SIGTERM', 5000)]));
    await until(async () => (await listeners(s0)) === 1 && (await listeners(s1)) === 1, 10000, 'a on n0, b on n1');
    const onA = await listener(a, 'ha', 'ev');
    const onB = await listener(b, 'ha', 'ev');
    await pusherRest(a).trigger('ha', 'ev', { n: 1 });
    await until(() => onB.got.length === 1, 3000, 'delivery across the NATS cluster');
    assert.deepEqual(await channelsOf(a), { ha: { subscription_count: 2, occupied: true } });

    await s0.stop();
    const killed = Date.now();
    await until(() => /lost the connection to nats/.test(a.output()), 5000, 'the loss logged');
    await until(async () => {
        await pusherRest(a).trigger('ha', 'ev', { n: 2 });
        await sleep(100);
        return onB.got.length >= 2;
    }, 10000, 'a on another server');
    const took = Date.now() - killed;
    await pusherRest(b).trigger('ha', 'ev', { n: 3 });
    await until(() => onA.got.some((e) => e.n === 3), 3000, 'the other way too');
    assert.deepEqual(await channelsOf(b), { ha: { subscription_count: 2, occupied: true } });
    assert.ok(took < 8000, `delivery resumed ${took} ms after the kill`);
});

test('garbage on the subjects is dropped with a log line; the nodes keep working', { skip }, async (t) => {
    const nats = await stopped(t, await startNats({ jetstream: false }));
    const [a, b] = await pair(t, nats);
    await until(async () => (await listeners(nats)) === 2, 5000, 'both nodes on NATS');
    const onB = await listener(b, 'garbage', 'ev');
    const cli = await natsClient(nats.port);
    const garbage = ['garbage', '', '{', '[]', 'null', '42', '"text"', '{}', '\u0000\u0001',
        '{"uuid":"x","appId":"app-id","channel":"garbage"}',
        '{"uuid":"x","appId":{},"channel":"garbage","data":"{}"}',
        '{"requestId":"r","appId":"app-id","type":99}',
        '{"requestId":"r","appId":"app-id","type":7,"opts":{"channel":"c"}}',
        '{"requestId":"nobody","members":[[1,2,3],"x",null]}',
        'x'.repeat(900 * 1024)];
    for (const subject of ['nats-adapter', REQ, 'nats-adapter#comms#res']) {
        for (const g of garbage) cli.pub(subject, g);
    }
    await cli.flush();
    cli.close();
    await sleep(300);
    for (const srv of [a, b]) assert.equal(srv.proc.exitCode, null, 'still running');
    assert.match(a.output(), /dropped a message on the (broadcast|request|response) channel \(\d+ bytes\): malformed/);
    assert.deepEqual(onB.got, []);
    await pusherRest(a).trigger('garbage', 'ev', { ok: true });
    await until(() => onB.got.length === 1, 3000, 'delivery after the garbage');
    assert.deepEqual(await channelsOf(a), { garbage: { subscription_count: 1, occupied: true } });
});

test('a frozen peer: queries answer at requestsTimeout with the live nodes; a killed one is not waited for', { skip }, async (t) => {
    const nats = await stopped(t, await startNats({ jetstream: false }));
    const env = natsEnv(nats);
    const nodes = await Promise.all([0, 1, 2].map(() => startServer({ env })));
    t.after(() => Promise.all(nodes.map((s) => s.stop('SIGKILL'))));
    const [a, b, c] = nodes;
    await until(async () => (await listeners(nats)) === 3, 5000, 'three nodes on NATS');
    for (const srv of nodes) await listener(srv, 'peers', 'x');
    assert.deepEqual(await channelsOf(a), { peers: { subscription_count: 3, occupied: true } });

    c.proc.kill('SIGSTOP'); // still connected and subscribed, never answers
    let started = Date.now();
    assert.deepEqual(await channelsOf(a), { peers: { subscription_count: 2, occupied: true } });
    let took = Date.now() - started;
    assert.ok(took >= TIMEOUT_MS - 50 && took < TIMEOUT_MS + 1500, `answered after ${took} ms`);

    await c.stop('SIGKILL');
    await until(async () => (await listeners(nats)) === 2, 5000, 'the killed node gone from NATS');
    started = Date.now();
    assert.deepEqual((await restRequest(b, { path: '/channels/peers' })).json, { subscription_count: 2, occupied: true });
    took = Date.now() - started;
    assert.ok(took < TIMEOUT_MS, `answered after ${took} ms`);
});

test('slow consumer: a node that falls behind drops what its pending limit cannot hold, says so, counts it, stays connected', { skip }, async (t) => {
    const nats = await stopped(t, await startNats({ jetstream: false }));
    const a = await startServer({ env: natsEnv(nats) });
    const b = await startServer({ env: natsEnv(nats, { SOKETI_ADAPTER_NATS_MAX_PENDING_MESSAGES: '50', SOKETI_METRICS_ENABLED: 'true' }) });
    t.after(() => Promise.all([a.stop('SIGTERM', 5000), b.stop('SIGKILL')]));
    await until(async () => (await listeners(nats)) === 2, 5000, 'both nodes on NATS');
    const onB = await listener(b, 'burst', 'ev');
    b.proc.kill('SIGSTOP'); // NATS queues for it meanwhile
    const rest = pusherRest(a);
    const batches = [];
    for (let i = 0; i < 40; i++) {
        batches.push(rest.triggerBatch(Array.from({ length: 10 }, (_, k) => ({
            channel: 'burst', name: 'ev', data: JSON.stringify({ n: i * 10 + k }),
        }))));
    }
    await Promise.all(batches);
    b.proc.kill('SIGCONT'); // it reads the 400 at once: 50 fit
    await until(() => /dropped \d+ message\(s\) on nats-adapter: this node fell behind/.test(b.output()), 5000, 'the drop logged');
    const dropped = Number(/dropped (\d+) message\(s\)/.exec(b.output())[1]);
    await until(() => onB.got.length + dropped >= 400, 5000, 'the rest delivered');
    assert.ok(dropped > 0 && onB.got.length >= 50, `${onB.got.length} delivered, ${dropped} dropped`);
    assert.doesNotMatch(b.output(), /lost the connection to nats/);
    const metrics = await httpRequest({ host: b.host, port: b.metricsPort }, { path: '/metrics' });
    const counted = Number(/^soketi_adapter_messages_dropped_total(?:\{[^}]*\})? (\d+)/m.exec(metrics.text)?.[1]);
    assert.equal(counted, dropped, `soketi_adapter_messages_dropped_total in:\n${metrics.text.slice(0, 3000)}`);
    await rest.trigger('burst', 'ev', { after: true });
    await until(() => onB.got.some((e) => e.after), 3000, 'delivery after the burst');
});

test('slow consumer on the server\'s side: a node that does not run is cut off, says so once back, and reconnects', { skip }, async (t) => {
    const conf = path.join(os.tmpdir(), `soketi-nats-pending-${process.pid}.conf`);
    fs.writeFileSync(conf, 'max_pending: 65536\nmax_payload: 32768\n'); // 64 KB queued for a client at most
    t.after(() => fs.rmSync(conf, { force: true }));
    const nats = await stopped(t, await startNats({ jetstream: false, args: ['-c', conf] }));
    // B may hand its listener a burst of what it read before the cut: a test process slowed
    // by a loaded machine must not get the listener dropped for not reading (4100; twice
    // seen in full runs, each time with delivery not resuming in 5 s: not explained, not
    // reproduced in 150 runs of this test alone, hence the diagnostics below)
    const [a, b] = await pair(t, nats, natsEnv(nats, { SOKETI_MAX_BACKPRESSURE_IN_KB: String(64 * 1024) }));
    await until(async () => (await listeners(nats)) === 2, 5000, 'both nodes on NATS');
    const onB = await listener(b, 'cut', 'ev');
    const states = [];
    onB.client.connection.bind('state_change', (st) => states.push(`${Date.now() % 100000} ${st.previous}->${st.current} ${onB.client.connection.socket_id}`));
    onB.client.connection.bind('error', (err) => states.push(`${Date.now() % 100000} error ${JSON.stringify(err).slice(0, 200)}`));
    onB.ch.bind('pusher:subscription_succeeded', () => states.push(`${Date.now() % 100000} subscribed`));
    b.proc.kill('SIGSTOP');
    // 24 MB of broadcasts, as a node publishes them: more than the kernel's socket buffers
    // and the server's 64 KB can hold for a node that does not read
    const cli = await natsClient(nats.port);
    const data = JSON.stringify({ event: 'ev', channel: 'cut', data: JSON.stringify({ big: 'x'.repeat(30000) }) });
    const msg = JSON.stringify({ uuid: 'elsewhere', appId: APP.id, channel: 'cut', data, exceptingId: null });
    for (let i = 0; i < 800; i++) cli.pub('nats-adapter', msg);
    await cli.flush();
    cli.close();
    const rest = pusherRest(a);
    b.proc.kill('SIGCONT');
    await until(() => /lost the connection to nats .*slow consumer/.test(b.output()), 10000, 'the loss logged');
    assert.match(nats.output(), /Slow Consumer Detected/, 'the server cut it off');
    await until(async () => (await listeners(nats)) === 2, 10000, 'B back on NATS');
    // B's connection may be counted a moment before its subscriptions are: an event
    // triggered in between is not B's; a later one must reach it
    await until(async () => {
        await rest.trigger('cut', 'ev', { after: true });
        await sleep(300);
        return onB.got.some((e) => e.after);
    }, 5000, 'delivery once B is back').catch(async (e) => {
        // where delivery stopped: the server's view of both connections before and after
        // three more events, the listener's connection history, both daemons' logs
        const cz = JSON.parse((await nats.monitor('/connz?subs=1&limit=1000')).body).connections.map((c) => ({ cid: c.cid, name: c.name, subs: c.subscriptions_list, in: c.in_msgs, out: c.out_msgs, pend: c.pending_bytes }));
        e.message += `\nCONNZ ${JSON.stringify(cz)}\nB channels: ${JSON.stringify((await restRequest(b, { path: '/channels' })).json)}`;
        for (let k = 0; k < 3; k++) { await rest.trigger('cut', 'ev', { after: true }); await sleep(500); }
        const cz2 = JSON.parse((await nats.monitor('/connz?subs=1&limit=1000')).body).connections.map((c) => ({ cid: c.cid, in: c.in_msgs, out: c.out_msgs }));
        e.message += `\nCONNZ after 3 more ${JSON.stringify(cz2)} got ${onB.got.length}`;
        e.message += `\nB's listener: ${onB.client.connection.state}, ${onB.got.length} events ${states.join('; ')} now ${Date.now() % 100000}`
            + `\n--- B ---\n${b.output().slice(-4000)}\n--- A ---\n${a.output().slice(-2000)}`;
        throw e;
    });
});

// ---------------------------------------------------------------------------
// Logging in.

/** RFC 4648 base32 without padding. */
function base32(buf) {
    const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    let bits = 0;
    let value = 0;
    let out = '';
    for (const byte of buf) {
        value = (value << 8) | byte;
        bits += 8;
        while (bits >= 5) {
            out += abc[(value >>> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0) out += abc[(value << (5 - bits)) & 31];
    return out;
}

/** CRC-16/XMODEM, as NKeys checksum them, little-endian. */
function crc16(buf) {
    let crc = 0;
    for (const byte of buf) {
        crc ^= byte << 8;
        for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
    return Buffer.from([crc & 0xff, crc >> 8]);
}

/** A NATS user NKey pair: { pub: 'U...', seed: 'SU...' }. */
function userNkey() {
    const { privateKey } = generateKeyPairSync('ed25519');
    const jwk = privateKey.export({ format: 'jwk' });
    const seed = Buffer.from(jwk.d, 'base64url');
    const pub = Buffer.from(createPublicKey(privateKey).export({ format: 'jwk' }).x, 'base64url');
    const u = 20 << 3;
    const pubRaw = Buffer.concat([Buffer.from([u]), pub]);
    const seedRaw = Buffer.concat([Buffer.from([(18 << 3) | (u >> 5), (u & 31) << 3]), seed]);
    return { pub: base32(Buffer.concat([pubRaw, crc16(pubRaw)])), seed: base32(Buffer.concat([seedRaw, crc16(seedRaw)])) };
}

/** A daemon with env logs in to nats, and one with bad credentials does not (and says so);
 *  both stop cleanly (libnats's TLS clean-up once crashed a daemon at exit). */
async function logsIn(t, nats, env, badEnv) {
    const good = await startServer({ env: natsEnv(nats, env) });
    const bad = await startServer({ env: natsEnv(nats, badEnv) });
    t.after(() => Promise.all([good.stop('SIGTERM', 5000), bad.stop('SIGTERM', 5000)]));
    await until(() => /cross-node delivery is on/.test(good.output()), 5000, 'logged in');
    await until(() => /cannot connect to nats|Authorization/i.test(bad.output()), 5000, 'the refusal logged');
    assert.doesNotMatch(bad.output(), /cross-node delivery is on/);
    for (const srv of [good, bad]) assert.deepEqual(await srv.stop('SIGTERM', 5000), { code: 0, signal: null }, srv.output());
}

test('logging in: user and password, token, NKey, TLS with a CA', { skip, timeout: 40000 }, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soketi-nats-auth-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));

    const up = await stopped(t, await startNats({ jetstream: false, args: ['--user', 'sk', '--pass', 's3cret'] }));
    await logsIn(t, up, { SOKETI_ADAPTER_NATS_USER: 'sk', SOKETI_ADAPTER_NATS_PASSWORD: 's3cret' },
        { SOKETI_ADAPTER_NATS_USER: 'sk', SOKETI_ADAPTER_NATS_PASSWORD: 'wrong' });

    const tok = await stopped(t, await startNats({ jetstream: false, args: ['--auth', 'tok3n'] }));
    await logsIn(t, tok, { SOKETI_ADAPTER_NATS_TOKEN: 'tok3n' }, { SOKETI_ADAPTER_NATS_TOKEN: 'nope' });

    const key = userNkey();
    const seedFile = path.join(dir, 'user.nk');
    fs.writeFileSync(seedFile, `${key.seed}\n`);
    const conf = path.join(dir, 'nkey.conf');
    fs.writeFileSync(conf, `authorization { users = [ { nkey: ${key.pub} } ] }\n`);
    const nk = await stopped(t, await startNats({ jetstream: false, args: ['-c', conf] }));
    await logsIn(t, nk, { SOKETI_ADAPTER_NATS_NKEY: key.pub, SOKETI_ADAPTER_NATS_NKEY_SEED_PATH: seedFile }, {});

    const cert = await makeCert();
    t.after(() => fs.rmSync(cert.dir, { recursive: true, force: true }));
    const tls = await stopped(t, await startNats({ jetstream: false, args: ['--tls', '--tlscert', cert.cert, '--tlskey', cert.key] }));
    await logsIn(t, tls, { SOKETI_ADAPTER_NATS_TLS_CA: cert.cert }, {});
    // and a file that cannot be read stops the start with the option's name
    await assert.rejects(startServer({ env: natsEnv(tls, { SOKETI_ADAPTER_NATS_CREDENTIALS: path.join(dir, 'missing.creds') }) }),
        /adapter\.nats\.credentials: cannot read/);
});
