// tests/integration/ratelimit.test.mjs — per-app rate limits as soketi counts them:
// maxBackendEventsPerSecond (one point per channel, batches summed), maxReadRequestsPerSecond,
// maxClientEventsPerSecond (per socket, pusher:error 4301); 429 with soketi's body and the
// X-RateLimit-Limit / X-RateLimit-Remaining / Retry-After headers.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
    cleanup, pusherRest, rawPusher, REFERENCE, restRequest, sleep, startServer,
} from './harness.mjs';

after(cleanup);

const TOO_MANY = { error: 'Too many requests.', code: 429 };
// soketi 1.6 writes its CORS headers before the status, so uWS answers 200 (README).
const STATUS_429 = REFERENCE ? 200 : 429;

/** A window opens at the first request: wait for a fresh one. */
const nextWindow = () => sleep(1100);

function event(channels, name = 'e') {
    return { name, data: '{}', ...(Array.isArray(channels) ? { channels } : { channel: channels }) };
}

describe('maxBackendEventsPerSecond', () => {
    let server;
    before(async () => {
        server = await startServer({ env: { SOKETI_DEFAULT_APP_MAX_BACKEND_EVENTS_PER_SEC: '3' } });
    });

    test('one point per event: the 4th in a second gets 429 with soketi\'s body', async () => {
        await nextWindow();
        const remaining = [];
        for (let i = 0; i < 3; i++) {
            const res = await restRequest(server, { method: 'POST', path: '/events', body: event('rl-a') });
            assert.equal(res.status, 200);
            assert.deepEqual(res.json, { ok: true });
            assert.equal(res.headers['x-ratelimit-limit'], '3');
            remaining.push(res.headers['x-ratelimit-remaining']);
            const retry = Number(res.headers['retry-after']);
            assert.ok(retry > 0 && retry <= 1, `Retry-After ${res.headers['retry-after']}`);
        }
        assert.deepEqual(remaining, ['2', '1', '0']);
        const res = await restRequest(server, { method: 'POST', path: '/events', body: event('rl-a') });
        assert.equal(res.status, STATUS_429);
        assert.deepEqual(res.json, TOO_MANY);
        if (!REFERENCE) {
            // soketi-c also tells the refused client when to come back
            assert.equal(res.headers['x-ratelimit-remaining'], '0');
            assert.ok(Number(res.headers['retry-after']) <= 1);
        }
        await nextWindow();
        const again = await restRequest(server, { method: 'POST', path: '/events', body: event('rl-a') });
        assert.equal(again.status, 200);
        assert.equal(again.headers['x-ratelimit-remaining'], '2');
    });

    test('an event to several channels costs one point per channel', async () => {
        await nextWindow();
        const two = await restRequest(server, { method: 'POST', path: '/events', body: event(['c1', 'c2']) });
        assert.equal(two.status, 200);
        assert.equal(two.headers['x-ratelimit-remaining'], '1');
        const refused = await restRequest(server, { method: 'POST', path: '/events', body: event(['c1', 'c2']) });
        assert.equal(refused.status, STATUS_429);
        assert.deepEqual(refused.json, TOO_MANY);
    });

    test('a batch costs the sum of its events\' channels', async () => {
        await nextWindow();
        const rest = pusherRest(server);
        const ok = await rest.triggerBatch([{ channel: 'b1', name: 'e', data: {} }, { channel: 'b2', name: 'e', data: {} }]);
        assert.equal(ok.status, 200);
        assert.equal(ok.headers.get('x-ratelimit-remaining'), '1');
        const refused = await restRequest(server, {
            method: 'POST', path: '/batch_events', body: { batch: [event('b1'), event(['b2'])] },
        });
        assert.equal(refused.status, STATUS_429);
        assert.deepEqual(refused.json, TOO_MANY);
    });

    test('the limit is per app; reads are not counted as events', async () => {
        await nextWindow();
        for (let i = 0; i < 3; i++) {
            assert.equal((await restRequest(server, { method: 'POST', path: '/events', body: event('x') })).status, 200);
        }
        const read = await restRequest(server, { path: '/channels' });
        assert.equal(read.status, 200);
        assert.equal(read.headers['x-ratelimit-limit'], undefined, 'reads are unlimited here: no headers');
    });
});

describe('maxReadRequestsPerSecond', () => {
    let server;
    before(async () => {
        server = await startServer({ env: { SOKETI_DEFAULT_APP_MAX_READ_REQ_PER_SEC: '2' } });
    });

    test('GET channels, channel and users share the app\'s read budget', async () => {
        await nextWindow();
        const a = await restRequest(server, { path: '/channels' });
        assert.equal(a.status, 200);
        assert.equal(a.headers['x-ratelimit-limit'], '2');
        assert.equal(a.headers['x-ratelimit-remaining'], '1');
        const b = await restRequest(server, { path: '/channels/presence-x/users' });
        assert.equal(b.status, 200);
        assert.equal(b.headers['x-ratelimit-remaining'], '0');
        const c = await restRequest(server, { path: '/channels/some-channel' });
        assert.equal(c.status, STATUS_429);
        assert.deepEqual(c.json, TOO_MANY);
        // events are not reads
        const ev = await restRequest(server, { method: 'POST', path: '/events', body: event('y') });
        assert.equal(ev.status, 200);
        assert.equal(ev.headers['x-ratelimit-limit'], undefined);
        await nextWindow();
        assert.equal((await restRequest(server, { path: '/channels/some-channel' })).status, 200);
    });

    test('the users route counts even when it refuses a non-presence channel (soketi\'s order)', async () => {
        await nextWindow();
        const bad = await restRequest(server, { path: '/channels/public-x/users' });
        assert.equal(bad.status, REFERENCE ? 200 : 400);
        assert.equal(bad.headers['x-ratelimit-remaining'], '1');
    });
});

describe('maxClientEventsPerSecond', () => {
    let server;
    let rest;
    before(async () => {
        server = await startServer({
            env: {
                SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES: 'true',
                SOKETI_DEFAULT_APP_MAX_CLIENT_EVENTS_PER_SEC: '2',
            },
        });
        rest = pusherRest(server);
    });

    async function join(ws, channel) {
        const { auth } = rest.authorizeChannel(ws.socketId, channel);
        ws.send({ event: 'pusher:subscribe', data: { channel, auth } });
        assert.equal((await ws.nextJson()).event, 'pusher_internal:subscription_succeeded');
    }

    test('the 3rd client event of a socket within a second: pusher:error 4301; others keep their own budget', async () => {
        const a = await rawPusher(server);
        const b = await rawPusher(server);
        const c = await rawPusher(server);
        for (const ws of [a, b, c]) await join(ws, 'private-rl');
        for (let i = 0; i < 3; i++) a.send({ event: 'client-n', channel: 'private-rl', data: { i } });
        assert.deepEqual(await a.nextJson(), {
            event: 'pusher:error',
            channel: 'private-rl',
            data: { code: 4301, message: 'The rate limit for sending client events exceeded the quota.' },
        });
        assert.deepEqual((await b.nextJson()).data, { i: 0 });
        assert.deepEqual((await b.nextJson()).data, { i: 1 });
        // c's budget is its own
        c.send({ event: 'client-n', channel: 'private-rl', data: { from: 'c' } });
        assert.deepEqual((await b.nextJson()).data, { from: 'c' });
        await assert.rejects(b.nextJson(300), /timed out/, 'the refused event was not relayed');
        // the connection stays usable, and a second later a may send again
        await sleep(1100);
        a.send({ event: 'client-n', channel: 'private-rl', data: { i: 3 } });
        assert.deepEqual((await b.nextJson()).data, { i: 3 });
        for (const ws of [a, b, c]) ws.destroy();
    });
});
