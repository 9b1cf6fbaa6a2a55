// tests/integration/channels.test.mjs — subscribing to public, private and
// private-encrypted channels, subscription errors, and delivery of REST-triggered
// events (multi-channel, socket_id exclusion, batches, unsubscribe).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
    APP, REFERENCE, cleanup, disconnect, expectNoEvent, pusherClient, pusherRest, rawPusher, restRequest,
    startServer, subscribe, waitConnected, waitFor,
} from './harness.mjs';

after(cleanup);

let server;
let rest;
before(async () => {
    server = await startServer();
    rest = pusherRest(server);
});
after(() => server && server.stop());

const NOT_ALLOWED = 'The channel name is not allowed. Read channel conventions: '
    + 'https://pusher.com/docs/channels/using_channels/channels/#channel-naming-conventions';

/** Raw subscribe; resolves the server's answer (subscription_succeeded or an error). */
async function rawSubscribe(ws, channel, extra = {}) {
    ws.send({ event: 'pusher:subscribe', data: { channel, ...extra } });
    return ws.nextJson();
}

/** Make the server process everything this socket sent so far (ping round trip). */
async function roundTrip(ws) {
    ws.send({ event: 'pusher:ping', data: {} });
    await ws.nextEvent('pusher:pong');
}

test('public channel: subscription_succeeded and a REST-triggered event (raw shapes)', async () => {
    const ws = await rawPusher(server);
    assert.deepEqual(await rawSubscribe(ws, 'my-channel'), {
        event: 'pusher_internal:subscription_succeeded',
        channel: 'my-channel',
    });
    await rest.trigger('my-channel', 'my-event', { hello: 'world' });
    const m = await ws.nextJson();
    assert.equal(m.event, 'my-event');
    assert.equal(m.channel, 'my-channel');
    assert.deepEqual(JSON.parse(m.data), { hello: 'world' });
    ws.destroy();
});

test('public channel with pusher-js: event data arrives decoded', async () => {
    const client = pusherClient(server);
    const channel = await subscribe(client, 'public-js');
    const got = waitFor(channel, 'greet');
    await rest.trigger('public-js', 'greet', { n: 1, s: 'é ✓' });
    assert.deepEqual(await got, { n: 1, s: 'é ✓' });
    disconnect(client);
});

test('private channel with a valid signature', async () => {
    const client = pusherClient(server);
    const channel = await subscribe(client, 'private-ok');
    const got = waitFor(channel, 'secret-event');
    await rest.trigger('private-ok', 'secret-event', 'plain string');
    assert.equal(await got, 'plain string');
    disconnect(client);
});

test('private channel with a bad signature: subscription_error AuthError 401', async () => {
    const client = pusherClient(server, { secret: 'not-the-secret' });
    await waitConnected(client);
    const err = await subscribe(client, 'private-bad').then(() => null, (e) => e.data);
    assert.deepEqual(err, { type: 'AuthError', error: 'The connection is unauthorized.', status: 401 });
    disconnect(client);
});

test('private channel, raw: wrong, missing and foreign-socket signatures are refused', async () => {
    const ws = await rawPusher(server);
    const expected = {
        event: 'pusher:subscription_error',
        channel: 'private-raw',
        data: { type: 'AuthError', error: 'The connection is unauthorized.', status: 401 },
    };
    assert.deepEqual(await rawSubscribe(ws, 'private-raw', { auth: `${APP.key}:${'0'.repeat(64)}` }), expected);
    assert.deepEqual(await rawSubscribe(ws, 'private-raw'), expected);
    const other = await rawPusher(server);
    const stolen = rest.authorizeChannel(other.socketId, 'private-raw').auth;
    assert.deepEqual(await rawSubscribe(ws, 'private-raw', { auth: stolen }), expected);
    // the right one works on the same socket afterwards
    const good = rest.authorizeChannel(ws.socketId, 'private-raw').auth;
    assert.deepEqual(await rawSubscribe(ws, 'private-raw', { auth: good }), {
        event: 'pusher_internal:subscription_succeeded',
        channel: 'private-raw',
    });
    ws.destroy();
    other.destroy();
});

test('private-encrypted: auth checked, events pass through encrypted, pusher-js decrypts', async () => {
    const client = pusherClient(server);
    const channel = await subscribe(client, 'private-encrypted-vault');
    const got = waitFor(channel, 'sealed');
    await rest.trigger('private-encrypted-vault', 'sealed', { gold: 42 });
    assert.deepEqual(await got, { gold: 42 });

    // on the wire the server forwards the SDK's ciphertext untouched
    const ws = await rawPusher(server);
    const auth = rest.authorizeChannel(ws.socketId, 'private-encrypted-vault').auth;
    assert.equal((await rawSubscribe(ws, 'private-encrypted-vault', { auth })).event,
        'pusher_internal:subscription_succeeded');
    await rest.trigger('private-encrypted-vault', 'sealed', { gold: 43 });
    const m = await ws.nextJson();
    const wire = JSON.parse(m.data);
    assert.ok(wire.nonce && wire.ciphertext, `encrypted envelope: ${m.data}`);
    assert.ok(!m.data.includes('gold'));

    // bad signature
    const bad = await rawSubscribe(ws, 'private-encrypted-other', { auth: `${APP.key}:${'1'.repeat(64)}` });
    assert.equal(bad.event, 'pusher:subscription_error');
    assert.equal(bad.data.type, 'AuthError');
    assert.equal(bad.data.status, 401);

    // pusher-js refuses client events on encrypted channels
    assert.throws(() => channel.trigger('client-x', {}), /not currently supported for encrypted channels/);
    disconnect(client);
    ws.destroy();
});

test('channel name longer than 200: subscription_error LimitReached 4009', async () => {
    const ws = await rawPusher(server);
    const name = `long-${'x'.repeat(196)}`; // 201 characters
    assert.deepEqual(await rawSubscribe(ws, name), {
        event: 'pusher:subscription_error',
        channel: name,
        data: {
            type: 'LimitReached',
            error: 'The channel name is longer than the allowed 200 characters.',
            status: 4009,
        },
    });
    // exactly 200 is fine
    const ok = `long-${'x'.repeat(195)}`;
    assert.equal((await rawSubscribe(ws, ok)).event, 'pusher_internal:subscription_succeeded');
    ws.destroy();
});

test('channel names with forbidden characters are refused with 4009', async () => {
    const ws = await rawPusher(server);
    for (const name of ['has space', 'bang!', 'slash/x', 'ünïcode', 'a*b', '']) {
        const m = await rawSubscribe(ws, name);
        assert.equal(m.event, 'pusher:subscription_error', `refused: ${JSON.stringify(name)}`);
        assert.equal(m.channel, name);
        assert.equal(m.data.error, NOT_ALLOWED);
        assert.equal(m.data.status, 4009);
    }
    // the allowed punctuation -_=@,.; and a leading # are fine
    for (const name of ['a-b_c=d@e,f.g;h', '#hash-start']) {
        assert.equal((await rawSubscribe(ws, name)).event, 'pusher_internal:subscription_succeeded', name);
    }
    ws.destroy();
});

test('subscribing twice is idempotent: one delivery per event', async () => {
    const ws = await rawPusher(server);
    assert.equal((await rawSubscribe(ws, 'twice')).event, 'pusher_internal:subscription_succeeded');
    assert.equal((await rawSubscribe(ws, 'twice')).event, 'pusher_internal:subscription_succeeded');
    await rest.trigger('twice', 'once', {});
    assert.equal((await ws.nextJson()).event, 'once');
    await roundTrip(ws); // a duplicate would arrive before the pong
    const info = await rest.get({ path: '/channels/twice' }).then((r) => r.json());
    assert.equal(info.subscription_count, 1);
    ws.destroy();
});

test('unsubscribe stops delivery', async () => {
    const leaver = await rawPusher(server);
    const stayer = pusherClient(server);
    const channel = await subscribe(stayer, 'unsub-ch');
    assert.equal((await rawSubscribe(leaver, 'unsub-ch')).event, 'pusher_internal:subscription_succeeded');
    leaver.send({ event: 'pusher:unsubscribe', data: { channel: 'unsub-ch' } });
    await roundTrip(leaver);

    const got = waitFor(channel, 'after');
    await rest.trigger('unsub-ch', 'after', { x: 1 });
    assert.deepEqual(await got, { x: 1 });
    await assert.rejects(leaver.nextJson(500), /timed out/);
    const info = await rest.get({ path: '/channels/unsub-ch' }).then((r) => r.json());
    assert.equal(info.subscription_count, 1);
    leaver.destroy();
    disconnect(stayer);
});

test('pusher-js unsubscribe: no more events on that channel', async () => {
    const a = pusherClient(server);
    const b = pusherClient(server);
    await subscribe(a, 'js-unsub');
    const bc = await subscribe(b, 'js-unsub');
    const aEvents = [];
    a.bind_global((event, data) => { if (event === 'later') aEvents.push(data); });
    a.unsubscribe('js-unsub');
    // the server handles a socket's messages in order: once A's ping is answered,
    // its unsubscribe has been processed
    const pong = new Promise((resolve) => {
        const onMessage = (m) => {
            if (m.event === 'pusher:pong') { a.connection.unbind('message', onMessage); resolve(); }
        };
        a.connection.bind('message', onMessage);
    });
    a.connection.send_event('pusher:ping', {});
    await pong;
    const got = waitFor(bc, 'later');
    await rest.trigger('js-unsub', 'later', 1);
    assert.equal(await got, 1);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(aEvents, []);
    disconnect(a);
    disconnect(b);
});

test('multi-channel trigger reaches each subscribed channel once', async () => {
    const ws = await rawPusher(server);
    for (const c of ['multi-1', 'multi-3']) {
        assert.equal((await rawSubscribe(ws, c)).event, 'pusher_internal:subscription_succeeded');
    }
    await rest.trigger(['multi-1', 'multi-2', 'multi-3'], 'fan', { k: 'v' });
    const got = [await ws.nextJson(), await ws.nextJson()];
    assert.deepEqual(got.map((m) => m.channel).sort(), ['multi-1', 'multi-3']);
    for (const m of got) {
        assert.equal(m.event, 'fan');
        assert.deepEqual(JSON.parse(m.data), { k: 'v' });
    }
    await roundTrip(ws);
    ws.destroy();
});

test('socket_id exclusion: the excluded socket gets nothing, the others do', async () => {
    const a = pusherClient(server);
    const b = pusherClient(server);
    const ac = await subscribe(a, 'excl');
    const bc = await subscribe(b, 'excl');
    const aId = a.connection.socket_id;
    const bGot = waitFor(bc, 'not-for-a');
    const aNot = expectNoEvent(ac, 'not-for-a', 600);
    await rest.trigger('excl', 'not-for-a', { ok: true }, { socket_id: aId });
    assert.deepEqual(await bGot, { ok: true });
    await aNot;
    disconnect(a);
    disconnect(b);
});

test('batch trigger delivers every event of the batch', async () => {
    const client = pusherClient(server);
    const c1 = await subscribe(client, 'batch-1');
    const c2 = await subscribe(client, 'batch-2');
    const e1 = waitFor(c1, 'first');
    const e2 = waitFor(c2, 'second');
    const e3 = waitFor(c1, 'third');
    const res = await rest.triggerBatch([
        { channel: 'batch-1', name: 'first', data: { i: 1 } },
        { channel: 'batch-2', name: 'second', data: { i: 2 } },
        { channel: 'batch-1', name: 'third', data: 'three' },
    ]);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true });
    assert.deepEqual(await e1, { i: 1 });
    assert.deepEqual(await e2, { i: 2 });
    assert.equal(await e3, 'three');
    disconnect(client);
});

test('events keep their order on a channel', async () => {
    const ws = await rawPusher(server);
    await rawSubscribe(ws, 'ordered');
    for (let i = 0; i < 20; i++) await rest.trigger('ordered', 'n', String(i));
    for (let i = 0; i < 20; i++) assert.equal((await ws.nextJson()).data, String(i));
    ws.destroy();
});

test('a subscriber on another app does not get this app\'s events', async () => {
    const other = await startServer({
        config: {
            'appManager.array.apps': [
                { id: 'app-id', key: 'app-key', secret: 'app-secret' },
                { id: 'app-2', key: 'key-2', secret: 'secret-2' },
            ],
        },
    });
    try {
        const w1 = await rawPusher(other);
        const w2 = await rawPusher(other, '/app/key-2?protocol=7');
        await rawSubscribe(w1, 'shared-name');
        await rawSubscribe(w2, 'shared-name');
        const r2 = pusherRest(other, { appId: 'app-2', key: 'key-2', secret: 'secret-2' });
        await r2.trigger('shared-name', 'for-app-2', {});
        assert.equal((await w2.nextJson()).event, 'for-app-2');
        await assert.rejects(w1.nextJson(400), /timed out/);
        w1.destroy();
        w2.destroy();
    } finally {
        await other.stop();
    }
});

test('subscribe without a usable data.channel gets a pusher:error (never a crash)',
    { skip: REFERENCE && 'soketi 1.6 throws a TypeError here and shuts down' }, async () => {
        const ws = await rawPusher(server);
        for (const bad of [
            { event: 'pusher:subscribe' },
            { event: 'pusher:subscribe', data: 5 },
            { event: 'pusher:subscribe', data: {} },
            { event: 'pusher:subscribe', data: { channel: 5 } },
            { event: 'pusher:subscribe', data: { channel: null } },
        ]) {
            ws.send(bad);
            const m = await ws.nextJson();
            assert.equal(m.event, 'pusher:error', `answer to ${JSON.stringify(bad)}: ${JSON.stringify(m)}`);
        }
        await roundTrip(ws);
        const check = await restRequest(server, { path: '/channels' });
        assert.equal(check.status, 200);
        ws.destroy();
    });
