// fdlimit.test.mjs — the daemon at its open-files limit: a client that opens more connections
// than the daemon has file descriptors must not make it spin (accept() failing in a loop on a
// level-triggered listener) or flood its log, and once those connections close, new clients
// connect again.
//
// DESIGN: the daemon is started through `prlimit --nofile=64` (it execs the daemon, so the pid
// is the daemon's). A hog opens 300 connections and keeps opening more while the daemon's CPU
// time is read from /proc over 3 s. Linux only (CI is).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';

import {
    REFERENCE, cleanup, cpuTicks, pusherClient, sleep, startServer, until, waitConnected,
} from './harness.mjs';

after(cleanup);

const hasPrlimit = ['/usr/bin/prlimit', '/bin/prlimit'].some((p) => fs.existsSync(p));

test('at the open-files limit: no busy loop, a few log lines, and service resumes when fds free up',
    { skip: (REFERENCE && 'soketi-c only') || (!hasPrlimit && 'needs prlimit') || (!fs.existsSync('/proc/self/stat') && 'Linux only'), timeout: 60000 },
    async (t) => {
        const server = await startServer({ wrap: ['prlimit', '--nofile=64', '--'] });
        const socks = [];
        const open = (n) => {
            for (let i = 0; i < n; i++) {
                const s = net.connect(server.port, '127.0.0.1');
                s.on('error', () => { /* refused or reset: expected */ });
                socks.push(s);
            }
        };
        open(300);
        await sleep(500);
        const logBefore = server.output().length;
        const cpuBefore = cpuTicks(server.proc.pid);
        // Keep the shortage going: more connections arrive while we measure.
        const more = setInterval(() => open(5), 50);
        await sleep(3000);
        clearInterval(more);
        const used = cpuTicks(server.proc.pid) - cpuBefore;
        assert.ok(used < 60, `the daemon used ${used} CPU ticks in 3 s at its fd limit`);
        const lines = server.output().split('\n').filter((l) => /accept/i.test(l) && !/\[debug\]/.test(l));
        t.diagnostic(`${used} CPU ticks in 3 s; ${lines.length} log line(s) about accept, `
            + `${server.output().length - logBefore} bytes of log meanwhile`);
        assert.ok(lines.length >= 1 && lines.length <= 4,
            `log lines about accept: ${lines.length}\n${lines.slice(0, 5).join('\n')}`);
        assert.ok(server.output().length - logBefore < 2000, 'the log stays quiet while the limit lasts');

        for (const s of socks) s.destroy();
        await sleep(300);
        const client = pusherClient(server);
        await waitConnected(client, 10000);
        await until(() => /available again/.test(server.output()), 5000, 'the recovery logged');
    });
