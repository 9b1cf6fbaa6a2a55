// tests/integration/browser.test.mjs — pusher-js's browser build in a real browser (Debian's
// chromium, headless, driven by playwright-core) against the daemon: connect over ws,
// authorize a private channel through an HTTP endpoint, receive a REST-triggered event, and
// exchange client events with a node-side pusher-js client.
//
// DESIGN: a node http server on 127.0.0.1 serves the page, pusher-js's dist/web/pusher.min.js
// and POST /pusher/auth (signed with the `pusher` SDK's authorizeChannel), so the browser
// does exactly what a web app does: a cross-origin WebSocket to the daemon and a same-origin
// form POST for authorization. The page exposes small async functions; the test calls them
// with page.evaluate and reads what the page recorded. Never downloads a browser: it skips
// when /usr/bin/chromium is absent (`apt-get install -y chromium`).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';

import {
    APP, cleanup, pusherClient, pusherRest, startServer, subscribe, waitConnected, waitFor,
} from './harness.mjs';

const require = createRequire(import.meta.url);
const CHROMIUM = '/usr/bin/chromium';
const skip = fs.existsSync(CHROMIUM) ? false
    : `${CHROMIUM} is absent (install Debian's chromium: apt-get install -y chromium)`;

const PUSHER_JS = path.join(path.dirname(require.resolve('pusher-js/package.json')), 'dist', 'web', 'pusher.min.js');

const PAGE = `<!doctype html>
<html>
<head><meta charset="utf-8"><title>soketi-c browser test</title></head>
<body>
<script src="/pusher.min.js"></script>
<script>
  window.received = [];   // every event on every channel: { channel, event, data }
  window.states = [];     // connection state changes
  window.errors = [];     // connection and subscription errors
  window.channels = {};

  window.connectPusher = function (opts) {
    return new Promise(function (resolve, reject) {
      var pusher = new Pusher(opts.key, {
        wsHost: opts.wsHost,
        wsPort: opts.wsPort,
        wssPort: opts.wsPort,
        forceTLS: false,
        enabledTransports: ['ws'],
        disableStats: true,
        cluster: 'mt1',
        channelAuthorization: { endpoint: '/pusher/auth', transport: 'ajax' },
      });
      window.pusher = pusher;
      var timer = setTimeout(function () { reject(new Error('connect timeout; states: ' + window.states.join(','))); }, 10000);
      pusher.connection.bind('state_change', function (s) { window.states.push(s.current); });
      pusher.connection.bind('error', function (e) { window.errors.push({ where: 'connection', e: JSON.stringify(e) }); });
      pusher.connection.bind('connected', function () {
        clearTimeout(timer);
        resolve({ socketId: pusher.connection.socket_id });
      });
    });
  };

  window.subscribeChannel = function (name) {
    return new Promise(function (resolve, reject) {
      var ch = window.pusher.subscribe(name);
      window.channels[name] = ch;
      ch.bind_global(function (event, data) {
        if (event.indexOf('pusher:') === 0 || event.indexOf('pusher_internal:') === 0) return;
        window.received.push({ channel: name, event: event, data: data });
      });
      var timer = setTimeout(function () { reject(new Error('subscribe timeout: ' + name)); }, 10000);
      ch.bind('pusher:subscription_succeeded', function () { clearTimeout(timer); resolve(true); });
      ch.bind('pusher:subscription_error', function (e) {
        clearTimeout(timer);
        window.errors.push({ where: name, e: JSON.stringify(e) });
        reject(new Error('subscription_error on ' + name + ': ' + JSON.stringify(e)));
      });
    });
  };

  window.triggerClientEvent = function (name, event, data) {
    return window.channels[name].trigger(event, data);
  };
</script>
</body>
</html>
`;

/** Read a request body (form or JSON) into an object. */
async function readBody(req) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const text = Buffer.concat(chunks).toString('utf8');
    if (/json/i.test(req.headers['content-type'] || '')) return JSON.parse(text || '{}');
    return Object.fromEntries(new URLSearchParams(text));
}

/** The page's web server: /, /pusher.min.js and /pusher/auth for the given daemon. */
function startWebServer(daemon) {
    const signer = pusherRest(daemon);
    const authRequests = [];
    const srv = http.createServer(async (req, res) => {
        try {
            const url = new URL(req.url, 'http://127.0.0.1');
            if (req.method === 'GET' && url.pathname === '/') {
                res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
                res.end(PAGE);
            } else if (req.method === 'GET' && url.pathname === '/pusher.min.js') {
                res.writeHead(200, { 'content-type': 'application/javascript' });
                fs.createReadStream(PUSHER_JS).pipe(res);
            } else if (req.method === 'POST' && url.pathname === '/pusher/auth') {
                const body = await readBody(req);
                authRequests.push(body);
                if (!body.socket_id || !body.channel_name || !body.channel_name.startsWith('private-')) {
                    res.writeHead(403, { 'content-type': 'application/json' });
                    res.end(JSON.stringify({ error: 'forbidden' }));
                    return;
                }
                const auth = signer.authorizeChannel(body.socket_id, body.channel_name);
                res.writeHead(200, { 'content-type': 'application/json' });
                res.end(JSON.stringify(auth));
            } else {
                res.writeHead(404);
                res.end();
            }
        } catch (err) {
            res.writeHead(500, { 'content-type': 'text/plain' });
            res.end(String(err));
        }
    });
    return new Promise((resolve, reject) => {
        srv.on('error', reject);
        srv.listen(0, '127.0.0.1', () => resolve({
            url: `http://127.0.0.1:${srv.address().port}/`,
            authRequests,
            close: () => new Promise((r) => { srv.closeAllConnections?.(); srv.close(() => r()); }),
        }));
    });
}

describe('pusher-js in a real browser', { skip }, () => {
    let daemon;
    let web;
    let browser;
    let page;
    const pageLog = [];

    before(async () => {
        daemon = await startServer({ env: { SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES: 'true' } });
        web = await startWebServer(daemon);
        const { chromium } = await import('playwright-core');
        browser = await chromium.launch({
            executablePath: CHROMIUM,
            timeout: 30000,
            args: [
                '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                '--disable-background-networking', '--disable-component-update', '--disable-sync',
            ],
        });
        page = await browser.newPage();
        page.on('console', (m) => pageLog.push(`console.${m.type()}: ${m.text()}`));
        page.on('pageerror', (e) => pageLog.push(`pageerror: ${e.message}`));
        await page.goto(web.url, { waitUntil: 'load', timeout: 15000 });
    });

    after(async () => {
        if (browser) await browser.close().catch(() => {});
        if (web) await web.close();
        await cleanup();
    });

    const diag = async () => {
        const state = page ? await page.evaluate(() => ({
            states: window.states, errors: window.errors, received: window.received,
        })).catch((e) => String(e)) : null;
        return `page state: ${JSON.stringify(state)}\npage log:\n${pageLog.join('\n')}\n`
            + `--- daemon output ---\n${daemon ? daemon.output() : ''}`;
    };

    test('connects, authorizes a private channel, receives REST events and exchanges client events', async (t) => {
        const channel = 'private-browser';

        // 1. Connect the browser over ws.
        const conn = await page.evaluate((o) => window.connectPusher(o),
            { key: APP.key, wsHost: daemon.host, wsPort: daemon.port }).catch(async (e) => {
            throw new Error(`browser did not connect: ${e.message}\n${await diag()}`);
        });
        assert.match(conn.socketId, /^\d+\.\d+$/, `socket_id ${conn.socketId}`);

        // 2. Subscribe to a private channel through the HTTP auth endpoint.
        await page.evaluate((c) => window.subscribeChannel(c), channel).catch(async (e) => {
            throw new Error(`browser did not subscribe: ${e.message}\n${await diag()}`);
        });
        assert.equal(web.authRequests.length, 1, `auth requests: ${JSON.stringify(web.authRequests)}`);
        assert.equal(web.authRequests[0].channel_name, channel);
        assert.equal(web.authRequests[0].socket_id, conn.socketId);

        // 3. A REST-triggered event reaches the browser.
        await pusherRest(daemon).trigger(channel, 'rest-event', { from: 'node', n: 42 });
        await page.waitForFunction(() => window.received.some((r) => r.event === 'rest-event'), null, { timeout: 5000 })
            .catch(async (e) => { throw new Error(`no rest-event in the browser: ${e.message}\n${await diag()}`); });
        const restEvent = await page.evaluate(() => window.received.find((r) => r.event === 'rest-event'));
        assert.deepEqual(restEvent, { channel, event: 'rest-event', data: { from: 'node', n: 42 } });

        // 4. A client event from the browser reaches a node-side pusher-js client.
        const nodeClient = pusherClient(daemon);
        await waitConnected(nodeClient);
        const nodeChannel = await subscribe(nodeClient, channel);
        const fromBrowser = waitFor(nodeChannel, 'client-from-browser', 5000);
        const sent = await page.evaluate((c) => window.triggerClientEvent(c, 'client-from-browser', { hello: 'node', ok: true }), channel);
        assert.equal(sent, true, 'pusher-js in the browser refused to send the client event');
        assert.deepEqual(await fromBrowser.catch(async (e) => { throw new Error(`${e.message}\n${await diag()}`); }),
            { hello: 'node', ok: true });

        // 5. And the other way round: node's client event reaches the browser (not the sender).
        await t.test('client event from node reaches the browser', async () => {
            assert.equal(nodeChannel.trigger('client-from-node', { hello: 'browser' }), true);
            await page.waitForFunction(() => window.received.some((r) => r.event === 'client-from-node'), null, { timeout: 5000 })
                .catch(async (e) => { throw new Error(`no client-from-node in the browser: ${e.message}\n${await diag()}`); });
            const ev = await page.evaluate(() => window.received.find((r) => r.event === 'client-from-node'));
            assert.deepEqual(ev.data, { hello: 'browser' });
            // The browser never got its own client event back.
            const own = await page.evaluate(() => window.received.filter((r) => r.event === 'client-from-browser').length);
            assert.equal(own, 0, 'the sender must not receive its own client event');
        });

        const errors = await page.evaluate(() => window.errors);
        assert.deepEqual(errors, [], `errors in the page: ${JSON.stringify(errors)}`);
        assert.deepEqual(pageLog.filter((l) => l.startsWith('pageerror')), []);
    });
});
