// tests/integration/io.test.mjs — connection output under back-pressure: a client that
// stops reading gets every queued message once it reads again, and once its queue is
// written the daemon goes back to sleep (no write-readiness busy loop).
//
// DESIGN: the client pauses its socket, the REST API queues more than the kernel's
// socket buffers hold (so writes block), the client resumes; the daemon's CPU time is
// then read from /proc while nothing happens. Linux only (CI is).

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';

import { REFERENCE, cleanup, cpuTicks, pusherRest, rawPusher, sleep, startServer } from './harness.mjs';

after(cleanup);

test('a paused reader gets everything, then the daemon idles', { skip: REFERENCE || !fs.existsSync('/proc/self/stat') }, async () => {
    const server = await startServer({ env: { SOKETI_MAX_BACKPRESSURE_IN_KB: 65536 } });
    const ws = await rawPusher(server);
    ws.send({ event: 'pusher:subscribe', data: { channel: 'slow' } });
    await ws.nextEvent('pusher_internal:subscription_succeeded');
    ws.socket.pause();
    const rest = pusherRest(server);
    const chunk = 'y'.repeat(90 * 1024);
    const n = 100;
    for (let i = 0; i < n; i++) {
        // eslint-disable-next-line no-await-in-loop
        assert.equal((await rest.trigger('slow', 'e', { i, chunk })).status, 200);
    }
    await sleep(200);
    ws.socket.resume();
    const got = [];
    while (got.length < n) {
        // eslint-disable-next-line no-await-in-loop
        const m = await ws.nextEvent('e', 20000);
        got.push(JSON.parse(m.data).i);
    }
    assert.deepEqual(got, [...Array(n).keys()]);
    await sleep(200);
    const before = cpuTicks(server.proc.pid);
    await sleep(1000);
    const used = cpuTicks(server.proc.pid) - before;
    assert.ok(used <= 10, `the idle daemon used ${used} CPU ticks in 1 s`);
    ws.destroy();
});
