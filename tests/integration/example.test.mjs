// tests/integration/example.test.mjs — the third-party plugin example
// (examples/adapter_example) built the way its README says, against the public header
// only, then loaded by the daemon through adapter.driver and driven by the official
// clients. tests/package.sh does the same against the installed soketi-dev package.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
    REFERENCE, cleanup, disconnect, pusherClient, pusherRest, startServer, subscribe, waitFor,
} from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SRC = process.env.SOKETI_SRCDIR || path.resolve(HERE, '../..');
const CC = process.env.CC_FOR_TESTS || 'cc';
const haveCc = spawnSync(CC, ['--version'], { stdio: 'ignore' }).status === 0;
const skip = REFERENCE ? 'soketi 1.6 has no plugins' : (!haveCc ? `no C compiler (${CC})` : false);

after(cleanup);
let dir;
before(() => {
    if (skip) return;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soketi-example-'));
    // Only the public header: the same command as with `pkg-config --cflags soketi-adapter`.
    execFileSync(CC, ['-shared', '-fPIC', '-Wall', '-Wextra', '-Werror', `-I${path.join(SRC, 'include')}`,
        '-o', path.join(dir, 'adapter_example.so'), path.join(SRC, 'examples/adapter_example/adapter_example.c')]);
});
after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

test('the example adapter loads through the config and carries broadcasts', { skip }, async () => {
    const server = await startServer({
        config: { 'adapter.driver': 'example', pluginDir: dir },
        args: [`--plugin-dir=${dir}`],
    });
    assert.match(server.output(), /example adapter: ready on node \S+ \(port \d+\)/);
    assert.match(server.output(), /adapter 'example' loaded from .*adapter_example\.so \(ABI 1\)/);

    const client = pusherClient(server);
    const ch = await subscribe(client, 'private-example');
    const got = waitFor(ch, 'hello');
    await pusherRest(server).trigger('private-example', 'hello', { via: 'example' });
    assert.deepEqual(await got, { via: 'example' });
    const channels = await pusherRest(server).get({ path: '/channels' });
    assert.equal((await channels.json()).channels['private-example'].subscription_count, 1);
    disconnect(client);

    assert.equal((await server.stop()).code, 0);
    assert.match(server.output(), /example adapter: broadcast #1: app app-id, channel private-example, \d+ bytes/);
    assert.match(server.output(), /example adapter: 1 broadcast\(s\) carried/);
});
