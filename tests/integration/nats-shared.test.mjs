// tests/integration/nats-shared.test.mjs — what the nodes of a NATS-adapter cluster share in
// JetStream key-value buckets through the adapter's optional ops (include/soketi/adapter.h):
//
//   - webhooks once per CLUSTER: channel_occupied / channel_vacated and member_added /
//     member_removed once however many nodes hold the channel or the user (soketi 1.6: once
//     per node), also when two nodes join at the same moment; a node that dies is forgotten
//     after adapter.nats.nodeTtl, one stopped with SIGTERM leaves at once; a nats-server
//     restarted (JetStream emptied) gets the nodes' claims back;
//   - rateLimiter.driver redis (the adapter's shared store, whatever the adapter): backend
//     events counted across nodes;
//   - cache.driver redis: a cache channel's event triggered on A is the cached event of a
//     subscriber on B;
//   - watchlists: online / offline across nodes;
//   - without JetStream: said once at start, and each node decides alone (webhooks per node,
//     never none).
//
// Every group starts its own nats-server and two daemons. soketi-c only.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
    REFERENCE, checkPresenceWebhooks, checkWebhookRace, cleanup, closeWebhookReceivers,
    connectedClient as connected, disconnect, expectWebhooks as expectTotal, natsEnv, natsSkip,
    presenceMember as member, pusherRest, rawPusher, restRequest, sleep, startNats, startServer, subscribe,
    until, waitFor, waitNatsListeners, WEBHOOK_SETTLE_MS as SETTLE_MS, webhookCount as countOf, webhookSetup,
    webhookSummary as summary,
} from './harness.mjs';

after(cleanup);
after(closeWebhookReceivers);

const SKIP = natsSkip() || (REFERENCE && 'soketi-c\'s cluster-wide state over NATS');

/** A nats-server (JetStream unless jetstream is false) and two daemons with env on it,
 *  connected and, with JetStream, using it. */
async function startCluster(env = {}, { jetstream = true } = {}) {
    const nats = await startNats({ jetstream });
    let nodes = [];
    try {
        nodes = await Promise.all([startServer({ env: natsEnv(nats, env) }), startServer({ env: natsEnv(nats, env) })]);
        await waitNatsListeners(nats, 2);
        if (jetstream) {
            await until(() => nodes.every((s) => /shared state in JetStream/.test(s.output())), 8000, 'JetStream in use');
        }
    } catch (err) {
        await Promise.all(nodes.map((s) => s.stop('SIGKILL')));
        await nats.stop();
        nats.remove();
        err.message += nodes.map((s) => `\n--- daemon on ${s.port} ---\n${s.output().slice(-3000)}`).join('');
        throw err;
    }
    const [a, b] = nodes;
    return {
        nats, a, b,
        async stop() {
            await Promise.all(nodes.map((s) => s.stop('SIGTERM', 5000)));
            await nats.stop();
            nats.remove();
        },
    };
}

/** A cluster with webhooks pointed at a receiver: { cl, hooks }. */
async function withHooks(env = {}, opts = {}) {
    const w = await webhookSetup();
    const cl = await startCluster({ ...w.env, ...env }, opts);
    return { cl, hooks: { receiver: w.receiver, rest: pusherRest(cl.a) } };
}

const postEvent = (srv, channel) => restRequest(srv, { method: 'POST', path: '/events', body: { name: 'e', channel, data: '{}' } });

describe('shared state over the nats adapter', { concurrency: true, skip: SKIP }, () => {
    describe('webhooks once per cluster', () => {
        let cl;
        let hooks;
        before(async () => ({ cl, hooks } = await withHooks()));
        after(() => cl?.stop());

        test('two nodes join at the same moment: one occupied; both close at once: one vacated', async () => {
            await checkWebhookRace(cl, hooks);
        });

        test('presence: member_added once per user across nodes, member_removed when its last socket anywhere leaves', async () => {
            await checkPresenceWebhooks(cl, hooks);
        });
    });

    describe('nodes that go (adapter.nats.nodeTtl 3 s), and a restarted nats-server', { concurrency: 1 }, () => {
        let cl;
        let hooks;
        before(async () => ({ cl, hooks } = await withHooks({ SOKETI_ADAPTER_NATS_NODE_TTL: '3' })));
        after(() => cl?.stop());

        test('a nats-server restarted empty: the nodes re-create what they hold, no second occupied', async () => {
            const ch = 'shared-restart';
            const onA = await connected(cl.a);
            await subscribe(onA, ch);
            await hooks.receiver.waitFor(() => countOf(hooks, ch, 'channel_occupied') >= 1, 5000);
            await cl.nats.restart(); // JetStream's buckets are in memory: gone
            await waitNatsListeners(cl.nats, 2);
            await until(() => [cl.a, cl.b].every((s) => s.output().match(/shared state in JetStream/g)?.length >= 2),
                8000, 'both nodes back on JetStream');
            await sleep(500); // A re-writes what it holds as soon as JetStream is usable
            const onB = await connected(cl.b);
            await subscribe(onB, ch);
            await sleep(SETTLE_MS);
            assert.equal(countOf(hooks, ch, 'channel_occupied'), 1, `A still holds ${ch}: ${summary(hooks, ch)}`);
            disconnect(onA);
            await sleep(300);
            disconnect(onB);
            await expectTotal(hooks, ch, 'channel_vacated', 1);
        });

        test('a node stopped with SIGTERM leaves at once; one killed is forgotten after nodeTtl', { timeout: 30000 }, async () => {
            const ch = 'shared-dead';
            const onB = await connected(cl.b, member('u9'));
            await subscribe(onB, ch);
            await subscribe(onB, 'presence-dead');
            await hooks.receiver.waitFor(() => countOf(hooks, ch, 'channel_occupied') >= 1, 5000);
            await sleep(4000); // longer than nodeTtl: B's claims were refreshed
            const a1 = await connected(cl.a, member('u9'));
            await subscribe(a1, ch);
            await subscribe(a1, 'presence-dead');
            await sleep(SETTLE_MS);
            assert.equal(countOf(hooks, ch, 'channel_occupied'), 1, `B still holds ${ch}: ${summary(hooks, ch)}`);
            assert.equal(countOf(hooks, 'presence-dead', 'member_added', 'u9'), 1, summary(hooks, 'presence-dead'));
            disconnect(a1);
            await sleep(300);

            cl.b.proc.kill('SIGKILL');
            await cl.b.exited;
            disconnect(onB);
            await sleep(3500);
            const a2 = await connected(cl.a, member('u9'));
            await subscribe(a2, ch);
            await subscribe(a2, 'presence-dead');
            await expectTotal(hooks, ch, 'channel_occupied', 2, { timeoutMs: 3000 });
            assert.equal(countOf(hooks, 'presence-dead', 'member_added', 'u9'), 2, summary(hooks, 'presence-dead'));
            disconnect(a2);
        });
    });

    describe('a node stopped gracefully (SIGTERM)', () => {
        let cl;
        let hooks;
        before(async () => ({ cl, hooks } = await withHooks()));
        after(() => cl?.stop());

        test('its channels are released at once (well before nodeTtl, 30 s)', async () => {
            const ch = 'shared-graceful';
            const onB = await connected(cl.b);
            await subscribe(onB, ch);
            await hooks.receiver.waitFor(() => countOf(hooks, ch, 'channel_occupied') >= 1, 5000);
            const stopped = await cl.b.stop('SIGTERM', 5000);
            assert.equal(stopped.code, 0, JSON.stringify(stopped));
            disconnect(onB);
            const a2 = await connected(cl.a);
            await subscribe(a2, ch);
            await expectTotal(hooks, ch, 'channel_occupied', 2, { timeoutMs: 3000 });
            disconnect(a2);
        });
    });

    // One test at a time (node:test hands the outer concurrency down to this group), the rate
    // limit test last: the cache test's trigger is a backend event of the same app, counted in
    // the window the rate limit test expects to open fresh after its sleep, and the rate limit
    // test leaves that window full (a trigger in it gets 429).
    describe('rate limits, the cache and watchlists across nodes', { concurrency: 1 }, () => {
        let cl;
        before(async () => {
            cl = await startCluster({
                SOKETI_RATE_LIMITER_DRIVER: 'redis',
                SOKETI_CACHE_DRIVER: 'redis',
                SOKETI_DEFAULT_APP_MAX_BACKEND_EVENTS_PER_SEC: '4',
            });
        });
        after(() => cl?.stop());

        test('an event triggered on A is the cached event of a subscriber on B', async () => {
            await pusherRest(cl.a).trigger('cache-news', 'headline', { n: 1 });
            await sleep(200); // the cache write is not confirmed
            const client = await connected(cl.b);
            assert.deepEqual(await waitFor(client.subscribe('cache-news'), 'headline'), { n: 1 });
            await waitFor(client.subscribe('cache-nothing'), 'pusher:cache_miss');
            disconnect(client);
        });

        test('watchlists: a user online on B is online for a watcher on A, offline once its last connection goes', async () => {
            const rest = pusherRest(cl.a);
            const signin = async (srv, user) => {
                const ws = await rawPusher(srv);
                ws.send({ event: 'pusher:signin', data: rest.authenticateUser(ws.socketId, user) });
                assert.equal((await ws.nextJson()).event, 'pusher:signin_success');
                return ws;
            };
            const watched = (m) => JSON.parse(m.data).events;
            const bob = await signin(cl.b, { id: 'bob' });
            await sleep(200);
            const alice = await signin(cl.a, { id: 'alice', watchlist: ['bob', 'carol'] });
            assert.deepEqual(watched(await alice.nextJson()), [
                { name: 'online', user_ids: ['bob'] }, { name: 'offline', user_ids: ['carol'] }]);
            const carol = await signin(cl.b, { id: 'carol' });
            assert.deepEqual(watched(await alice.nextJson()), [{ name: 'online', user_ids: ['carol'] }]);
            bob.destroy();
            assert.deepEqual(watched(await alice.nextJson()), [{ name: 'offline', user_ids: ['bob'] }]);
            carol.destroy();
            alice.destroy();
        });

        test('maxBackendEventsPerSecond 4: four events alternating A and B pass, the next one gets 429', async () => {
            for (let attempt = 1; ; attempt++) {
                await sleep(1100); // a fresh window
                const started = Date.now();
                const passed = [];
                for (let i = 0; i < 4; i++) passed.push(await postEvent(i % 2 ? cl.b : cl.a, 'rl'));
                const refused = [await postEvent(cl.a, 'rl'), await postEvent(cl.b, 'rl')];
                const took = Date.now() - started;
                if (took > 700 && attempt < 3) continue; // a loaded machine: the window may have rolled over
                passed.forEach((res, i) => assert.equal(res.status, 200, `event ${i + 1}: ${res.status} ${res.text}`));
                assert.deepEqual(passed.map((res) => res.headers['x-ratelimit-remaining']), ['3', '2', '1', '0'],
                    'X-RateLimit-Remaining counts both nodes');
                for (const res of refused) {
                    assert.equal(res.status, 429, `${res.status} ${res.text}`);
                    assert.deepEqual(res.json, { error: 'Too many requests.', code: 429 });
                }
                return;
            }
        });
    });

    describe('without JetStream', () => {
        let cl;
        let hooks;
        before(async () => ({ cl, hooks } = await withHooks({}, { jetstream: false })));
        after(() => cl?.stop());

        test('said once at start; each node decides alone: webhooks per node, never none', async () => {
            for (const srv of [cl.a, cl.b]) {
                await until(() => /JetStream is not available/.test(srv.output()), 8000, 'the warning');
                assert.equal(srv.output().match(/JetStream is not available/g).length, 1, 'said once');
            }
            const ch = 'no-js';
            const onA = await connected(cl.a);
            const onB = await connected(cl.b);
            await subscribe(onA, ch);
            await subscribe(onB, ch);
            await expectTotal(hooks, ch, 'channel_occupied', 2);
            assert.equal((await restRequest(cl.a, { path: `/channels/${ch}` })).json.subscription_count, 2,
                'queries still span the nodes');
            disconnect(onA);
            disconnect(onB);
            await expectTotal(hooks, ch, 'channel_vacated', 2);
        });
    });
});
