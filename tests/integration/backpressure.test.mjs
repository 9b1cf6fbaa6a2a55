// backpressure.test.mjs — a subscriber that stops reading must not grow the server's memory
// without bound: once more than maxBackpressureInKb is queued for it, the server drops its
// queue and closes it with 4100 ("over capacity"), while everyone else keeps receiving.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import {
    REFERENCE, SANITIZED, cleanup, pusherClient, pusherRest, rawPusher, rssKiB, startServer, subscribe, waitConnected,
} from './harness.mjs';

after(cleanup);

test('a client that stops reading is closed with 4100; others get every event; memory stays bounded',
    { skip: REFERENCE && 'soketi (uWS) drops messages for a slow reader instead of closing it', timeout: 60000 },
    async () => {
        const server = await startServer({ env: { SOKETI_MAX_BACKPRESSURE_IN_KB: '256' } });
        const slow = await rawPusher(server);
        slow.send({ event: 'pusher:subscribe', data: { channel: 'flood' } });
        await slow.nextEvent('pusher_internal:subscription_succeeded');

        const fast = pusherClient(server);
        await waitConnected(fast);
        const channel = await subscribe(fast, 'flood');
        let received = 0;
        channel.bind('big', () => { received += 1; });

        // The slow client stops reading: the kernel buffers fill, then the server's queue.
        slow.socket.pause();
        const rssBefore = rssKiB(server.proc.pid);
        const rest = pusherRest(server);
        const payload = 'x'.repeat(50 * 1024);
        const events = 400; // 20 MB for the slow client, far past kernel buffers + 256 KiB
        for (let i = 0; i < events; i += 1) {
            await rest.trigger('flood', 'big', payload);
        }
        const deadline = Date.now() + 15000;
        while (received < events && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 50));
        }
        assert.equal(received, events, 'the reading subscriber got every event');

        // What the server holds for the slow client is bounded by the limit, not by 20 MB.
        const grown = rssKiB(server.proc.pid) - rssBefore;
        if (!SANITIZED)
            assert.ok(grown < 8 * 1024, `server RSS grew by ${grown} KiB`);

        // Reading again, the slow client finds what the kernel held, then the close.
        slow.socket.resume();
        const close = await slow.nextClose(15000);
        assert.equal(close.code, 4100);
    });
