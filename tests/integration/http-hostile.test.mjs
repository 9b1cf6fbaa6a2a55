// http-hostile.test.mjs — hostile HTTP clients against the connection layer's bounds:
// pipelined requests whose answers are never read, slow chunked uploads, request heads
// dribbled byte by byte. Each test asserts the documented answer for the offender, a bounded
// server RSS, and that a bystander is still served quickly.
//
// DESIGN: raw sockets from node's net module; RSS from /proc/<pid>/status (ordinary builds
// only: ASan's quarantine keeps freed memory resident), CPU from /proc/<pid>/stat. Linux only.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';

import { createHash } from 'node:crypto';

import {
    REFERENCE, SANITIZED, cleanup, cpuTicks, parseHttpResponses, rawPusher, rssKiB, signQuery, sleep, startServer,
    until,
} from './harness.mjs';

after(cleanup);

const skip = REFERENCE ? 'soketi-c bounds' : (!fs.existsSync('/proc/self/stat') && 'Linux only');

/** GET path on port; resolves { status, ms }. */
function timedGet(port, path) {
    const t0 = Date.now();
    return new Promise((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 10000 }, (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode, ms: Date.now() - t0 }));
        });
        req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
        req.on('error', reject);
    });
}

/** Writes `total` bytes of pipelined copies of request to port from a client that never
 *  reads; resolves the socket once the server stops taking them (or all are written). */
async function pipelineFlood(port, request, total) {
    const sock = net.connect(port, '127.0.0.1');
    sock.on('error', () => { /* reset when the server closes: fine */ });
    await new Promise((r) => sock.once('connect', r));
    sock.pause();
    const block = Buffer.from(request.repeat(Math.ceil(65536 / request.length)));
    let sent = 0;
    while (sent < total && !sock.destroyed) {
        if (!sock.write(block)) {
            // The kernel buffers are full: wait for the server to take more, for a while.
            const drained = await Promise.race([
                new Promise((r) => sock.once('drain', () => r(true))), sleep(1500).then(() => false)]);
            if (!drained) break;
        }
        sent += block.length;
    }
    return { sock, sent };
}

for (const [name, port, path] of [['main port, GET /', 'port', '/'], ['metrics port, GET /metrics', 'metricsPort', '/metrics']]) {
    test(`pipelined requests whose answers are never read (${name}): input and output stay bounded`, { skip, timeout: 60000 },
        async (t) => {
            const server = await startServer({ env: { SOKETI_METRICS_ENABLED: '1' } });
            const rssBefore = rssKiB(server.proc.pid);
            const { sock, sent } = await pipelineFlood(server[port], `GET ${path} HTTP/1.1\r\nHost: a\r\n\r\n`, 20 << 20);
            const grown = rssKiB(server.proc.pid) - rssBefore;
            t.diagnostic(`RSS +${grown} KiB; the server took ${sent} bytes of requests`);
            if (!SANITIZED) assert.ok(grown < 16 * 1024, `RSS grew by ${grown} KiB after ${sent} bytes of requests`);
            assert.ok(sent < 20 << 20, `the server stopped reading (took ${sent} bytes)`);
            const by = await timedGet(server.port, '/ready');
            assert.equal(by.status, 200);
            assert.ok(by.ms < 2000, `a bystander waited ${by.ms} ms`);
            sock.destroy();
        });
}

/** Pings every 100 ms on a raw Pusher connection until stop(); resolves the worst round trip. */
async function pinger(server) {
    const ws = await rawPusher(server);
    let worst = 0;
    let running = true;
    const done = (async () => {
        while (running) {
            const t0 = Date.now();
            ws.send({ event: 'pusher:ping', data: {} });
            await ws.nextEvent('pusher:pong', 10000);
            worst = Math.max(worst, Date.now() - t0);
            await sleep(100);
        }
        ws.destroy();
        return worst;
    })();
    return { stop: () => { running = false; return done; } };
}

test('a slow 32 MB chunked upload costs CPU in proportion, and a bystander\'s pings stay fast', { skip, timeout: 60000 },
    async (t) => {
        const server = await startServer({ env: { SOKETI_MAX_BUFFERED_INPUT_IN_MB: '256' } });
        const ping = await pinger(server);
        const sock = net.connect(server.port, '127.0.0.1');
        sock.on('error', () => { /* reset after the answer: fine */ });
        const got = [];
        sock.on('data', (d) => got.push(d));
        await new Promise((r) => sock.once('connect', r));
        const data = Buffer.alloc(4096, 0x61);
        // signed over the md5 of what it will send, as a real publisher's
        const md5 = createHash('md5').update(Buffer.alloc(32 << 20, 0x61)).digest('hex');
        const qs = signQuery({ method: 'POST', path: '/apps/app-id/events', params: { body_md5: md5 } });
        const cpu0 = cpuTicks(server.proc.pid);
        sock.write(`POST /apps/app-id/events?${qs} HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n`
            + 'Transfer-Encoding: chunked\r\n\r\n');
        const chunk = Buffer.concat([Buffer.from('1000\r\n'), data, Buffer.from('\r\n')]);
        const burst = Buffer.concat(Array(4).fill(chunk)); // 16 KB of data per write
        for (let sent = 0; sent < 32 << 20; sent += 4 * 4096) {
            if (!sock.write(burst)) await new Promise((r) => sock.once('drain', r));
            await sleep(2);
        }
        // The bystander's pings are judged while the body streams in (what a copy per read
        // slowed); handling the finished 32 MB body is one request's work, bounded by
        // httpApi.requestLimitInMb (jansson reads this body's 32 MB token whole: ~0.8 s).
        const worst = await ping.stop();
        sock.write('0\r\n\r\n');
        await until(() => parseHttpResponses(Buffer.concat(got)).length > 0, 20000, 'the answer');
        const used = cpuTicks(server.proc.pid) - cpu0;
        t.diagnostic(`CPU ${used} ticks for the upload; worst ping ${worst} ms; answer ${parseHttpResponses(Buffer.concat(got))[0].status}`);
        // A copy of the body so far per read is quadratic: 178 ticks before the fix with 32 KB
        // writes, twice the reads here. Linear, with the body's md5 of the signature check: 41
        // ticks (74 under ASan), up to 94 on a loaded machine. The bound sits between the two.
        assert.ok(used < (SANITIZED ? 250 : 200), `the daemon used ${used} CPU ticks for a 32 MB chunked upload`);
        assert.ok(worst < 1000, `a bystander's ping took ${worst} ms`);
        sock.destroy();
    });

/** A client that writes head one byte every 100 ms; resolves { ms: when the server closed
 *  it (from t0), status: of its answer }. */
async function dribble(port, head, t0) {
    const sock = net.connect(port, '127.0.0.1');
    sock.on('error', () => { /* reset after the 408: fine */ });
    const got = [];
    sock.on('data', (d) => got.push(d));
    const closed = new Promise((r) => sock.once('close', () => r(Date.now() - t0)));
    await new Promise((r) => sock.once('connect', r));
    let i = 0;
    const timer = setInterval(() => {
        if (sock.destroyed || i >= head.length) clearInterval(timer);
        else sock.write(head.subarray(i, ++i));
    }, 100);
    const ms = await closed;
    clearInterval(timer);
    return { ms, status: (parseHttpResponses(Buffer.concat(got))[0] || {}).status };
}

test('slowloris: request heads dribbled a byte every 100 ms get 408 after httpApi.headerTimeout', { skip, timeout: 60000 },
    async (t) => {
        const server = await startServer({ env: { SOKETI_HTTP_HEADER_TIMEOUT: '2' } });
        const head = Buffer.from(`GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: ${'s'.repeat(200)}\r\n\r\n`);
        const t0 = Date.now();
        const drips = [...Array(100)].map(() => dribble(server.port, head, t0));
        await sleep(1000);
        const by = await timedGet(server.port, '/ready');
        assert.equal(by.status, 200);
        assert.ok(by.ms < 1000, `a bystander waited ${by.ms} ms`);
        const done = await Promise.all(drips);
        const worst = Math.max(...done.map((d) => d.ms));
        t.diagnostic(`dribbling connections closed after ${Math.min(...done.map((d) => d.ms))}-${worst} ms`);
        assert.ok(done.every((d) => d.status === 408), `answers: ${[...new Set(done.map((d) => d.status))]}`);
        assert.ok(worst < 6000, `the last dribbling connection was closed after ${worst} ms`);
    });
