// ws-hostile.test.mjs — hostile WebSocket and HTTP clients against the input bounds: partial
// frames and bodies that would hold the server's memory (maxBufferedInputInMb), messages over
// the derived wsMaxPayloadInKb, and single large outgoing messages (maxBackpressureInKb).
// Each test asserts the documented answer for the offender, a bounded server RSS, and a
// bystander still served.
//
// DESIGN: raw RFC 6455 clients from harness.mjs; RSS from /proc/<pid>/status (ordinary builds
// only: ASan's quarantine keeps freed memory resident). Linux only.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import {
    APP, DEFAULT_WS_PATH, OPCODES, REFERENCE, SANITIZED, cleanup, parseHttpResponses, pusherClient, pusherRest,
    rawPusher, rssKiB, signQuery, sleep, startServer, subscribe, until, waitConnected, waitFor,
} from './harness.mjs';

after(cleanup);

const skip = REFERENCE ? 'soketi-c bounds' : (!fs.existsSync('/proc/self/stat') && 'Linux only');

/** The header of a masked client frame announcing len payload bytes (mask 0). */
function frameHead(opcode, len, fin = true) {
    const b = Buffer.alloc(14);
    b[0] = (fin ? 0x80 : 0) | opcode;
    b[1] = 0x80 | 127;
    b.writeBigUInt64BE(BigInt(len), 2);
    return b; // the last 4 bytes are the zero mask
}

/** Writes buf in 1 MB slices, giving up when the server stops taking them. */
async function writeSome(sock, buf) {
    for (let off = 0; off < buf.length && !sock.destroyed; off += 1 << 20) {
        if (!sock.write(buf.subarray(off, off + (1 << 20)))) {
            const drained = await Promise.race([
                new Promise((r) => sock.once('drain', () => r(true))), sleep(1000).then(() => false)]);
            if (!drained) return;
        }
    }
}

/** A bystander: a pusher-js client gets an event published through the REST API. */
async function bystanderWorks(server) {
    const client = pusherClient(server);
    await waitConnected(client, 5000);
    const channel = await subscribe(client, 'bystander');
    const t0 = Date.now();
    const got = waitFor(channel, 'hello', 5000);
    await pusherRest(server).trigger('bystander', 'hello', { x: 1 });
    await got;
    return Date.now() - t0;
}

test('partial frames and bodies past maxBufferedInputInMb: 1013 and 503, memory bounded', { skip, timeout: 60000 },
    async (t) => {
        const server = await startServer({
            env: { SOKETI_MAX_BUFFERED_INPUT_IN_MB: '16', SOKETI_WS_MAX_PAYLOAD_IN_KB: '102400' },
        });
        const rssBefore = rssKiB(server.proc.pid);
        const payload = Buffer.alloc(10 << 20, 0x61);
        // Five WebSockets each start a 90 MB frame and send 10 MB of it.
        const wss = [];
        for (let i = 0; i < 5; i++) wss.push(await rawPusher(server));
        await Promise.all(wss.map(async (ws) => {
            ws.sendRaw(frameHead(OPCODES.TEXT, 90 << 20));
            await writeSome(ws.socket, payload);
        }));
        const codes = await Promise.all(wss.map((ws) => ws.nextClose(5000).then((c) => c.code, () => 0)));
        t.diagnostic(`close codes: ${codes.join(', ')}; RSS +${rssKiB(server.proc.pid) - rssBefore} KiB`);
        assert.ok(codes.filter((c) => c === 1013).length >= 3, `close codes ${codes}`);
        // Five HTTP requests each start a 90 MB body and send 10 MB of it.
        const answers = await Promise.all([...Array(5)].map(async () => {
            const sock = net.connect(server.port, '127.0.0.1');
            sock.on('error', () => { /* the server may reset after answering */ });
            const got = [];
            sock.on('data', (d) => got.push(d));
            await new Promise((r) => sock.once('connect', r));
            // signed, as a real publisher's (its head passes; the body is never whole)
            const qs = signQuery({ method: 'POST', path: '/apps/app-id/events', params: { body_md5: '0'.repeat(32) } });
            sock.write(`POST /apps/app-id/events?${qs} HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: ${90 << 20}\r\n\r\n`);
            await writeSome(sock, payload);
            await sleep(300);
            sock.destroy();
            return (parseHttpResponses(Buffer.concat(got))[0] || {}).status;
        }));
        t.diagnostic(`HTTP answers: ${answers.join(', ')}`);
        assert.ok(answers.filter((s) => s === 503).length >= 3, `answers ${answers}`);
        const grown = rssKiB(server.proc.pid) - rssBefore;
        t.diagnostic(`RSS +${grown} KiB`);
        if (!SANITIZED) assert.ok(grown < 32 * 1024, `RSS grew by ${grown} KiB`);
        const ms = await bystanderWorks(server);
        assert.ok(ms < 2000, `the bystander's event took ${ms} ms`);
    });

/** A pusher:ping whose JSON text is exactly bytes long (padded in data). */
function pingOfSize(bytes) {
    const bare = JSON.stringify({ event: 'pusher:ping', data: { pad: '' } });
    return JSON.stringify({ event: 'pusher:ping', data: { pad: 'p'.repeat(bytes - bare.length) } });
}

/** Sends msg on a fresh connection; resolves 'pong' or the close code. */
async function answerTo(server, msg) {
    const ws = await rawPusher(server, DEFAULT_WS_PATH);
    ws.send(msg);
    const r = await Promise.race([
        ws.nextEvent('pusher:pong', 5000).then(() => 'pong', () => 'none'),
        ws.nextClose(5000).then((c) => c.code, () => 'none')]);
    ws.destroy();
    return r;
}

test('wsMaxPayloadInKb follows the apps: 104 KB by default (1009 past it), and after SIGHUP the new limits', { skip, timeout: 60000 },
    async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soketi-wsmax-'));
        after(() => fs.rmSync(dir, { recursive: true, force: true }));
        const file = path.join(dir, 'config.json');
        const write = (extra) => fs.writeFileSync(file, JSON.stringify({ appManager: { array: { apps: [{ ...APP, ...extra }] } } }));
        write({});
        const server = await startServer({ args: [`--config=${file}`] });
        assert.equal(await answerTo(server, pingOfSize(104 * 1024)), 'pong');
        assert.equal(await answerTo(server, pingOfSize(104 * 1024 + 1)), 1009);

        write({ maxEventPayloadInKb: 200 });
        server.proc.kill('SIGHUP');
        await until(() => /WebSocket messages up to 204 KB/.test(server.output()), 5000, 'the reload');
        assert.equal(await answerTo(server, pingOfSize(150 * 1024)), 'pong');
        assert.equal(await answerTo(server, pingOfSize(204 * 1024 + 1)), 1009);
    });

test('one outgoing message over maxBackpressureInKb (a sign-in echoing 1 MB of user_data) reaches a reading client',
    { skip, timeout: 60000 }, async () => {
        const server = await startServer({
            env: { SOKETI_MAX_BACKPRESSURE_IN_KB: '256', SOKETI_WS_MAX_PAYLOAD_IN_KB: '4096' },
        });
        const ws = await rawPusher(server);
        const userData = JSON.stringify({ id: 'big-user', user_info: { blob: 'u'.repeat(1 << 20) } });
        const { auth } = pusherRest(server).authenticateUser(ws.socketId, JSON.parse(userData));
        ws.send({ event: 'pusher:signin', data: { auth, user_data: userData } });
        const ok = await ws.nextEvent('pusher:signin_success', 10000);
        const data = typeof ok.data === 'string' ? JSON.parse(ok.data) : ok.data;
        assert.equal(data.user_data.length, userData.length);
        ws.send({ event: 'pusher:ping', data: {} });
        await ws.nextEvent('pusher:pong', 5000);
        assert.equal(ws.closeInfo(), null);
    });
