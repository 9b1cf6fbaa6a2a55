// tests/integration/webhooks-durable.test.mjs — queue.driver redis: pending webhooks kept in
// Redis (include/soketi/adapter.h's job_put / job_claim, plugins/redis/store_jobs.c), so that
// a node killed with SIGKILL loses none:
//
//   - an endpoint down while the events happen, the node killed, restarted, the endpoint
//     back: every webhook arrives, once each (validated with the `pusher` SDK), and the
//     queue is empty after;
//   - two nodes: the one holding a webhook in flight (its endpoint hangs) keeps it past
//     several leases (the lease is extended), is SIGKILLed, and the other node sends it
//     once the lease ends, exactly once;
//   - two nodes: the one holding webhooks (8 in flight to a hanging endpoint, the rest
//     queued behind them) gets a SIGTERM: it releases them to the queue, the queued ones at
//     once, those in flight shortly before its grace period ends, and the other node sends
//     them all within seconds, where their 20 s leases would have made it wait;
//   - with concurrency 1, webhooks follow each other at once (a settled job asks for the
//     next), each once;
//   - an app's jobs in Redis bounded by queue.redis.maxJobsPerApp (the oldest dropped,
//     counted in soketi_webhooks_dropped_total and logged);
//   - Redis unreachable: a new webhook is sent from the node's memory (not lost unless the
//     node dies too);
//   - queue.driver redis with the local adapter refuses to start, saying why; sqs is refused.
//
// Delivery is at least once: a node killed between the endpoint's answer and the job's
// removal would send it again. These cases kill nodes before any endpoint answered, so
// "exactly once" holds here and is checked. Small leases (queue.redis.leaseMs) keep each
// case under ~15 s.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
    cleanup, connectedClient as connected, disconnect, freePort, pusherRest, rawPusher, REFERENCE, sleep, startRedis,
    startServer, subscribe, until, WEBHOOK_SETTLE_MS as SETTLE_MS, webhookEvents,
} from './harness.mjs';

after(cleanup);

const SKIP = REFERENCE && 'soketi-c\'s durable webhook queue (soketi keeps BullMQ jobs)';
const JOBS = '{soketi-webhooks}#jobs';
const DUE = '{soketi-webhooks}#due';
const LEASE_MS = 1500;

/** An HTTP endpoint on a fixed port, started and stopped at will; respond(req) gives the
 *  status, or 'hang' to never answer. Requests are kept as webhookEvents() reads them. */
function endpoint(port, respond = () => 200) {
    const requests = [];
    const hanging = new Set();
    let srv = null;
    return {
        port,
        url: `http://127.0.0.1:${port}/hook`,
        requests,
        respond,
        start() {
            srv = http.createServer((req, res) => {
                const chunks = [];
                req.on('data', (c) => chunks.push(c));
                req.on('end', () => {
                    const r = { headers: req.headers, rawBody: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
                    const answer = this.respond(r);
                    r.answer = answer;
                    requests.push(r);
                    if (answer === 'hang') { hanging.add(res); return; }
                    res.writeHead(answer, { 'content-type': 'application/json' });
                    res.end('{}');
                });
            });
            return new Promise((resolve) => srv.listen(port, '127.0.0.1', resolve));
        },
        stop() {
            for (const res of hanging) res.destroy();
            hanging.clear();
            srv?.closeAllConnections?.();
            return new Promise((resolve) => (srv ? srv.close(() => resolve()) : resolve()));
        },
    };
}

function nodeEnv(redis, ep, extra = {}) {
    return {
        SOKETI_ADAPTER_DRIVER: 'redis',
        SOKETI_DB_REDIS_PORT: String(redis.port),
        SOKETI_QUEUE_DRIVER: 'redis',
        SOKETI_QUEUE_REDIS_LEASE_MS: String(LEASE_MS),
        SOKETI_QUEUE_REDIS_CONCURRENCY: '10',
        SOKETI_DEFAULT_APP_WEBHOOKS: JSON.stringify([{ url: ep.url, event_types: ['channel_occupied'] }]),
        ...extra,
    };
}

/** The jobs in redis, decoded: [{ meta, body }]. */
async function jobs(redis) {
    const vals = await redis.command('HVALS', JOBS);
    return vals.map((v) => {
        const nl = v.indexOf('\n');
        return { meta: JSON.parse(v.slice(0, nl)), body: v.slice(nl + 1) };
    });
}

const occupied = (events) => events.filter((e) => e.name === 'channel_occupied').map((e) => e.channel).sort();

describe('webhooks in a redis queue (queue.driver redis)', { skip: SKIP }, () => {
    test('pending at a SIGKILL with the endpoint down: all arrive after a restart, once each', async () => {
        const redis = await startRedis();
        const ep = endpoint(await freePort());
        const env = nodeEnv(redis, ep);
        let node = await startServer({ env });
        const channels = ['durable-1', 'durable-2', 'durable-3', 'durable-4'];
        const client = await connected(node);
        for (const ch of channels) await subscribe(client, ch);
        // each job was tried once (connection refused) and put back with its attempt count
        await until(async () => {
            const js = await jobs(redis);
            return js.length === channels.length && js.every((j) => j.meta.attempts >= 1);
        }, 5000, `${channels.length} jobs tried once in redis`);
        const before = await jobs(redis);
        assert.deepEqual(before.map((j) => JSON.parse(j.body).events[0].channel).sort(), channels);
        disconnect(client);
        await node.stop('SIGKILL');
        await ep.start();
        try {
            node = await startServer({ env });
            const rest = pusherRest(node);
            await until(() => ep.requests.length >= channels.length, 8000, `${channels.length} webhooks`);
            await sleep(SETTLE_MS);
            assert.deepEqual(occupied(webhookEvents({ receiver: ep, rest })), channels,
                'each webhook pending at the SIGKILL arrives once (signed, as the SDK checks)');
            await until(async () => (await redis.command('HLEN', JOBS)) === 0, 3000, 'the queue emptied');
            assert.equal(await redis.command('ZCARD', DUE), 0);
        } finally {
            await node.stop('SIGTERM', 5000);
            await ep.stop();
            await redis.stop();
        }
    });

    test('two nodes: the holder SIGKILLed with a webhook in flight, the other sends it after the lease', async () => {
        const redis = await startRedis();
        const ep = endpoint(await freePort(), () => 'hang');
        await ep.start();
        // one webhook of three events (batching), so that one node holds it
        const env = nodeEnv(redis, ep, { SOKETI_WEBHOOKS_BATCHING: 'true', SOKETI_WEBHOOKS_BATCHING_DURATION: '1000' });
        const nodes = await Promise.all([startServer({ env }), startServer({ env })]);
        try {
            const client = await connected(nodes[0]);
            const channels = ['held-1', 'held-2', 'held-3'];
            for (const ch of channels) await subscribe(client, ch);
            await until(() => ep.requests.length >= 1, 5000, 'the webhook in flight');
            // hanging for several leases: the holder extends its lease, nobody else takes it
            await sleep(3 * LEASE_MS);
            assert.equal(ep.requests.length, 1, 'one node holds the job while it lives');
            const ua = ep.requests[0].headers['user-agent'];
            const holder = nodes.findIndex((n) => ua.includes(`Process: ${n.proc.pid})`));
            assert.ok(holder >= 0, `the holder is one of the nodes (${ua})`);
            const other = nodes[1 - holder];
            ep.respond = () => 200;
            await nodes[holder].stop('SIGKILL');
            const killedAt = Date.now();
            await until(() => ep.requests.length >= 2, 4 * LEASE_MS + 2000, 'the webhook from the other node');
            assert.ok(Date.now() - killedAt >= LEASE_MS - 600, 'sent once the lease ended, not before');
            await sleep(SETTLE_MS);
            assert.equal(ep.requests.length, 2, 'sent once more, by one node');
            const last = ep.requests[1];
            assert.ok(last.headers['user-agent'].includes(`Process: ${other.proc.pid})`), last.headers['user-agent']);
            assert.deepEqual(occupied(webhookEvents({ receiver: { requests: [last] }, rest: pusherRest(other) })), channels);
            assert.equal(last.rawBody, ep.requests[0].rawBody, 'the same webhook, byte for byte');
            await until(async () => (await redis.command('HLEN', JOBS)) === 0, 3000, 'the queue emptied');
            disconnect(client);
        } finally {
            await Promise.all(nodes.map((n) => n.stop('SIGTERM', 5000)));
            await ep.stop();
            await redis.stop();
        }
    });

    test('two nodes: the holder SIGTERMed releases what it claimed, the other sends it at once, not after the lease', async (t) => {
        const LEASE = 20000, GRACE = 3000, N = 12, INFLIGHT = 8; // 8: a node's requests at once per app
        const redis = await startRedis();
        const ep = endpoint(await freePort(), () => 'hang');
        await ep.start();
        const env = nodeEnv(redis, ep, {
            SOKETI_QUEUE_REDIS_LEASE_MS: String(LEASE), SOKETI_QUEUE_REDIS_CONCURRENCY: String(N),
            SOKETI_SHUTDOWN_GRACE_PERIOD: String(GRACE),
        });
        const a = await startServer({ env });
        let b = null;
        try {
            const client = await connected(a);
            const channels = Array.from({ length: N }, (_, i) => `release-${String(i).padStart(2, '0')}`);
            for (const ch of channels) await subscribe(client, ch);
            // A claims them all: 8 in flight (the endpoint hangs), 4 queued behind them
            await until(() => ep.requests.length >= INFLIGHT, 5000, 'A\'s requests in flight');
            await until(async () => {
                const due = await redis.command('ZRANGE', DUE, '0', '-1', 'WITHSCORES');
                const leased = due.filter((v, i) => i % 2 === 1 && Number(v) > Date.now() + LEASE / 2);
                return due.length === 2 * N && leased.length === N;
            }, 5000, `all ${N} jobs leased by A`);
            disconnect(client);
            b = await startServer({ env: { ...env, SOKETI_SHUTDOWN_GRACE_PERIOD: '200' } });
            await sleep(1500); // B polls: everything is leased, it takes nothing
            assert.equal(ep.requests.length, INFLIGHT, 'B sent nothing while A holds the jobs');
            ep.respond = () => 200; // A's requests keep hanging
            const stopping = a.stop('SIGTERM', GRACE + 5000);
            const t0 = Date.now();
            await until(() => ep.requests.length >= INFLIGHT + N, GRACE + 4000,
                `the ${N} webhooks from B, well before the ${LEASE} ms lease`);
            const fromB = ep.requests.slice(INFLIGHT);
            const ms = fromB.map((r) => r.at - t0);
            t.diagnostic(`B sent them ${ms.join(', ')} ms after A's SIGTERM (grace ${GRACE} ms, lease ${LEASE} ms)`);
            // the 4 queued went back at once: B sent them before A's cutoff (GRACE - 500 ms)
            assert.ok(ms.filter((t) => t < GRACE - 500).length >= N - INFLIGHT, `times after the SIGTERM: ${ms}`);
            assert.ok(Math.max(...ms) < GRACE + 2500, `times after the SIGTERM: ${ms}`);
            await stopping;
            assert.match(a.output(), /webhooks: 4 claimed webhook\(s\) released at shutdown: due now/, a.output());
            assert.match(a.output(), /webhooks: 8 claimed webhook\(s\) released at shutdown \(8 of them stopped in flight\)/);
            await sleep(SETTLE_MS);
            assert.equal(ep.requests.length, INFLIGHT + N, 'each sent once by B');
            for (const r of fromB)
                assert.ok(r.headers['user-agent'].includes(`Process: ${b.proc.pid})`), r.headers['user-agent']);
            assert.deepEqual(occupied(webhookEvents({ receiver: { requests: fromB }, rest: pusherRest(b) })), channels);
            const sent = new Set(ep.requests.slice(0, INFLIGHT).map((r) => r.rawBody));
            assert.equal(fromB.filter((r) => sent.has(r.rawBody)).length, INFLIGHT,
                'those A stopped in flight, byte for byte');
            await until(async () => (await redis.command('HLEN', JOBS)) === 0, 3000, 'the queue emptied');
        } finally {
            await Promise.all([a, b].filter(Boolean).map((n) => n.stop('SIGTERM', 5000)));
            await ep.stop();
            await redis.stop();
        }
    });

    test('one at a time (concurrency 1), 200 webhooks follow each other without waiting for the poll, once each', async () => {
        const redis = await startRedis();
        const ep = endpoint(await freePort());
        await ep.start();
        const node = await startServer({ env: nodeEnv(redis, ep, {
            SOKETI_QUEUE_REDIS_CONCURRENCY: '1', SOKETI_QUEUE_REDIS_LEASE_MS: '30000', // poll every 1 s
        }) });
        try {
            const N = 200;
            const ws = await rawPusher(node);
            const t0 = Date.now();
            for (let i = 0; i < N; i++) ws.send({ event: 'pusher:subscribe', data: { channel: `many-${i}` } });
            await until(() => ep.requests.length >= N, 8000, `${N} webhooks`);
            const ms = Date.now() - t0;
            assert.ok(ms < 5000, `${N} webhooks took ${ms} ms`);
            await sleep(500);
            const got = occupied(webhookEvents({ receiver: ep, rest: pusherRest(node) }));
            assert.equal(got.length, N);
            assert.equal(new Set(got).size, N, 'each once');
        } finally {
            await node.stop('SIGTERM', 5000);
            await ep.stop();
            await redis.stop();
        }
    });

    test('an app holds at most queue.redis.maxJobsPerApp jobs: the oldest dropped, counted and logged', async () => {
        const redis = await startRedis();
        const ep = endpoint(await freePort()); // down
        const node = await startServer({ env: nodeEnv(redis, ep, {
            SOKETI_QUEUE_REDIS_MAX_JOBS_PER_APP: '2', SOKETI_METRICS_ENABLED: 'true',
        }) });
        try {
            const client = await connected(node);
            for (const ch of ['bound-1', 'bound-2', 'bound-3', 'bound-4']) await subscribe(client, ch);
            await until(async () => {
                const js = await jobs(redis);
                return js.length === 2 && js.every((j) => j.meta.attempts >= 1);
            }, 5000, 'two jobs left');
            const left = (await jobs(redis)).map((j) => JSON.parse(j.body).events[0].channel).sort();
            assert.deepEqual(left, ['bound-3', 'bound-4'], 'the newest kept');
            const metrics = await (await fetch(`http://127.0.0.1:${node.metricsPort}/metrics`)).text();
            assert.match(metrics, /soketi_webhooks_dropped_total\{app_id="app-id",port="\d+"\} 2\n/);
            await until(() => /maxJobsPerApp/.test(node.output()), 3000, 'the drop logged');
            disconnect(client);
        } finally {
            await node.stop('SIGTERM', 5000);
            await redis.stop();
        }
    });

    test('redis unreachable: a new webhook is sent from the node\'s memory instead', async () => {
        const redis = await startRedis();
        const ep = endpoint(await freePort());
        await ep.start();
        const node = await startServer({ env: nodeEnv(redis, ep) });
        try {
            await redis.stop();
            await sleep(300);
            const client = await connected(node);
            await subscribe(client, 'no-redis');
            await until(() => ep.requests.length >= 1, 5000, 'the webhook from memory');
            assert.deepEqual(occupied(webhookEvents({ receiver: ep, rest: pusherRest(node) })), ['no-redis']);
            await until(() => /queue is unreachable/.test(node.output()), 3000, 'logged');
            disconnect(client);
        } finally {
            await node.stop('SIGTERM', 5000);
            await ep.stop();
        }
    });

    test('queue.driver redis with the local adapter refuses to start, saying why', async () => {
        await assert.rejects(startServer({ env: { SOKETI_QUEUE_DRIVER: 'redis' } }),
            /queue\.driver 'redis' keeps pending webhooks in Redis .*adapter 'local' offers no durable queue/);
    });

    test('queue.driver sqs is still refused', async () => {
        await assert.rejects(startServer({ env: { SOKETI_QUEUE_DRIVER: 'sqs' } }),
            /queue\.driver 'sqs' is a soketi driver that soketi-c does not provide/);
    });
});
