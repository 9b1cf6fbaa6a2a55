// tests/integration/roundtrip.mjs — one end-to-end round trip against a running server,
// as a separate process: pusher-js connects, subscribes to a public and a private
// channel, the `pusher` REST SDK triggers an event on each, and both must arrive.
//
//   node roundtrip.mjs --port=6001 [--host=127.0.0.1] [--tls] [--app-id=app-id]
//                      [--key=app-key] [--secret=app-secret] [--timeout=5000]
//
// Prints one JSON line ({"ok":true,"socket_id":...} or {"ok":false,"error":...}) and
// exits 0 or 1. With --tls both clients use TLS (wss:// and https://) and trust what
// node trusts: run it with NODE_EXTRA_CA_CERTS=cert.pem for a test certificate.
// tls.test.mjs and tests/package.sh (the installed daemon) use it.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Pusher = require('pusher-js');
const PusherRest = require('pusher');

const opt = { host: '127.0.0.1', port: '6001', 'app-id': 'app-id', key: 'app-key', secret: 'app-secret', timeout: '5000' };
for (const a of process.argv.slice(2)) {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
    if (!m) { console.error(`roundtrip: bad argument ${a}`); process.exit(2); }
    opt[m[1]] = m[2] ?? true;
}
const tls = !!opt.tls;
const port = Number(opt.port);

const rest = new PusherRest({
    appId: opt['app-id'], key: opt.key, secret: opt.secret, host: opt.host, port: String(port), useTLS: tls,
});
const client = new Pusher(opt.key, {
    wsHost: opt.host,
    wsPort: port,
    wssPort: port,
    forceTLS: tls,
    enabledTransports: ['ws'],
    cluster: 'mt1',
    disableStats: true,
    channelAuthorization: {
        customHandler: ({ socketId, channelName }, cb) => cb(null, rest.authorizeChannel(socketId, channelName)),
    },
});

function finish(result) {
    console.log(JSON.stringify(result));
    try { client.disconnect(); } catch { /* gone */ }
    // faye-websocket keeps a close timer: do not wait for it.
    setTimeout(() => process.exit(result.ok ? 0 : 1), 50);
}
const timer = setTimeout(() => finish({ ok: false, error: `timed out after ${opt.timeout} ms`, state: client.connection.state }),
    Number(opt.timeout));

function subscribed(name) {
    return new Promise((resolve, reject) => {
        const ch = client.subscribe(name);
        ch.bind('pusher:subscription_succeeded', () => resolve(ch));
        ch.bind('pusher:subscription_error', (e) => reject(new Error(`${name}: ${JSON.stringify(e)}`)));
    });
}
const received = (ch, event) => new Promise((resolve) => ch.bind(event, resolve));

try {
    await new Promise((resolve, reject) => {
        client.connection.bind('connected', resolve);
        client.connection.bind('failed', () => reject(new Error('connection failed')));
        client.connection.bind('unavailable', () => reject(new Error('server unavailable')));
    });
    const [pub, priv] = await Promise.all([subscribed('roundtrip'), subscribed('private-roundtrip')]);
    const got = Promise.all([received(pub, 'ping'), received(priv, 'ping')]);
    const res = await rest.trigger(['roundtrip', 'private-roundtrip'], 'ping', { n: 1 });
    if (res.status !== 200) throw new Error(`trigger answered ${res.status}`);
    const data = await got;
    clearTimeout(timer);
    finish({ ok: true, socket_id: client.connection.socket_id, tls, data });
} catch (err) {
    clearTimeout(timer);
    finish({ ok: false, error: String(err?.message ?? err) });
}
