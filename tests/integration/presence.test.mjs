// tests/integration/presence.test.mjs — presence channels: the member list in
// subscription_succeeded, member_added/member_removed (once per user, not per
// socket), the member-count and member-size limits, and the users REST route.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
    cleanup, disconnect, expectNoEvent, pusherClient, pusherRest, rawPusher, startServer, subscribe, waitFor,
} from './harness.mjs';

after(cleanup);

let server;
let rest;
before(async () => {
    server = await startServer();
    rest = pusherRest(server);
});
after(() => server && server.stop());

function userClient(srv, userId, userInfo = {}) {
    return pusherClient(srv, { presenceData: { user_id: userId, user_info: userInfo } });
}

/** Raw presence subscribe with a locally signed auth; resolves the answer. */
async function rawJoin(ws, channel, member, srvRest = rest) {
    const { auth, channel_data: channelData } = srvRest.authorizeChannel(ws.socketId, channel, member);
    ws.send({ event: 'pusher:subscribe', data: { channel, auth, channel_data: channelData } });
    return ws.nextJson();
}

async function roundTrip(ws) {
    ws.send({ event: 'pusher:ping', data: {} });
    await ws.nextEvent('pusher:pong');
}

test('subscription_succeeded carries presence {ids, hash, count} (raw shape)', async () => {
    const first = await rawPusher(server);
    const m1 = await rawJoin(first, 'presence-shape', { user_id: 'carol', user_info: { x: 1 } });
    assert.equal(m1.event, 'pusher_internal:subscription_succeeded');
    assert.equal(m1.channel, 'presence-shape');
    assert.equal(typeof m1.data, 'string');
    assert.deepEqual(JSON.parse(m1.data), { presence: { ids: ['carol'], hash: { carol: { x: 1 } }, count: 1 } });

    const second = await rawPusher(server);
    const m2 = await rawJoin(second, 'presence-shape', { user_id: 'dave', user_info: { name: 'Dave' } });
    const p = JSON.parse(m2.data).presence;
    assert.equal(p.count, 2);
    assert.deepEqual([...p.ids].sort(), ['carol', 'dave']);
    assert.deepEqual(p.hash, { carol: { x: 1 }, dave: { name: 'Dave' } });

    // the first member is told, in soketi's wire format
    const added = await first.nextJson();
    assert.equal(added.event, 'pusher_internal:member_added');
    assert.equal(added.channel, 'presence-shape');
    assert.deepEqual(JSON.parse(added.data), { user_id: 'dave', user_info: { name: 'Dave' } });

    second.send({ event: 'pusher:unsubscribe', data: { channel: 'presence-shape' } });
    const removed = await first.nextJson();
    assert.equal(removed.event, 'pusher_internal:member_removed');
    assert.equal(removed.channel, 'presence-shape');
    assert.deepEqual(JSON.parse(removed.data), { user_id: 'dave' });
    first.destroy();
    second.destroy();
});

test('numeric user ids stay numbers: ids, member_added/removed, /users (as soketi)', async () => {
    const first = await rawPusher(server);
    const m1 = await rawJoin(first, 'presence-typed', { user_id: 7, user_info: { x: 1 } });
    assert.deepEqual(JSON.parse(m1.data), { presence: { ids: [7], hash: { 7: { x: 1 } }, count: 1 } });
    const second = await rawPusher(server);
    const m2 = await rawJoin(second, 'presence-typed', { user_id: 'eight', user_info: {} });
    assert.deepEqual(JSON.parse(m2.data).presence.ids.sort(), [7, 'eight']);
    const added = await first.nextJson();
    assert.deepEqual(JSON.parse(added.data), { user_id: 'eight', user_info: {} });
    // the string "7" is user 7 (Pusher's clients key members by the id's text): no second member
    const third = await rawPusher(server);
    const m3 = await rawJoin(third, 'presence-typed', { user_id: '7', user_info: { x: 1 } });
    const p3 = JSON.parse(m3.data).presence;
    assert.deepEqual([p3.ids.sort(), p3.hash, p3.count], [[7, 'eight'], { 7: { x: 1 }, eight: {} }, 2]);
    await assert.rejects(second.nextJson(400), /timed out/, 'no member_added for "7"');
    const users = await rest.get({ path: '/channels/presence-typed/users' }).then((r) => r.json());
    assert.deepEqual(users.users.map((u) => u.id).sort(), [7, 'eight']);
    first.destroy();
    await assert.rejects(second.nextJson(400), /timed out/, 'user 7 is still there through "7"');
    third.destroy();
    const removed = await second.nextJson();
    assert.equal(removed.event, 'pusher_internal:member_removed');
    assert.deepEqual(JSON.parse(removed.data), { user_id: 7 });
    second.destroy();
});

test('two users see each other join and leave (pusher-js)', async () => {
    const alice = userClient(server, 'alice', { name: 'Alice' });
    const ac = await subscribe(alice, 'presence-room');
    assert.equal(ac.members.count, 1);
    assert.equal(ac.members.me.id, 'alice');
    assert.deepEqual(ac.members.me.info, { name: 'Alice' });

    const added = waitFor(ac, 'pusher:member_added');
    const bob = userClient(server, 'bob', { name: 'Bob' });
    const bc = await subscribe(bob, 'presence-room');
    assert.deepEqual(await added, { id: 'bob', info: { name: 'Bob' } });
    assert.equal(bc.members.count, 2);
    assert.deepEqual(bc.members.get('alice'), { id: 'alice', info: { name: 'Alice' } });
    assert.equal(ac.members.count, 2);

    const removed = waitFor(ac, 'pusher:member_removed');
    disconnect(bob);
    assert.deepEqual(await removed, { id: 'bob', info: { name: 'Bob' } });
    assert.equal(ac.members.count, 1);
    disconnect(alice);
});

test('one user on two sockets: member_added once, member_removed only after the last socket', async () => {
    const watcher = await rawPusher(server);
    assert.equal((await rawJoin(watcher, 'presence-multi', { user_id: 'watcher', user_info: {} })).event,
        'pusher_internal:subscription_succeeded');

    const b1 = await rawPusher(server);
    await rawJoin(b1, 'presence-multi', { user_id: 'bob', user_info: { n: 1 } });
    const added = await watcher.nextJson();
    assert.equal(added.event, 'pusher_internal:member_added');
    assert.equal(JSON.parse(added.data).user_id, 'bob');

    const b2 = await rawPusher(server);
    const sub2 = await rawJoin(b2, 'presence-multi', { user_id: 'bob', user_info: { n: 1 } });
    const p = JSON.parse(sub2.data).presence;
    assert.equal(p.count, 2, 'bob counts once');
    assert.deepEqual([...p.ids].sort(), ['bob', 'watcher']);
    await assert.rejects(watcher.nextJson(500), /timed out/, 'no second member_added');

    const info = await rest.get({ path: '/channels/presence-multi', params: { info: 'user_count,subscription_count' } })
        .then((r) => r.json());
    assert.equal(info.user_count, 2);
    assert.equal(info.subscription_count, 3);

    b1.destroy(); // TCP drop, no close handshake
    await assert.rejects(watcher.nextJson(600), /timed out/, 'bob still has a socket: no member_removed');
    await roundTrip(watcher);

    await b2.close(1000);
    const removed = await watcher.nextJson();
    assert.equal(removed.event, 'pusher_internal:member_removed');
    assert.deepEqual(JSON.parse(removed.data), { user_id: 'bob' });
    watcher.destroy();
});

test('a member is not told about itself', async () => {
    const alone = await rawPusher(server);
    await rawJoin(alone, 'presence-self', { user_id: 'solo', user_info: {} });
    await assert.rejects(alone.nextJson(400), /timed out/);
    alone.destroy();
});

test('presence subscribe with a bad signature: AuthError 401', async () => {
    const ws = await rawPusher(server);
    const channelData = JSON.stringify({ user_id: 'mallory', user_info: {} });
    ws.send({
        event: 'pusher:subscribe',
        data: { channel: 'presence-guarded', auth: `app-key:${'a'.repeat(64)}`, channel_data: channelData },
    });
    assert.deepEqual(await ws.nextJson(), {
        event: 'pusher:subscription_error',
        channel: 'presence-guarded',
        data: { type: 'AuthError', error: 'The connection is unauthorized.', status: 401 },
    });
    // channel_data tampered after signing
    const signed = rest.authorizeChannel(ws.socketId, 'presence-guarded', { user_id: 'eve', user_info: {} });
    ws.send({
        event: 'pusher:subscribe',
        data: { channel: 'presence-guarded', auth: signed.auth, channel_data: channelData },
    });
    assert.equal((await ws.nextJson()).data.type, 'AuthError');
    ws.destroy();
});

test('SOKETI_PRESENCE_MAX_MEMBERS=1: a second user gets LimitReached 4100', async () => {
    const srv = await startServer({ env: { SOKETI_PRESENCE_MAX_MEMBERS: '1' } });
    try {
        const srvRest = pusherRest(srv);
        const a = await rawPusher(srv);
        assert.equal((await rawJoin(a, 'presence-full', { user_id: 'a', user_info: {} }, srvRest)).event,
            'pusher_internal:subscription_succeeded');
        const b = await rawPusher(srv);
        assert.deepEqual(await rawJoin(b, 'presence-full', { user_id: 'b', user_info: {} }, srvRest), {
            event: 'pusher:subscription_error',
            channel: 'presence-full',
            data: {
                type: 'LimitReached',
                error: 'The maximum members per presence channel limit was reached',
                status: 4100,
            },
        });
        await assert.rejects(a.nextJson(400), /timed out/, 'no member_added for a refused member');
        // another presence channel still has room
        assert.equal((await rawJoin(b, 'presence-other', { user_id: 'b', user_info: {} }, srvRest)).event,
            'pusher_internal:subscription_succeeded');
    } finally {
        await srv.stop();
    }
});

test('SOKETI_PRESENCE_MAX_MEMBER_SIZE=1: an oversized user_info gets LimitReached 4301', async () => {
    const srv = await startServer({ env: { SOKETI_PRESENCE_MAX_MEMBER_SIZE: '1' } });
    try {
        const srvRest = pusherRest(srv);
        const ws = await rawPusher(srv);
        const big = { user_id: 'big', user_info: { blob: 'x'.repeat(1500) } };
        assert.deepEqual(await rawJoin(ws, 'presence-size', big, srvRest), {
            event: 'pusher:subscription_error',
            channel: 'presence-size',
            data: { type: 'LimitReached', error: 'The maximum size for a channel member is 1 KB.', status: 4301 },
        });
        const small = { user_id: 'small', user_info: { blob: 'x'.repeat(500) } };
        assert.equal((await rawJoin(ws, 'presence-size', small, srvRest)).event,
            'pusher_internal:subscription_succeeded');
    } finally {
        await srv.stop();
    }
});

test('GET /channels/:presence/users lists each user once', async () => {
    const a1 = userClient(server, 'u-1', { name: 'One' });
    const a2 = userClient(server, 'u-1', { name: 'One' });
    const b = userClient(server, 'u-2', { name: 'Two' });
    await subscribe(a1, 'presence-users');
    await subscribe(a2, 'presence-users');
    await subscribe(b, 'presence-users');

    const res = await rest.get({ path: '/channels/presence-users/users' });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.deepEqual(body.users.map((u) => u.id).sort(), ['u-1', 'u-2']);
    for (const u of body.users) assert.deepEqual(Object.keys(u), ['id']);

    const empty = await rest.get({ path: '/channels/presence-nobody/users' }).then((r) => r.json());
    assert.deepEqual(empty, { users: [] });

    disconnect(b);
    // the list follows departures
    let ids;
    for (let i = 0; i < 20; i++) {
        ids = (await rest.get({ path: '/channels/presence-users/users' }).then((r) => r.json())).users.map((u) => u.id);
        if (ids.length === 1) break;
        await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(ids, ['u-1']);
    disconnect(a1);
    disconnect(a2);
});

test('presence event data from REST reaches members; client sees it through pusher-js', async () => {
    const alice = userClient(server, 'alice-2');
    const ac = await subscribe(alice, 'presence-news');
    const got = waitFor(ac, 'headline');
    const none = expectNoEvent(ac, 'pusher:member_added', 300);
    await rest.trigger('presence-news', 'headline', { t: 'hi' });
    assert.deepEqual(await got, { t: 'hi' });
    await none;
    disconnect(alice);
});
