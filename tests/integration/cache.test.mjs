// tests/integration/cache.test.mjs — cache channels (cache-, private-cache-,
// private-encrypted-cache-, presence-cache-): the last event triggered through the HTTP
// API is kept for channelLimits.cacheTtl and sent to a new subscriber right after
// pusher_internal:subscription_succeeded; otherwise pusher:cache_miss.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
    cleanup, disconnect, pusherClient, pusherRest, rawPusher, sleep, startServer, waitFor,
} from './harness.mjs';

after(cleanup);

let server;
let rest;
before(async () => {
    server = await startServer({ env: { SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES: 'true' } });
    rest = pusherRest(server);
});

/** Subscribe raw; resolves the messages that follow subscription_succeeded (up to `count`). */
async function rawSubscribe(ws, channel, count = 1, presence) {
    const data = { channel };
    if (channel.startsWith('private-') || channel.startsWith('presence-')) {
        const a = rest.authorizeChannel(ws.socketId, channel, presence);
        data.auth = a.auth;
        if (a.channel_data) data.channel_data = a.channel_data;
    }
    ws.send({ event: 'pusher:subscribe', data });
    const ok = await ws.nextJson();
    assert.equal(ok.event, 'pusher_internal:subscription_succeeded', JSON.stringify(ok));
    const after = [];
    for (let i = 0; i < count; i++) after.push(await ws.nextJson());
    return after;
}

test('nothing cached: pusher:cache_miss right after subscription_succeeded', async () => {
    const ws = await rawPusher(server);
    const [m] = await rawSubscribe(ws, 'cache-empty');
    assert.deepEqual(m, { event: 'pusher:cache_miss', channel: 'cache-empty' });
    ws.destroy();
});

test('the last triggered event is sent to a new subscriber, with its channel', async () => {
    await rest.trigger('cache-news', 'headline', { n: 1 });
    await rest.trigger('cache-news', 'headline', { n: 2 });
    const ws = await rawPusher(server);
    const [m] = await rawSubscribe(ws, 'cache-news');
    assert.deepEqual(m, { event: 'headline', channel: 'cache-news', data: JSON.stringify({ n: 2 }) });
    // live events keep flowing as usual afterwards
    await rest.trigger('cache-news', 'headline', { n: 3 });
    assert.deepEqual(JSON.parse((await ws.nextJson()).data), { n: 3 });
    ws.destroy();
});

test('a trigger to several channels caches each cache channel', async () => {
    await rest.trigger(['cache-multi-a', 'cache-multi-b', 'plain-multi'], 'both', 'text');
    for (const ch of ['cache-multi-a', 'cache-multi-b']) {
        const ws = await rawPusher(server);
        const [m] = await rawSubscribe(ws, ch);
        assert.deepEqual(m, { event: 'both', channel: ch, data: 'text' });
        ws.destroy();
    }
    // a channel that is not a cache channel gets neither the event nor a cache_miss
    const ws = await rawPusher(server);
    await rawSubscribe(ws, 'plain-multi', 0);
    await assert.rejects(ws.nextJson(300), /timed out/);
    ws.destroy();
});

test('pusher-js: pusher:cache_miss on the channel, then the cached event for the next client', async () => {
    const a = pusherClient(server);
    const ca = a.subscribe('cache-js');
    await waitFor(ca, 'pusher:cache_miss');
    await rest.trigger('cache-js', 'state', { on: true });
    const b = pusherClient(server);
    const cb = b.subscribe('cache-js');
    assert.deepEqual(await waitFor(cb, 'state'), { on: true });
    disconnect(a);
    disconnect(b);
});

test('private-cache, presence-cache and private-encrypted-cache channels', async () => {
    await rest.trigger('private-cache-p', 'ev', { p: 1 });
    await rest.trigger('presence-cache-p', 'ev', { pr: 1 });
    const ws = await rawPusher(server);
    assert.deepEqual(await rawSubscribe(ws, 'private-cache-p'),
        [{ event: 'ev', channel: 'private-cache-p', data: JSON.stringify({ p: 1 }) }]);
    assert.deepEqual(await rawSubscribe(ws, 'presence-cache-p', 1, { user_id: 'u1', user_info: {} }),
        [{ event: 'ev', channel: 'presence-cache-p', data: JSON.stringify({ pr: 1 }) }]);
    assert.deepEqual(await rawSubscribe(ws, 'presence-cache-empty', 1, { user_id: 'u1' }),
        [{ event: 'pusher:cache_miss', channel: 'presence-cache-empty' }]);
    ws.destroy();

    // encrypted: the SDK encrypts, the cache keeps the ciphertext, pusher-js decrypts it
    await rest.trigger('private-encrypted-cache-vault', 'sealed', { gold: 7 });
    const client = pusherClient(server);
    const ch = client.subscribe('private-encrypted-cache-vault');
    assert.deepEqual(await waitFor(ch, 'sealed'), { gold: 7 });
    disconnect(client);
});

test('client events are not cached (only HTTP API events are, as soketi)', async () => {
    const a = await rawPusher(server);
    await rawSubscribe(a, 'private-cache-client');
    a.send({ event: 'client-x', channel: 'private-cache-client', data: {} });
    await sleep(100);
    const b = await rawPusher(server);
    assert.deepEqual(await rawSubscribe(b, 'private-cache-client'),
        [{ event: 'pusher:cache_miss', channel: 'private-cache-client' }]);
    a.destroy();
    b.destroy();
});

test('SOKETI_CHANNEL_CACHE_TTL: the cached event expires', async () => {
    const srv = await startServer({ env: { SOKETI_CHANNEL_CACHE_TTL: '1' } });
    const r = pusherRest(srv);
    await r.trigger('cache-short', 'tick', 'x');
    const ws = await rawPusher(srv);
    ws.send({ event: 'pusher:subscribe', data: { channel: 'cache-short' } });
    assert.equal((await ws.nextJson()).event, 'pusher_internal:subscription_succeeded');
    assert.deepEqual(await ws.nextJson(), { event: 'tick', channel: 'cache-short', data: 'x' });
    await sleep(1200);
    const late = await rawPusher(srv);
    late.send({ event: 'pusher:subscribe', data: { channel: 'cache-short' } });
    assert.equal((await late.nextJson()).event, 'pusher_internal:subscription_succeeded');
    assert.deepEqual(await late.nextJson(), { event: 'pusher:cache_miss', channel: 'cache-short' });
    ws.destroy();
    late.destroy();
    await srv.stop();
});
