// tests/integration/logs.test.mjs — what the daemon logs on stderr: readable lines by
// default ("<time> [level] message"), debug lines with SOKETI_DEBUG, one JSON object
// per line with SOKETI_LOG_FORMAT=json (logFormat), for log shippers; and what it says
// about the open-files limit.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

import { REFERENCE, cleanup, freePort, rawPusher, sleep, startServer } from './harness.mjs';

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

test('the open-files limit: raised to the hard limit, a low one is named with the fix', { skip }, async () => {
    const env = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SOKETI_')) env[k] = v;
    Object.assign(env, {
        SOKETI_HOST: '127.0.0.1', SOKETI_PORT: String(await freePort()), SOKETI_METRICS_HOST: '127.0.0.1',
        SOKETI_METRICS_SERVER_PORT: String(await freePort()), SOKETI_SHUTDOWN_GRACE_PERIOD: '0',
    });
    const args = ['start', ...(process.env.SOKETI_PLUGIN_DIR_TEST ? [`--plugin-dir=${process.env.SOKETI_PLUGIN_DIR_TEST}`] : [])];
    // Soft 100, hard 300: the daemon raises the soft limit itself and warns about the hard one.
    const proc = spawn('sh', ['-c', 'ulimit -Sn 100 && ulimit -Hn 300 && exec "$0" "$@"', process.env.SOKETI_BIN, ...args],
        { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let out = '';
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d) => { out += d; });
    const exited = new Promise((resolve) => proc.on('exit', resolve));
    for (let i = 0; i < 100 && !/listening on/.test(out); i++) await sleep(50); // eslint-disable-line no-await-in-loop
    proc.kill('SIGTERM');
    await exited;
    assert.match(out, /\[info\] open-files limit 300: room for about 268 connections/);
    assert.match(out, /\[warn\] at most about 268 clients can connect: the open-files limit \(hard limit 300\) is low; raise it with LimitNOFILE=/);
});
