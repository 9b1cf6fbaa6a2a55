// tests/integration/cluster-mixed.test.mjs — soketi 1.6.1 (npm, tests/reference) and soketi-c
// nodes in one brokerless cluster (adapter.driver cluster: node-discover's UDP packets), in
// network namespaces of a private LAN (netns.mjs): events, client events, socket exclusion,
// counts, presence members and user termination cross both ways; a soketi-c node joining
// late is counted and reached by soketi; a killed node of either kind makes the other
// answer by requestsTimeout, then is dropped after nodeTimeout; soketi's own event too large
// for a datagram; the same over multicast.
//
// Needs root for the namespaces (SOKETI_TEST_NO_NETNS=1 skips the file) and soketi 1.6 in
// tests/reference (skipped, saying so, when it is not installed).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
    REFERENCE, REFERENCE_BIN, checkMixedCluster, cleanup, expectExactlyOnce, expectNoEvent, listener, pusherRest,
    sleep, until,
} from './harness.mjs';
import {
    CHECK_MS, NODE_TIMEOUT_MS, TIMEOUT_MS, cleanupLans, clusterEnv, createLan, netnsSkip, peersOf, startNode, timed,
    waitPeers,
} from './netns.mjs';

after(cleanup);
after(cleanupLans);

const SKIP = netnsSkip
    || (!fs.existsSync(REFERENCE_BIN) && `soketi 1.6 is not installed at ${REFERENCE_BIN} (cd tests/reference && npm ci)`)
    || (REFERENCE && 'a mixed cluster already (soketi-c is not run in reference mode)');

/** Starts soketi (theirs) and soketi-c (ours) with env, and waits until they know each other. */
async function mixedPair(lan, [i, j], env) {
    const [theirs, ours] = await Promise.all([
        startNode(lan, i, { env, reference: true, readyTimeoutMs: 20000 }),
        startNode(lan, j, { env, reference: false }),
    ]);
    await waitPeers(ours, 1, 5000);
    await sleep(2 * CHECK_MS); // soketi hears our next hello
    return { theirs, ours };
}

describe('soketi 1.6.1 and soketi-c on broadcast, soketi\'s defaults', { skip: SKIP }, () => {
    let lan; let ours; let theirs; let late;
    before(async () => {
        lan = await createLan(3);
        ({ ours, theirs } = await mixedPair(lan, [0, 1], clusterEnv()));
    });

    test('events, client events, counts, presence and termination both ways', async () => {
        await checkMixedCluster(ours, theirs);
        for (const srv of [ours, theirs]) {
            const { ms } = await timed(srv, '/channels/mixed');
            assert.ok(ms < TIMEOUT_MS, `the other node answered (${ms} ms, ${srv.host})`);
        }
    });

    test('a soketi-c node joining late is counted and reached by soketi', async () => {
        late = await startNode(lan, 2, { env: clusterEnv(), reference: false });
        await waitPeers(late, 2);
        await sleep(2 * CHECK_MS);
        const ls = await Promise.all([ours, theirs, late].map((srv) => listener(srv, 'late', 'ev')));
        await pusherRest(theirs).trigger('late', 'ev', { n: 1 });
        await expectExactlyOnce(ls, { n: 1 });
        const { json, ms } = await timed(theirs, '/channels/late');
        assert.equal(json.subscription_count, 3, 'soketi sums both soketi-c nodes');
        assert.ok(ms < TIMEOUT_MS, `soketi got every answer (${ms} ms)`);
        assert.equal((await timed(late, '/channels/late')).json.subscription_count, 3);
    });

    test('soketi\'s own event too large for a datagram stays on soketi (silently), and soketi lives on', async () => {
        const x = await listener(ours, 'big', 'ev');
        const y = await listener(theirs, 'big', 'ev');
        const big = 'y'.repeat(70 * 1024);
        await pusherRest(theirs).trigger('big', 'ev', big);
        await until(() => y.got.length === 1, 3000, 'the event on soketi');
        await expectNoEvent(x.ch, 'ev', 1000);
        await pusherRest(theirs).trigger('big', 'ev', 'small');
        await until(() => x.got.length === 1, 3000, 'the next event on soketi-c');
    });

    test('a killed soketi-c node: soketi answers by requestsTimeout, then drops it', async () => {
        late.proc.kill('SIGKILL');
        await late.exited;
        const first = await timed(theirs, '/channels/late');
        assert.equal(first.json.subscription_count, 2);
        assert.ok(first.ms >= TIMEOUT_MS - 100 && first.ms < TIMEOUT_MS + 1500, `soketi waited for it (${first.ms} ms)`);
        await until(() => peersOf(ours) === 1, NODE_TIMEOUT_MS + CHECK_MS + 2000, 'soketi-c drops it');
        await sleep(CHECK_MS);
        const later = await timed(theirs, '/channels/late');
        assert.ok(later.ms < TIMEOUT_MS / 2, `soketi dropped it too (${later.ms} ms)`);
    });

    test('a killed soketi node: soketi-c answers by requestsTimeout, then drops it', async () => {
        theirs.proc.kill('SIGKILL');
        await theirs.exited;
        const first = await timed(ours, '/channels/late');
        assert.equal(first.json.subscription_count, 1);
        assert.ok(first.ms >= TIMEOUT_MS - 100 && first.ms < TIMEOUT_MS + 1500, `waited for soketi (${first.ms} ms)`);
        await until(() => peersOf(ours) === 0, NODE_TIMEOUT_MS + CHECK_MS + 2000, 'soketi dropped');
        assert.match(ours.output(), /left: not heard from for 2000 ms; 0 other node\(s\)/);
        const later = await timed(ours, '/channels/late');
        assert.ok(later.ms < TIMEOUT_MS / 2, `answered alone at once (${later.ms} ms)`);
    });
});

describe('soketi 1.6.1 and soketi-c on multicast', { skip: SKIP }, () => {
    test('a multicast group instead of broadcast: events, counts, presence and termination both ways', async () => {
        const lan = await createLan(2);
        const { ours, theirs } = await mixedPair(lan, [0, 1], clusterEnv({
            SOKETI_CLUSTER_MULTICAST_ADDRESS: '239.255.42.99',
            SOKETI_CLUSTER_PORT: '11003',
        }));
        assert.match(ours.output(), /UDP 0\.0\.0\.0:11003, multicast group 239\.255\.42\.99:11003/);
        await checkMixedCluster(ours, theirs);
        for (const srv of [ours, theirs]) {
            const { json, ms } = await timed(srv, '/channels/mixed');
            assert.equal(json.subscription_count, 2, `on ${srv.host}`);
            assert.ok(ms < TIMEOUT_MS, `the other node answered (${ms} ms)`);
        }
    });
});
