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

import { REFERENCE, SANITIZED, cleanup, rssKiB, sleep, startServer } from './harness.mjs';

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
