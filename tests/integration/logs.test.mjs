// tests/integration/logs.test.mjs — what the daemon logs on stderr: readable lines by
// default ("<time> [level] message"), debug lines with SOKETI_DEBUG, one JSON object
// per line with SOKETI_LOG_FORMAT=json (logFormat), for log shippers.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';

import { REFERENCE, cleanup, rawPusher, sleep, startServer } from './harness.mjs';

after(cleanup);
const skip = REFERENCE ? 'soketi 1.6 logs differently' : false;

/** Opens and closes one WebSocket, so that a debug log has something to say. */
async function oneConnection(server) {
    const ws = await rawPusher(server);
    await ws.close(1000);
    await sleep(100);
}

test('default: readable lines, no debug', { skip }, async () => {
    const server = await startServer();
    await oneConnection(server);
    await server.stop();
    const lines = server.stderr().trim().split('\n');
    for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[(error|warn|info)\] \S/, l);
    assert.ok(lines.some((l) => /\[info\] soketi-c .* listening on 127\.0\.0\.1:/.test(l)));
});

test('SOKETI_DEBUG=1 adds connection-level debug lines', { skip }, async () => {
    const server = await startServer({ env: { SOKETI_DEBUG: '1' } });
    await oneConnection(server);
    await server.stop();
    const out = server.stderr();
    assert.match(out, /\[debug\] connection \d+: accepted from 127\.0\.0\.1/);
    assert.match(out, /\[debug\] connection \d+: WebSocket open on \/app\/app-key/);
    assert.match(out, /\[debug\] connection \d+: closed/);
});

test('SOKETI_LOG_FORMAT=json: every line is one JSON object', { skip }, async () => {
    const server = await startServer({ env: { SOKETI_LOG_FORMAT: 'json', SOKETI_DEBUG: 'true' } });
    await oneConnection(server);
    await server.stop();
    const lines = server.stderr().trim().split('\n');
    assert.ok(lines.length >= 4);
    const levels = new Set();
    for (const l of lines) {
        const o = JSON.parse(l);
        assert.deepEqual(Object.keys(o), ['ts', 'level', 'msg']);
        assert.match(o.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        levels.add(o.level);
    }
    assert.ok(levels.has('info') && levels.has('debug'), [...levels].join());
});
