// tests/integration/raw.test.mjs — bytes the official clients never send: RFC 6455
// protocol violations, fragmentation and control frames, malformed Pusher messages,
// and raw HTTP (garbage, pipelining, split bodies, oversized headers and bodies).
// Throughout, a watcher connection on another socket must stay unaffected.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
    OPCODES, REFERENCE, cleanup, encodeFrame, httpRequest, pusherRest, rawHttp, rawPusher, rawWs, signQuery, sleep, startServer,
} from './harness.mjs';

after(cleanup);

let server;
let rest;
let watcher; // subscribed to 'watch', must keep working whatever other sockets do
before(async () => {
    server = await startServer();
    rest = pusherRest(server);
    watcher = await rawPusher(server);
    watcher.send({ event: 'pusher:subscribe', data: { channel: 'watch' } });
    assert.equal((await watcher.nextJson()).event, 'pusher_internal:subscription_succeeded');
});
after(() => server && server.stop());

let watchSeq = 0;
/** The daemon is alive, the watcher still gets pongs and events, a new connection works. */
async function assertUnaffected() {
    assert.equal(server.proc.exitCode, null, `daemon exited:\n${server.output()}`);
    watcher.send({ event: 'pusher:ping', data: {} });
    assert.deepEqual(await watcher.nextJson(), { event: 'pusher:pong', data: {} });
    const n = ++watchSeq;
    await rest.trigger('watch', 'tick', { n });
    const m = await watcher.nextJson();
    assert.equal(m.event, 'tick');
    assert.deepEqual(JSON.parse(m.data), { n });
    const fresh = await rawPusher(server);
    fresh.destroy();
}

async function pingPong(ws, t = 3000) {
    ws.send({ event: 'pusher:ping', data: {} });
    return ws.nextEvent('pusher:pong', t);
}

const PING_JSON = '{"event":"pusher:ping","data":{}}';

describe('WebSocket framing', () => {
    test('a fragmented message (text + 2 continuations) is reassembled', async () => {
        const ws = await rawPusher(server);
        ws.sendFrame({ opcode: OPCODES.TEXT, payload: PING_JSON.slice(0, 5), fin: false });
        await sleep(30);
        ws.sendFrame({ opcode: OPCODES.CONT, payload: PING_JSON.slice(5, 15), fin: false });
        await sleep(30);
        ws.sendFrame({ opcode: OPCODES.CONT, payload: PING_JSON.slice(15), fin: true });
        assert.deepEqual(await ws.nextJson(), { event: 'pusher:pong', data: {} });
        ws.destroy();
    });

    test('a control frame between fragments is answered and the message still completes', async () => {
        const ws = await rawPusher(server);
        ws.sendFrame({ opcode: OPCODES.TEXT, payload: PING_JSON.slice(0, 10), fin: false });
        ws.sendFrame({ opcode: OPCODES.PING, payload: 'mid' });
        ws.sendFrame({ opcode: OPCODES.CONT, payload: PING_JSON.slice(10), fin: true });
        const pong = await ws.nextControl();
        assert.equal(pong.opcode, OPCODES.PONG);
        assert.equal(pong.data.toString(), 'mid');
        assert.equal((await ws.nextJson()).event, 'pusher:pong');
        ws.destroy();
    });

    test('ping control frames get pong frames with the same payload', async () => {
        const ws = await rawPusher(server);
        for (const payload of [Buffer.alloc(0), Buffer.from('hello'), Buffer.alloc(125, 0xab)]) {
            ws.sendFrame({ opcode: OPCODES.PING, payload });
            const pong = await ws.nextControl();
            assert.equal(pong.opcode, OPCODES.PONG);
            assert.deepEqual(pong.data, payload);
        }
        await pingPong(ws);
        ws.destroy();
    });

    test('an unsolicited pong frame is ignored', async () => {
        const ws = await rawPusher(server);
        ws.sendFrame({ opcode: OPCODES.PONG, payload: 'unsolicited' });
        await pingPong(ws);
        ws.destroy();
    });

    test('a close frame is echoed with its code', async () => {
        const ws = await rawPusher(server);
        ws.close(4321, 'bye');
        const c = await ws.nextClose();
        assert.equal(c.code, 4321);
        await ws.closed;
        const normal = await rawPusher(server);
        normal.close(1000);
        assert.equal((await normal.nextClose()).code, 1000);
        await assertUnaffected();
    });

    test('16-bit and 64-bit payload lengths, several frames per write, a frame split byte by byte', async () => {
        const ws = await rawPusher(server);
        const medium = JSON.stringify({ event: 'pusher:ping', data: { pad: 'm'.repeat(300) } });
        const large = JSON.stringify({ event: 'pusher:ping', data: { pad: 'l'.repeat(70000) } });
        ws.send(medium);
        await ws.nextEvent('pusher:pong');
        ws.send(large);
        await ws.nextEvent('pusher:pong');

        const one = encodeFrame({ opcode: OPCODES.TEXT, payload: PING_JSON });
        ws.sendRaw(Buffer.concat([one, encodeFrame({ opcode: OPCODES.TEXT, payload: PING_JSON }), one]));
        for (let i = 0; i < 3; i++) await ws.nextEvent('pusher:pong');

        const split = encodeFrame({ opcode: OPCODES.TEXT, payload: PING_JSON });
        for (let i = 0; i < split.length; i++) {
            ws.sendRaw(split.subarray(i, i + 1));
            if (i % 8 === 0) await sleep(5);
        }
        await ws.nextEvent('pusher:pong');
        ws.destroy();
    });

    test('a binary frame carrying JSON is handled like text', async () => {
        const ws = await rawPusher(server);
        ws.sendFrame({ opcode: OPCODES.BINARY, payload: PING_JSON });
        assert.equal((await ws.nextJson()).event, 'pusher:pong');
        ws.destroy();
    });

    test('protocol violations never affect another connection', async () => {
        const violations = [
            { opcode: OPCODES.TEXT, payload: PING_JSON, mask: false },
            { opcode: 3, payload: 'x' },
            { opcode: 0xB, payload: 'x' },
            { opcode: OPCODES.TEXT, payload: PING_JSON, rsv: 4 },
            { opcode: OPCODES.TEXT, payload: Buffer.from([0x22, 0xff, 0xfe, 0x22]) },
            { opcode: OPCODES.PING, payload: 'x', fin: false },
            { opcode: OPCODES.PING, payload: Buffer.alloc(126) },
            { opcode: OPCODES.CONT, payload: 'stray' },
        ];
        const sockets = [];
        for (const frame of violations) {
            const ws = await rawPusher(server);
            ws.sendFrame(frame);
            sockets.push(ws);
        }
        await sleep(300);
        await assertUnaffected();
        for (const ws of sockets) ws.destroy();
    });

    const skipCodes = REFERENCE && 'soketi 1.6 (uWS) drops the TCP connection without a close frame, or ignores it';

    test('protocol violations close with 1002', { skip: skipCodes }, async () => {
        const cases = {
            'unmasked client frame': [{ opcode: OPCODES.TEXT, payload: PING_JSON, mask: false }],
            'reserved data opcode 3': [{ opcode: 3, payload: 'x' }],
            'reserved data opcode 7': [{ opcode: 7, payload: '' }],
            'reserved control opcode 0xB': [{ opcode: 0xB, payload: 'x' }],
            'RSV1 without an extension': [{ opcode: OPCODES.TEXT, payload: PING_JSON, rsv: 4 }],
            'RSV3 on a ping': [{ opcode: OPCODES.PING, payload: '', rsv: 1 }],
            'fragmented control frame': [{ opcode: OPCODES.PING, payload: 'x', fin: false }],
            'control frame over 125 bytes': [{ opcode: OPCODES.PING, payload: Buffer.alloc(126) }],
            'continuation without a start': [{ opcode: OPCODES.CONT, payload: 'stray' }],
            'new text frame inside a fragmented message': [
                { opcode: OPCODES.TEXT, payload: '{"ev', fin: false },
                { opcode: OPCODES.TEXT, payload: 'x' },
            ],
        };
        for (const [name, frames] of Object.entries(cases)) {
            const ws = await rawPusher(server);
            for (const f of frames) ws.sendFrame(f);
            const c = await ws.nextClose().catch((e) => ({ error: e.message }));
            assert.equal(c.code, 1002, `${name}: ${JSON.stringify(c)}`);
            await ws.closed;
        }
        await assertUnaffected();
    });

    test('invalid UTF-8 in a text message closes with 1007', { skip: skipCodes }, async () => {
        const ws = await rawPusher(server);
        ws.sendFrame({ opcode: OPCODES.TEXT, payload: Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]) });
        assert.equal((await ws.nextClose()).code, 1007);
        await ws.closed;

        // split across fragments: a valid sequence cut in two is fine, an invalid one is not
        const ok = await rawPusher(server);
        const euro = Buffer.from('{"event":"pusher:ping","data":"€"}');
        const cut = euro.indexOf(0xe2) + 1;
        ok.sendFrame({ opcode: OPCODES.TEXT, payload: euro.subarray(0, cut), fin: false });
        ok.sendFrame({ opcode: OPCODES.CONT, payload: euro.subarray(cut) });
        assert.equal((await ok.nextJson()).event, 'pusher:pong');
        ok.destroy();

        const bad = await rawPusher(server);
        bad.sendFrame({ opcode: OPCODES.TEXT, payload: Buffer.from('{"a":"'), fin: false });
        bad.sendFrame({ opcode: OPCODES.CONT, payload: Buffer.from([0xed, 0xa0, 0x80, 0x22, 0x7d]) }); // surrogate
        assert.equal((await bad.nextClose()).code, 1007);
        await assertUnaffected();
    });
});

describe('malformed Pusher messages', () => {
    test('text that is not JSON: no crash, the connection still answers a later ping', async () => {
        const ws = await rawPusher(server);
        for (const junk of ['hello {', '', '{"event":', '\u0000\u0001', 'null', '"just a string"', '42', '[]']) {
            ws.send(junk);
        }
        await pingPong(ws);
        ws.destroy();
        await assertUnaffected();
    });

    test('JSON with wrong types and shapes: no crash', async () => {
        const ws = await rawPusher(server);
        const msgs = [
            { event: 5 },
            { data: {} },
            { event: null, data: 1 },
            { event: ['pusher:ping'] },
            { event: 'pusher:ping', data: 5 },
            { event: 'client-x', data: 5 },
            { event: 'client-x', channel: 5, data: {} },
            { event: 'client-x', channel: 'not-joined', data: {} },
            { event: 'pusher:subscribe', data: { channel: 'presence-x', auth: 'x' } },
            { event: 'pusher:subscribe', data: { channel: 'private-x', auth: 5 } },
            { event: 'pusher:subscribe', data: { channel: 'presence-y', auth: 'app-key:00', channel_data: 'not json' } },
            { event: 'pusher:signin', data: 5 },
            { event: 'pusher:signin' },
            { event: 'unknown:event', data: {} },
        ];
        for (const m of msgs) ws.send(m);
        ws.send('['.repeat(10000) + ']'.repeat(10000));
        ws.send(`{"event":"pusher:ping","data":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`);
        await pingPong(ws, 5000);
        ws.destroy();
        await assertUnaffected();
    });

    test('subscribe/unsubscribe with missing or non-string channel: no crash',
        { skip: REFERENCE && 'soketi 1.6 throws a TypeError on these and shuts down' }, async () => {
            const ws = await rawPusher(server);
            for (const m of [
                { event: 'pusher:subscribe' },
                { event: 'pusher:subscribe', data: 5 },
                { event: 'pusher:subscribe', data: 'str' },
                { event: 'pusher:subscribe', data: { channel: 5 } },
                { event: 'pusher:subscribe', data: { channel: ['a'] } },
                { event: 'pusher:unsubscribe' },
                { event: 'pusher:unsubscribe', data: null },
                { event: 'pusher:unsubscribe', data: { channel: 5 } },
                { event: 'pusher:unsubscribe', data: { channel: 'never-joined' } },
            ]) ws.send(m);
            await pingPong(ws);
            ws.destroy();
            await assertUnaffected();
        });
});

describe('raw HTTP', () => {
    test('garbage request line: 400', { skip: REFERENCE && 'soketi 1.6 (uWS) closes without a response' }, async () => {
        const r = await rawHttp(server, 'THIS IS NOT HTTP\r\n\r\n');
        assert.equal(r.responses[0]?.status, 400, r.text);
    });

    test('after garbage the server still serves', async () => {
        for (const junk of ['THIS IS NOT HTTP\r\n\r\n', '\x00\x01\x02\xff\r\n\r\n', 'GET\r\n\r\n',
            'GET / HTTP/9.9\r\n\r\n', 'GET / HTTP/1.1\r\nno colon here\r\n\r\n']) {
            await rawHttp(server, junk, { idleMs: 200 });
        }
        const res = await httpRequest(server, { path: '/' });
        assert.equal(res.status, 200);
        assert.equal(res.text, 'OK');
        await assertUnaffected();
    });

    test('two pipelined GET / in one write: two 200 OK', async () => {
        const r = await rawHttp(server, 'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /ready HTTP/1.1\r\nHost: x\r\n\r\n');
        assert.equal(r.responses.length, 2, r.text);
        for (const res of r.responses) {
            assert.equal(res.status, 200);
            assert.equal(res.body, 'OK');
        }
    });

    test('a POST whose body arrives in 3 writes with delays works', async () => {
        const ws = await rawPusher(server);
        ws.send({ event: 'pusher:subscribe', data: { channel: 'split-body' } });
        await ws.nextJson();
        const body = JSON.stringify({ name: 'slow', channel: 'split-body', data: JSON.stringify({ part: 'all' }) });
        const p = '/apps/app-id/events';
        const head = `POST ${p}?${signQuery({ method: 'POST', path: p, body })} HTTP/1.1\r\nHost: x\r\n`
            + `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
        const r = await rawHttp(server, [head + body.slice(0, 7), body.slice(7, 30), body.slice(30)], { delayMs: 150 });
        assert.equal(r.responses.length, 1, r.text);
        assert.equal(r.responses[0].status, 200);
        assert.deepEqual(JSON.parse(r.responses[0].body), { ok: true });
        const m = await ws.nextJson();
        assert.equal(m.event, 'slow');
        ws.destroy();
    });

    test('headers split across writes work', async () => {
        const r = await rawHttp(server, ['GE', 'T /ready HT', 'TP/1.1\r\nHo', 'st: x\r\n', '\r\n'], { delayMs: 50 });
        assert.equal(r.responses[0]?.status, 200, r.text);
        assert.equal(r.responses[0].body, 'OK');
    });

    test('a header section over 16 KiB: 431', { skip: REFERENCE && 'soketi 1.6 (uWS) accepts it' }, async () => {
        const r = await rawHttp(server, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`);
        assert.equal(r.responses[0]?.status, 431, r.text.slice(0, 200));
        await assertUnaffected();
    });

    test('Content-Length over the body limit: 413', { skip: REFERENCE && 'soketi 1.6 (uWS) closes without a response' }, async () => {
        const p = '/apps/app-id/events';
        const r = await rawHttp(server, `POST ${p}?${signQuery({ method: 'POST', path: p })} HTTP/1.1\r\nHost: x\r\n`
            + 'Content-Type: application/json\r\nContent-Length: 200000000\r\n\r\n{"name":');
        assert.equal(r.responses[0]?.status, 413, r.text.slice(0, 300));
        await assertUnaffected();
    });

    test('a WebSocket upgrade on an unknown path is not accepted', async () => {
        await assert.rejects(rawWs(server, '/not-an-app-path'), (err) => err.status !== 101);
        await assertUnaffected();
    });
});
