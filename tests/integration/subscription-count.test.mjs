// tests/integration/subscription-count.test.mjs — Pusher's subscription counting
// (enableSubscriptionCount): pusher_internal:subscription_count reaches pusher-js as
// pusher:subscription_count on every change of a small channel; a channel over 100
// subscriptions is told at most every 5 s, and its last count always arrives (the count
// across a Redis cluster: redis.test.mjs).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
    REFERENCE, cleanup, disconnect, pusherClient, pusherRest, rawPusher, startServer, waitFor,
} from './harness.mjs';

after(cleanup);

const ENABLED = { SOKETI_DEFAULT_APP_ENABLE_SUBSCRIPTION_COUNT: 'true' };

describe('subscription_count events', { skip: REFERENCE && 'soketi 1.6 has no subscription counting' }, () => {
    let server;
    before(async () => {
        server = await startServer({ env: ENABLED });
    });
    after(() => server?.stop());

    test('pusher-js gets pusher:subscription_count on each change; presence channels none', async () => {
        const a = pusherClient(server);
        const ca = a.subscribe('sc-room');
        const first = waitFor(ca, 'pusher:subscription_count');
        assert.deepEqual(await first, { subscription_count: 1 });
        const two = waitFor(ca, 'pusher:subscription_count');
        const b = pusherClient(server);
        const cb = b.subscribe('sc-room');
        const bTwo = waitFor(cb, 'pusher:subscription_count');
        assert.deepEqual(await two, { subscription_count: 2 });
        assert.deepEqual(await bTwo, { subscription_count: 2 });
        assert.equal(ca.subscriptionCount, 2);
        const one = waitFor(ca, 'pusher:subscription_count');
        disconnect(b);
        assert.deepEqual(await one, { subscription_count: 1 });

        const p = await rawPusher(server);
        const auth = pusherRest(server).authorizeChannel(p.socketId, 'presence-sc', { user_id: 'u', user_info: {} });
        p.send({ event: 'pusher:subscribe', data: { channel: 'presence-sc', ...auth } });
        assert.equal((await p.nextJson()).event, 'pusher_internal:subscription_succeeded');
        await assert.rejects(p.nextJson(500), /timed out/, 'no subscription_count on presence channels');
        p.destroy();
        disconnect(a);
    });

    test('over 100 subscriptions: at most one count per 5 s, and the last one arrives', async () => {
        const watcher = await rawPusher(server);
        watcher.send({ event: 'pusher:subscribe', data: { channel: 'sc-big' } });
        await watcher.nextEvent('pusher_internal:subscription_succeeded');
        const socks = [];
        for (let i = 0; i < 100; i++) {
            const ws = await rawPusher(server, undefined, { keepFrames: false });
            ws.send({ event: 'pusher:subscribe', data: { channel: 'sc-big' } });
            socks.push(ws);
        }
        // every change up to 101 is told at once; the one that made 101 locks the channel
        let last = 0;
        while (last < 101) last = JSON.parse((await watcher.nextEvent('pusher_internal:subscription_count')).data).subscription_count;
        const locked = Date.now();
        for (let i = 0; i < 5; i++) {
            const ws = await rawPusher(server, undefined, { keepFrames: false });
            ws.send({ event: 'pusher:subscribe', data: { channel: 'sc-big' } });
            socks.push(ws);
        }
        await assert.rejects(watcher.nextEvent('pusher_internal:subscription_count', 3000), /timed out/, 'locked');
        const m = await watcher.nextEvent('pusher_internal:subscription_count', 4000);
        assert.deepEqual(JSON.parse(m.data), { subscription_count: 106 });
        assert.ok(Date.now() - locked >= 4500, `told after the 5 s lock, not ${Date.now() - locked} ms`);
        for (const ws of socks) ws.destroy();
        watcher.destroy();
    });

    test('an app without enableSubscriptionCount gets none', async () => {
        const plain = await startServer();
        const ws = await rawPusher(plain);
        ws.send({ event: 'pusher:subscribe', data: { channel: 'sc-off' } });
        assert.equal((await ws.nextJson()).event, 'pusher_internal:subscription_succeeded');
        await assert.rejects(ws.nextJson(500), /timed out/);
        ws.destroy();
        await plain.stop();
    });
});
