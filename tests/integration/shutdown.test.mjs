// tests/integration/shutdown.test.mjs — graceful shutdown: on SIGTERM (and SIGINT)
// every client gets pusher:error 4200 and close code 4200, and the process exits 0
// within the grace period plus a little.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, pusherClient, rawPusher, startServer, subscribe, waitFor } from './harness.mjs';

after(cleanup);

const GRACE_MS = 500;

for (const signal of ['SIGTERM', 'SIGINT']) {
    test(`${signal}: clients get pusher:error 4200 and close 4200, exit 0 within grace + 2 s`, async () => {
        const server = await startServer({ env: { SOKETI_SHUTDOWN_GRACE_PERIOD: String(GRACE_MS) } });
        const a = await rawPusher(server);
        const b = await rawPusher(server);
        b.send({ event: 'pusher:subscribe', data: { channel: 'shutdown-ch' } });
        assert.equal((await b.nextJson()).event, 'pusher_internal:subscription_succeeded');

        const t0 = Date.now();
        const exited = server.stop(signal, GRACE_MS + 5000);
        for (const ws of [a, b]) {
            const m = await ws.nextJson(GRACE_MS + 2000);
            assert.equal(m.event, 'pusher:error');
            assert.equal(m.data.code, 4200);
            assert.equal(m.data.message, 'Server closed. Please reconnect shortly.');
            assert.equal((await ws.nextClose(GRACE_MS + 2000)).code, 4200);
        }
        const { code, signal: sig } = await exited;
        const took = Date.now() - t0;
        assert.equal(sig, null, `exited by itself, not killed (${server.output().slice(-500)})`);
        assert.equal(code, 0);
        assert.ok(took < GRACE_MS + 2000, `exit took ${took} ms`);
    });
}

test('SIGTERM with a pusher-js client: it sees the 4200 error', async () => {
    const server = await startServer({ env: { SOKETI_SHUTDOWN_GRACE_PERIOD: String(GRACE_MS) } });
    const client = pusherClient(server);
    await subscribe(client, 'js-shutdown');
    const err = waitFor(client.connection, 'error', GRACE_MS + 2000);
    const exited = server.stop('SIGTERM', GRACE_MS + 5000);
    const e = await err;
    const data = e.data ?? e.error?.data;
    assert.equal(data.code, 4200);
    client.disconnect(); // 4200 means "reconnect": stop pusher-js from trying
    assert.equal((await exited).code, 0);
});

test('SIGTERM with no clients: exit 0 promptly', async () => {
    const server = await startServer({ env: { SOKETI_SHUTDOWN_GRACE_PERIOD: String(GRACE_MS) } });
    const t0 = Date.now();
    const { code, signal } = await server.stop('SIGTERM', GRACE_MS + 5000);
    assert.equal(signal, null);
    assert.equal(code, 0);
    assert.ok(Date.now() - t0 < GRACE_MS + 2000);
});
