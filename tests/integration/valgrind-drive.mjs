// tests/integration/valgrind-drive.mjs — drives an already running daemon through its main
// code paths for tests/valgrind.sh: three pusher-js clients on public, private and presence
// channels, REST triggers (single, multi-channel, batch), GET channels / channel / users,
// a client event, user sign-ins with a watchlist, a cache channel, a few refusals (bad
// signature, unknown app key, bad auth), then one client leaves and two stay connected.
//
// Usage: DRIVE_PORT=<port> [DRIVE_READY_FILE=<path>] node valgrind-drive.mjs
// DESIGN: the script does not stop the daemon. When the work is done it prints
// "DRIVE-READY" (and creates DRIVE_READY_FILE) with two clients still connected, so that
// the daemon's shutdown runs with live connections; the caller then sends SIGTERM. The
// script waits for both clients to be told 4200, and exits 0 only if every step and the
// 4200s were seen (1 on any failure). Timeouts are long: the daemon runs under valgrind.

import fs from 'node:fs';

import {
    APP, disconnect, pusherClient, pusherRest, rawWs, restRequest, subscribe, waitConnected,
    waitFor, waitForWithMeta,
} from './harness.mjs';

const T = 20000; // per-step timeout under valgrind
const port = Number(process.env.DRIVE_PORT);
if (!port) {
    console.error('valgrind-drive: set DRIVE_PORT to the daemon\'s port');
    process.exit(2);
}
const server = { host: '127.0.0.1', port, url: `http://127.0.0.1:${port}` };
const rest = pusherRest(server);

function step(what) { console.log(`valgrind-drive: ${what}`); }
function check(cond, msg) { if (!cond) throw new Error(`check failed: ${msg}`); }

async function getJson(p, params = {}) {
    const res = await rest.get({ path: p, params });
    check(res.status === 200, `GET ${p} answered ${res.status}`);
    return res.json();
}

async function main() {
    step('connecting 3 clients');
    const clients = [1, 2, 3].map((n) => pusherClient(server, {
        presenceData: (channel, socketId) => ({ user_id: `user-${n}`, user_info: { n, socketId } }),
        userData: n === 1 ? { id: 'user-1', watchlist: ['user-2', 'user-9'] } : { id: `user-${n}`, name: `user ${n}` },
    }));
    const [c1, c2, c3] = clients;
    await Promise.all(clients.map((c) => waitConnected(c, T)));

    step('subscribing to public, private and presence channels');
    const pub1 = await subscribe(c1, 'vg-public', T);
    const pub3 = await subscribe(c3, 'vg-public', T);
    const priv1 = await subscribe(c1, 'private-vg', T);
    const priv2 = await subscribe(c2, 'private-vg', T);
    const pres1 = await subscribe(c1, 'presence-vg', T);
    const pres2 = await subscribe(c2, 'presence-vg', T);
    const pres3 = await subscribe(c3, 'presence-vg', T);
    check(pres3.members.count === 3, `presence members ${pres3.members.count}, expected 3`);
    check(pub1 && pub3 && priv2 && pres1 && pres2, 'subscriptions');

    step('sign-in, with a watchlist');
    const initial = waitFor(c1.user.watchlist, 'offline', T);
    c1.signin();
    await c1.user.signinDonePromise;
    check(c1.user.user_data && c1.user.user_data.id === 'user-1', `signin user_data ${JSON.stringify(c1.user.user_data)}`);
    const off = await initial;
    check(off.user_ids.includes('user-9'), `initial watchlist ${JSON.stringify(off)}`);
    const online = waitFor(c1.user.watchlist, 'online', T);
    c2.signin();
    await c2.user.signinDonePromise;
    check((await online).user_ids.includes('user-2'), 'user-2 online');

    step('cache channel');
    await rest.trigger('cache-vg', 'ev-cached', { c: 1 });
    const cacheCh = c2.subscribe('cache-vg');
    check((await waitFor(cacheCh, 'ev-cached', T)).c === 1, 'cached event');

    step('REST triggers');
    let got = Promise.all([waitFor(pub1, 'ev-public', T), waitFor(pub3, 'ev-public', T)]);
    await rest.trigger('vg-public', 'ev-public', { n: 1 });
    await got;
    got = Promise.all([waitFor(priv1, 'ev-multi', T), waitFor(pres2, 'ev-multi', T)]);
    await rest.trigger(['private-vg', 'presence-vg'], 'ev-multi', { n: 2, text: 'x'.repeat(2000) });
    await got;
    got = Promise.all([waitFor(pub3, 'ev-batch-1', T), waitFor(priv2, 'ev-batch-2', T)]);
    await rest.triggerBatch([
        { channel: 'vg-public', name: 'ev-batch-1', data: JSON.stringify({ b: 1 }) },
        { channel: 'private-vg', name: 'ev-batch-2', data: JSON.stringify({ b: 2 }) },
    ]);
    await got;
    // Excluding the sender's socket.
    got = waitFor(priv2, 'ev-excl', T);
    await rest.trigger('private-vg', 'ev-excl', { e: 1 }, { socket_id: c1.connection.socket_id });
    await got;

    step('REST queries');
    const channels = await getJson('/channels');
    check(channels.channels && 'vg-public' in channels.channels, `GET /channels ${JSON.stringify(channels)}`);
    const withCounts = await getJson('/channels', { filter_by_prefix: 'presence-', info: 'user_count' });
    // soketi 1.6 lists subscription_count (and no user_count) whatever `info` asks.
    check(withCounts.channels['presence-vg']?.subscription_count === 3, `GET /channels?filter_by_prefix ${JSON.stringify(withCounts)}`);
    check(!('vg-public' in withCounts.channels), `filter_by_prefix ignored: ${JSON.stringify(withCounts)}`);
    const one = await getJson('/channels/presence-vg', { info: 'user_count,subscription_count' });
    check(one.occupied === true && one.user_count === 3, `GET /channels/presence-vg ${JSON.stringify(one)}`);
    const users = await getJson('/channels/presence-vg/users');
    check(Array.isArray(users.users) && users.users.length === 3, `GET users ${JSON.stringify(users)}`);
    const empty = await getJson('/channels/nobody-here');
    check(empty.occupied === false, `GET empty channel ${JSON.stringify(empty)}`);

    step('refusals');
    const bad = await restRequest(server, { method: 'GET', path: '/channels', secret: 'wrong-secret' });
    check(bad.status === 401, `bad signature answered ${bad.status}`);
    const badBody = await restRequest(server, { method: 'POST', path: '/events', body: '{"not json' });
    check(badBody.status >= 400, `malformed JSON body answered ${badBody.status}`);
    const unknownKey = await rawWs(server, '/app/no-such-key?protocol=7&client=js&version=8.4.0', { timeoutMs: T });
    const closeInfo = await unknownKey.nextClose(T);
    check(closeInfo.code === 4001, `unknown key closed with ${JSON.stringify(closeInfo)}`);
    const badAuth = await rawWs(server, undefined, { timeoutMs: T });
    await badAuth.nextEvent('pusher:connection_established', T);
    badAuth.send({ event: 'pusher:subscribe', data: { channel: 'private-vg', auth: `${APP.key}:deadbeef` } });
    const subErr = await badAuth.nextEvent('pusher:subscription_error', T).catch(() => null)
        || await badAuth.nextEvent('pusher:error', T).catch(() => null);
    check(subErr !== null, 'bad private auth was not refused');
    badAuth.send('this is not json');
    badAuth.close(1000);
    await badAuth.closed;

    step('client event');
    got = waitFor(priv2, 'client-vg', T);
    check(priv1.trigger('client-vg', { from: 'c1' }) === true, 'pusher-js refused to send the client event');
    const ce = await got;
    check(ce.from === 'c1', `client event data ${JSON.stringify(ce)}`);

    step('unsubscribe and disconnect one client');
    await subscribe(c2, 'vg-temp', T);
    c2.unsubscribe('vg-temp');
    const removed = waitForWithMeta(pres1, 'pusher:member_removed', T);
    disconnect(c3);
    const { data: member } = await removed;
    check(member.id === 'user-3', `member_removed ${JSON.stringify(member)}`);
    check(pres1.members.count === 2, `members after leave ${pres1.members.count}`);

    // Two clients stay connected: hand over to the caller for SIGTERM.
    const told = [c1, c2].map((c) => waitFor(c.connection, 'error', 120000));
    step('DRIVE-READY');
    if (process.env.DRIVE_READY_FILE) fs.writeFileSync(process.env.DRIVE_READY_FILE, 'ready\n');
    const errs = await Promise.all(told);
    for (const c of [c1, c2]) disconnect(c);
    for (const e of errs) check(e?.data?.code === 4200, `shutdown error ${JSON.stringify(e)}`);
    step('both remaining clients were told 4200');
}

main().then(() => process.exit(0), (err) => {
    console.error(`valgrind-drive: FAILED: ${err && err.stack ? err.stack : err}`);
    process.exit(1);
});
