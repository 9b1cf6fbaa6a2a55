// tests/integration/lifecycle.test.mjs — the daemon's life after start-up: SIGHUP reloads
// the apps from the config file (added apps become connectable, removed apps' clients are
// closed with 4001, an invalid file keeps the old apps), and SIGTERM shuts down gracefully
// (every client gets pusher:error 4200 and a 4200 close, then exit 0 after the grace period).
//
// DESIGN: the reload tests own their JSON config file (startServer's `config` option makes a
// file the test cannot rewrite), so they pass --config themselves and rewrite it between
// signals. A reload is asynchronous to the test: after SIGHUP we poll (connect, or wait for
// the log line) instead of sleeping a fixed time. Soketi 1.6 does not reload on SIGHUP, so
// those tests skip with SOKETI_REFERENCE=1.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
    REFERENCE, cleanup, disconnect, httpRequest, pusherClient, pusherRest, rawPusher, sleep, startServer, subscribe,
    waitConnected, waitFor,
} from './harness.mjs';

after(cleanup);

const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'soketi-lifecycle-test-'));
after(() => fs.rmSync(tmpDir, { recursive: true, force: true }));

const APP_A = { id: 'app-a', key: 'key-a', secret: 'secret-a' };
const APP_B = { id: 'app-b', key: 'key-b', secret: 'secret-b' };

const wsPathFor = (key) => `/app/${key}?protocol=7&client=js&version=8.4.0`;

function writeConfig(file, apps) {
    // Write then rename, so a SIGHUP never reads a half-written file.
    const tmp = `${file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ 'appManager.array.apps': apps }, null, 2));
    fs.renameSync(tmp, file);
}

/** Poll until `fn` resolves truthy (errors count as not yet); returns its value. */
async function eventually(what, fn, timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    let lastErr = null;
    for (;;) {
        try {
            const v = await fn();
            if (v) return v;
        } catch (err) {
            lastErr = err;
        }
        if (Date.now() > deadline) {
            throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${lastErr.message}` : ''}`);
        }
        await sleep(100);
    }
}

/**
 * Connect a raw WebSocket with `key`; resolves 'connected' (pusher:connection_established)
 * or the pusher:error code the server answered with.
 */
async function tryConnect(server, key) {
    const ws = await rawPusher(server, wsPathFor(key)).catch((err) => err);
    if (ws instanceof Error) {
        return `failed: ${ws.message}`;
    }
    ws.destroy();
    return 'connected';
}

async function startWithConfigFile(name, apps, env = {}) {
    const file = path.join(tmpDir, name);
    writeConfig(file, apps);
    const server = await startServer({
        args: [`--config=${file}`],
        env: { SOKETI_SHUTDOWN_GRACE_PERIOD: '200', ...env },
    });
    return { server, file };
}

describe('SIGHUP reloads the apps', { skip: REFERENCE ? 'soketi 1.6 does not reload on SIGHUP' : false }, () => {
    test('an added app becomes connectable; a removed app\'s clients are closed with 4001', async () => {
        const { server, file } = await startWithConfigFile('reload.json', [APP_A]);

        // Before the reload, key-b is unknown: the server refuses it.
        const before = await rawPusher(server, wsPathFor(APP_B.key)).catch((e) => e);
        assert.ok(before instanceof Error, 'key-b must not connect before it is in the config');

        // A client of app A, connected and subscribed, that must survive the first reload.
        const clientA = await rawPusher(server, wsPathFor(APP_A.key));

        writeConfig(file, [APP_A, APP_B]);
        server.proc.kill('SIGHUP');
        await eventually('key-b to connect after SIGHUP', async () => (await tryConnect(server, APP_B.key)) === 'connected');

        // pusher-js with the new key works end to end, REST included.
        const pjs = pusherClient(server, { key: APP_B.key, secret: APP_B.secret, appId: APP_B.id });
        await waitConnected(pjs);
        const channel = await subscribe(pjs, 'private-reloaded');
        const got = waitFor(channel, 'hello');
        await pusherRest(server, { appId: APP_B.id, key: APP_B.key, secret: APP_B.secret })
            .trigger('private-reloaded', 'hello', { n: 1 });
        assert.deepEqual(await got, { n: 1 });

        // App A's client is unaffected by a reload that keeps app A.
        assert.equal(clientA.closeInfo(), null, 'app A client must stay connected across a reload that keeps app A');
        clientA.send({ event: 'pusher:ping', data: {} });
        await clientA.nextEvent('pusher:pong');

        // Remove app A: its client gets closed with 4001.
        writeConfig(file, [APP_B]);
        server.proc.kill('SIGHUP');
        const closeInfo = await clientA.nextClose(5000);
        assert.equal(closeInfo.code, 4001, `app A client closed with ${JSON.stringify(closeInfo)}`);
        await clientA.closed;

        // And app A can no longer connect, while app B still can.
        await eventually('key-a to be refused', async () => (await tryConnect(server, APP_A.key)) !== 'connected');
        assert.equal(await tryConnect(server, APP_B.key), 'connected');
        assert.equal(pjs.connection.state, 'connected', 'app B client must survive the removal of app A');
        disconnect(pjs);

        assert.match(server.output(), /SIGHUP/, server.output());
        const info = await server.stop('SIGTERM');
        assert.equal(info.code, 0, `exit ${JSON.stringify(info)}\n${server.output()}`);
    });

    test('the CORS headers follow the reloaded cors.* options', async () => {
        const file = path.join(tmpDir, 'reload-cors.json');
        const write = (origin) => {
            fs.writeFileSync(`${file}.tmp`, JSON.stringify({ 'appManager.array.apps': [APP_A], 'cors.origin': [origin] }));
            fs.renameSync(`${file}.tmp`, file);
        };
        write('https://one.example');
        const server = await startServer({ args: [`--config=${file}`], env: { SOKETI_SHUTDOWN_GRACE_PERIOD: '200' } });
        const origin = async () => (await httpRequest(server, { path: '/' })).headers['access-control-allow-origin'];
        assert.equal(await origin(), 'https://one.example');
        write('https://two.example');
        server.proc.kill('SIGHUP');
        await eventually('the new origin', async () => (await origin()) === 'https://two.example');
        await server.stop('SIGKILL');
    });

    test('a removed app\'s pusher-js client sees the 4001 error', async () => {
        const { server, file } = await startWithConfigFile('reload-pjs.json', [APP_A, APP_B]);
        const pjs = pusherClient(server, { key: APP_A.key, secret: APP_A.secret, appId: APP_A.id });
        await waitConnected(pjs);
        const errored = waitFor(pjs.connection, 'error', 5000);
        writeConfig(file, [APP_B]);
        server.proc.kill('SIGHUP');
        const err = await errored;
        assert.equal(err?.data?.code, 4001, `pusher-js error: ${JSON.stringify(err)}`);
        disconnect(pjs);
        await server.stop('SIGKILL');
    });

    test('an invalid config on SIGHUP: the daemon keeps running with the old apps and logs an error', async () => {
        const { server, file } = await startWithConfigFile('invalid.json', [APP_A]);
        const clientA = await rawPusher(server, wsPathFor(APP_A.key));

        const outBefore = server.output().length;
        fs.writeFileSync(file, '{ "appManager.array.apps": [ { "id": "x", '); // truncated JSON
        server.proc.kill('SIGHUP');
        await eventually('an error about the reload in the log',
            async () => /error/i.test(server.output().slice(outBefore)), 5000);
        const logged = server.output().slice(outBefore);
        assert.match(logged, /\[error\]|error/i, logged);

        // Still alive, still serving the old app, and the old client is still connected.
        assert.equal(server.proc.exitCode, null, 'daemon must not exit on an invalid reload');
        assert.equal(server.proc.signalCode, null, 'daemon must not die on an invalid reload');
        assert.equal(await tryConnect(server, APP_A.key), 'connected');
        assert.equal(clientA.closeInfo(), null, 'old client must stay connected');
        clientA.send({ event: 'pusher:ping', data: {} });
        await clientA.nextEvent('pusher:pong');

        // A config with an invalid value (not just bad JSON) is refused the same way.
        const outBefore2 = server.output().length;
        writeConfig(file, [APP_A, APP_B]);
        const raw = JSON.parse(fs.readFileSync(file, 'utf8'));
        raw.port = 'not-a-port';
        fs.writeFileSync(file, JSON.stringify(raw));
        server.proc.kill('SIGHUP');
        await eventually('an error about the second reload in the log',
            async () => /error/i.test(server.output().slice(outBefore2)), 5000);
        assert.equal(await tryConnect(server, APP_A.key), 'connected');
        assert.notEqual(await tryConnect(server, APP_B.key), 'connected',
            'an app from a refused config must not be loaded');

        // Fixing the file and sending SIGHUP again works.
        writeConfig(file, [APP_A, APP_B]);
        server.proc.kill('SIGHUP');
        await eventually('key-b to connect after a good SIGHUP', async () => (await tryConnect(server, APP_B.key)) === 'connected');

        const info = await server.stop('SIGTERM');
        assert.equal(info.code, 0, `exit ${JSON.stringify(info)}\n${server.output()}`);
    });
});

describe('graceful shutdown', () => {
    test('SIGTERM with 20 connected clients: all get 4200, exit 0 after the grace period', async () => {
        const GRACE = 1000;
        const server = await startServer({ env: { SOKETI_SHUTDOWN_GRACE_PERIOD: String(GRACE) } });

        // 15 raw clients (exact frames) and 5 pusher-js clients, all subscribed somewhere.
        const raws = [];
        for (let i = 0; i < 15; i++) {
            const ws = await rawPusher(server);
            ws.send({ event: 'pusher:subscribe', data: { channel: `shutdown-${i % 3}` } });
            await ws.nextEvent('pusher_internal:subscription_succeeded');
            raws.push(ws);
        }
        const pjs = [];
        for (let i = 0; i < 5; i++) {
            const c = pusherClient(server);
            await waitConnected(c);
            await subscribe(c, `shutdown-${i % 3}`);
            pjs.push(c);
        }

        const rawResults = raws.map(async (ws) => {
            const err = await ws.nextEvent('pusher:error', 5000);
            const close = await ws.nextClose(5000);
            return { err, close };
        });
        const pjsErrors = pjs.map((c) => waitFor(c.connection, 'error', 5000));
        // pusher-js retries after a 4200 close; disconnecting it before it has seen the close
        // leaves a retry running (and node alive), so wait for it to leave 'connected'.
        const pjsLeft = pjs.map((c) => waitFor(c.connection, 'state_change', 5000));

        const t0 = Date.now();
        server.proc.kill('SIGTERM');

        const results = await Promise.all(rawResults);
        for (const [i, { err, close }] of results.entries()) {
            const data = typeof err.data === 'string' ? JSON.parse(err.data) : err.data;
            assert.equal(data.code, 4200, `raw client ${i}: pusher:error ${JSON.stringify(err)}`);
            assert.equal(close.code, 4200, `raw client ${i}: close ${JSON.stringify(close)}`);
        }
        for (const [i, p] of pjsErrors.entries()) {
            const e = await p;
            assert.equal(e?.data?.code, 4200, `pusher-js client ${i}: ${JSON.stringify(e)}`);
        }
        await Promise.all(pjsLeft);
        for (const c of pjs) disconnect(c); // stop pusher-js from reconnecting (4200 = retry)

        // While closing, new connections are not accepted (or are told 4200 at once).
        const late = await rawPusher(server).then((ws) => ws.nextEvent('pusher:error', 2000)).catch((e) => e);
        if (!(late instanceof Error)) {
            const data = typeof late.data === 'string' ? JSON.parse(late.data) : late.data;
            assert.equal(data.code, 4200, `a connection during shutdown: ${JSON.stringify(late)}`);
        }

        const info = await server.exited;
        const elapsed = Date.now() - t0;
        assert.equal(info.code, 0, `exit ${JSON.stringify(info)}\n${server.output()}`);
        assert.ok(elapsed >= GRACE - 100, `exited after ${elapsed} ms, before the ${GRACE} ms grace period`);
        assert.ok(elapsed < GRACE + 5000, `exited after ${elapsed} ms, grace period is ${GRACE} ms`);
        await server.stop();
    });

    test('SIGINT also shuts down with exit 0', async () => {
        const server = await startServer({ env: { SOKETI_SHUTDOWN_GRACE_PERIOD: '100' } });
        const ws = await rawPusher(server);
        server.proc.kill('SIGINT');
        const close = await ws.nextClose(5000);
        assert.equal(close.code, 4200);
        const info = await server.exited;
        assert.equal(info.code, 0, `exit ${JSON.stringify(info)}\n${server.output()}`);
        await server.stop();
    });
});
