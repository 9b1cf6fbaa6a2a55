// tests/integration/systemd.test.mjs — the daemon under a notify-aware service manager
// (systemd Type=notify): READY=1 once it listens, RELOADING=1 then READY=1 around a
// SIGHUP, STOPPING=1 on SIGTERM, each sent to the datagram socket in $NOTIFY_SOCKET.
//
// DESIGN: node has no AF_UNIX datagram sockets, so a python3 one-liner binds the
// socket (an abstract name, as systemd uses) and prints each datagram as a JSON line;
// the file skips without python3. The unit test tests/check_sd_notify.c covers the
// sender itself (path and abstract sockets, bad addresses).

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

import { REFERENCE, cleanup, sleep, startServer } from './harness.mjs';

after(cleanup);

const havePython = spawnSync('python3', ['-c', 'import socket'], { stdio: 'ignore' }).status === 0;
const skip = REFERENCE ? 'soketi 1.6 does not notify systemd' : (!havePython ? 'python3 is not installed' : false);

const LISTENER = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\\0" + sys.argv[1])
print("bound", flush=True)
while True:
    print(json.dumps(s.recv(4096).decode()), flush=True)
`;

/** Binds @name and collects the datagrams: { messages, next(ms), stop() }. */
async function notifySocket(name) {
    const proc = spawn('python3', ['-c', LISTENER, name], { stdio: ['ignore', 'pipe', 'inherit'] });
    const messages = [];
    let wake = null;
    let buf = '';
    proc.stdout.setEncoding('utf8');
    await new Promise((resolve, reject) => {
        proc.once('error', reject);
        proc.stdout.on('data', (d) => {
            buf += d;
            let i;
            while ((i = buf.indexOf('\n')) >= 0) {
                const line = buf.slice(0, i);
                buf = buf.slice(i + 1);
                if (line === 'bound') resolve();
                else { messages.push(JSON.parse(line)); if (wake) wake(); }
            }
        });
    });
    let seen = 0;
    return {
        messages,
        async next(ms = 5000) {
            const deadline = Date.now() + ms;
            while (seen >= messages.length) {
                if (Date.now() > deadline) throw new Error(`no notification within ${ms} ms (got ${JSON.stringify(messages)})`);
                // eslint-disable-next-line no-await-in-loop
                await Promise.race([new Promise((r) => { wake = r; }), sleep(100)]);
            }
            return messages[seen++];
        },
        stop: () => proc.kill('SIGKILL'),
    };
}

test('READY, RELOADING + READY and STOPPING reach $NOTIFY_SOCKET', { skip }, async () => {
    const name = `soketi-test-notify/${randomBytes(6).toString('hex')}`;
    const sock = await notifySocket(name);
    try {
        const server = await startServer({ env: { NOTIFY_SOCKET: `@${name}` } });
        const ready = await sock.next();
        assert.match(ready, /^READY=1\nSTATUS=listening on 127\.0\.0\.1:\d+, 1 app\(s\)$/);

        server.proc.kill('SIGHUP');
        assert.match(await sock.next(), /^RELOADING=1\nMONOTONIC_USEC=\d+$/);
        assert.equal(await sock.next(), 'READY=1\nSTATUS=reloaded: 1 app(s)');

        const stopped = server.stop('SIGTERM');
        assert.equal(await sock.next(), 'STOPPING=1');
        assert.equal((await stopped).code, 0);
    } finally {
        sock.stop();
    }
});

test('an unusable NOTIFY_SOCKET is reported, not fatal', { skip: REFERENCE }, async () => {
    const server = await startServer({ env: { NOTIFY_SOCKET: '/nonexistent-dir/notify' } });
    assert.match(server.output(), /cannot notify the service manager \(NOTIFY_SOCKET\)/);
    await server.stop();
});

test('workers = 2: one READY=1 once both listen, RELOADING=1 + READY=1 once both reloaded, STOPPING=1', { skip }, async () => {
    const name = `soketi-test-notify/${randomBytes(6).toString('hex')}`;
    const sock = await notifySocket(name);
    try {
        const server = await startServer({ env: { NOTIFY_SOCKET: `@${name}`, SOKETI_WORKERS: '2' } });
        const ready = await sock.next();
        assert.match(ready, /^READY=1\nSTATUS=listening on 127\.0\.0\.1:\d+ with 2 workers, 1 app\(s\)$/);
        // the supervisor speaks for the workers: READY=1 after both said they listen
        const out = server.output();
        const lastListen = Math.max(out.indexOf('worker 1: soketi-c'), out.indexOf('worker 2: soketi-c'));
        assert.ok(lastListen >= 0 && lastListen < out.indexOf('all 2 workers listen'), out);

        server.proc.kill('SIGHUP');
        assert.match(await sock.next(), /^RELOADING=1\nMONOTONIC_USEC=\d+$/);
        assert.equal(await sock.next(), 'READY=1\nSTATUS=reloaded: 2 workers');
        // the workers' log lines come through pipes, which may lag behind the notify socket
        const reloadedLines = () => (server.output().match(/worker \d: SIGHUP: 1 app\(s\) reloaded/g) || []).length;
        for (let i = 0; i < 50 && reloadedLines() < 2; i++) await sleep(20);
        assert.equal(reloadedLines(), 2, server.output());

        const stopped = server.stop('SIGTERM');
        assert.equal(await sock.next(), 'STOPPING=1');
        assert.equal((await stopped).code, 0);
        await sleep(200);
        assert.equal(sock.messages.length, 4, `the workers sent nothing themselves: ${JSON.stringify(sock.messages)}`);
    } finally {
        sock.stop();
    }
});
