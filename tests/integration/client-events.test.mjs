// tests/integration/client-events.test.mjs — client-* events: relayed to the other
// subscribers (never back to the sender), user_id on presence channels, and the
// 4301 refusals (client messages disabled, name too long, payload too large).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import {
    APP, cleanup, disconnect, expectNoEvent, pusherClient, pusherRest, rawPusher, startServer, subscribe, waitForWithMeta,
} from './harness.mjs';

after(cleanup);

let server; // client messages enabled
let rest;
before(async () => {
    server = await startServer({ env: { SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES: 'true' } });
    rest = pusherRest(server);
});
after(() => server && server.stop());

async function rawJoin(ws, channel, member, srvRest = rest) {
    const { auth, channel_data: channelData } = srvRest.authorizeChannel(ws.socketId, channel, member);
    ws.send({ event: 'pusher:subscribe', data: { channel, auth, ...(channelData ? { channel_data: channelData } : {}) } });
    const m = await ws.nextJson();
    assert.equal(m.event, 'pusher_internal:subscription_succeeded', JSON.stringify(m));
    return m;
}

async function roundTrip(ws) {
    ws.send({ event: 'pusher:ping', data: {} });
    await ws.nextEvent('pusher:pong');
}

test('private channel: a client event reaches the other subscriber, not the sender', async () => {
    const a = pusherClient(server);
    const b = pusherClient(server);
    const ac = await subscribe(a, 'private-chat');
    const bc = await subscribe(b, 'private-chat');
    const got = waitForWithMeta(bc, 'client-typing');
    const echo = expectNoEvent(ac, 'client-typing', 500);
    assert.equal(ac.trigger('client-typing', { who: 'a' }), true);
    const { data, meta } = await got;
    assert.deepEqual(data, { who: 'a' });
    assert.equal(meta?.user_id, undefined, 'no user_id on private channels');
    await echo;
    disconnect(a);
    disconnect(b);
});

test('private channel, raw: relayed message shape is {event, channel, data}', async () => {
    const a = await rawPusher(server);
    const b = await rawPusher(server);
    await rawJoin(a, 'private-shape');
    await rawJoin(b, 'private-shape');
    a.send({ event: 'client-move', channel: 'private-shape', data: { x: 1, y: [2, 3] } });
    assert.deepEqual(await b.nextJson(), { event: 'client-move', channel: 'private-shape', data: { x: 1, y: [2, 3] } });
    // string data is relayed as a string
    a.send({ event: 'client-move', channel: 'private-shape', data: 'as-is' });
    assert.deepEqual(await b.nextJson(), { event: 'client-move', channel: 'private-shape', data: 'as-is' });
    await roundTrip(a);
    await assert.rejects(a.nextJson(300), /timed out/, 'the sender gets no echo');
    a.destroy();
    b.destroy();
});

test('presence channel: a client event carries the sender\'s user_id', async () => {
    const alice = pusherClient(server, { presenceData: { user_id: 'alice', user_info: {} } });
    const bob = pusherClient(server, { presenceData: { user_id: 'bob', user_info: {} } });
    const ac = await subscribe(alice, 'presence-chat');
    const bc = await subscribe(bob, 'presence-chat');
    const got = waitForWithMeta(bc, 'client-hello');
    ac.trigger('client-hello', { text: 'hi' });
    const { data, meta } = await got;
    assert.deepEqual(data, { text: 'hi' });
    assert.equal(meta.user_id, 'alice');

    const raw = await rawPusher(server);
    await rawJoin(raw, 'presence-chat', { user_id: 'raw-user', user_info: {} });
    const fromBob = waitForWithMeta(ac, 'client-raw');
    raw.send({ event: 'client-raw', channel: 'presence-chat', data: { n: 1 } });
    const r = await fromBob;
    assert.equal(r.meta.user_id, 'raw-user');

    bc.trigger('client-back', { n: 2 });
    const m = await raw.nextEvent('client-back');
    assert.deepEqual(m, { event: 'client-back', channel: 'presence-chat', data: { n: 2 }, user_id: 'bob' });
    raw.destroy();
    disconnect(alice);
    disconnect(bob);
});

test('client messages disabled: pusher:error 4301, connection stays usable', async () => {
    const srv = await startServer(); // enableClientMessages defaults to false
    try {
        const srvRest = pusherRest(srv);
        const a = await rawPusher(srv);
        const b = await rawPusher(srv);
        await rawJoin(a, 'private-quiet', undefined, srvRest);
        await rawJoin(b, 'private-quiet', undefined, srvRest);
        a.send({ event: 'client-nope', channel: 'private-quiet', data: {} });
        assert.deepEqual(await a.nextJson(), {
            event: 'pusher:error',
            channel: 'private-quiet',
            data: { code: 4301, message: 'The app does not have client messaging enabled.' },
        });
        await assert.rejects(b.nextJson(300), /timed out/, 'nothing relayed');
        await roundTrip(a);
        a.destroy();
        b.destroy();
    } finally {
        await srv.stop();
    }
});

test('client messages disabled via the config file: pusher:error 4301', async () => {
    const srv = await startServer({
        config: { 'appManager.array.apps': [{ id: 'app-id', key: 'app-key', secret: 'app-secret', enableClientMessages: false }] },
    });
    try {
        const a = await rawPusher(srv);
        await rawJoin(a, 'private-cfg', undefined, pusherRest(srv));
        a.send({ event: 'client-x', channel: 'private-cfg', data: {} });
        const m = await a.nextJson();
        assert.equal(m.event, 'pusher:error');
        assert.equal(m.data.code, 4301);
        a.destroy();
    } finally {
        await srv.stop();
    }
});

test('client event on a channel the socket has not joined is dropped silently', async () => {
    const outsider = await rawPusher(server);
    const member = await rawPusher(server);
    await rawJoin(member, 'private-closed');
    outsider.send({ event: 'client-sneak', channel: 'private-closed', data: {} });
    await roundTrip(outsider);
    await assert.rejects(member.nextJson(400), /timed out/, 'not relayed');
    await assert.rejects(outsider.nextJson(100), /timed out/, 'no answer either');
    // after unsubscribing it is dropped too
    member.send({ event: 'pusher:unsubscribe', data: { channel: 'private-closed' } });
    member.send({ event: 'client-after', channel: 'private-closed', data: {} });
    await roundTrip(member);
    outsider.destroy();
    member.destroy();
});

test('client event name longer than 200: pusher:error 4301', async () => {
    const a = await rawPusher(server);
    const b = await rawPusher(server);
    await rawJoin(a, 'private-long');
    await rawJoin(b, 'private-long');
    const name = `client-${'e'.repeat(194)}`; // 201
    a.send({ event: name, channel: 'private-long', data: {} });
    assert.deepEqual(await a.nextJson(), {
        event: 'pusher:error',
        channel: 'private-long',
        data: { code: 4301, message: 'Event name is too long. Maximum allowed size is 200.' },
    });
    await assert.rejects(b.nextJson(300), /timed out/);
    const ok = `client-${'e'.repeat(193)}`; // 200
    a.send({ event: ok, channel: 'private-long', data: {} });
    assert.equal((await b.nextJson()).event, ok);
    a.destroy();
    b.destroy();
});

test('client event payload over 100 KB: pusher:error 4301', async () => {
    const a = await rawPusher(server);
    const b = await rawPusher(server);
    await rawJoin(a, 'private-big');
    await rawJoin(b, 'private-big');
    // Over the 100 KB event limit but within wsMaxPayloadInKb (the limit plus 4 KB): a larger
    // message is closed with 1009 before it is read (ws-hostile.test.mjs).
    a.send({ event: 'client-big', channel: 'private-big', data: 'x'.repeat(102 * 1024) });
    assert.deepEqual(await a.nextJson(), {
        event: 'pusher:error',
        channel: 'private-big',
        data: { code: 4301, message: 'The event data should be less than 100 KB.' },
    });
    await assert.rejects(b.nextJson(300), /timed out/);
    a.send({ event: 'client-big', channel: 'private-big', data: 'x'.repeat(90 * 1024) });
    assert.equal((await b.nextJson(5000)).data.length, 90 * 1024);
    a.destroy();
    b.destroy();
});

test('client event payload limit follows SOKETI_EVENT_MAX_SIZE_IN_KB', async () => {
    const srv = await startServer({
        env: { SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES: 'true', SOKETI_EVENT_MAX_SIZE_IN_KB: '1' },
    });
    try {
        const a = await rawPusher(srv);
        await rawJoin(a, 'private-tiny', undefined, pusherRest(srv));
        a.send({ event: 'client-x', channel: 'private-tiny', data: { s: 'y'.repeat(2000) } });
        assert.deepEqual((await a.nextJson()).data, { code: 4301, message: 'The event data should be less than 1 KB.' });
        a.destroy();
    } finally {
        await srv.stop();
    }
});

// soketi relays JSON.stringify(JSON.parse(text)): numbers in their shortest round-trip
// form (0.1, not 0.10000000000000001), 1.0 as 1, -0 as 0, exponents as 1e+21 and 5e-7.
test('numbers in relayed data and member info are written as JavaScript writes them', async () => {
    const a = await rawPusher(server);
    const b = await rawPusher(server);
    await rawJoin(a, 'private-numbers');
    await rawJoin(b, 'private-numbers');
    a.send('{"event":"client-n","channel":"private-numbers","data":'
        + '{"a":0.1,"b":1.0,"c":1e21,"d":5e-7,"e":-0.0,"f":0.30000000000000004,"g":[1.5e300,123456.7e-2]}}');
    assert.equal((await b.nextMessage()).text, '{"event":"client-n","channel":"private-numbers","data":'
        + '{"a":0.1,"b":1,"c":1e+21,"d":5e-7,"e":0,"f":0.30000000000000004,"g":[1.5e+300,1234.567]}}');
    // an integer past 64 bits: the message is still relayed, its numbers as doubles (rounded)
    a.send('{"event":"client-n","channel":"private-numbers","data":{"n":123456789012345678901234567890,"m":9007199254740993,"k":7}}');
    assert.equal((await b.nextMessage()).text, '{"event":"client-n","channel":"private-numbers","data":'
        + '{"n":1.2345678901234568e+29,"m":9007199254740992,"k":7}}');

    const first = await rawPusher(server);
    await rawJoin(first, 'presence-numbers', { user_id: 'first', user_info: {} });
    const c = await rawPusher(server);
    const channelData = '{"user_id":"num","user_info":{"score":0.1,"level":2.0}}';
    // the signature covers channel_data as sent: sign the text with 2.0 in it
    const sig = createHmac('sha256', APP.secret).update(`${c.socketId}:presence-numbers:${channelData}`).digest('hex');
    c.send({ event: 'pusher:subscribe', data: { channel: 'presence-numbers', auth: `${APP.key}:${sig}`, channel_data: channelData } });
    const ok = await c.nextJson();
    assert.equal(ok.event, 'pusher_internal:subscription_succeeded', JSON.stringify(ok));
    assert.match(ok.data, /"num":\{"score":0\.1,"level":2\}/);
    const added = await first.nextMessage();
    assert.match(added.text, /"data":"\{\\"user_id\\":\\"num\\",\\"user_info\\":\{\\"score\\":0\.1,\\"level\\":2\}\}"/);
    for (const ws of [a, b, first, c]) ws.destroy();
});
