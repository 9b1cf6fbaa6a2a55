// shutdown-bound.test.mjs — signals under load: SIGTERM exits within shutdownGracePeriod plus
// 1 s whatever the clients do (thousands of TLS handshakes in progress, clients that do not
// read), and SIGHUP with thousands of clients connected reloads the apps without stalling the
// others (a removed app's clients get 4001, the rest stay).
//
// DESIGN: a real ClientHello is captured from node's tls module and replayed on raw sockets
// (the handshakes never finish). The sanitizer scan of cleanup() makes the SIGTERM test an ASan
// check too. Linux only.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';

import {
    REFERENCE, captureClientHello, cleanup, makeCert, rawPusher, sleep, startServer, startTlsServer, until,
} from './harness.mjs';

after(cleanup);

const skip = REFERENCE ? 'soketi-c bounds' : (!fs.existsSync('/proc/self/stat') && 'Linux only');
const dirs = [];
after(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });

test('SIGTERM during 3000 TLS handshakes and with clients that do not read: exit 0 within grace + 1 s',
    { skip, timeout: 60000 }, async (t) => {
        const cert = await makeCert();
        dirs.push(cert.dir);
        const hello = await captureClientHello();
        const server = await startTlsServer({
            env: {
                SOKETI_SSL_CERT: cert.cert, SOKETI_SSL_KEY: cert.key, SOKETI_SHUTDOWN_GRACE_PERIOD: '1000',
                SOKETI_SSL_MAX_PENDING_HANDSHAKES: '5000',
            },
            ca: fs.readFileSync(cert.cert, 'utf8'),
        });
        // WebSocket clients that stop reading once connected.
        const readers = await Promise.all([...Array(20)].map(async () => {
            const s = tls.connect({ host: '127.0.0.1', port: server.port, ca: server.ca });
            s.on('error', () => {});
            await new Promise((r) => s.once('secureConnect', r));
            s.write('GET /app/app-key?protocol=7 HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
                + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
            await new Promise((r) => s.once('data', r));
            s.pause();
            return s;
        }));
        // 3000 handshakes begun and never finished.
        const socks = [];
        let connected = 0;
        for (let i = 0; i < 3000; i++) {
            const s = net.connect(server.port, '127.0.0.1');
            s.on('error', () => {});
            s.on('connect', () => { connected++; s.write(hello); });
            socks.push(s);
        }
        await until(() => connected === 3000, 20000, 'the connections');
        await sleep(100);
        const t0 = Date.now();
        server.proc.kill('SIGTERM');
        const info = await server.exited;
        const ms = Date.now() - t0;
        t.diagnostic(`exit ${JSON.stringify(info)} ${ms} ms after SIGTERM (grace 1000 ms)`);
        assert.equal(info.code, 0);
        assert.ok(ms < 2000, `exit took ${ms} ms after SIGTERM with a 1000 ms grace period`);
        for (const s of [...socks, ...readers]) s.destroy();
    });

test('SIGHUP with 2000 clients connected and an app removed: 4001 for its clients, the others stay and are served',
    { skip, timeout: 60000 }, async (t) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soketi-reload-'));
        dirs.push(dir);
        const file = path.join(dir, 'config.json');
        const A = { id: 'app-a', key: 'key-a', secret: 'secret-a' };
        const B = { id: 'app-b', key: 'key-b', secret: 'secret-b' };
        const write = (apps) => fs.writeFileSync(file, JSON.stringify({ appManager: { array: { apps } } }));
        write([A, B]);
        const server = await startServer({ args: [`--config=${file}`] });
        const open = async (key, n) => {
            const out = [];
            for (let i = 0; i < n; i += 100) {
                out.push(...await Promise.all([...Array(Math.min(100, n - i))].map(
                    () => rawPusher(server, `/app/${key}?protocol=7&client=js&version=8.4.0`, { timeoutMs: 10000 }))));
            }
            return out;
        };
        const a = await open(A.key, 1000);
        const b = await open(B.key, 1000);
        // A client of app B pings throughout the reload.
        const pinger = b[0];
        let worst = 0;
        let pinging = true;
        const pings = (async () => {
            while (pinging) {
                const t0 = Date.now();
                pinger.send({ event: 'pusher:ping', data: {} });
                await pinger.nextEvent('pusher:pong', 10000);
                worst = Math.max(worst, Date.now() - t0);
                await sleep(20);
            }
        })();
        write([B]);
        const t0 = Date.now();
        server.proc.kill('SIGHUP');
        const codes = await Promise.all(a.map((ws) => ws.nextClose(10000).then((c) => c.code, () => 0)));
        const ms = Date.now() - t0;
        await sleep(200);
        pinging = false;
        await pings;
        t.diagnostic(`app A's 1000 clients closed within ${ms} ms; worst ping of app B ${worst} ms`);
        assert.ok(codes.every((c) => c === 4001), `close codes: ${[...new Set(codes)]}`);
        assert.ok(worst < 1000, `a client of the kept app waited ${worst} ms for a pong during the reload`);
        assert.equal(b.filter((ws) => ws.closeInfo() !== null).length, 0, 'app B clients stay');
        const last = b[b.length - 1];
        last.send({ event: 'pusher:ping', data: {} });
        await last.nextEvent('pusher:pong', 5000);
        for (const ws of b) ws.destroy();
    });
