// tests/integration/tls.test.mjs — wss:// and https:// on one port (SOKETI_SSL_CERT,
// SOKETI_SSL_KEY, SOKETI_SSL_PASS, SOKETI_SSL_CA), with certificates the test makes
// with the openssl command.
//
// DESIGN: pusher-js (node build) and the `pusher` SDK take no TLS options, so the
// official-client round trip runs in a child process (roundtrip.mjs) that trusts the
// test certificate through NODE_EXTRA_CA_CERTS. Everything else talks TLS from this
// process with node's tls module: a raw WebSocket (frames from harness.mjs) for large
// and many messages, slow readers and the close handshake; raw bytes for plain HTTP
// sent to the TLS port. Start-up refusals run the daemon and read its message.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';

import {
    APP, FrameDecoder, OPCODES, REFERENCE, cleanup, cpuTicks, encodeFrame, freePort, makeCert, signQuery, sleep,
    startTlsServer,
} from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = process.env.SOKETI_BIN;
const skip = REFERENCE ? 'soketi 1.6 is not started with TLS here' : (!BIN ? 'SOKETI_BIN is not set' : false);

after(cleanup);
const dirs = [];
after(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });

async function cert(opts) {
    const c = await makeCert(opts);
    dirs.push(c.dir);
    c.pem = fs.readFileSync(c.cert, 'utf8');
    return c;
}

/** Runs roundtrip.mjs against the server; resolves its JSON result. */
function roundtrip(server, caFile, extra = []) {
    return new Promise((resolve) => {
        execFile(process.execPath, [path.join(HERE, 'roundtrip.mjs'), `--port=${server.port}`, '--tls', ...extra], {
            env: { ...process.env, NODE_EXTRA_CA_CERTS: caFile, NODE_NO_WARNINGS: '1' }, timeout: 15000,
        }, (err, stdout, stderr) => {
            try { resolve(JSON.parse(stdout.trim().split('\n').pop())); } catch { resolve({ ok: false, error: `${err} ${stdout} ${stderr}` }); }
        });
    });
}

/** Runs `soketi start` expecting it to refuse; resolves { code, output }. */
async function startRefused(env) {
    const childEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SOKETI_')) childEnv[k] = v;
    Object.assign(childEnv, {
        SOKETI_HOST: '127.0.0.1', SOKETI_METRICS_HOST: '127.0.0.1',
        SOKETI_PORT: String(await freePort()), SOKETI_METRICS_SERVER_PORT: String(await freePort()), ...env,
    });
    const args = ['start'];
    if (process.env.SOKETI_PLUGIN_DIR_TEST) args.push(`--plugin-dir=${process.env.SOKETI_PLUGIN_DIR_TEST}`);
    return new Promise((resolve) => {
        execFile(BIN, args, { env: childEnv, timeout: 10000 }, (err, stdout, stderr) => {
            resolve({ code: err ? err.code : 0, output: stdout + stderr });
        });
    });
}

/** A raw RFC 6455 client over TLS. tlsOpts go to tls.connect (ca, cert, key, ...). */
async function tlsWs(server, tlsOpts = {}, wsPath = `/app/${APP.key}?protocol=7&client=js&version=8.4.0`) {
    const sock = tls.connect({ host: '127.0.0.1', port: server.port, ca: server.ca, ...tlsOpts });
    await new Promise((resolve, reject) => { sock.once('secureConnect', resolve); sock.once('error', reject); });
    const key = randomBytes(16).toString('base64');
    sock.write(`GET ${wsPath} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
        + `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    const decoder = new FrameDecoder();
    const messages = [];
    const waiters = [];
    let head = null;
    let pending = Buffer.alloc(0);
    const ws = {
        sock, messages, lengths: [], close: null,
        ended: new Promise((resolve) => sock.on('close', resolve)),
        send: (obj) => sock.write(encodeFrame({ opcode: OPCODES.TEXT, payload: JSON.stringify(obj) })),
        /** Resolves once n messages have arrived in total. */
        until: (n, ms = 10000) => new Promise((resolve, reject) => {
            if (messages.length >= n) { resolve(messages); return; }
            if (sock.destroyed) { reject(new Error(`closed after ${messages.length} of ${n} messages`)); return; }
            const timer = setTimeout(() => reject(new Error(`${messages.length} of ${n} messages after ${ms} ms`)), ms);
            waiters.push({
                n,
                resolve: () => { clearTimeout(timer); resolve(messages); },
                reject: () => { clearTimeout(timer); reject(new Error(`closed after ${messages.length} of ${n} messages`)); },
            });
        }),
    };
    const onFrames = (frames) => {
        for (const f of frames) {
            if (f.opcode === OPCODES.CLOSE) {
                ws.close = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
                sock.end(encodeFrame({ opcode: OPCODES.CLOSE, payload: f.payload.subarray(0, 2) }));
            } else if (f.opcode === OPCODES.TEXT) {
                messages.push(JSON.parse(f.payload.toString('utf8')));
                ws.lengths.push(f.payload.length);
            }
        }
        for (const w of [...waiters]) if (messages.length >= w.n) { waiters.splice(waiters.indexOf(w), 1); w.resolve(); }
    };
    sock.on('data', (d) => {
        if (head === null) {
            pending = Buffer.concat([pending, d]);
            const i = pending.indexOf('\r\n\r\n');
            if (i < 0) return;
            head = pending.subarray(0, i).toString('latin1');
            d = pending.subarray(i + 4);
        }
        onFrames(decoder.push(d));
    });
    sock.on('error', () => { /* shows as close */ });
    sock.on('close', () => { for (const w of waiters.splice(0)) w.reject(); });
    await ws.until(1);
    assert.match(head, /^HTTP\/1\.1 101 /);
    assert.equal(messages[0].event, 'pusher:connection_established');
    ws.socketId = JSON.parse(messages[0].data).socket_id;
    return ws;
}

/** A signed REST call over TLS; resolves { status, body }. */
function restTls(server, p, body) {
    const raw = JSON.stringify(body);
    const qs = signQuery({ method: 'POST', path: p, body: raw });
    return new Promise((resolve, reject) => {
        const req = tls.connect({ host: '127.0.0.1', port: server.port, ca: server.ca }, () => {
            req.write(`POST ${p}?${qs} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n`
                + `Content-Length: ${Buffer.byteLength(raw)}\r\nConnection: close\r\n\r\n${raw}`);
        });
        let out = '';
        req.setEncoding('utf8');
        req.on('data', (d) => { out += d; });
        req.on('end', () => resolve({ status: Number(out.split(' ')[1]), body: out.slice(out.indexOf('\r\n\r\n') + 4) }));
        req.on('error', reject);
    });
}
const trigger = (server, channel, event, data) =>
    restTls(server, `/apps/${APP.id}/events`, { name: event, channels: [channel], data: JSON.stringify(data) });

async function subscribeWs(ws, channel) {
    const n = ws.messages.length;
    ws.send({ event: 'pusher:subscribe', data: { channel } });
    await ws.until(n + 1);
    assert.equal(ws.messages[n].event, 'pusher_internal:subscription_succeeded');
}

describe('TLS', { skip }, () => {
    let c;
    let server;
    before(async () => {
        c = await cert();
        server = await startTlsServer({ env: { SOKETI_SSL_CERT: c.cert, SOKETI_SSL_KEY: c.key }, ca: c.pem });
    });

    test('pusher-js over wss:// receives an event sent by the pusher SDK over https://', async () => {
        const r = await roundtrip(server, c.cert);
        assert.equal(r.ok, true, r.error);
        assert.deepEqual(r.data, [{ n: 1 }, { n: 1 }]);
    });

    test('the HTTP API answers over TLS', async () => {
        assert.deepEqual(await server.https('/ready'), { status: 200, body: 'OK' });
        const r = await server.https(`/apps/${APP.id}/channels?${signQuery({ method: 'GET', path: `/apps/${APP.id}/channels` })}`);
        assert.equal(r.status, 200);
        assert.deepEqual(JSON.parse(r.body), { channels: {} });
    });

    test('TLS 1.2 clients connect; older protocols are refused', async () => {
        const ws = await tlsWs(server, { maxVersion: 'TLSv1.2' });
        assert.equal(ws.sock.getProtocol(), 'TLSv1.2');
        ws.sock.destroy();
        await assert.rejects(tlsWs(server, { maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }));
    });

    test('many small and some large messages arrive complete and in order', async () => {
        const ws = await tlsWs(server);
        await subscribeWs(ws, 'bulk');
        const base = ws.messages.length;
        const big = 'x'.repeat(60 * 1024);
        const sent = [];
        for (let i = 0; i < 60; i++) {
            const data = i % 10 === 9 ? { i, big } : { i };
            sent.push(data);
            // eslint-disable-next-line no-await-in-loop
            assert.equal((await trigger(server, 'bulk', 'e', data)).status, 200);
        }
        await ws.until(base + sent.length);
        assert.deepEqual(ws.messages.slice(base).map((m) => JSON.parse(m.data)), sent);
        ws.sock.destroy();
    });

    test('a slow reader gets everything once it reads again', async () => {
        // More than the kernel buffers hold, so that TLS writes block and resume.
        const roomy = await startTlsServer({
            env: { SOKETI_SSL_CERT: c.cert, SOKETI_SSL_KEY: c.key, SOKETI_MAX_BACKPRESSURE_IN_KB: 65536 }, ca: c.pem,
        });
        const ws = await tlsWs(roomy);
        await subscribeWs(ws, 'slow');
        const base = ws.messages.length;
        ws.sock.pause();
        const chunk = 'y'.repeat(95 * 1024);
        const n = 120;
        for (let i = 0; i < n; i++) {
            // eslint-disable-next-line no-await-in-loop
            assert.equal((await trigger(roomy, 'slow', 'e', { i, chunk })).status, 200);
        }
        await sleep(200);
        ws.sock.resume();
        await ws.until(base + n, 30000);
        assert.deepEqual(ws.messages.slice(base).map((m) => JSON.parse(m.data).i), [...Array(n).keys()]);
        await sleep(200);
        const idle = cpuTicks(roomy.proc.pid);
        await sleep(1000);
        assert.ok(cpuTicks(roomy.proc.pid) - idle <= 10, 'the daemon idles once the queue is written');
        ws.sock.destroy();
        await roomy.stop();
    });

    // Large frames leave a TLS write blocked in the middle of a frame; frames of exactly
    // 4096 bytes fill 16 KiB records exactly, so it blocks on a frame boundary. Either way
    // the bytes a blocked TLS write has taken must still go before the close frame.
    for (const [what, frameBytes] of [['large frames', 50 * 1024], ['frames that fill records exactly', 4096]]) {
        test(`a TLS reader that falls too far behind is closed with 4100 on an intact stream (${what})`, async () => {
            const tight = await startTlsServer({
                env: { SOKETI_SSL_CERT: c.cert, SOKETI_SSL_KEY: c.key, SOKETI_MAX_BACKPRESSURE_IN_KB: 256 }, ca: c.pem,
            });
            const ws = await tlsWs(tight);
            await subscribeWs(ws, 'flood');
            // Size the payload so that each frame (4-byte header + message) is frameBytes long.
            const data = (i, pad) => ({ i: String(i).padStart(6, '0'), pad: 'z'.repeat(pad) });
            assert.equal((await trigger(tight, 'flood', 'e', data(0, 100))).status, 200);
            await ws.until(ws.messages.length + 1);
            const pad = 100 + (frameBytes - 4) - ws.lengths.at(-1);
            const base = ws.messages.length;
            ws.sock.pause();
            // Ten events per request, past the kernel's buffers and the 256 KiB limit.
            for (let i = 0; i < 4000 && !/dropping a client/.test(tight.output()); i += 10) {
                const batch = [...Array(10).keys()].map((k) => ({ name: 'e', channel: 'flood', data: JSON.stringify(data(i + k, pad)) }));
                // eslint-disable-next-line no-await-in-loop
                assert.equal((await restTls(tight, `/apps/${APP.id}/batch_events`, { batch })).status, 200);
            }
            assert.match(tight.output(), /dropping a client with \d+ unread bytes queued/);
            ws.sock.resume();
            await ws.ended;
            // Every frame before the close parsed (tlsWs throws on a broken one), in order.
            const got = ws.messages.slice(base).map((m) => Number(JSON.parse(m.data).i));
            assert.deepEqual(got, [...Array(got.length).keys()]);
            assert.ok(ws.lengths.slice(base).every((n) => n === frameBytes - 4 || frameBytes > 65535));
            assert.equal(ws.close, 4100);
            await tight.stop();
        });
    }

    test('plain HTTP to the TLS port gets a 400 and a close; TLS clients are not affected', async () => {
        const ws = await tlsWs(server);
        await subscribeWs(ws, 'bystander');
        const plain = await new Promise((resolve) => {
            const s = net.connect(server.port, '127.0.0.1', () => s.write('GET /ready HTTP/1.1\r\nHost: x\r\n\r\n'));
            let out = '';
            s.setEncoding('latin1');
            s.on('data', (d) => { out += d; });
            s.on('close', () => resolve(out));
            s.on('error', () => { /* close follows */ });
        });
        assert.match(plain, /^HTTP\/1\.1 400 /);
        assert.match(plain, /use https:\/\/ or wss:\/\//);
        // Garbage that is neither TLS nor HTTP is dropped. (Its first byte is neither a
        // handshake record's 0x16 nor a letter, which would read as plain HTTP.)
        await new Promise((resolve, reject) => {
            const junk = randomBytes(64);
            junk[0] = 0x01;
            const s = net.connect(server.port, '127.0.0.1', () => s.write(junk));
            const timer = setTimeout(() => { s.destroy(); reject(new Error('garbage not dropped in 5 s')); }, 5000);
            s.on('close', () => { clearTimeout(timer); resolve(); });
            s.on('error', () => { /* close follows */ });
        });
        // A TLS client that stalls in the middle of the handshake does not block others.
        const stalled = net.connect(server.port, '127.0.0.1', () => stalled.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])));
        stalled.on('error', () => {});
        const n = ws.messages.length;
        assert.equal((await trigger(server, 'bystander', 'still', { ok: 1 })).status, 200);
        await ws.until(n + 1);
        assert.deepEqual(JSON.parse(ws.messages[n].data), { ok: 1 });
        stalled.destroy();
        ws.sock.destroy();
        assert.deepEqual(await server.https('/ready'), { status: 200, body: 'OK' });
    });

    test('SIGHUP reloads a renewed certificate; established connections stay', async () => {
        const dir = fs.mkdtempSync(path.join(c.dir, 'renew-'));
        const files = { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') };
        fs.copyFileSync(c.cert, files.cert);
        fs.copyFileSync(c.key, files.key);
        const own = await startTlsServer({ env: { SOKETI_SSL_CERT: files.cert, SOKETI_SSL_KEY: files.key }, ca: c.pem });
        const before = await tlsWs(own);
        const renewed = await cert();
        fs.copyFileSync(renewed.cert, files.cert);
        fs.copyFileSync(renewed.key, files.key);
        own.proc.kill('SIGHUP');
        for (let i = 0; i < 50 && !/TLS certificate and key reloaded/.test(own.output()); i++) await sleep(50); // eslint-disable-line no-await-in-loop
        assert.match(own.output(), /SIGHUP: TLS certificate and key reloaded from /);
        const after = await tlsWs(own, { ca: renewed.pem });
        assert.notEqual(after.sock.getPeerCertificate().fingerprint256, before.sock.getPeerCertificate().fingerprint256);
        await subscribeWs(before, 'still-here');
        after.sock.destroy();
        before.sock.destroy();
        // A broken file at reload keeps the current certificate.
        fs.writeFileSync(files.key, 'garbage\n');
        own.proc.kill('SIGHUP');
        for (let i = 0; i < 50 && !/keep the previous certificate/.test(own.output()); i++) await sleep(50); // eslint-disable-line no-await-in-loop
        assert.match(own.output(), /not a PEM private key.*new connections keep the previous certificate/);
        (await tlsWs(own, { ca: renewed.pem })).sock.destroy();
        await own.stop();
    });

    test('shutdown closes TLS WebSockets with 4200', async () => {
        const own = await startTlsServer({ env: { SOKETI_SSL_CERT: c.cert, SOKETI_SSL_KEY: c.key }, ca: c.pem });
        const ws = await tlsWs(own);
        const stopped = own.stop('SIGTERM');
        await ws.ended;
        assert.equal(ws.close, 4200);
        assert.equal((await stopped).code, 0);
    });
});

describe('TLS with a passphrase-protected key', { skip }, () => {
    let c;
    before(async () => { c = await cert({ passphrase: 'open sesame' }); });

    test('SOKETI_SSL_PASS unlocks the key', async () => {
        const server = await startTlsServer({
            env: { SOKETI_SSL_CERT: c.cert, SOKETI_SSL_KEY: c.key, SOKETI_SSL_PASS: 'open sesame' }, ca: c.pem,
        });
        const r = await roundtrip(server, c.cert);
        assert.equal(r.ok, true, r.error);
        await server.stop();
    });

    test('a missing or wrong passphrase stops start-up with a message', async () => {
        let r = await startRefused({ SOKETI_SSL_CERT: c.cert, SOKETI_SSL_KEY: c.key });
        assert.equal(r.code, 1);
        assert.match(r.output, /is encrypted: set its passphrase \(ssl\.passphrase, SOKETI_SSL_PASS\)/);
        r = await startRefused({ SOKETI_SSL_CERT: c.cert, SOKETI_SSL_KEY: c.key, SOKETI_SSL_PASS: 'nope' });
        assert.equal(r.code, 1);
        assert.match(r.output, /wrong passphrase/);
    });
});

describe('TLS start-up refusals', { skip }, () => {
    test('bad paths, non-PEM files, a key of another certificate, a lone cert', async () => {
        const a = await cert();
        const b = await cert();
        const missing = path.join(a.dir, 'nope.pem');
        let r = await startRefused({ SOKETI_SSL_CERT: missing, SOKETI_SSL_KEY: a.key });
        assert.equal(r.code, 1);
        assert.ok(r.output.includes(`TLS certificate '${missing}': No such file or directory`), r.output);
        r = await startRefused({ SOKETI_SSL_CERT: a.cert, SOKETI_SSL_KEY: missing });
        assert.ok(r.output.includes(`TLS private key '${missing}': No such file or directory`), r.output);
        const junk = path.join(a.dir, 'junk.pem');
        fs.writeFileSync(junk, 'not a certificate\n');
        r = await startRefused({ SOKETI_SSL_CERT: junk, SOKETI_SSL_KEY: a.key });
        assert.match(r.output, /not a PEM certificate/);
        r = await startRefused({ SOKETI_SSL_CERT: a.cert, SOKETI_SSL_KEY: junk });
        assert.match(r.output, /not a PEM private key/);
        r = await startRefused({ SOKETI_SSL_CERT: a.cert, SOKETI_SSL_KEY: b.key });
        assert.match(r.output, /does not match the certificate/);
        r = await startRefused({ SOKETI_SSL_CERT: a.cert });
        assert.equal(r.code, 1);
        assert.match(r.output, /TLS needs both a certificate .* and a private key/);
        r = await startRefused({ SOKETI_SSL_CERT: a.cert, SOKETI_SSL_KEY: a.key, SOKETI_SSL_CA: missing });
        assert.ok(r.output.includes(`TLS CA file '${missing}'`), r.output);
    });
});

describe('TLS client certificates (SOKETI_SSL_CA)', { skip }, () => {
    test('verified when sent, optional otherwise', async () => {
        const dir = fs.mkdtempSync(path.join((await import('node:os')).tmpdir(), 'soketi-ca-'));
        dirs.push(dir);
        const f = (n) => path.join(dir, n);
        const ossl = (args) => new Promise((resolve, reject) => {
            const p = spawn('openssl', args, { stdio: 'ignore' });
            p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`openssl ${args[0]}: ${code}`))));
        });
        await ossl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=test CA',
            '-keyout', f('ca.key'), '-out', f('ca.pem')]);
        await ossl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=client', '-keyout', f('client.key'), '-out', f('client.csr')]);
        await ossl(['x509', '-req', '-in', f('client.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
            '-days', '2', '-out', f('client.pem')]);
        const other = await cert(); // a self-signed client certificate the CA did not sign
        const c = await cert();
        const server = await startTlsServer({
            env: { SOKETI_SSL_CERT: c.cert, SOKETI_SSL_KEY: c.key, SOKETI_SSL_CA: f('ca.pem') }, ca: c.pem,
        });
        const signed = await tlsWs(server, { cert: fs.readFileSync(f('client.pem')), key: fs.readFileSync(f('client.key')) });
        signed.sock.destroy();
        const anonymous = await tlsWs(server);
        anonymous.sock.destroy();
        await assert.rejects(tlsWs(server, { cert: other.pem, key: fs.readFileSync(other.key) }));
        await server.stop();
    });
});
