// tests/integration/users.test.mjs — user authentication: the sign-in deadline
// (userAuthenticationTimeout, close 4009), server-to-user events ("#server-to-user-<id>")
// and watchlist events (pusher_internal:watchlist_events online/offline) as the Pusher
// docs describe them and pusher-js consumes them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import {
    APP, cleanup, disconnect, pusherClient, pusherRest, rawPusher, REFERENCE, restRequest, sleep,
    startServer, waitConnected, waitFor,
} from './harness.mjs';

after(cleanup);

const NOT_IN_TIME = { event: 'pusher:error', data: { code: 4009, message: 'Connection not authorized within timeout.' } };

/** The sign-in data for user, signed here (the SDK insists on a string id). */
function userAuth(ws, user) {
    const userData = JSON.stringify(user);
    const sig = createHmac('sha256', APP.secret).update(`${ws.socketId}::user::${userData}`).digest('hex');
    return { auth: `${APP.key}:${sig}`, user_data: userData };
}

async function signin(ws, rest, user) {
    ws.send({ event: 'pusher:signin', data: userAuth(ws, user) });
    const m = await ws.nextJson();
    assert.equal(m.event, 'pusher:signin_success', JSON.stringify(m));
    return m;
}

describe('userAuthenticationTimeout', () => {
    let server;
    let rest;
    before(async () => {
        server = await startServer({
            env: { SOKETI_DEFAULT_APP_USER_AUTHENTICATION: 'true', SOKETI_USER_AUTHENTICATION_TIMEOUT: '400' },
        });
        rest = pusherRest(server);
    });

    test('no sign-in in time: pusher:error 4009 and close 4009', async () => {
        const ws = await rawPusher(server);
        const t0 = Date.now();
        assert.deepEqual(await ws.nextJson(2000), NOT_IN_TIME);
        assert.equal((await ws.nextClose()).code, 4009);
        const took = Date.now() - t0;
        assert.ok(took >= 300 && took < 1500, `closed after ${took} ms`);
    });

    test('a public subscription does not count as authorization', async () => {
        const ws = await rawPusher(server);
        ws.send({ event: 'pusher:subscribe', data: { channel: 'public-x' } });
        assert.equal((await ws.nextJson()).event, 'pusher_internal:subscription_succeeded');
        assert.deepEqual(await ws.nextJson(2000), NOT_IN_TIME);
    });

    test('signing in in time keeps the connection', async () => {
        const ws = await rawPusher(server);
        await signin(ws, rest, { id: 'in-time' });
        await sleep(700);
        ws.send({ event: 'pusher:ping', data: {} });
        assert.equal((await ws.nextJson()).event, 'pusher:pong');
        ws.destroy();
    });

    test('joining a private or presence channel in time keeps it too (soketi)', async () => {
        for (const [channel, member] of [['private-auth', undefined], ['presence-auth', { user_id: 'p1' }]]) {
            const ws = await rawPusher(server);
            const a = rest.authorizeChannel(ws.socketId, channel, member);
            ws.send({ event: 'pusher:subscribe', data: { channel, ...a } });
            assert.equal((await ws.nextJson()).event, 'pusher_internal:subscription_succeeded');
            await sleep(700);
            ws.send({ event: 'pusher:ping', data: {} });
            assert.equal((await ws.nextEvent('pusher:pong')).event, 'pusher:pong', channel);
            ws.destroy();
        }
    });

    test('pusher-js with signin() stays connected', async () => {
        const client = pusherClient(server, { userData: { id: 'js' } });
        await waitConnected(client);
        client.signin();
        await client.user.signinDonePromise;
        await sleep(700);
        assert.equal(client.connection.state, 'connected');
        disconnect(client);
    });

    test('apps without enableUserAuthentication have no deadline', async () => {
        const srv = await startServer({ env: { SOKETI_USER_AUTHENTICATION_TIMEOUT: '200' } });
        const ws = await rawPusher(srv);
        await sleep(500);
        ws.send({ event: 'pusher:ping', data: {} });
        assert.equal((await ws.nextJson()).event, 'pusher:pong');
        ws.destroy();
        await srv.stop();
    });
});

describe('server-to-user events', () => {
    let server;
    let rest;
    before(async () => {
        // soketi only handles pusher:signin for apps that enable user authentication
        server = await startServer({ env: { SOKETI_DEFAULT_APP_USER_AUTHENTICATION: 'true' } });
        rest = pusherRest(server);
    });

    test('an event to #server-to-user-<id> reaches every socket signed in as <id>, no one else', async () => {
        const a1 = await rawPusher(server);
        const a2 = await rawPusher(server);
        const b = await rawPusher(server);
        const anon = await rawPusher(server);
        await signin(a1, rest, { id: 'alice' });
        await signin(a2, rest, { id: 'alice' });
        await signin(b, rest, { id: 'bob' });
        await rest.sendToUser('alice', 'note', { hi: 1 });
        for (const ws of [a1, a2]) {
            assert.deepEqual(await ws.nextJson(), { event: 'note', channel: '#server-to-user-alice', data: JSON.stringify({ hi: 1 }) });
        }
        // socket_id excludes one of the user's sockets
        const res = await restRequest(server, {
            method: 'POST', path: '/events',
            body: { name: 'note', channel: '#server-to-user-alice', data: 'x', socket_id: a1.socketId },
        });
        assert.equal(res.status, 200);
        assert.equal((await a2.nextJson()).data, 'x');
        // soketi 1.6 ignores socket_id for user channels; Pusher (and soketi-c) honour it
        for (const ws of REFERENCE ? [b, anon] : [a1, b, anon]) await assert.rejects(ws.nextJson(300), /timed out/);
        for (const ws of [a1, a2, b, anon]) ws.destroy();
    });

    test('subscribing to another user\'s #server-to-user channel is refused', { skip: REFERENCE && 'soketi lets anyone subscribe to it' }, async () => {
        const mallory = await rawPusher(server);
        await signin(mallory, rest, { id: 'mallory' });
        mallory.send({ event: 'pusher:subscribe', data: { channel: '#server-to-user-alice', auth: '' } });
        assert.deepEqual(await mallory.nextJson(), {
            event: 'pusher:subscription_error',
            channel: '#server-to-user-alice',
            data: { type: 'AuthError', error: 'The connection is unauthorized.', status: 401 },
        });
        // its own is fine (pusher-js asks for it after signin_success)
        mallory.send({ event: 'pusher:subscribe', data: { channel: '#server-to-user-mallory', auth: '' } });
        assert.deepEqual(await mallory.nextJson(),
            { event: 'pusher_internal:subscription_succeeded', channel: '#server-to-user-mallory' });
        const alice = await rawPusher(server);
        await signin(alice, rest, { id: 'alice' });
        await rest.sendToUser('alice', 'secret', 's');
        assert.equal((await alice.nextJson()).event, 'secret');
        await assert.rejects(mallory.nextJson(300), /timed out/);
        mallory.destroy();
        alice.destroy();
    });

    test('pusher-js: client.user.bind receives sendToUser events', async () => {
        const client = pusherClient(server, { userData: { id: 'js-user-2' } });
        await waitConnected(client);
        client.signin();
        await client.user.signinDonePromise;
        await sleep(100);
        const got = waitFor(client.user, 'ping');
        await rest.sendToUser('js-user-2', 'ping', { n: 1 });
        assert.deepEqual(await got, { n: 1 });
        disconnect(client);
    });
});

describe('watchlist events', { skip: REFERENCE && 'soketi 1.6 has no watchlists' }, () => {
    let server;
    let rest;
    before(async () => {
        server = await startServer();
        rest = pusherRest(server);
    });

    const watchEvents = (m) => {
        assert.equal(m.event, 'pusher_internal:watchlist_events', JSON.stringify(m));
        return JSON.parse(m.data).events;
    };

    test('the state right after sign-in, then online/offline as watched users come and go', async () => {
        const bob = await rawPusher(server);
        await signin(bob, rest, { id: 'bob' });
        const alice = await rawPusher(server);
        await signin(alice, rest, { id: 'alice', watchlist: ['bob', 'carol', 42] });
        assert.deepEqual(watchEvents(await alice.nextJson()), [
            { name: 'online', user_ids: ['bob'] },
            { name: 'offline', user_ids: ['carol', '42'] },
        ]);

        // carol's first connection: online; her second: nothing
        const carol1 = await rawPusher(server);
        await signin(carol1, rest, { id: 'carol' });
        assert.deepEqual(watchEvents(await alice.nextJson()), [{ name: 'online', user_ids: ['carol'] }]);
        const carol2 = await rawPusher(server);
        await signin(carol2, rest, { id: 'carol' });
        await assert.rejects(alice.nextJson(300), /timed out/);

        // carol's first goes: still online; her last goes: offline
        carol1.destroy();
        await assert.rejects(alice.nextJson(300), /timed out/);
        carol2.close();
        assert.deepEqual(watchEvents(await alice.nextJson()), [{ name: 'offline', user_ids: ['carol'] }]);

        // a user not on the list comes and goes unseen
        const dave = await rawPusher(server);
        await signin(dave, rest, { id: 'dave' });
        dave.destroy();
        await assert.rejects(alice.nextJson(300), /timed out/);

        // bob signs in again as someone else: bob went offline
        await signin(bob, rest, { id: 'robert' });
        assert.deepEqual(watchEvents(await alice.nextJson()), [{ name: 'offline', user_ids: ['bob'] }]);

        // numeric ids are compared as text
        const n42 = await rawPusher(server);
        await signin(n42, rest, { id: 42 });
        assert.deepEqual(watchEvents(await alice.nextJson()), [{ name: 'online', user_ids: ['42'] }]);

        // once alice is gone nobody is told anything (and nothing breaks)
        alice.destroy();
        await sleep(50);
        n42.destroy();
        bob.destroy();
        const probe = await rawPusher(server);
        probe.send({ event: 'pusher:ping', data: {} });
        assert.equal((await probe.nextJson()).event, 'pusher:pong');
        probe.destroy();
    });

    test('pusher-js: user.watchlist.bind("online" / "offline")', async () => {
        const watcher = pusherClient(server, { userData: { id: 'w', watchlist: ['friend'] } });
        await waitConnected(watcher);
        const initial = waitFor(watcher.user.watchlist, 'offline');
        watcher.signin();
        assert.deepEqual(await initial, { name: 'offline', user_ids: ['friend'] });
        const online = waitFor(watcher.user.watchlist, 'online');
        const friend = pusherClient(server, { userData: { id: 'friend' } });
        await waitConnected(friend);
        friend.signin();
        assert.deepEqual(await online, { name: 'online', user_ids: ['friend'] });
        const offline = waitFor(watcher.user.watchlist, 'offline');
        disconnect(friend);
        assert.deepEqual(await offline, { name: 'offline', user_ids: ['friend'] });
        disconnect(watcher);
    });

    test('a watchlist without anyone in it, or none at all: no watchlist event', async () => {
        const ws = await rawPusher(server);
        await signin(ws, rest, { id: 'lonely', watchlist: [] });
        const ws2 = await rawPusher(server);
        await signin(ws2, rest, { id: 'plain' });
        for (const w of [ws, ws2]) {
            w.send({ event: 'pusher:ping', data: {} });
            assert.equal((await w.nextJson()).event, 'pusher:pong');
            w.destroy();
        }
    });

    test('the key and signature are still checked: a tampered watchlist is refused', async () => {
        const ws = await rawPusher(server);
        const good = rest.authenticateUser(ws.socketId, { id: 'eve', watchlist: ['a'] });
        ws.send({ event: 'pusher:signin', data: { auth: good.auth, user_data: JSON.stringify({ id: 'eve', watchlist: ['b'] }) } });
        assert.deepEqual(await ws.nextJson(), { event: 'pusher:error', data: { code: 4009, message: 'Connection not authorized.' } });
    });
});
