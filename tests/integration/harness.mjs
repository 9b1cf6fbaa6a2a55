// tests/integration/harness.mjs — start the daemon on free ports and talk to it:
// pusher-js clients, the `pusher` REST SDK, signed raw REST requests, a raw
// RFC 6455 client on a plain socket, and raw HTTP.
//
// DESIGN: every test file starts its own daemon(s) and calls `after(cleanup)`;
// cleanup() disconnects every client this module created and stops every
// daemon, so a failing test leaks no process and no timer that would keep the
// file's node process alive. As a last resort an 'exit' hook SIGKILLs daemons.
//
// Which server runs: $SOKETI_BIN (`start --plugin-dir=$SOKETI_PLUGIN_DIR_TEST`),
// or with SOKETI_REFERENCE=1 the real soketi 1.6 from npm
// ($SOKETI_REFERENCE_BIN, default tests/reference/node_modules/@soketi/soketi/bin/server.js,
// which `npm ci` in tests/reference installs).
// SOKETI_TEST_DEBUG=1 echoes the daemon's output live and sets SOKETI_DEBUG=1.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const Pusher = require('pusher-js');
const PusherRest = require('pusher');

export const REFERENCE = ['1', 'true', 'yes'].includes(String(process.env.SOKETI_REFERENCE || '').toLowerCase());
export const REFERENCE_BIN = process.env.SOKETI_REFERENCE_BIN
    || new URL('../reference/node_modules/@soketi/soketi/bin/server.js', import.meta.url).pathname;
export const DEBUG = !!process.env.SOKETI_TEST_DEBUG;

/** The default app every daemon starts with. */
export const APP = Object.freeze({ id: 'app-id', key: 'app-key', secret: 'app-secret' });

/** A fixed 32-byte master key (base64) for private-encrypted channels in tests. */
export const ENCRYPTION_MASTER_KEY_BASE64 = Buffer.alloc(32, 7).toString('base64');

export const DEFAULT_WS_PATH = '/app/app-key?protocol=7&client=js&version=8.4.0';

const servers = new Set(); // running daemons
const started = []; // every daemon this process started, for the sanitizer scan in cleanup()

/** What ASan/LSan/UBSan print when they find something (CI builds with --enable-sanitizers). */
export const SANITIZER_REPORT = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: UndefinedBehaviorSanitizer/;
const clients = new Set();
const rawSockets = new Set();

process.on('exit', () => {
    for (const s of servers) {
        try { s.proc.kill('SIGKILL'); } catch { /* already gone */ }
    }
});

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A free TCP port on 127.0.0.1 (bind port 0, read it, close). */
export function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.unref();
        srv.on('error', reject);
        srv.listen(0, '127.0.0.1', () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

function httpGetOnce(port, pathName, timeoutMs, host = '127.0.0.1') {
    return new Promise((resolve) => {
        const req = http.get({ host, port, path: pathName, agent: false, timeout: timeoutMs }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c) => { body += c; });
            res.on('end', () => resolve({ status: res.statusCode, body }));
            res.on('error', () => resolve(null));
        });
        req.on('timeout', () => { req.destroy(); resolve(null); });
        req.on('error', () => resolve(null));
    });
}

/**
 * Start a daemon on free ports and wait until GET /ready answers 200 "OK".
 * env: extra environment (soketi's SOKETI_* names); config: an object written to a
 * temporary JSON file passed with --config; args: extra command-line arguments;
 * readyPath: what to poll (default `${SOKETI_PATH_PREFIX}/ready`); reference: true starts
 * soketi 1.6 ($SOKETI_REFERENCE_BIN) whatever SOKETI_REFERENCE says (a mixed cluster);
 * wrap: a command line the daemon is started through, which must exec it (so that
 * server.proc.pid is the daemon's), e.g. ['prlimit', '--nofile=64', '--'];
 * host: the address it listens on and is reached at (default 127.0.0.1; a network
 * namespace's address with wrap ['ip', 'netns', 'exec', ns], netns.mjs's startNode).
 * port, metricsPort: listen there instead of on free ports (a node restarted on its address).
 * Throws (with the daemon's output) if it exits or is not ready within readyTimeoutMs.
 */
export async function startServer(opts = {}) {
    // The ports come from bind(0), so between freePort() and the daemon's own bind another
    // process's outgoing connection (or bind(0)) can take one: start again on new ports then.
    for (let attempt = 1; ; attempt++) {
        try {
            return await startServerOnce(opts);
        } catch (err) {
            const fixed = opts.port !== undefined || opts.metricsPort !== undefined;
            if (fixed || attempt >= 3 || !/exited before it was ready[^]*(Address already in use|EADDRINUSE)/.test(err.message)) {
                throw err;
            }
        }
    }
}

async function startServerOnce({ env = {}, config = null, args = [], readyTimeoutMs = 10000, readyPath,
    reference = REFERENCE, scheme = 'http', host = '127.0.0.1', probe = (port, p) => httpGetOnce(port, p, 500, host),
    wrap = [], port: fixedPort, metricsPort: fixedMetricsPort } = {}) {
    readyPath = readyPath ?? `${env.SOKETI_PATH_PREFIX || ''}/ready`;
    const port = fixedPort ?? await freePort();
    let metricsPort = fixedMetricsPort ?? await freePort();
    while (metricsPort === port) metricsPort = await freePort();

    const baseEnv = {};
    for (const [k, v] of Object.entries(process.env)) {
        if (!k.startsWith('SOKETI_')) baseEnv[k] = v;
    }
    const childEnv = {
        ...baseEnv,
        SOKETI_PORT: String(port),
        SOKETI_METRICS_SERVER_PORT: String(metricsPort),
        SOKETI_HOST: host,
        SOKETI_METRICS_HOST: host,
        SOKETI_SHUTDOWN_GRACE_PERIOD: '200', // tests that test shutdown set their own
        ...(DEBUG ? { SOKETI_DEBUG: '1' } : {}),
    };
    if (reference) {
        // soketi 1.6 runs node-discover on UDP; keep parallel instances apart.
        childEnv.SOKETI_CLUSTER_PORT = String(await freePort());
        childEnv.SOKETI_CLUSTER_HOST = '127.0.0.1';
        childEnv.SOKETI_CLUSTER_BROADCAST_ADDRESS = '127.255.255.255';
    }
    for (const [k, v] of Object.entries(env)) {
        if (v === undefined || v === null) delete childEnv[k];
        else childEnv[k] = String(v);
    }

    let tmpDir = null;
    const argv = [];
    if (reference) {
        argv.push(REFERENCE_BIN, 'start');
    } else {
        if (!process.env.SOKETI_BIN) {
            throw new Error('SOKETI_BIN is not set: point it at the built daemon (make check exports it), '
                + 'or set SOKETI_REFERENCE=1 to run the suite against soketi 1.6.');
        }
        argv.push('start');
        if (process.env.SOKETI_PLUGIN_DIR_TEST) argv.push(`--plugin-dir=${process.env.SOKETI_PLUGIN_DIR_TEST}`);
    }
    if (config) {
        tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'soketi-test-'));
        const file = path.join(tmpDir, 'config.json');
        fs.writeFileSync(file, JSON.stringify(config, null, 2));
        argv.push(`--config=${file}`);
    }
    argv.push(...args);

    const cmd = reference ? process.execPath : process.env.SOKETI_BIN;
    const proc = wrap.length
        ? spawn(wrap[0], [...wrap.slice(1), cmd, ...argv], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn(cmd, argv, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderrText = '';
    let stdoutText = '';
    proc.stderr.setEncoding('utf8');
    proc.stdout.setEncoding('utf8');
    proc.stderr.on('data', (d) => { stderrText += d; if (DEBUG) process.stderr.write(`[daemon:${port}] ${d}`); });
    proc.stdout.on('data', (d) => { stdoutText += d; if (DEBUG) process.stderr.write(`[daemon:${port}] ${d}`); });
    let exitInfo = null;
    const exited = new Promise((resolve) => {
        proc.on('exit', (code, signal) => { exitInfo = { code, signal }; resolve(exitInfo); });
        proc.on('error', (err) => { exitInfo = { code: null, signal: null, error: err }; resolve(exitInfo); });
    });

    const server = {
        reference,
        port,
        metricsPort,
        host,
        url: `${scheme}://${host}:${port}`,
        proc,
        exited,
        stderr: () => stderrText,
        stdout: () => stdoutText,
        output: () => stdoutText + stderrText,
        async stop(signal = 'SIGTERM', killAfterMs = 10000) {
            if (!exitInfo) {
                try { proc.kill(signal); } catch { /* gone */ }
                const timer = setTimeout(() => { try { proc.kill('SIGKILL'); } catch { /* gone */ } }, killAfterMs);
                await exited;
                clearTimeout(timer);
            }
            servers.delete(server);
            if (tmpDir) { fs.rmSync(tmpDir, { recursive: true, force: true }); tmpDir = null; }
            return exitInfo;
        },
    };
    servers.add(server);
    started.push(server);

    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
        if (exitInfo) {
            await server.stop();
            throw new Error(`daemon exited before it was ready (${JSON.stringify(exitInfo)}; `
                + `${cmd} ${argv.join(' ')})\n--- output ---\n${server.output()}`);
        }
        const r = await probe(port, readyPath);
        if (r && r.status === 200 && r.body === 'OK') break;
        if (Date.now() > deadline) {
            await server.stop('SIGKILL');
            throw new Error(`daemon not ready within ${readyTimeoutMs} ms on port ${port}`
                + ` (${cmd} ${argv.join(' ')})\n--- output ---\n${server.output()}`);
        }
        await sleep(50);
    }
    return server;
}

/** A `pusher` REST SDK instance pointed at the server. */
export function pusherRest(server, opts = {}) {
    return new PusherRest({
        appId: APP.id,
        key: APP.key,
        secret: APP.secret,
        host: server.host,
        port: String(server.port),
        useTLS: false,
        encryptionMasterKeyBase64: ENCRYPTION_MASTER_KEY_BASE64,
        ...opts,
    });
}

/**
 * A pusher-js client connected (connecting) to the server. Channel authorization and
 * user authentication sign locally with the `pusher` SDK and the app secret.
 * Extra opts: key, secret, appId; presenceData (object or (channel, socketId) => {user_id, user_info});
 * userData (object or (socketId) => {id, ...}); anything else is passed to pusher-js.
 */
export function pusherClient(server, opts = {}) {
    const {
        key = APP.key, secret = APP.secret, appId = APP.id,
        presenceData, userData, ...rest
    } = opts;
    const signer = pusherRest(server, { appId, key, secret });
    const channelAuthorization = {
        customHandler: ({ socketId, channelName }, callback) => {
            try {
                let data;
                if (channelName.startsWith('presence-')) {
                    data = typeof presenceData === 'function' ? presenceData(channelName, socketId)
                        : (presenceData ?? { user_id: `user-${socketId}`, user_info: {} });
                }
                callback(null, signer.authorizeChannel(socketId, channelName, data));
            } catch (err) {
                callback(err, null);
            }
        },
    };
    const userAuthentication = {
        customHandler: ({ socketId }, callback) => {
            try {
                const data = typeof userData === 'function' ? userData(socketId)
                    : (userData ?? { id: `user-${socketId}` });
                callback(null, signer.authenticateUser(socketId, data));
            } catch (err) {
                callback(err, null);
            }
        },
    };
    const client = new Pusher(key, {
        wsHost: server.host,
        wsPort: server.port,
        wssPort: server.port,
        forceTLS: false,
        enabledTransports: ['ws'],
        cluster: 'mt1',
        disableStats: true,
        channelAuthorization,
        userAuthentication,
        ...rest,
    });
    clients.add(client);
    if (!fayePatched) {
        client.connection.bind('connected', () => unrefFayeCloseTimer(client.connection.connection?.transport?.socket));
    }
    return client;
}

/**
 * faye-websocket (bundled in pusher-js for node) arms a 30 s timer when it closes a
 * socket, and that timer outlives a connection the server has already dropped,
 * keeping the test process alive. Wrap its close() once so the timer is unref'd.
 */
let fayePatched = false;
function unrefFayeCloseTimer(socket) {
    if (fayePatched || !socket) return;
    let proto = Object.getPrototypeOf(socket);
    while (proto && !Object.prototype.hasOwnProperty.call(proto, 'close')) proto = Object.getPrototypeOf(proto);
    if (!proto) return;
    const original = proto.close;
    proto.close = function patchedClose(...a) {
        const r = original.apply(this, a);
        if (this._closeTimer?.unref) this._closeTimer.unref();
        return r;
    };
    fayePatched = true;
}

/** Disconnect a pusher-js client and forget it. */
export function disconnect(client) {
    try { client.disconnect(); } catch { /* ignore */ }
    clients.delete(client);
}

function subscribeTo(target, eventName, handler) {
    if (typeof target.bind === 'function' && typeof target.unbind === 'function') {
        target.bind(eventName, handler);
        return () => target.unbind(eventName, handler);
    }
    if (typeof target.on === 'function') {
        target.on(eventName, handler);
        return () => (target.off ? target.off(eventName, handler) : target.removeListener(eventName, handler));
    }
    if (typeof target.addEventListener === 'function') {
        target.addEventListener(eventName, handler);
        return () => target.removeEventListener(eventName, handler);
    }
    throw new TypeError('waitFor: not an emitter (pusher-js bind/unbind, EventEmitter or EventTarget)');
}

/**
 * The next `eventName` on a pusher-js object (client, channel, connection), an
 * EventEmitter or an EventTarget; resolves with the event's first argument
 * (pusher-js metadata, if any, is on the result of waitForWithMeta).
 */
export function waitFor(emitterOrChannel, eventName, timeoutMs = 3000) {
    return waitForWithMeta(emitterOrChannel, eventName, timeoutMs).then((r) => r.data);
}

/** Like waitFor but resolves { data, meta } (meta: pusher-js's second argument, e.g. { user_id }). */
export function waitForWithMeta(emitterOrChannel, eventName, timeoutMs = 3000) {
    return new Promise((resolve, reject) => {
        let off = () => {};
        const timer = setTimeout(() => {
            off();
            reject(new Error(`timed out after ${timeoutMs} ms waiting for "${eventName}"`));
        }, timeoutMs);
        off = subscribeTo(emitterOrChannel, eventName, (data, meta) => {
            clearTimeout(timer);
            off();
            resolve({ data, meta });
        });
    });
}

/** Resolves after ms if `eventName` does not fire; rejects if it does. */
export function expectNoEvent(emitterOrChannel, eventName, ms = 500) {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => { off(); resolve(); }, ms);
        const off = subscribeTo(emitterOrChannel, eventName, (data) => {
            clearTimeout(timer);
            off();
            reject(new Error(`unexpected "${eventName}": ${JSON.stringify(data)}`));
        });
    });
}

/** Wait until a pusher-js client is connected; resolves its socket_id. */
export async function waitConnected(client, timeoutMs = 5000) {
    if (client.connection.state !== 'connected') {
        await waitFor(client.connection, 'connected', timeoutMs);
    }
    return client.connection.socket_id;
}

/** Subscribe a pusher-js client and wait for success; rejects with the subscription_error data. */
export function subscribe(client, channelName, timeoutMs = 3000) {
    const channel = client.subscribe(channelName);
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => { done(); reject(new Error(`timed out subscribing to ${channelName}`)); }, timeoutMs);
        const ok = (data) => { done(); resolve(Object.assign(channel, { subscriptionData: data })); };
        const bad = (err) => {
            done();
            reject(Object.assign(new Error(`subscription_error on ${channelName}: ${JSON.stringify(err)}`), { data: err }));
        };
        function done() {
            clearTimeout(timer);
            channel.unbind('pusher:subscription_succeeded', ok);
            channel.unbind('pusher:subscription_error', bad);
        }
        channel.bind('pusher:subscription_succeeded', ok);
        channel.bind('pusher:subscription_error', bad);
    });
}

// ---------------------------------------------------------------------------
// Signed REST requests without the SDK (custom timestamp, secret, raw body).

/** Pusher REST signature query string for method/path/params/body. */
export function signQuery({ method, path: p, params = {}, body, key = APP.key, secret = APP.secret, timestamp }) {
    const q = {
        auth_key: key,
        auth_timestamp: timestamp ?? Math.floor(Date.now() / 1000),
        auth_version: '1.0',
        ...params,
    };
    if (body !== undefined && body !== null && body !== '') {
        q.body_md5 = createHash('md5').update(body).digest('hex');
    }
    const ordered = Object.keys(q).sort().map((k) => `${k}=${q[k]}`).join('&');
    const sig = createHmac('sha256', secret).update([method.toUpperCase(), p, ordered].join('\n')).digest('hex');
    return `${ordered}&auth_signature=${sig}`;
}

/** One HTTP request (no keep-alive); resolves { status, headers, text, json }. */
export function httpRequest(server, { method = 'GET', path: p = '/', headers = {}, body, timeoutMs = 5000 } = {}) {
    return new Promise((resolve, reject) => {
        const payload = body === undefined ? undefined : (Buffer.isBuffer(body) ? body : Buffer.from(body));
        const req = http.request({
            host: server.host,
            port: server.port,
            method,
            path: p,
            agent: false,
            timeout: timeoutMs,
            headers: {
                connection: 'close',
                ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
                ...headers,
            },
        }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
                const text = Buffer.concat(chunks).toString('utf8');
                let json;
                try { json = JSON.parse(text); } catch { json = undefined; }
                resolve({ status: res.statusCode, headers: res.headers, text, json });
            });
            res.on('error', reject);
        });
        req.on('timeout', () => req.destroy(new Error(`HTTP ${method} ${p} timed out`)));
        req.on('error', reject);
        if (payload) req.write(payload);
        req.end();
    });
}

/**
 * A signed REST call. path is relative to /apps/:appId (e.g. '/events'); body is an
 * object (JSON-encoded) or a raw string. Options: appId, key, secret, timestamp, params, headers.
 */
export function restRequest(server, {
    method = 'GET', path: sub, params = {}, body, appId = APP.id, key = APP.key, secret = APP.secret,
    timestamp, headers = {},
} = {}) {
    const p = `/apps/${appId}${sub}`;
    const raw = body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body));
    const qs = signQuery({ method, path: p, params, body: raw, key, secret, timestamp });
    return httpRequest(server, { method, path: `${p}?${qs}`, body: raw, headers });
}

// ---------------------------------------------------------------------------
// Raw WebSocket (RFC 6455) on a plain net.Socket.

export const OPCODES = Object.freeze({ CONT: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 });

/** Encode one frame. A client must mask; mask=false makes a protocol violation on purpose. */
export function encodeFrame({ opcode, payload = Buffer.alloc(0), mask = true, fin = true, rsv = 0, maskKey }) {
    const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
    const len = data.length;
    const b0 = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f);
    const m = mask ? 0x80 : 0;
    let header;
    if (len < 126) {
        header = Buffer.from([b0, m | len]);
    } else if (len < 65536) {
        header = Buffer.alloc(4);
        header[0] = b0; header[1] = m | 126; header.writeUInt16BE(len, 2);
    } else {
        header = Buffer.alloc(10);
        header[0] = b0; header[1] = m | 127; header.writeBigUInt64BE(BigInt(len), 2);
    }
    if (!mask) return Buffer.concat([header, data]);
    const key = maskKey ?? randomBytes(4);
    const out = Buffer.alloc(len);
    for (let i = 0; i < len; i++) out[i] = data[i] ^ key[i & 3];
    return Buffer.concat([header, key, out]);
}

/** Close-frame payload: 2-byte code + reason. */
export function closePayload(code, reason = '') {
    if (code === undefined || code === null) return Buffer.alloc(0);
    const b = Buffer.alloc(2);
    b.writeUInt16BE(code, 0);
    return Buffer.concat([b, Buffer.from(reason)]);
}

/** Incremental frame decoder: push(bytes) returns the complete frames so far. */
export class FrameDecoder {
    constructor() { this.buf = Buffer.alloc(0); }

    push(chunk) {
        this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
        const frames = [];
        for (;;) {
            const b = this.buf;
            if (b.length < 2) break;
            const fin = !!(b[0] & 0x80);
            const rsv = (b[0] >> 4) & 7;
            const opcode = b[0] & 0x0f;
            const masked = !!(b[1] & 0x80);
            let len = b[1] & 0x7f;
            let off = 2;
            if (len === 126) {
                if (b.length < 4) break;
                len = b.readUInt16BE(2); off = 4;
            } else if (len === 127) {
                if (b.length < 10) break;
                len = Number(b.readBigUInt64BE(2)); off = 10;
            }
            let key = null;
            if (masked) {
                if (b.length < off + 4) break;
                key = b.subarray(off, off + 4); off += 4;
            }
            if (b.length < off + len) break;
            let payload = Buffer.from(b.subarray(off, off + len));
            if (key) for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
            frames.push({ fin, rsv, opcode, masked, payload });
            this.buf = b.subarray(off + len);
        }
        return frames;
    }
}

class AsyncQueue {
    constructor(what) { this.what = what; this.items = []; this.waiters = []; this.endError = null; }

    push(x) {
        const w = this.waiters.shift();
        if (w) w.resolve(x); else this.items.push(x);
    }

    end(err) {
        if (this.endError) return;
        this.endError = err;
        for (const w of this.waiters.splice(0)) w.reject(err);
    }

    next(timeoutMs) {
        if (this.items.length) return Promise.resolve(this.items.shift());
        if (this.endError) return Promise.reject(this.endError);
        return new Promise((resolve, reject) => {
            const w = {
                resolve: (x) => { clearTimeout(timer); resolve(x); },
                reject: (e) => { clearTimeout(timer); reject(e); },
            };
            const timer = setTimeout(() => {
                const i = this.waiters.indexOf(w);
                if (i >= 0) this.waiters.splice(i, 1);
                reject(new Error(`timed out after ${timeoutMs} ms waiting for ${this.what}`));
            }, timeoutMs);
            this.waiters.push(w);
        });
    }
}

/**
 * Open a raw WebSocket: does the HTTP upgrade itself, then exposes
 *   sendFrame({opcode, payload, mask=true, fin=true, rsv=0}), sendRaw(buffer), send(objOrString),
 *   nextMessage(timeoutMs) => {opcode, data: Buffer, text, json}  (data messages, fragments reassembled),
 *   nextJson(timeoutMs) => parsed JSON of the next message,
 *   nextEvent(eventName, timeoutMs) => the next JSON message with that event (skips others),
 *   nextControl(timeoutMs) => {opcode, data} (ping/pong frames from the server),
 *   nextClose(timeoutMs) => {code, reason} (1005: empty close frame; 1006: TCP closed without one),
 *   closed (promise, resolves when the TCP connection is gone), close(code, reason), destroy().
 * A close frame from the server is answered with a close frame (opts.replyToClose=false to not).
 * A long-lived socket sets opts.keepFrames=false (frames is then left empty) and, once it has
 * what it awaited, assigns ws.onMessage = (message) => ...: later data messages go there
 * instead of the nextMessage() queue, so nothing accumulates.
 * Rejects with err.status/err.response if the server does not answer 101.
 */
export async function rawWs(server, wsPath = DEFAULT_WS_PATH, opts = {}) {
    const { headers = {}, timeoutMs = 5000, replyToClose = true, keepFrames = true } = opts;
    const sock = net.connect(server.port, server.host);
    sock.setNoDelay(true);
    rawSockets.add(sock);
    sock.on('close', () => rawSockets.delete(sock));
    const connectTimer = setTimeout(() => sock.destroy(new Error('connect timeout')), timeoutMs);
    try {
        await once(sock, 'connect');
    } finally {
        clearTimeout(connectTimer);
    }

    const key = randomBytes(16).toString('base64');
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    sock.write(`GET ${wsPath} HTTP/1.1\r\nHost: ${server.host}:${server.port}\r\nUpgrade: websocket\r\n`
        + `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`);

    // Read the handshake response.
    const { head, rest } = await new Promise((resolve, reject) => {
        let buf = Buffer.alloc(0);
        const timer = setTimeout(() => { cleanupListeners(); sock.destroy(); reject(new Error('handshake timeout')); }, timeoutMs);
        const onData = (chunk) => {
            buf = Buffer.concat([buf, chunk]);
            const i = buf.indexOf('\r\n\r\n');
            if (i >= 0) {
                cleanupListeners();
                resolve({ head: buf.subarray(0, i).toString('latin1'), rest: buf.subarray(i + 4) });
            }
        };
        const onEnd = () => {
            cleanupListeners();
            const err = new Error(`connection closed during handshake: ${JSON.stringify(buf.toString('latin1'))}`);
            err.response = buf.toString('latin1');
            err.status = Number((/^HTTP\/1\.\d (\d{3})/.exec(err.response) || [])[1]) || null;
            reject(err);
        };
        function cleanupListeners() {
            clearTimeout(timer);
            sock.off('data', onData); sock.off('end', onEnd); sock.off('close', onEnd); sock.off('error', onEnd);
        }
        sock.on('data', onData); sock.on('end', onEnd); sock.on('close', onEnd); sock.on('error', onEnd);
    });
    const statusMatch = /^HTTP\/1\.1 (\d{3})/.exec(head);
    const status = statusMatch ? Number(statusMatch[1]) : null;
    if (status !== 101) {
        sock.destroy();
        const err = new Error(`WebSocket handshake answered ${status}: ${head.split('\r\n')[0]}`);
        err.status = status;
        err.response = head;
        throw err;
    }
    const expectAccept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    const acceptLine = head.split('\r\n').find((l) => /^sec-websocket-accept:/i.test(l));
    if (!acceptLine || acceptLine.split(':')[1].trim() !== expectAccept) {
        sock.destroy();
        throw new Error(`bad Sec-WebSocket-Accept in handshake:\n${head}`);
    }

    const messages = new AsyncQueue('a WebSocket message');
    const controls = new AsyncQueue('a control frame');
    const closes = new AsyncQueue('a close frame');
    const decoder = new FrameDecoder();
    let fragments = null;
    let closeInfo = null;
    let sentClose = false;

    const ws = {
        socket: sock,
        handshake: head,
        frames: [], // every frame received, in order
        closeInfo: () => closeInfo,
        sendRaw(buf) { if (!sock.destroyed) sock.write(buf); },
        sendFrame(frame) { ws.sendRaw(encodeFrame(frame)); },
        send(msg) { ws.sendFrame({ opcode: OPCODES.TEXT, payload: typeof msg === 'string' ? msg : JSON.stringify(msg) }); },
        ping(payload = '') { ws.sendFrame({ opcode: OPCODES.PING, payload }); },
        nextMessage: (t = 3000) => messages.next(t),
        async nextJson(t = 3000) {
            const m = await messages.next(t);
            if (m.json === undefined) throw new Error(`message is not JSON: ${m.text}`);
            return m.json;
        },
        async nextEvent(eventName, t = 3000) {
            const deadline = Date.now() + t;
            for (;;) {
                const m = await messages.next(Math.max(1, deadline - Date.now()));
                if (m.json && m.json.event === eventName) return m.json;
            }
        },
        nextControl: (t = 3000) => controls.next(t),
        nextClose: (t = 3000) => closes.next(t),
        closed: null,
        onMessage: null,
        close(code = 1000, reason = '') {
            if (!sentClose && !sock.destroyed) {
                sentClose = true;
                ws.sendFrame({ opcode: OPCODES.CLOSE, payload: closePayload(code, reason) });
            }
            return ws.closed;
        },
        destroy() { sock.destroy(); },
    };
    ws.closed = new Promise((resolve) => sock.on('close', () => resolve(closeInfo)));

    const onFrame = (f) => {
        if (keepFrames) ws.frames.push(f);
        if (f.opcode >= 8) {
            if (f.opcode === OPCODES.CLOSE) {
                const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
                const reason = f.payload.length > 2 ? f.payload.subarray(2).toString('utf8') : '';
                if (!closeInfo) {
                    closeInfo = { code, reason };
                    closes.push(closeInfo);
                }
                if (replyToClose && !sentClose && !sock.destroyed) {
                    sentClose = true;
                    sock.write(encodeFrame({ opcode: OPCODES.CLOSE, payload: f.payload.subarray(0, 2) }));
                }
            } else {
                controls.push({ opcode: f.opcode, data: f.payload });
            }
            return;
        }
        if (f.opcode !== OPCODES.CONT) fragments = { opcode: f.opcode, parts: [] };
        if (!fragments) return; // stray continuation: ignore
        fragments.parts.push(f.payload);
        if (!f.fin) return;
        const data = Buffer.concat(fragments.parts);
        const text = data.toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        const message = { opcode: fragments.opcode, data, text, json };
        fragments = null;
        if (ws.onMessage) ws.onMessage(message); else messages.push(message);
    };
    sock.on('data', (chunk) => { for (const f of decoder.push(chunk)) onFrame(f); });
    sock.on('error', () => { /* surfaces as close */ });
    sock.on('close', () => {
        if (!closeInfo) {
            closeInfo = { code: 1006, reason: '' };
            closes.push(closeInfo);
        }
        const err = new Error(`WebSocket closed (${closeInfo.code} ${closeInfo.reason})`);
        messages.end(err);
        controls.end(err);
        closes.end(err);
    });
    if (rest.length) for (const f of decoder.push(rest)) onFrame(f);
    return ws;
}

/** A raw WebSocket that has received pusher:connection_established; resolves [ws, socketId]. */
export async function rawPusher(server, wsPath = DEFAULT_WS_PATH, opts = {}) {
    const ws = await rawWs(server, wsPath, opts);
    const m = await ws.nextEvent('pusher:connection_established', opts.timeoutMs ?? 3000);
    const data = JSON.parse(m.data);
    ws.socketId = data.socket_id;
    return ws;
}

// ---------------------------------------------------------------------------
// Raw HTTP.

/**
 * Parse one or more HTTP/1.1 responses from bytes: [{ status, reason, headers (lower-case), body }].
 * Bodies by Content-Length, chunked encoding, or (last response) until the end.
 */
export function parseHttpResponses(buf) {
    const out = [];
    let b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf, 'latin1');
    while (b.length) {
        const i = b.indexOf('\r\n\r\n');
        if (i < 0) break;
        const lines = b.subarray(0, i).toString('latin1').split('\r\n');
        const m = /^HTTP\/1\.\d (\d{3}) ?(.*)$/.exec(lines[0]);
        if (!m) break;
        const headers = {};
        for (const line of lines.slice(1)) {
            const c = line.indexOf(':');
            if (c > 0) headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
        }
        let rest = b.subarray(i + 4);
        let body;
        if (headers['content-length'] !== undefined) {
            const n = Number(headers['content-length']);
            body = rest.subarray(0, n); rest = rest.subarray(n);
        } else if (/chunked/i.test(headers['transfer-encoding'] || '')) {
            const parts = [];
            for (;;) {
                const e = rest.indexOf('\r\n');
                if (e < 0) { rest = Buffer.alloc(0); break; }
                const n = parseInt(rest.subarray(0, e).toString('latin1'), 16);
                rest = rest.subarray(e + 2);
                if (!n) { const t = rest.indexOf('\r\n'); rest = t >= 0 ? rest.subarray(t + 2) : Buffer.alloc(0); break; }
                parts.push(rest.subarray(0, n)); rest = rest.subarray(n + 2);
            }
            body = Buffer.concat(parts);
        } else if (Number(m[1]) === 204 || Number(m[1]) === 304 || Number(m[1]) < 200) {
            body = Buffer.alloc(0);
        } else {
            body = rest; rest = Buffer.alloc(0);
        }
        out.push({ status: Number(m[1]), reason: m[2], headers, body: body.toString('utf8') });
        b = rest;
    }
    return out;
}

/**
 * Send raw bytes on a fresh connection and collect what comes back until the server
 * closes or nothing arrives for idleMs. `bytes` may be an array of chunks, written
 * delayMs apart. Resolves { raw: Buffer, text, responses: parseHttpResponses(raw), closed }.
 */
export function rawHttp(server, bytes, { idleMs = 500, delayMs = 100, timeoutMs = 8000 } = {}) {
    const chunks = Array.isArray(bytes) ? bytes : [bytes];
    return new Promise((resolve, reject) => {
        const sock = net.connect(server.port, server.host);
        sock.setNoDelay(true);
        rawSockets.add(sock);
        const got = [];
        let closed = false;
        let writing = true;
        let idleTimer = null;
        const hardTimer = setTimeout(finish, timeoutMs);
        function armIdle() {
            clearTimeout(idleTimer);
            if (!writing) idleTimer = setTimeout(finish, idleMs);
        }
        function finish() {
            clearTimeout(idleTimer);
            clearTimeout(hardTimer);
            rawSockets.delete(sock);
            sock.destroy();
            const raw = Buffer.concat(got);
            resolve({ raw, text: raw.toString('latin1'), responses: parseHttpResponses(raw), closed });
        }
        sock.on('data', (c) => { got.push(c); armIdle(); });
        sock.on('error', () => { /* e.g. ECONNRESET: report what we got */ });
        sock.on('close', () => { closed = true; finish(); });
        sock.on('connect', async () => {
            try {
                for (let i = 0; i < chunks.length; i++) {
                    if (i > 0) await sleep(delayMs);
                    if (sock.destroyed) break;
                    sock.write(Buffer.isBuffer(chunks[i]) ? chunks[i] : Buffer.from(chunks[i], 'latin1'));
                }
            } catch (e) {
                reject(e);
            }
            writing = false;
            armIdle();
        });
    });
}

// ---------------------------------------------------------------------------

/**
 * Disconnect every client and raw socket this module made, stop every daemon
 * still running (SIGTERM, so a sanitizer build gets to report leaks at exit;
 * SIGKILL after 5 s) and kill every redis-server and nats-server still running. Then throws if
 * any daemon of this file printed a sanitizer report.
 */
export async function cleanup() {
    for (const c of [...clients]) disconnect(c);
    for (const s of rawSockets) s.destroy();
    rawSockets.clear();
    await Promise.all([...servers].map((s) => s.stop('SIGTERM', 5000)));
    // throw-away servers a failed test left running would keep this process alive
    for (const p of serverProcs) {
        try { p.kill('SIGKILL'); } catch { /* already gone */ }
    }
    const reports = started.filter((s) => SANITIZER_REPORT.test(s.output()));
    started.length = 0;
    if (reports.length) {
        throw new Error(`sanitizer report(s) from ${reports.length} daemon(s):\n`
            + reports.map((s) => `--- port ${s.port} ---\n${s.output().slice(-4000)}`).join('\n'));
    }
}


// ---------------------------------------------------------------------------
// A throw-away Redis server for the redis adapter tests.

/** Reads one RESP reply from buf at i; returns [value, next] or null when incomplete. */
export function parseResp(buf, i = 0) {
    const eol = buf.indexOf('\r\n', i);
    if (eol < 0) return null;
    const type = String.fromCharCode(buf[i]);
    const line = buf.toString('utf8', i + 1, eol);
    if (type === '+') return [line, eol + 2];
    if (type === '-') return [new Error(line), eol + 2];
    if (type === ':') return [Number(line), eol + 2];
    if (type === '$') {
        const n = Number(line);
        if (n < 0) return [null, eol + 2];
        if (buf.length < eol + 2 + n + 2) return null;
        return [buf.toString('utf8', eol + 2, eol + 2 + n), eol + 2 + n + 2];
    }
    if (type === '*') {
        const n = Number(line);
        const out = [];
        let at = eol + 2;
        for (let k = 0; k < n; k++) {
            const r = parseResp(buf, at);
            if (!r) return null;
            out.push(r[0]);
            at = r[1];
        }
        return [n < 0 ? null : out, at];
    }
    throw new Error(`bad RESP reply: ${buf.toString('latin1', i, Math.min(buf.length, i + 80))}`);
}

/** The redis-server and nats-server processes this module started, killed at exit. */
const serverProcs = new Set();
process.on('exit', () => {
    for (const p of serverProcs) {
        try { p.kill('SIGKILL'); } catch { /* already gone */ }
    }
});

/** Resolves true when port can be bound on 127.0.0.1 right now. */
function bindable(port) {
    return new Promise((resolve) => {
        const srv = net.createServer();
        srv.unref();
        srv.on('error', () => resolve(false));
        srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
}

/**
 * A port for a redis-server, nats-server, mariadbd or postgres that no other process's
 * bind(0) hands out: below the kernel's ephemeral range. Tests stop such a server while
 * daemons keep reconnecting to its port; a test file running beside them must not get that
 * port for its own server (its daemons would then join the other file's cluster), and vice
 * versa.
 */
export async function stablePort() {
    let low = 32768;
    try {
        low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
    } catch { /* not Linux: any port below the usual range */ }
    if (low < 12000) return freePort();
    for (;;) {
        const port = 10000 + Math.floor(Math.random() * (low - 10000));
        if (await bindable(port)) return port;
    }
}

/**
 * Start `redis-server` on a port of stablePort() (or `port`), without persistence, and wait until it
 * answers PING. With start: false only the port is chosen (start it later with start()).
 * Resolves { port, start(), stop(), restart(), command(...args) }: command sends one
 * command on a fresh connection and resolves the reply (errors as Error values).
 * args: more redis-server arguments (startRedisCluster's cluster options).
 * Every server is killed when the test process exits.
 */
export async function startRedis({ port, start = true, bin = process.env.REDIS_SERVER || 'redis-server', args = [] } = {}) {
    port = port ?? await stablePort();
    let proc = null;
    let exited = null;
    let output = '';

    const command = (...args) => new Promise((resolve, reject) => {
        const sock = net.connect(port, '127.0.0.1');
        let buf = Buffer.alloc(0);
        const timer = setTimeout(() => { sock.destroy(); reject(new Error(`redis ${args[0]}: timed out`)); }, 3000);
        sock.on('connect', () => {
            sock.write(`*${args.length}\r\n${args.map((a) => {
                const b = Buffer.from(String(a));
                return `$${b.length}\r\n${b.toString('latin1')}\r\n`;
            }).join('')}`, 'latin1');
        });
        sock.on('data', (d) => {
            buf = Buffer.concat([buf, d]);
            const r = parseResp(buf);
            if (r) { clearTimeout(timer); sock.destroy(); resolve(r[0]); }
        });
        sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    });

    const r = {
        port,
        output: () => output,
        async start() {
            if (proc && !exited.done) return;
            proc = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args],
                { stdio: ['ignore', 'pipe', 'pipe'] });
            const state = { done: false };
            exited = state;
            serverProcs.add(proc);
            const p = proc;
            state.promise = new Promise((resolve) => p.on('exit', () => { state.done = true; serverProcs.delete(p); resolve(); }));
            proc.on('error', (e) => { output += `spawn error: ${e.message}\n`; });
            proc.stdout.on('data', (d) => { output += d; });
            proc.stderr.on('data', (d) => { output += d; });
            const deadline = Date.now() + 5000;
            for (;;) {
                if (state.done) throw new Error(`redis-server exited on port ${port}:\n${output}`);
                try { if (await command('PING') === 'PONG') return; } catch { /* not yet */ }
                if (Date.now() > deadline) throw new Error(`redis-server not ready on port ${port}:\n${output}`);
                await sleep(20);
            }
        },
        async stop(signal = 'SIGKILL') {
            if (!proc || exited.done) return;
            try { proc.kill(signal); } catch { /* gone */ }
            await exited.promise;
        },
        async restart() {
            await r.stop();
            await r.start();
        },
        command,
    };
    if (start) await r.start();
    return r;
}

// ---------------------------------------------------------------------------
// TLS: a daemon serving wss:// and https://, and a raw WebSocket over TLS.

/** A self-signed certificate for 127.0.0.1 made with the openssl command, in a fresh
 *  temporary directory: resolves { dir, cert, key } (paths). passphrase: encrypt the key. */
export async function makeCert({ passphrase, days = 2 } = {}) {
    const { execFileSync } = await import('node:child_process');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soketi-tls-'));
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-days', String(days),
        '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert,
        ...(passphrase ? ['-passout', `pass:${passphrase}`] : ['-nodes'])], { stdio: 'ignore' });
    return { dir, cert, key };
}

/** The bytes of a real TLS ClientHello, as node's tls module writes it: resolves a Buffer to
 *  replay on raw sockets (a handshake begun and never finished). */
export async function captureClientHello() {
    const { Duplex } = await import('node:stream');
    const tls = await import('node:tls');
    return new Promise((resolve) => {
        const sink = new Duplex({ read() {}, write(chunk, enc, cb) { resolve(Buffer.from(chunk)); cb(); } });
        tls.connect({ socket: sink, rejectUnauthorized: false }).on('error', () => {});
    });
}

/**
 * Like startServer, for a TLS daemon: env holds SOKETI_SSL_* (or config ssl.*), ca is the PEM
 * text to trust. Waits until GET https://127.0.0.1:port/ready answers OK; the server object
 * also has `ca` and `https(path)` (resolves { status, body }). Stopped by cleanup() too.
 */
export async function startTlsServer({ env = {}, config = null, ca, readyTimeoutMs = 10000 } = {}) {
    const https = await import('node:https');
    const get = (port, p) => new Promise((resolve) => {
        const req = https.get({ host: '127.0.0.1', port, path: p, ca, agent: false, timeout: 2000 }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c) => { body += c; });
            res.on('end', () => resolve({ status: res.statusCode, body }));
            res.on('error', () => resolve(null));
        });
        req.on('timeout', () => { req.destroy(); resolve(null); });
        req.on('error', () => resolve(null));
    });
    const server = await startServer({ env, config, readyTimeoutMs, reference: false, scheme: 'https', probe: get });
    server.ca = ca;
    server.https = (p) => get(server.port, p);
    return server;
}

/** Resident memory of process pid in KiB (Linux /proc). */
export function rssKiB(pid) {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
}

/** True when $SOKETI_BIN is a sanitizer build: ASan's quarantine keeps freed memory resident,
 *  so RSS bounds are checked on ordinary builds only. */
export const SANITIZED = !REFERENCE && !!process.env.SOKETI_BIN && fs.existsSync(process.env.SOKETI_BIN)
    && fs.readFileSync(process.env.SOKETI_BIN).includes('AddressSanitizer');

/**
 * Opens n WebSocket connections to server that stay idle (the upgrade request is sent, every
 * answer read and dropped), 250 at a time; resolves the sockets (destroy them when done).
 */
export async function idleConnections(server, n) {
    const sockets = [];
    for (let i = 0; i < n; i += 250) {
        await Promise.all(Array.from({ length: Math.min(250, n - i) }, () => new Promise((resolve, reject) => {
            const s = net.connect(server.port, server.host, () => {
                s.write(`GET ${DEFAULT_WS_PATH} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n`
                    + 'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
                    + 'Sec-WebSocket-Version: 13\r\n\r\n');
            });
            s.once('data', () => resolve());
            s.on('data', () => {});
            s.on('error', reject);
            sockets.push(s);
        })));
    }
    return sockets;
}

/** CPU clock ticks (user + system) process pid has used so far (Linux /proc). */
export function cpuTicks(pid) {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(fields[11]) + Number(fields[12]);
}


// ---------------------------------------------------------------------------
// A local HTTP endpoint that receives webhooks.

/**
 * Start an HTTP server on 127.0.0.1 that records every request. respond(req, i) decides the
 * answer to the i-th request: a status number (default 200), or 'hang' to never answer.
 * Resolves { url, port, requests: [{ method, url, headers, rawBody, json }], next(timeoutMs),
 * waitFor(predicate, timeoutMs), close() }. A file that starts receivers calls
 * after(closeWebhookReceivers) (a receiver keeps the test process alive until closed).
 */
export async function startWebhookReceiver({ respond = () => 200 } = {}) {
    const requests = [];
    const waiters = [];
    const hanging = new Set();
    const srv = http.createServer((req, res) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
            const rawBody = Buffer.concat(chunks).toString('utf8');
            let json;
            try { json = JSON.parse(rawBody); } catch { json = undefined; }
            const r = { method: req.method, url: req.url, headers: req.headers, rawBody, json };
            const i = requests.length;
            requests.push(r);
            const answer = respond(r, i);
            if (answer === 'hang') {
                hanging.add(res);
            } else {
                res.writeHead(answer ?? 200, { 'content-type': 'application/json' });
                res.end('{}');
            }
            for (const w of [...waiters]) w();
        });
    });
    srv.keepAliveTimeout = 60000;
    await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const { port } = srv.address();
    let seen = 0;
    const receiver = {
        port,
        url: `http://127.0.0.1:${port}/webhooks`,
        requests,
        /** Resolves when predicate(requests) is truthy (checked on every request). */
        waitFor(predicate, timeoutMs = 5000) {
            return new Promise((resolve, reject) => {
                const check = () => {
                    const v = predicate(requests);
                    if (!v) return false;
                    clearTimeout(timer);
                    waiters.splice(waiters.indexOf(check), 1);
                    resolve(v);
                    return true;
                };
                const timer = setTimeout(() => {
                    waiters.splice(waiters.indexOf(check), 1);
                    reject(new Error(`webhook receiver: timed out after ${timeoutMs} ms (${requests.length} request(s))`));
                }, timeoutMs);
                waiters.push(check);
                check();
            });
        },
        /** The next request not returned by next() before. */
        async next(timeoutMs = 5000) {
            const want = seen + 1;
            await receiver.waitFor((rs) => rs.length >= want, timeoutMs);
            return requests[seen++];
        },
        close() {
            receivers.delete(receiver);
            for (const res of hanging) res.destroy();
            hanging.clear();
            srv.closeAllConnections?.();
            return new Promise((resolve) => srv.close(() => resolve()));
        },
    };
    receivers.add(receiver);
    return receiver;
}

const receivers = new Set();

/** Closes every webhook receiver this module started. */
export async function closeWebhookReceivers() {
    await Promise.all([...receivers].map((r) => r.close()));
    receivers.clear();
}

// ---------------------------------------------------------------------------
// Webhooks counted across the nodes of a cluster (the redis and nats shared-state tests).
// `hooks` is { receiver, rest }: the receiver of webhookSetup() and a `pusher` SDK to
// validate what it received.

/** How long a second, duplicate webhook is given to show up. */
export const WEBHOOK_SETTLE_MS = 1500;

/** A webhook receiver of the occupancy and presence events, and the env that points an
 *  app's webhooks at it. Resolves { receiver, env }. */
export async function webhookSetup() {
    const receiver = await startWebhookReceiver();
    const types = ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed'];
    return { receiver, env: { SOKETI_DEFAULT_APP_WEBHOOKS: JSON.stringify([{ url: receiver.url, event_types: types }]) } };
}

/** Checks a received webhook with the official SDK (as webhooks.test.mjs) and returns its events. */
function validEvents(rest, req) {
    const hook = rest.webhook({ headers: req.headers, rawBody: req.rawBody });
    assert.equal(hook.isValid(), true, `signature of ${req.rawBody}`);
    assert.equal(req.headers['x-pusher-key'], APP.key);
    return hook.getEvents();
}

/** Webhook events received so far (every request validated), optionally only those on channel. */
export function webhookEvents(hooks, channel) {
    const all = hooks.receiver.requests.flatMap((r) => validEvents(hooks.rest, r));
    return channel ? all.filter((e) => e.channel === channel) : all;
}

/** The events on channel as one line, for assertion messages. */
export const webhookSummary = (hooks, channel) => JSON.stringify(webhookEvents(hooks, channel)
    .map((e) => `${e.name}${e.user_id ? `(${e.user_id})` : ''}`));

/** How many `name` events on channel (for userId) were received. */
export function webhookCount(hooks, channel, name, userId) {
    return webhookEvents(hooks, channel).filter((e) => e.name === name && (userId === undefined || e.user_id === userId)).length;
}

/** Waits until `name` on channel (for userId) has been received n times in total, then
 *  WEBHOOK_SETTLE_MS more, and checks it is still exactly n. */
export async function expectWebhooks(hooks, channel, name, n, { userId, timeoutMs = 5000 } = {}) {
    const what = `${name}${userId ? ` for ${userId}` : ''} on ${channel}`;
    await hooks.receiver.waitFor(() => webhookCount(hooks, channel, name, userId) >= n, timeoutMs).catch(() => {
        assert.fail(`timed out waiting for ${n} ${what}; received on ${channel}: ${webhookSummary(hooks, channel)}`);
    });
    await sleep(WEBHOOK_SETTLE_MS);
    assert.equal(webhookCount(hooks, channel, name, userId), n, `exactly ${n} ${what}; received: ${webhookSummary(hooks, channel)}`);
}

/** pusher-js options of a presence member `id` (its info: { id }). */
export const presenceMember = (id) => ({ presenceData: { user_id: id, user_info: { id } } });

/** A connected pusher-js client on srv. */
export async function connectedClient(srv, opts) {
    const c = pusherClient(srv, opts);
    await waitConnected(c);
    return c;
}

/** Two nodes subscribe to three channels at the same moment: one channel_occupied each;
 *  both connections close at once: one channel_vacated each. cl is { a, b }. */
export async function checkWebhookRace(cl, hooks) {
    const chans = ['shared-race-1', 'shared-race-2', 'shared-race-3'];
    const onA = await connectedClient(cl.a);
    const onB = await connectedClient(cl.b);
    await Promise.all(chans.flatMap((ch) => [subscribe(onA, ch), subscribe(onB, ch)]));
    await until(() => chans.every((ch) => webhookCount(hooks, ch, 'channel_occupied') >= 1), 5000, 'an occupied per channel');
    await sleep(WEBHOOK_SETTLE_MS);
    for (const ch of chans) assert.equal(webhookCount(hooks, ch, 'channel_occupied'), 1, `${ch}: ${webhookSummary(hooks, ch)}`);
    // both connections close at once (every channel of each leaves with it)
    disconnect(onA);
    disconnect(onB);
    await until(() => chans.every((ch) => webhookCount(hooks, ch, 'channel_vacated') >= 1), 5000, 'a vacated per channel');
    await sleep(WEBHOOK_SETTLE_MS);
    for (const ch of chans) assert.equal(webhookCount(hooks, ch, 'channel_vacated'), 1, `${ch}: ${webhookSummary(hooks, ch)}`);
}

/** presence: member_added once per user across nodes, member_removed when its last socket
 *  anywhere leaves, channel_vacated with the last member. cl is { a, b }. */
export async function checkPresenceWebhooks(cl, hooks) {
    const ch = 'presence-shared';
    const u1a = await connectedClient(cl.a, presenceMember('u1'));
    const u1b = await connectedClient(cl.b, presenceMember('u1'));
    const u2b = await connectedClient(cl.b, presenceMember('u2'));
    await subscribe(u1a, ch);
    await hooks.receiver.waitFor(() => webhookCount(hooks, ch, 'member_added', 'u1') >= 1, 5000);
    await subscribe(u1b, ch); // u1's second socket, on the other node
    await expectWebhooks(hooks, ch, 'member_added', 1, { userId: 'u1' });
    await subscribe(u2b, ch);
    await expectWebhooks(hooks, ch, 'member_added', 1, { userId: 'u2' });
    assert.equal(webhookCount(hooks, ch, 'channel_occupied'), 1, `one occupied: ${webhookSummary(hooks, ch)}`);
    disconnect(u1a); // u1 is still on B
    await sleep(WEBHOOK_SETTLE_MS);
    assert.equal(webhookCount(hooks, ch, 'member_removed'), 0, `u1 still on B: ${webhookSummary(hooks, ch)}`);
    disconnect(u1b);
    await expectWebhooks(hooks, ch, 'member_removed', 1, { userId: 'u1' });
    assert.equal(webhookCount(hooks, ch, 'member_removed', 'u2'), 0);
    assert.equal(webhookCount(hooks, ch, 'channel_vacated'), 0, 'u2 still holds the channel');
    disconnect(u2b);
    await expectWebhooks(hooks, ch, 'member_removed', 1, { userId: 'u2' });
    assert.equal(webhookCount(hooks, ch, 'channel_vacated'), 1, webhookSummary(hooks, ch));
}

// ---------------------------------------------------------------------------
// Several daemons as one server (the redis and redis-cluster adapter tests).

/** Resolves when pred() is truthy; polls every 20 ms; rejects with what after timeoutMs. */
export async function until(pred, timeoutMs = 3000, what = 'condition') {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        if (await pred()) return;
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await sleep(20);
    }
}

/** A pusher-js client on srv subscribed to channel; its events named `event` are collected in .got. */
export async function listener(srv, channel, event, opts = {}) {
    const client = pusherClient(srv, opts);
    const ch = await subscribe(client, channel);
    const got = [];
    ch.bind(event, (d) => got.push(d));
    return { client, ch, got, socketId: client.connection.socket_id };
}

/** Waits until every listener got one event, then a little longer, and checks it stayed one. */
export async function expectExactlyOnce(listeners, data, timeoutMs = 3000) {
    await until(() => listeners.every((l) => l.got.length >= 1), timeoutMs, 'the event on every node');
    await sleep(300);
    for (const l of listeners) assert.deepEqual(l.got, [data]);
}

/** Sockets and presence members on nodes a and b: GET /channels and /channels/:c on either
 *  node sum both (answered before timeoutMs, so by every node rather than by the timeout),
 *  user_count counts a user on both nodes once (soketi 1.6: twice), filter_by_prefix works. */
export async function checkCountsAcrossNodes(a, b, timeoutMs) {
    await listener(a, 'count-ch', 'x');
    await listener(a, 'count-ch', 'x');
    await listener(b, 'count-ch', 'x');
    await listener(b, 'only-b', 'x');
    const member = (id) => ({ presenceData: { user_id: id, user_info: {} } });
    await listener(a, 'presence-room', 'x', member('alice'));
    await listener(b, 'presence-room', 'x', member('alice'));
    await listener(b, 'presence-room', 'x', member('bob'));

    const expected = {
        'count-ch': { subscription_count: 3, occupied: true },
        'only-b': { subscription_count: 1, occupied: true },
        'presence-room': { subscription_count: 3, occupied: true },
    };
    for (const srv of [a, b]) {
        const started = Date.now();
        assert.deepEqual(await channelsOf(srv), expected);
        assert.ok(Date.now() - started < timeoutMs, 'answered by every node, not by the timeout');
        const one = await restRequest(srv, { path: '/channels/count-ch' });
        assert.deepEqual(one.json, { subscription_count: 3, occupied: true });
        const p = await restRequest(srv, { path: '/channels/presence-room' });
        // soketi 1.6 sums each node's member count, counting alice twice
        assert.deepEqual(p.json, { subscription_count: 3, occupied: true, user_count: REFERENCE ? 3 : 2 });
    }
    const filtered = await restRequest(a, { path: '/channels', params: { filter_by_prefix: 'only' } });
    assert.deepEqual(filtered.json.channels, { 'only-b': { subscription_count: 1, occupied: true } });
    if (REFERENCE) return; // soketi 1.6 ignores info on /channels and on events
    // Pusher's info: cluster-wide counts in the channel list and in an event's answer
    const pres = await restRequest(b, { path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } });
    assert.deepEqual(pres.json.channels, { 'presence-room': { subscription_count: 3, occupied: true, user_count: 2 } });
    const trig = await restRequest(a, {
        method: 'POST', path: '/events',
        body: { name: 'i', channels: ['count-ch', 'presence-room'], data: '{}', info: 'subscription_count,user_count' },
    });
    assert.deepEqual(trig.json, {
        ok: true,
        channels: { 'count-ch': { subscription_count: 3 }, 'presence-room': { user_count: 2, subscription_count: 3 } },
    });
}

/** presence across nodes a and b: members of both, member_added for a user's first socket in
 *  the cluster, member_removed for its last. */
export async function checkPresenceAcrossNodes(a, b) {
    const user = (srv, id, info) => pusherClient(srv, { presenceData: { user_id: id, user_info: info } });

    const alice1 = user(a, 'alice', { name: 'Alice' });
    const a1 = await subscribe(alice1, 'presence-p');
    assert.equal(a1.members.count, 1);

    const bobAdded = waitFor(a1, 'pusher:member_added');
    const bob = user(b, 'bob', { name: 'Bob' });
    const bc = await subscribe(bob, 'presence-p');
    assert.equal(bc.members.count, 2);
    assert.deepEqual(bc.members.get('alice'), { id: 'alice', info: { name: 'Alice' } });
    assert.deepEqual(await bobAdded, { id: 'bob', info: { name: 'Bob' } });

    // alice's second socket, on the other node: nobody is told she joined
    const noAddBob = expectNoEvent(bc, 'pusher:member_added', 600);
    const noAddAlice = expectNoEvent(a1, 'pusher:member_added', 600);
    const alice2 = user(b, 'alice', { name: 'Alice' });
    const a2 = await subscribe(alice2, 'presence-p');
    assert.equal(a2.members.count, 2);
    await Promise.all([noAddBob, noAddAlice]);

    // her socket on B leaves: she is still on A
    const noRemove = expectNoEvent(bc, 'pusher:member_removed', 600);
    disconnect(alice2);
    await noRemove;

    // her last socket leaves: B's bob is told
    const removed = waitFor(bc, 'pusher:member_removed');
    disconnect(alice1);
    assert.deepEqual(await removed, { id: 'alice', info: { name: 'Alice' } });
    assert.equal(bc.members.count, 1);
}

/** One raw connection on srv joins n presence channels `${prefix}${i}` as user `u`, then
 *  GET /channels?filter_by_prefix=<prefix>&info=user_count lists each with user_count 1
 *  (more channels than a counting keeps in flight at once). Resolves the connection. */
export async function checkUserCountList(srv, prefix, n = 70) {
    const ws = await rawPusher(srv);
    const signer = pusherRest(srv);
    for (let i = 0; i < n; i++) {
        const auth = signer.authorizeChannel(ws.socketId, `${prefix}${i}`, { user_id: 'u', user_info: {} });
        ws.send({ event: 'pusher:subscribe', data: { channel: `${prefix}${i}`, ...auth } });
        assert.equal((await ws.nextEvent('pusher_internal:subscription_succeeded')).channel, `${prefix}${i}`);
    }
    const res = await restRequest(srv, { path: '/channels', params: { filter_by_prefix: prefix, info: 'user_count' } });
    assert.equal(res.status, 200, res.text);
    assert.equal(Object.keys(res.json.channels).length, n);
    for (let i = 0; i < n; i++)
        assert.deepEqual(res.json.channels[`${prefix}${i}`], { subscription_count: 1, occupied: true, user_count: 1 });
    return ws;
}

/** GET /channels on srv (signed), expecting 200: its `channels` object. */
export async function channelsOf(srv) {
    const res = await restRequest(srv, { path: '/channels' });
    assert.equal(res.status, 200, res.text);
    return res.json.channels;
}

/** A user signed in on node a and node b (both with user authentication on, as soketi
 *  needs): POST /users/<id>/terminate_connections to a closes both sockets (4009), and a
 *  bystander on b stays. */
export async function checkTerminateAcrossNodes(a, b) {
    const rest = pusherRest(a);
    const signin = async (srv, id) => {
        const ws = await rawPusher(srv);
        ws.send({ event: 'pusher:signin', data: rest.authenticateUser(ws.socketId, { id }) });
        assert.equal((await ws.nextJson()).event, 'pusher:signin_success');
        return ws;
    };
    const onA = await signin(a, 'target');
    const onB = await signin(b, 'target');
    const bystander = await signin(b, 'bystander');
    const res = await restRequest(a, { method: 'POST', path: '/users/target/terminate_connections', body: {} });
    assert.equal(res.status, 200);
    for (const ws of [onA, onB]) {
        assert.deepEqual(await ws.nextJson(), {
            event: 'pusher:error', data: { code: 4009, message: 'You got disconnected by the app.' },
        });
        assert.equal((await ws.nextClose()).code, 4009);
    }
    bystander.send({ event: 'pusher:ping', data: {} });
    assert.equal((await bystander.nextJson()).event, 'pusher:pong');
    bystander.destroy();
}

/**
 * What a mixed cluster of one soketi-c node (ours) and one soketi 1.6 node (theirs) must do
 * both ways, on whatever adapter joins them (both started with client events and user
 * authentication on): events and client events cross, a soketi socket is excluded by
 * soketi-c, counts, presence members and /users span both, terminate_connections closes on
 * the other node.
 */
export async function checkMixedCluster(ours, theirs) {
    // events both ways
    const x = await listener(ours, 'mixed', 'ev');
    const y = await listener(theirs, 'mixed', 'ev');
    await pusherRest(theirs).trigger('mixed', 'ev', { from: 'soketi' });
    await expectExactlyOnce([x, y], { from: 'soketi' });
    await pusherRest(ours).trigger('mixed', 'ev', { from: 'soketi-c' });
    await until(() => x.got.length === 2 && y.got.length === 2, 3000, 'the soketi-c event on both');
    await sleep(300);
    assert.deepEqual(y.got, [{ from: 'soketi' }, { from: 'soketi-c' }]);
    // exclusion of a soketi socket by soketi-c, and client events from soketi to soketi-c
    const y2 = await listener(theirs, 'private-mixed', 'client-ev');
    const x2 = await listener(ours, 'private-mixed', 'client-ev');
    y2.ch.trigger('client-ev', { c: 1 });
    await until(() => x2.got.length === 1, 3000, 'a client event from soketi');
    x2.ch.trigger('client-ev', { c: 2 });
    await until(() => y2.got.length === 1, 3000, 'a client event from soketi-c');
    assert.deepEqual(y2.got, [{ c: 2 }]);

    // counts both ways
    for (const srv of [ours, theirs]) {
        const chans = await channelsOf(srv);
        assert.deepEqual(chans.mixed, { subscription_count: 2, occupied: true }, `on port ${srv.port}`);
        const one = await restRequest(srv, { path: '/channels/mixed' });
        assert.equal(one.json.subscription_count, 2, `on port ${srv.port}`);
    }

    // presence both ways
    const alice = pusherClient(ours, { presenceData: { user_id: 'alice', user_info: { n: 'A' } } });
    const ac = await subscribe(alice, 'presence-mixed');
    const added = waitFor(ac, 'pusher:member_added');
    const bob = pusherClient(theirs, { presenceData: { user_id: 'bob', user_info: { n: 'B' } } });
    const bc = await subscribe(bob, 'presence-mixed');
    assert.equal(bc.members.count, 2, 'soketi sees soketi-c\'s member');
    assert.deepEqual(bc.members.get('alice'), { id: 'alice', info: { n: 'A' } });
    assert.deepEqual(await added, { id: 'bob', info: { n: 'B' } });
    for (const srv of [ours, theirs]) {
        const res = await restRequest(srv, { path: '/channels/presence-mixed/users' });
        assert.deepEqual(res.json.users.map((u) => u.id).sort(), ['alice', 'bob'], `on port ${srv.port}`);
    }
    const removed = waitFor(bc, 'pusher:member_removed');
    disconnect(alice);
    assert.equal((await removed).id, 'alice');
    // numeric user ids cross the cluster as numbers, both ways (soketi sends [[5, info]])
    const five = pusherClient(theirs, { presenceData: { user_id: 5, user_info: {} } });
    await subscribe(five, 'presence-mixed-num');
    const six = pusherClient(ours, { presenceData: { user_id: 6, user_info: {} } });
    await subscribe(six, 'presence-mixed-num');
    for (const srv of [ours, theirs]) {
        const res = await restRequest(srv, { path: '/channels/presence-mixed-num/users' });
        assert.deepEqual(res.json.users.map((u) => u.id).sort(), [5, 6], `on port ${srv.port}`);
    }
    disconnect(five);
    disconnect(six);

    // terminate_connections both ways
    const rest = pusherRest(ours);
    const signin = async (srv, id) => {
        const ws = await rawPusher(srv);
        ws.send({ event: 'pusher:signin', data: rest.authenticateUser(ws.socketId, { id }) });
        assert.equal((await ws.nextJson()).event, 'pusher:signin_success');
        return ws;
    };
    const onOurs = await signin(ours, 'victim');
    const onTheirs = await signin(theirs, 'victim');
    await restRequest(theirs, { method: 'POST', path: '/users/victim/terminate_connections', body: {} });
    assert.equal((await onOurs.nextClose()).code, 4009, 'soketi-c closes on soketi\'s request');
    const onTheirs2 = await signin(theirs, 'victim2');
    await restRequest(ours, { method: 'POST', path: '/users/victim2/terminate_connections', body: {} });
    assert.equal((await onTheirs2.nextClose()).code, 4009, 'soketi closes on soketi-c\'s request');
    onTheirs.destroy();
    await waitConnected(x.client);
}

// ---------------------------------------------------------------------------
// A throw-away Redis Cluster for the redis-cluster adapter tests.

/** A free port P on 127.0.0.1 whose cluster bus port P + 10000 is free too. */
async function freeClusterPort() {
    for (;;) {
        const port = await freePort();
        if (port <= 55535 && await bindable(port + 10000)) return port;
    }
}

/**
 * Start a Redis Cluster of `masters` masters with `replicas` replicas each, on free
 * ports, created with `redis-cli --cluster create`, and wait until every node says
 * cluster_state:ok, every replica's link to its master is up and every node's CLUSTER SLOTS
 * lists every node. cluster-node-timeout is nodeTimeoutMs, so a killed master fails over in
 * about twice that. Resolves { ports, nodes (startRedis objects, by port order), node(port),
 * command(port, ...args), slotsOf(port), waitReady(), stop() }: a node stopped and started
 * again keeps its identity (its nodes-<port>.conf), waitReady() waits as above again.
 * Every node is killed when the test process exits; stop() also removes their directory.
 */
export async function startRedisCluster({ masters = 3, replicas = 0, nodeTimeoutMs = 2000,
    cli = process.env.REDIS_CLI || 'redis-cli' } = {}) {
    const { execFile } = await import('node:child_process');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soketi-redis-cluster-'));
    const ports = [];
    while (ports.length < masters * (1 + replicas)) {
        const p = await freeClusterPort();
        if (!ports.includes(p)) ports.push(p);
    }
    const nodes = await Promise.all(ports.map((port) => startRedis({
        port,
        args: ['--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${port}.conf`),
            '--cluster-node-timeout', String(nodeTimeoutMs), '--dir', dir,
            // replicas sync at once, and CLUSTER SLOTS lists a replica only once its offset
            // moved, which the master's replication PING does every repl-ping-replica-period
            '--repl-diskless-sync-delay', '0', '--repl-ping-replica-period', '1'],
    })));
    const stop = async () => {
        await Promise.all(nodes.map((n) => n.stop()));
        fs.rmSync(dir, { recursive: true, force: true });
    };
    try {
        await new Promise((resolve, reject) => {
            execFile(cli, ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`),
                '--cluster-replicas', String(replicas), '--cluster-yes'], { timeout: 20000 },
            (err, stdout, stderr) => (err ? reject(new Error(`redis-cli --cluster create: ${err.message}\n${stdout}${stderr}`)) : resolve()));
        });
        const node = (port) => nodes[ports.indexOf(port)];
        const waitReady = async (timeoutMs = 20000) => {
            const deadline = Date.now() + timeoutMs;
            for (;;) {
                const ready = await Promise.all(nodes.map(async (n) => {
                    try {
                        if (!/cluster_state:ok/.test(await n.command('CLUSTER', 'INFO'))) return false;
                        const repl = await n.command('INFO', 'replication');
                        if (/role:slave/.test(repl) && !/master_link_status:up/.test(repl)) return false;
                        const slots = await n.command('CLUSTER', 'SLOTS');
                        return slots.reduce((k, range) => k + range.length - 2, 0) === ports.length;
                    } catch { return false; }
                }));
                if (ready.every(Boolean)) return;
                if (Date.now() > deadline) throw new Error(`redis cluster on ${ports.join(', ')} not ready`);
                await sleep(100);
            }
        };
        await waitReady();
        return {
            ports,
            nodes,
            dir,
            node,
            command: (port, ...args) => node(port).command(...args),
            /** CLUSTER SLOTS as port's node sees it: [{ from, to, master, replicas: [ports] }]. */
            async slotsOf(port) {
                const slots = await node(port).command('CLUSTER', 'SLOTS');
                return slots.map(([from, to, master, ...reps]) => ({
                    from, to, master: master[1], replicas: reps.map((r) => r[1]),
                }));
            },
            waitReady,
            stop,
        };
    } catch (err) {
        await stop();
        throw err;
    }
}

// ---------------------------------------------------------------------------
// Throw-away NATS servers for the nats adapter tests.

/** The nats-server binary ($NATS_SERVER, else on PATH). */
export const NATS_SERVER = process.env.NATS_SERVER || 'nats-server';

/**
 * Whether the NATS tests can run: adapter_nats.so built (configure found libnats) and
 * nats-server installed. Resolves { ok: true } or { ok: false, why }. A test file that
 * cannot run fails, unless SOKETI_TEST_ALLOW_NO_NATS=1 says skipping is fine (a machine
 * without libnats-dev): CI installs both, so the tests never skip there unnoticed.
 */
export function natsAvailable() {
    const dir = process.env.SOKETI_PLUGIN_DIR_TEST;
    if (!REFERENCE && process.env.SOKETI_TEST_NATS_BUILT === 'no') {
        return { ok: false, why: 'soketi-c was configured without libnats (install libnats-dev: scripts/deps.sh)' };
    }
    if (!REFERENCE && dir && !fs.existsSync(path.join(dir, 'adapter_nats.so'))) {
        return { ok: false, why: `${dir}/adapter_nats.so was not built (install libnats-dev: scripts/deps.sh)` };
    }
    const found = NATS_SERVER.includes('/') ? fs.existsSync(NATS_SERVER)
        : (process.env.PATH || '').split(':').some((d) => fs.existsSync(path.join(d, NATS_SERVER)));
    if (!found) return { ok: false, why: 'nats-server is not installed (scripts/deps.sh --test)' };
    return { ok: true };
}

/** The `skip` option of a NATS test: false when it can run; the reason when skipping was
 *  allowed (SOKETI_TEST_ALLOW_NO_NATS=1); otherwise it throws, failing the file. */
export function natsSkip() {
    const a = natsAvailable();
    if (a.ok) return false;
    if (['1', 'true', 'yes'].includes(String(process.env.SOKETI_TEST_ALLOW_NO_NATS || '').toLowerCase())) return a.why;
    throw new Error(`the NATS tests cannot run: ${a.why} (set SOKETI_TEST_ALLOW_NO_NATS=1 to skip them)`);
}

/**
 * Start `nats-server` on 127.0.0.1 at a port of stablePort() (or `port`), with its monitoring
 * port, JetStream on (a store in a fresh temporary directory) unless jetstream is false, and
 * wait until GET /healthz answers 200 (JetStream ready too). cluster: { name, port, routes }
 * joins a NATS cluster (routes: nats://host:port URLs of the others). args: more arguments.
 * With start: false only the ports are chosen. Resolves { port, url, monitorPort, name,
 * start(), stop(signal), restart(), output(), monitor(path) }. Every server is killed when
 * the test process exits; stop() keeps its ports and store for start().
 */
export async function startNats({ port, jetstream = true, start = true, args = [], cluster = null,
    name, readyTimeoutMs = 15000 } = {}) {
    port = port ?? await stablePort();
    const monitorPort = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soketi-nats-'));
    name = name ?? `nats-${port}`;
    let proc = null;
    let state = { done: true };
    let output = '';
    const monitor = (p) => httpGetOnce(monitorPort, p, 1000);
    const n = {
        port,
        url: `nats://127.0.0.1:${port}`,
        monitorPort,
        name,
        output: () => output,
        monitor,
        async start() {
            if (!state.done) return;
            const argv = ['-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort), '-n', name,
                ...(jetstream ? ['-js', '-sd', dir] : []),
                ...(cluster ? ['--cluster_name', cluster.name, '--cluster', `nats://127.0.0.1:${cluster.port}`,
                    '--routes', cluster.routes.join(',')] : []),
                ...args];
            proc = spawn(NATS_SERVER, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
            const st = { done: false };
            state = st;
            const p = proc;
            serverProcs.add(p);
            st.promise = new Promise((resolve) => p.on('exit', () => { st.done = true; serverProcs.delete(p); resolve(); }));
            proc.on('error', (e) => { output += `spawn error: ${e.message}\n`; });
            proc.stdout.on('data', (d) => { output += d; });
            proc.stderr.on('data', (d) => { output += d; });
            const deadline = Date.now() + readyTimeoutMs;
            for (;;) {
                if (st.done) throw new Error(`nats-server exited on port ${port}:\n${output}`);
                const r = await monitor('/healthz');
                if (r && r.status === 200) return;
                if (Date.now() > deadline) throw new Error(`nats-server not ready on port ${port}:\n${output}`);
                await sleep(50);
            }
        },
        async stop(signal = 'SIGKILL') {
            if (!proc || state.done) return;
            try { proc.kill(signal); } catch { /* gone */ }
            await state.promise;
        },
        async restart() {
            await n.stop();
            await n.start();
        },
        /** Frees the store directory (after stop). */
        remove() { fs.rmSync(dir, { recursive: true, force: true }); },
    };
    if (start) await n.start();
    return n;
}

/**
 * Three nats-servers routed into one NATS cluster (JetStream on each unless jetstream is
 * false), waiting until every one has routes to the other two. Resolves { servers, urls,
 * stop() }.
 */
export async function startNatsCluster({ size = 3, jetstream = true } = {}) {
    const ports = [];
    while (ports.length < size * 2) {
        const p = await stablePort();
        if (!ports.includes(p)) ports.push(p);
    }
    const routes = ports.slice(size).map((p) => `nats://127.0.0.1:${p}`);
    const servers = await Promise.all(Array.from({ length: size }, (_, i) => startNats({
        port: ports[i], jetstream, name: `n${i}`, readyTimeoutMs: 30000,
        cluster: { name: 'soketi-test', port: ports[size + i], routes: routes.filter((_, k) => k !== i) },
    })));
    const stop = async () => {
        await Promise.all(servers.map((s) => s.stop()));
        servers.forEach((s) => s.remove());
    };
    const deadline = Date.now() + 20000;
    for (;;) {
        const counts = await Promise.all(servers.map(async (s) => {
            const r = await s.monitor('/routez');
            try { return JSON.parse(r.body).num_routes; } catch { return -1; }
        }));
        if (counts.every((c) => c >= size - 1)) break;
        if (Date.now() > deadline) {
            await stop();
            throw new Error(`nats cluster not routed: ${counts.join(', ')}`);
        }
        await sleep(100);
    }
    return { servers, urls: servers.map((s) => s.url), stop };
}

/** The environment of a daemon on the nats adapter: nats is a startNats() server or a list
 *  of host:port; requests time out after 1 s. */
export function natsEnv(nats, extra = {}) {
    return {
        SOKETI_ADAPTER_DRIVER: 'nats',
        SOKETI_ADAPTER_NATS_SERVERS: JSON.stringify(Array.isArray(nats) ? nats : [`127.0.0.1:${nats.port}`]),
        SOKETI_ADAPTER_NATS_REQUESTS_TIMEOUT: '1000',
        ...extra,
    };
}

/** How many connections on nats (a startNats() server) listen on subject (soketi's request
 *  subject by default): the nodes a query waits for. -1 when the server does not answer. */
export async function natsListeners(nats, subject = 'nats-adapter#comms#req') {
    const r = await nats.monitor('/connz?subs=1&limit=1000');
    if (!r || r.status !== 200) return -1;
    return JSON.parse(r.body).connections.filter((c) => (c.subscriptions_list || []).includes(subject)).length;
}

/** Resolves when n connections on nats listen on subject. */
export function waitNatsListeners(nats, n, subject = 'nats-adapter#comms#req', timeoutMs = 10000) {
    return until(async () => (await natsListeners(nats, subject)) === n, timeoutMs, `${n} nodes on ${subject}`);
}

/**
 * A raw NATS client on 127.0.0.1:port (the protocol's text lines, for tests that look at or
 * forge what travels on the subjects; it never gets its own messages back). Resolves once
 * connected, with
 * { sub(subject) -> { messages: [{ subject, reply, headers, data }] }, pub(subject, data,
 *   { reply, headers }), request(subject, data, { timeoutMs, headers }) -> first reply,
 *   flush(), close() }. data is a string or Buffer; received data is a Buffer.
 */
export function natsClient(port, { user, pass, token, name = 'test' } = {}) {
    return new Promise((resolve, reject) => {
        const sock = net.connect(port, '127.0.0.1');
        rawSockets.add(sock);
        let buf = Buffer.alloc(0);
        let sid = 0;
        const subs = new Map();
        const pongs = [];
        let connected = false;
        const client = {
            sub(subject) {
                const s = { subject, messages: [], waiters: [] };
                subs.set(String(++sid), s);
                sock.write(`SUB ${subject} ${sid}\r\n`);
                return s;
            },
            pub(subject, data = '', { reply, headers } = {}) {
                const body = Buffer.isBuffer(data) ? data : Buffer.from(String(data));
                const r = reply ? ` ${reply}` : '';
                if (headers) {
                    const h = Buffer.from(`NATS/1.0\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
                    sock.write(Buffer.concat([Buffer.from(`HPUB ${subject}${r} ${h.length} ${h.length + body.length}\r\n`), h, body, Buffer.from('\r\n')]));
                } else {
                    sock.write(Buffer.concat([Buffer.from(`PUB ${subject}${r} ${body.length}\r\n`), body, Buffer.from('\r\n')]));
                }
            },
            flush() {
                return new Promise((res) => { pongs.push(res); sock.write('PING\r\n'); });
            },
            async request(subject, data = '', { timeoutMs = 2000, headers } = {}) {
                const inbox = `_INBOX.test${Math.random().toString(36).slice(2)}`;
                const s = client.sub(inbox);
                client.pub(subject, data, { reply: inbox, headers });
                const deadline = Date.now() + timeoutMs;
                while (!s.messages.length) {
                    if (Date.now() > deadline) throw new Error(`nats request ${subject}: timed out`);
                    await sleep(10);
                }
                return s.messages[0];
            },
            close() { sock.destroy(); rawSockets.delete(sock); },
        };
        const parseHeaders = (h) => {
            const lines = h.toString('utf8').split('\r\n');
            const out = { status: Number((lines[0].split(' ')[1]) || 0) };
            for (const l of lines.slice(1)) {
                const i = l.indexOf(':');
                if (i > 0) out[l.slice(0, i)] = l.slice(i + 1).trim();
            }
            return out;
        };
        sock.on('data', (d) => {
            buf = Buffer.concat([buf, d]);
            for (;;) {
                const eol = buf.indexOf('\r\n');
                if (eol < 0) return;
                const line = buf.toString('utf8', 0, eol);
                const [op, ...rest] = line.split(' ');
                if (op === 'MSG' || op === 'HMSG') {
                    const hdr = op === 'HMSG';
                    const total = Number(rest[rest.length - 1]);
                    const hlen = hdr ? Number(rest[rest.length - 2]) : 0;
                    const reply = rest.length === (hdr ? 5 : 4) ? rest[2] : null;
                    if (buf.length < eol + 2 + total + 2) return;
                    const payload = buf.subarray(eol + 2, eol + 2 + total);
                    const s = subs.get(rest[1]);
                    if (s) {
                        s.messages.push({ subject: rest[0], reply, headers: hdr ? parseHeaders(payload.subarray(0, hlen)) : {},
                            data: Buffer.from(payload.subarray(hlen)) });
                    }
                    buf = buf.subarray(eol + 2 + total + 2);
                    continue;
                }
                buf = buf.subarray(eol + 2);
                if (op === 'INFO' && !connected) {
                    connected = true;
                    sock.write(`CONNECT ${JSON.stringify({ verbose: false, pedantic: false, headers: true, no_responders: true, echo: false,
                        name, user, pass, auth_token: token })}\r\nPING\r\n`);
                    pongs.push(() => resolve(client));
                } else if (op === 'PING') {
                    sock.write('PONG\r\n');
                } else if (op === 'PONG') {
                    const p = pongs.shift();
                    if (p) p();
                } else if (op === '-ERR') {
                    if (pongs.length && !connected) reject(new Error(line));
                }
            }
        });
        sock.on('error', reject);
    });
}

/**
 * Parses the Prometheus text exposition format (0.0.4) strictly: every sample must belong
 * to a family declared with # HELP and # TYPE before it. Returns
 * { families: Map(name -> {help, type, samples: [{name, labels, value}]}), get(name, labels) }.
 */
export function parsePrometheus(text) {
    assert.ok(text.endsWith('\n'), 'ends with a newline');
    const families = new Map();
    let current = null;
    const sampleRe = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
    const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy;
    for (const line of text.split('\n')) {
        if (line === '') continue;
        let m;
        if ((m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line))) {
            current = { help: m[2], type: null, samples: [] };
            assert.ok(!families.has(m[1]), `family ${m[1]} declared twice`);
            families.set(m[1], current);
            current.name = m[1];
        } else if ((m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line))) {
            assert.equal(m[1], current?.name, `TYPE for ${m[1]} follows its HELP`);
            current.type = m[2];
        } else if ((m = sampleRe.exec(line))) {
            assert.ok(current?.type, `sample before any TYPE: ${line}`);
            const base = current.type === 'histogram' ? m[1].replace(/_(bucket|sum|count)$/, '') : m[1];
            assert.equal(base, current.name, `sample ${m[1]} outside its family`);
            const labels = {};
            if (m[2]) {
                labelRe.lastIndex = 0;
                let l;
                let consumed = 0;
                while ((l = labelRe.exec(m[2]))) {
                    labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
                    consumed = labelRe.lastIndex;
                }
                assert.equal(consumed, m[2].length, `labels parse: ${m[2]}`);
            }
            // prom-client writes NaN as "Nan" (soketi's nodejs_* metrics have some)
            const value = m[3] === '+Inf' ? Infinity : /^nan$/i.test(m[3]) ? NaN : Number(m[3]);
            assert.ok(!Number.isNaN(value) || /^nan$/i.test(m[3]), `value: ${line}`);
            current.samples.push({ name: m[1], labels, value });
        } else {
            assert.fail(`not Prometheus text: ${JSON.stringify(line)}`);
        }
    }
    return {
        families,
        get(name, labels = {}) {
            for (const f of families.values()) {
                for (const s of f.samples) {
                    if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
                }
            }
            return undefined;
        },
    };
}
