// tests/integration/connection.test.mjs — the WebSocket handshake and the
// connection-level pusher:* messages: connection_established, ping/pong, and the
// refusals (unknown key 4001, disabled app 4003, connection quota 4100), path prefix.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
    cleanup, disconnect, httpRequest, pusherClient, rawPusher, rawWs, sleep, startServer, waitConnected, waitFor,
} from './harness.mjs';

after(cleanup);

const SOCKET_ID = /^\d+\.\d+$/;

describe('default app', () => {
    let server;
    before(async () => { server = await startServer(); });
    after(() => server.stop());

    test('raw: pusher:connection_established with socket_id and activity_timeout 30', async () => {
        const ws = await rawWs(server);
        const m = await ws.nextJson();
        assert.equal(m.event, 'pusher:connection_established');
        assert.equal(typeof m.data, 'string', 'data is a JSON-encoded string');
        const data = JSON.parse(m.data);
        assert.match(data.socket_id, SOCKET_ID);
        assert.equal(data.activity_timeout, 30);
        ws.destroy();
    });

    test('socket ids are distinct', async () => {
        const ids = new Set();
        for (let i = 0; i < 5; i++) {
            const ws = await rawPusher(server);
            ids.add(ws.socketId);
            ws.destroy();
        }
        assert.equal(ids.size, 5);
    });

    test('pusher-js connects and gets a socket id', async () => {
        const client = pusherClient(server);
        const socketId = await waitConnected(client);
        assert.match(socketId, SOCKET_ID);
        assert.equal(client.connection.state, 'connected');
        disconnect(client);
    });

    test('pusher:ping is answered with pusher:pong', async () => {
        const ws = await rawPusher(server);
        ws.send({ event: 'pusher:ping', data: {} });
        assert.deepEqual(await ws.nextJson(), { event: 'pusher:pong', data: {} });
        // a ping without data works too, and repeatedly
        ws.send({ event: 'pusher:ping' });
        ws.send({ event: 'pusher:ping' });
        assert.equal((await ws.nextJson()).event, 'pusher:pong');
        assert.equal((await ws.nextJson()).event, 'pusher:pong');
        ws.destroy();
    });

    test('pusher-js ping/pong keeps the connection up', async () => {
        const client = pusherClient(server);
        await waitConnected(client);
        const pong = waitFor(client.connection, 'message');
        client.connection.send_event('pusher:ping', {});
        assert.equal((await pong).event, 'pusher:pong');
        disconnect(client);
    });

    test('unknown app key: pusher:error 4001 and close 4001', async () => {
        const ws = await rawWs(server, '/app/no-such-key?protocol=7&client=js&version=8.4.0');
        assert.deepEqual(await ws.nextJson(), {
            event: 'pusher:error',
            data: { code: 4001, message: 'App key no-such-key does not exist.' },
        });
        const close = await ws.nextClose();
        assert.equal(close.code, 4001);
        await ws.closed;
    });

    test('unknown app key with pusher-js: error 4001, no reconnect loop', async () => {
        const client = pusherClient(server, { key: 'no-such-key' });
        const states = [];
        client.connection.bind('state_change', (s) => states.push(s.current));
        const err = await waitFor(client.connection, 'error', 5000);
        // pusher-js wraps the handshake's pusher:error in a WebSocketError
        const pusherError = err.type === 'PusherError' ? err : err.error;
        assert.equal(pusherError.type, 'PusherError');
        assert.deepEqual(pusherError.data, { code: 4001, message: 'App key no-such-key does not exist.' });
        await sleep(1500);
        assert.ok(!states.includes('connected'), `never connected: ${states}`);
        assert.equal(client.connection.state, 'disconnected', '4001 is "refused": pusher-js does not retry');
        disconnect(client);
    });

    test('server-initiated close frames carry the code; the server still serves afterwards', async () => {
        const ws = await rawWs(server, '/app/nope?protocol=7');
        await ws.nextJson();
        assert.equal((await ws.nextClose()).code, 4001);
        const ok = await rawPusher(server);
        assert.match(ok.socketId, SOCKET_ID);
        ok.destroy();
    });
});

test('disabled app: pusher:error 4003 and close 4003', async () => {
    const server = await startServer({ env: { SOKETI_DEFAULT_APP_ENABLED: 'false' } });
    try {
        const ws = await rawWs(server);
        assert.deepEqual(await ws.nextJson(), {
            event: 'pusher:error',
            data: { code: 4003, message: 'The app is not enabled.' },
        });
        assert.equal((await ws.nextClose()).code, 4003);
    } finally {
        await server.stop();
    }
});

test('connection quota: SOKETI_DEFAULT_APP_MAX_CONNS=1 refuses the second with 4100', async () => {
    const server = await startServer({ env: { SOKETI_DEFAULT_APP_MAX_CONNS: '1' } });
    try {
        const first = await rawPusher(server);
        const second = await rawWs(server);
        assert.deepEqual(await second.nextJson(), {
            event: 'pusher:error',
            data: { code: 4100, message: 'The current concurrent connections quota has been reached.' },
        });
        assert.equal((await second.nextClose()).code, 4100);

        // the first is unaffected
        first.send({ event: 'pusher:ping', data: {} });
        assert.equal((await first.nextJson()).event, 'pusher:pong');

        // once the first leaves, there is room again
        await first.close(1000);
        let third;
        for (let i = 0; i < 20 && !third; i++) {
            const ws = await rawWs(server);
            const m = await ws.nextJson();
            if (m.event === 'pusher:connection_established') third = ws;
            else { ws.destroy(); await sleep(100); }
        }
        assert.ok(third, 'a connection is accepted again after the first closed');
        third.destroy();
    } finally {
        await server.stop();
    }
});

test('config file: apps from appManager.array.apps', async () => {
    const server = await startServer({
        config: {
            'appManager.array.apps': [
                { id: 'cfg-id', key: 'cfg-key', secret: 'cfg-secret', enableClientMessages: false, enabled: true },
                { id: 'off-id', key: 'off-key', secret: 'off-secret', enabled: false },
            ],
        },
    });
    try {
        const ok = await rawPusher(server, '/app/cfg-key?protocol=7');
        assert.match(ok.socketId, SOCKET_ID);
        const off = await rawWs(server, '/app/off-key?protocol=7');
        assert.equal((await off.nextJson()).data.code, 4003);
        const gone = await rawWs(server, '/app/app-key?protocol=7');
        assert.equal((await gone.nextJson()).data.code, 4001, 'the default app is replaced by the configured list');
    } finally {
        await server.stop();
    }
});

test('path prefix: SOKETI_PATH_PREFIX=/ws serves /ws/app/:key and /ws/ready', async () => {
    const server = await startServer({ env: { SOKETI_PATH_PREFIX: '/ws' } });
    try {
        const ws = await rawPusher(server, '/ws/app/app-key?protocol=7&client=js&version=8.4.0');
        assert.match(ws.socketId, SOCKET_ID);
        ws.destroy();

        const client = pusherClient(server, { wsPath: '/ws' });
        assert.match(await waitConnected(client), SOCKET_ID);
        disconnect(client);

        const ready = await httpRequest(server, { path: '/ws/ready' });
        assert.equal(ready.status, 200);
        assert.equal(ready.text, 'OK');
    } finally {
        await server.stop();
    }
});
