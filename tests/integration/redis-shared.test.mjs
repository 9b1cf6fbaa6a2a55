// tests/integration/redis-shared.test.mjs — what the nodes of a Redis-adapter cluster share
// through the adapter's optional ops (include/soketi/adapter.h: cluster_transition,
// rate_consume, cache_get / cache_set, host->metric):
//
//   - webhooks once per CLUSTER: channel_occupied / channel_vacated and member_added /
//     member_removed fire once however many nodes hold the channel or the user (soketi 1.6
//     fires them once per node); a node that dies without leaving is forgotten after
//     adapter.redis.nodeTtl, one stopped with SIGTERM leaves at once; with Redis down a
//     node goes by its own transition (no loss); a Redis restarted empty gets the nodes'
//     claims back;
//   - rateLimiter.driver redis: backend events and read requests counted in Redis under
//     soketi's keys (rate-limiter-flexible's `app:<id>:<id>:backend:events`), across nodes,
//     with database.redis.keyPrefix; each node counts on its own while Redis is down;
//   - cache.driver redis: cache channels cached in Redis under soketi's key and value
//     (`app:<id>:channel:<channel>:cache_miss`), so a subscriber on another node, or on a
//     soketi node, gets the event; a miss while Redis is down;
//   - soketi's horizontal_adapter_* metrics of cluster-wide queries;
//   - the local adapter with a redis rate limiter or cache refuses to start.
//
// Every group starts its own redis-server and two daemons and stops them when it ends. The
// groups run concurrently (they share nothing), and so do the cases of a group unless they
// share a window.
// "Exactly one" webhook is checked by waiting for the first, then SETTLE_MS more.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
    APP, checkPresenceWebhooks, checkWebhookRace, cleanup, closeWebhookReceivers, connectedClient as connected,
    disconnect, httpRequest, expectWebhooks as expectTotal, presenceMember as member, pusherRest, REFERENCE,
    restRequest, sleep, startRedis, startServer, subscribe, until, waitFor, WEBHOOK_SETTLE_MS as SETTLE_MS,
    webhookCount as countOf, webhookSetup, webhookSummary as summary,
} from './harness.mjs';

after(cleanup);
after(closeWebhookReceivers);

const SKIP = REFERENCE && 'soketi-c\'s cluster-wide webhooks, Redis rate limits and cache over the adapter';
const REQ_CHANNEL = 'redis-adapter#comms#req';
const TOO_MANY = { error: 'Too many requests.', code: 429 };

// ---------------------------------------------------------------------------
// helpers

async function waitSubscribers(redis, n, timeoutMs = 8000) {
    let seen;
    await until(async () => {
        const r = await redis.command('PUBSUB', 'NUMSUB', REQ_CHANNEL).catch((e) => [null, e.message]);
        seen = r?.[1];
        return seen === n;
    }, timeoutMs, `${n} adapter subscribers on redis :${redis.port}`).catch((e) => {
        throw new Error(`${e.message} (last seen: ${seen})`);
    });
}

/** A redis-server and two daemons with the redis adapter on it (plus env), subscribed. */
async function startCluster(env = {}) {
    const redis = await startRedis();
    const nodeEnv = {
        SOKETI_ADAPTER_DRIVER: 'redis',
        SOKETI_DB_REDIS_PORT: String(redis.port),
        SOKETI_ADAPTER_REDIS_REQUESTS_TIMEOUT: '1000',
        ...env,
    };
    let nodes = [];
    try {
        nodes = await Promise.all([startServer({ env: nodeEnv }), startServer({ env: nodeEnv })]);
        await waitSubscribers(redis, 2);
    } catch (err) {
        await Promise.all(nodes.map((s) => s.stop('SIGKILL')));
        await redis.stop();
        err.message += nodes.map((s) => `\n--- daemon on ${s.port} ---\n${s.output().slice(-3000)}`).join('');
        throw err;
    }
    const [a, b] = nodes;
    return {
        redis, a, b,
        async stop() {
            await Promise.all(nodes.map((s) => s.stop('SIGTERM', 5000)));
            await redis.stop();
        },
    };
}

/** A signed POST /events of event `e` on channel (no SDK, so the status and headers show). */
const postEvent = (srv, channel) => restRequest(srv, { method: 'POST', path: '/events', body: { name: 'e', channel, data: '{}' } });

/** Parses Prometheus text into [{ name, labels, value }] (metrics.test.mjs parses strictly). */
function samples(text) {
    const out = [];
    for (const line of text.split('\n')) {
        const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
        if (!m) continue;
        const labels = {};
        for (const l of (m[2] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
        out.push({ name: m[1], labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) });
    }
    return out;
}

async function scrape(srv) {
    const res = await httpRequest({ host: srv.host, port: srv.metricsPort }, { path: '/metrics' });
    assert.equal(res.status, 200, `GET /metrics on ${srv.metricsPort}: ${res.text}`);
    return samples(res.text);
}

/** The value of metric `name` for the app (0 when absent). */
function metric(all, name) {
    const s = all.filter((x) => x.name === name && x.labels.app_id === APP.id);
    return s.reduce((k, x) => k + x.value, 0);
}

/** Starts a daemon that must refuse to start; resolves its output and exit info. */
async function expectRefusal(env) {
    let srv = null;
    try {
        srv = await startServer({ env, readyTimeoutMs: 5000 });
    } catch (err) {
        const m = /daemon exited before it was ready \((\{.*?\})/.exec(err.message);
        assert.ok(m, `the daemon should exit at start-up, got: ${err.message.slice(0, 2000)}`);
        const exit = JSON.parse(m[1]);
        // only what the daemon printed (the message also has the command line)
        return { exit, output: err.message.slice(err.message.indexOf('--- output ---')) };
    }
    await srv.stop();
    assert.fail(`the daemon started with ${JSON.stringify(env)}; it should refuse to\n${srv.output().slice(-2000)}`);
    return null;
}

// ---------------------------------------------------------------------------

describe('shared state over the redis adapter', { concurrency: true, skip: SKIP }, () => {
    describe('webhooks once per cluster', () => {
        let cl;
        let hooks;
        before(async () => {
            const w = await webhookSetup();
            cl = await startCluster(w.env);
            hooks = { receiver: w.receiver, rest: pusherRest(cl.a) };
        });
        after(() => cl?.stop());

        test('channel_occupied once when a second node joins; channel_vacated once when the last node leaves', async () => {
            const ch = 'shared-seq';
            const onA = await connected(cl.a);
            const onB = await connected(cl.b);
            await subscribe(onA, ch);
            await hooks.receiver.waitFor(() => countOf(hooks, ch, 'channel_occupied') >= 1, 5000);
            await subscribe(onB, ch);
            await expectTotal(hooks, ch, 'channel_occupied', 1);
            // B leaves: A still holds the channel
            onB.unsubscribe(ch);
            await sleep(SETTLE_MS);
            assert.equal(countOf(hooks, ch, 'channel_vacated'), 0, `no vacated while A holds it: ${summary(hooks, ch)}`);
            onA.unsubscribe(ch);
            await expectTotal(hooks, ch, 'channel_vacated', 1);
            assert.equal(countOf(hooks, ch, 'channel_occupied'), 1);
            disconnect(onA);
            disconnect(onB);
        });

        test('two nodes join at the same moment: one occupied; both close at once: one vacated', async () => {
            await checkWebhookRace(cl, hooks);
        });

        test('presence: member_added once per user across nodes, member_removed when its last socket anywhere leaves', async () => {
            await checkPresenceWebhooks(cl, hooks);
        });
    });

    describe('a node that dies without leaving (adapter.redis.nodeTtl 3 s)', () => {
        let cl;
        let hooks;
        before(async () => {
            const w = await webhookSetup();
            cl = await startCluster({ ...w.env, SOKETI_ADAPTER_REDIS_NODE_TTL: '3' });
            hooks = { receiver: w.receiver, rest: pusherRest(cl.a) };
        });
        after(() => cl?.stop());

        test('its claims outlive nodeTtl while it lives, and are forgotten once it is killed', { timeout: 30000 }, async () => {
            const ch = 'shared-dead';
            const pch = 'presence-shared-dead';
            const onB = await connected(cl.b, member('u9'));
            await subscribe(onB, ch);
            await subscribe(onB, pch);
            await hooks.receiver.waitFor(() => countOf(hooks, ch, 'channel_occupied') >= 1
                && countOf(hooks, pch, 'member_added', 'u9') >= 1, 5000);
            await sleep(4500); // longer than nodeTtl: B's claims must have been refreshed
            const a1 = await connected(cl.a, member('u9'));
            await subscribe(a1, ch);
            await subscribe(a1, pch);
            a1.unsubscribe(ch);
            await sleep(SETTLE_MS);
            assert.equal(countOf(hooks, ch, 'channel_occupied'), 1, `B still holds ${ch}: ${summary(hooks, ch)}`);
            assert.equal(countOf(hooks, ch, 'channel_vacated'), 0, `B still holds ${ch}: ${summary(hooks, ch)}`);
            assert.equal(countOf(hooks, pch, 'member_added', 'u9'), 1, `u9 still on B: ${summary(hooks, pch)}`);
            disconnect(a1);
            await sleep(300);
            assert.equal(countOf(hooks, pch, 'member_removed'), 0, `u9 still on B: ${summary(hooks, pch)}`);

            cl.b.proc.kill('SIGKILL');
            await cl.b.exited;
            disconnect(onB);
            await sleep(4500);
            const a2 = await connected(cl.a, member('u9'));
            await subscribe(a2, ch);
            await subscribe(a2, pch);
            await expectTotal(hooks, ch, 'channel_occupied', 2, { timeoutMs: 3000 });
            assert.equal(countOf(hooks, pch, 'member_added', 'u9'), 2, `u9 joins again after B died: ${summary(hooks, pch)}`);
            disconnect(a2);
        });
    });

    describe('Redis down at a transition, and restarted', { concurrency: 1 }, () => {
        let cl;
        let hooks;
        before(async () => {
            const w = await webhookSetup();
            cl = await startCluster(w.env);
            hooks = { receiver: w.receiver, rest: pusherRest(cl.a) };
        });
        after(() => cl?.stop());

        test('the node goes by its own transition: occupied and vacated still fire, once', async () => {
            const ch = 'shared-no-redis';
            const onA = await connected(cl.a);
            await cl.redis.stop();
            await subscribe(onA, ch);
            await expectTotal(hooks, ch, 'channel_occupied', 1);
            onA.unsubscribe(ch);
            await expectTotal(hooks, ch, 'channel_vacated', 1);
            for (const srv of [cl.a, cl.b]) assert.equal(srv.proc.exitCode, null, 'still running');
            disconnect(onA);
        });

        test('Redis restarted empty: the nodes re-create what they hold, no second occupied', async () => {
            const ch = 'shared-restart';
            await cl.redis.start(); // the previous case left it stopped
            await waitSubscribers(cl.redis, 2, 10000);
            const onA = await connected(cl.a);
            const onB = await connected(cl.b);
            await subscribe(onA, ch);
            await hooks.receiver.waitFor(() => countOf(hooks, ch, 'channel_occupied') >= 1, 5000);
            await cl.redis.restart(); // no persistence: Redis comes back without A's claim
            await waitSubscribers(cl.redis, 2, 10000);
            // the store re-sends what a node holds as soon as its connection is up again
            // (plugins/redis/store.h); its keys name the channel
            await until(async () => (await cl.redis.command('KEYS', `*${ch}*`)).length > 0, 5000, `A's claim on ${ch} back in Redis`);
            await subscribe(onB, ch);
            await sleep(SETTLE_MS);
            assert.equal(countOf(hooks, ch, 'channel_occupied'), 1, `A still holds ${ch}: ${summary(hooks, ch)}`);
            onA.unsubscribe(ch);
            await sleep(300);
            onB.unsubscribe(ch);
            await expectTotal(hooks, ch, 'channel_vacated', 1);
            disconnect(onA);
            disconnect(onB);
        });
    });

    describe('a node stopped gracefully (SIGTERM)', () => {
        let cl;
        let hooks;
        before(async () => {
            const w = await webhookSetup();
            cl = await startCluster(w.env);
            hooks = { receiver: w.receiver, rest: pusherRest(cl.a) };
        });
        after(() => cl?.stop());

        test('its channels are released at once, and a channel A still holds is not vacated', async () => {
            const both = 'shared-graceful-both';
            const onlyB = 'shared-graceful-b';
            const onA = await connected(cl.a);
            const onB = await connected(cl.b);
            await subscribe(onA, both);
            await subscribe(onB, both);
            await subscribe(onB, onlyB);
            await until(() => countOf(hooks, both, 'channel_occupied') >= 1 && countOf(hooks, onlyB, 'channel_occupied') >= 1,
                5000, 'occupied for both channels');
            const stopped = await cl.b.stop('SIGTERM', 5000);
            assert.equal(stopped.code, 0, JSON.stringify(stopped));
            disconnect(onB);
            await sleep(SETTLE_MS);
            assert.equal(countOf(hooks, both, 'channel_occupied'), 1, summary(hooks, both));
            assert.equal(countOf(hooks, both, 'channel_vacated'), 0, `A still holds ${both}: ${summary(hooks, both)}`);
            // B left what it held on its way out: A's first subscriber occupies it again, well
            // before adapter.redis.nodeTtl (30 s) would have forgotten B
            const before1 = countOf(hooks, onlyB, 'channel_occupied');
            const a2 = await connected(cl.a);
            await subscribe(a2, onlyB);
            await expectTotal(hooks, onlyB, 'channel_occupied', before1 + 1, { timeoutMs: 3000 });
            onA.unsubscribe(both);
            await expectTotal(hooks, both, 'channel_vacated', 1);
            disconnect(onA);
            disconnect(a2);
        });
    });

    describe('rate limits counted in Redis (rateLimiter.driver redis)', { concurrency: 1 }, () => {
        let cl;
        before(async () => {
            cl = await startCluster({
                SOKETI_RATE_LIMITER_DRIVER: 'redis',
                SOKETI_DEFAULT_APP_MAX_BACKEND_EVENTS_PER_SEC: '4',
                SOKETI_DEFAULT_APP_MAX_READ_REQ_PER_SEC: '3',
            });
        });
        after(() => cl?.stop());

        test('maxBackendEventsPerSecond 4: four events alternating A and B pass, the fifth (either node) gets 429', async () => {
            await checkWindow(cl, {
                limit: 4,
                key: `app:${APP.id}:${APP.id}:backend:events`,
                request: (srv) => postEvent(srv, 'rl'),
                okJson: { ok: true },
            });
        });

        test('maxReadRequestsPerSecond 3: GET /channels on A and B share one budget', async () => {
            await checkWindow(cl, {
                limit: 3,
                key: `app:${APP.id}:${APP.id}:backend:request_read`,
                request: (srv) => restRequest(srv, { path: '/channels' }),
            });
        });

        test('Redis down: each node counts on its own (answers at once, still limited)', async () => {
            await cl.redis.stop();
            const ev = (srv) => postEvent(srv, 'rl-down');
            for (let attempt = 1; ; attempt++) {
                await sleep(1100); // a fresh local window
                const started = Date.now();
                const passed = [];
                for (let i = 0; i < 4; i++) passed.push(await ev(cl.a));
                const refused = await ev(cl.a);
                const took = Date.now() - started;
                if (took > 700 && attempt < 3) continue; // a loaded machine: the window may have rolled over
                passed.forEach((res, i) => assert.equal(res.status, 200, `event ${i + 1} without Redis: ${res.status} ${res.text}`));
                assert.equal(refused.status, 429, `the 5th event on A without Redis: ${refused.status} ${refused.text}`);
                assert.deepEqual(refused.json, TOO_MANY);
                assert.ok(took < 1000, `took ${took} ms`);
                // B's own window is untouched
                assert.equal((await ev(cl.b)).status, 200);
                return;
            }
        });
    });

    describe('rate limits with database.redis.keyPrefix', () => {
        let cl;
        before(async () => {
            cl = await startCluster({
                SOKETI_RATE_LIMITER_DRIVER: 'redis',
                SOKETI_DB_REDIS_KEY_PREFIX: 'pfx:',
                SOKETI_DEFAULT_APP_MAX_BACKEND_EVENTS_PER_SEC: '4',
            });
        });
        after(() => cl?.stop());

        test('the window\'s key carries the prefix', async () => {
            await checkWindow(cl, {
                limit: 4,
                key: `pfx:app:${APP.id}:${APP.id}:backend:events`,
                request: (srv) => postEvent(srv, 'rl'),
                okJson: { ok: true },
            });
            assert.equal(await cl.redis.command('EXISTS', `app:${APP.id}:${APP.id}:backend:events`), 0, 'no unprefixed key');
        });
    });

    describe('cache channels in Redis (cache.driver redis)', { concurrency: 1 }, () => {
        let cl;
        before(async () => {
            cl = await startCluster({ SOKETI_CACHE_DRIVER: 'redis', SOKETI_CHANNEL_CACHE_TTL: '30' });
        });
        after(() => cl?.stop());

        test('an event triggered on A is the cached event of a subscriber on B, under soketi\'s key', async () => {
            const key = `app:${APP.id}:channel:cache-news:cache_miss`;
            await pusherRest(cl.a).trigger('cache-news', 'headline', { n: 1 });
            // cache_set is not confirmed: the key shows up in Redis shortly after the trigger
            await until(async () => (await cl.redis.command('EXISTS', key)) === 1, 2000, `${key} in Redis`)
                .catch(async (e) => assert.fail(`${e.message}; keys: ${JSON.stringify(await cl.redis.command('KEYS', '*'))}`));
            const ttl = await cl.redis.command('TTL', key);
            assert.ok(ttl > 0 && ttl <= 30, `TTL ${ttl} within SOKETI_CHANNEL_CACHE_TTL`);
            // soketi's value: the event and its data, so a soketi node reads it too
            assert.deepEqual(JSON.parse(await cl.redis.command('GET', key)), { event: 'headline', data: JSON.stringify({ n: 1 }) });

            const client = await connected(cl.b);
            const ch = client.subscribe('cache-news');
            const seen = [];
            ch.bind_global((name) => seen.push(name));
            assert.deepEqual(await waitFor(ch, 'headline'), { n: 1 });
            await sleep(100);
            assert.deepEqual(seen, ['pusher:subscription_succeeded', 'headline']);
            disconnect(client);
        });

        test('an event soketi put in Redis is delivered; an empty cache channel gets pusher:cache_miss', async () => {
            await cl.redis.command('SET', `app:${APP.id}:channel:cache-from-soketi:cache_miss`,
                JSON.stringify({ event: 'state', data: JSON.stringify({ from: 'soketi' }) }), 'EX', '30');
            const client = await connected(cl.b);
            const got = waitFor(client.subscribe('cache-from-soketi'), 'state');
            const miss = waitFor(client.subscribe('cache-shared-empty'), 'pusher:cache_miss');
            assert.deepEqual(await got, { from: 'soketi' });
            await miss;
            disconnect(client);
        });

        test('Redis down: a trigger still succeeds and a subscriber gets pusher:cache_miss at once', async () => {
            await cl.redis.stop();
            const res = await postEvent(cl.a, 'cache-news');
            assert.equal(res.status, 200, res.text);
            const client = await connected(cl.b);
            const started = Date.now();
            await waitFor(client.subscribe('cache-news'), 'pusher:cache_miss', 2000);
            assert.ok(Date.now() - started < 1000, `cache_miss after ${Date.now() - started} ms`);
            disconnect(client);
        });
    });

    describe('horizontal adapter metrics', { concurrency: 1 }, () => {
        let cl;
        before(async () => {
            cl = await startCluster({ SOKETI_METRICS_ENABLED: 'true' });
        });
        after(() => cl?.stop());

        test('a cluster-wide query is counted: sent, resolved and timed on A, received on B', async () => {
            const [a0, b0] = await Promise.all([scrape(cl.a), scrape(cl.b)]);
            const res = await restRequest(cl.a, { path: '/channels' });
            assert.equal(res.status, 200, res.text);
            await sleep(100);
            const [a1, b1] = await Promise.all([scrape(cl.a), scrape(cl.b)]);
            const d = (x0, x1, name) => metric(x1, name) - metric(x0, name);
            const n = (name) => `soketi_horizontal_adapter_${name}`;
            assert.ok(d(a0, a1, n('sent_requests')) >= 1, `A sent_requests +${d(a0, a1, n('sent_requests'))}`);
            assert.ok(d(a0, a1, n('resolved_promises')) >= 1, `A resolved_promises +${d(a0, a1, n('resolved_promises'))}`);
            assert.ok(d(a0, a1, n('resolve_time_count')) >= 1, `A resolve_time_count +${d(a0, a1, n('resolve_time_count'))}`);
            assert.ok(d(a0, a1, n('received_responses')) >= 1, `A received_responses +${d(a0, a1, n('received_responses'))}`);
            assert.equal(d(a0, a1, n('uncomplete_promises')), 0, 'B answered in time');
            assert.ok(d(b0, b1, n('received_requests')) >= 1, `B received_requests +${d(b0, b1, n('received_requests'))}`);
            assert.equal(d(b0, b1, n('sent_requests')), 0, 'B asked nothing');
            // the histogram's buckets are cumulative up to +Inf = count
            const inf = a1.find((x) => x.name === n('resolve_time_bucket') && x.labels.app_id === APP.id && x.labels.le === '+Inf');
            assert.equal(inf?.value, metric(a1, n('resolve_time_count')));
        });

        test('a query a frozen node leaves unanswered counts as uncomplete', async () => {
            const a0 = await scrape(cl.a);
            cl.b.proc.kill('SIGSTOP'); // subscribed, never answers
            try {
                const res = await restRequest(cl.a, { path: '/channels' });
                assert.equal(res.status, 200, res.text);
            } finally {
                cl.b.proc.kill('SIGCONT');
            }
            const a1 = await scrape(cl.a);
            const d = (name) => metric(a1, `soketi_horizontal_adapter_${name}`) - metric(a0, `soketi_horizontal_adapter_${name}`);
            assert.ok(d('sent_requests') >= 1, `sent_requests +${d('sent_requests')}`);
            assert.equal(d('uncomplete_promises'), 1, 'the query timed out without B');
            assert.equal(d('resolved_promises'), 0, 'not resolved by every node');
        });
    });

    describe('start-up refusals', () => {
        test('local adapter with rateLimiter.driver redis: refuses to start, saying why', async () => {
            const { exit, output } = await expectRefusal({ SOKETI_ADAPTER_DRIVER: 'local', SOKETI_RATE_LIMITER_DRIVER: 'redis' });
            assert.notEqual(exit.code, 0);
            assert.match(output, /rateLimiter|RATE_LIMITER/);
            assert.match(output, /redis/);
            assert.match(output, /adapter/i);
        });

        test('local adapter with cache.driver redis: refuses to start, saying why', async () => {
            const { exit, output } = await expectRefusal({ SOKETI_ADAPTER_DRIVER: 'local', SOKETI_CACHE_DRIVER: 'redis' });
            assert.notEqual(exit.code, 0);
            assert.match(output, /cache\.driver|CACHE_DRIVER/);
            assert.match(output, /redis/);
            assert.match(output, /adapter/i);
        });

        test('SOKETI_ADAPTER_REDIS_NODE_TTL below 2 is refused', async () => {
            const { exit, output } = await expectRefusal({ SOKETI_ADAPTER_DRIVER: 'redis', SOKETI_DB_REDIS_PORT: '1', SOKETI_ADAPTER_REDIS_NODE_TTL: '1' });
            assert.notEqual(exit.code, 0);
            assert.match(output, /nodeTtl|NODE_TTL/);
        });
    });
});

/**
 * One rate limit window shared by A and B: `limit` requests alternating A, B pass with
 * X-RateLimit-Remaining counting down cluster-wide, Redis holds soketi's key (the points
 * used, expiring with the 1 s window), the next request on either node is refused with
 * soketi's 429 body, and once the window has closed requests pass again.
 * On a loaded machine the requests may not fit in one window: such an attempt is not
 * judged (up to 3 attempts; the last one is).
 */
async function checkWindow(cl, { limit, key, request, okJson }, attempts = 3) {
    const nodes = [cl.a, cl.b];
    const name = (i) => (i % 2 ? 'B' : 'A');
    for (let attempt = 1; ; attempt++) {
        // a window opens at its first consumption: start from none
        await until(async () => (await cl.redis.command('EXISTS', key)) === 0, 3000, `no open window on ${key}`);
        const started = Date.now();
        const passed = [];
        for (let i = 0; i < limit; i++) passed.push(await request(nodes[i % 2]));
        const points = await cl.redis.command('GET', key);
        const pttl = await cl.redis.command('PTTL', key);
        const refused = [];
        for (const srv of nodes) refused.push(await request(srv));
        const took = Date.now() - started;
        if (took > 700 && attempt < attempts) continue; // the window may have rolled over meanwhile
        passed.forEach((res, i) => {
            assert.equal(res.status, 200, `request ${i + 1} on ${name(i)}: ${res.status} ${res.text}`);
            if (okJson) assert.deepEqual(res.json, okJson);
        });
        assert.deepEqual(passed.map((res) => res.headers['x-ratelimit-remaining']),
            Array.from({ length: limit }, (_, i) => String(limit - 1 - i)), 'X-RateLimit-Remaining counts both nodes');
        const keys = JSON.stringify(await cl.redis.command('KEYS', '*'));
        assert.equal(points, String(limit), `points in ${key}; keys now: ${keys}`);
        assert.ok(pttl > 0 && pttl <= 1000, `${key} expires with the window (PTTL ${pttl})`);
        refused.forEach((res, i) => {
            assert.equal(res.status, 429, `request ${limit + 1 + i} on ${name(i)}: ${res.status} ${res.text}`);
            assert.deepEqual(res.json, TOO_MANY);
        });
        assert.ok(took < 1000, `the requests took ${took} ms: not all in one window`);
        // the window closes when its key expires
        await until(async () => (await cl.redis.command('EXISTS', key)) === 0, 3000, `${key} to expire`);
        const again = await request(cl.b);
        assert.equal(again.status, 200, `after the window: ${again.status} ${again.text}`);
        assert.equal(again.headers['x-ratelimit-remaining'], String(limit - 1));
        return;
    }
}
