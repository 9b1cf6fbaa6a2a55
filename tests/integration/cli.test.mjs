// tests/integration/cli.test.mjs — the daemon's command line, run as a child process:
// --version, start --help, `config check` (JSON, INI, environment errors and warnings),
// `plugins` (ABI listing and refusals) and `start` refusing adapters it cannot load.
//
// DESIGN: every command is spawned with a clean environment (no inherited SOKETI_*), free
// ports and a timeout, so a daemon that wrongly starts is killed rather than left behind.
// The plugin refusals need the test-only plugins ($SOKETI_TEST_PLUGIN_DIR, built by
// `make check`); those tests skip when it is not set. Soketi 1.6 (SOKETI_REFERENCE=1)
// has none of these commands, so the whole file skips there.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { REFERENCE, cleanup, freePort, startServer } from './harness.mjs';

const BIN = process.env.SOKETI_BIN;
const PLUGIN_DIR = process.env.SOKETI_PLUGIN_DIR_TEST;
const TEST_PLUGIN_DIR = process.env.SOKETI_TEST_PLUGIN_DIR;
const skipAll = REFERENCE ? 'soketi 1.6 has no soketi-c CLI' : (!BIN ? 'SOKETI_BIN is not set' : false);
const skipTestPlugins = skipAll || (!TEST_PLUGIN_DIR ? 'SOKETI_TEST_PLUGIN_DIR is not set (make check builds the test plugins)' : false);

after(cleanup);

const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'soketi-cli-test-'));
after(() => fs.rmSync(tmpDir, { recursive: true, force: true }));

function writeTmp(name, text) {
    const file = path.join(tmpDir, name);
    fs.writeFileSync(file, text);
    return file;
}

/**
 * Run the binary with args; env: SOKETI_* variables (the parent's SOKETI_* are dropped).
 * Resolves { code, signal, stdout, stderr, output, timedOut }; kills it after timeoutMs.
 */
async function run(args, { env = {}, timeoutMs = 10000 } = {}) {
    const childEnv = {};
    for (const [k, v] of Object.entries(process.env)) {
        if (!k.startsWith('SOKETI_')) childEnv[k] = v;
    }
    // Should `start` wrongly succeed, it must not collide with anything else.
    childEnv.SOKETI_HOST = '127.0.0.1';
    childEnv.SOKETI_METRICS_HOST = '127.0.0.1';
    childEnv.SOKETI_PORT = String(await freePort());
    childEnv.SOKETI_METRICS_SERVER_PORT = String(await freePort());
    for (const [k, v] of Object.entries(env)) {
        if (v === undefined || v === null) delete childEnv[k];
        else childEnv[k] = String(v);
    }
    return new Promise((resolve) => {
        const proc = spawn(BIN, args, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        let timedOut = false;
        proc.stdout.setEncoding('utf8');
        proc.stderr.setEncoding('utf8');
        proc.stdout.on('data', (d) => { stdout += d; });
        proc.stderr.on('data', (d) => { stderr += d; });
        const timer = setTimeout(() => { timedOut = true; proc.kill('SIGKILL'); }, timeoutMs);
        proc.on('error', (err) => {
            clearTimeout(timer);
            resolve({ code: null, signal: null, stdout, stderr: stderr + String(err), output: stdout + stderr, timedOut });
        });
        proc.on('close', (code, signal) => {
            clearTimeout(timer);
            resolve({ code, signal, stdout, stderr, output: stdout + stderr, timedOut });
        });
    });
}

const show = (r) => `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}${r.timedOut ? ' (timed out)' : ''}\n`
    + `--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;

const VALID_JSON = {
    'appManager.array.apps': [
        { id: 'cli-app-1', key: 'cli-key-1', secret: 'cli-secret-1' },
        { id: 'cli-app-2', key: 'cli-key-2', secret: 'cli-secret-2', enableClientMessages: true },
    ],
    debug: false,
};

describe('soketi --version and start --help', { skip: skipAll }, () => {
    test('--version prints a version and exits 0', async () => {
        const r = await run(['--version']);
        assert.equal(r.code, 0, show(r));
        assert.match(r.stdout, /\d+\.\d+\.\d+/, show(r));
    });

    test('start --help lists the options with their SOKETI_ variables', async () => {
        const r = await run(['start', '--help']);
        assert.equal(r.code, 0, show(r));
        assert.match(r.output, /SOKETI_PORT\b/, show(r));
        assert.match(r.output, /SOKETI_ADAPTER_DRIVER\b/, show(r));
        // --help documents; it must not start a daemon (run() would time out).
        assert.equal(r.timedOut, false);
    });
});

describe('soketi config check', { skip: skipAll }, () => {
    test('a valid JSON file: exit 0 and a summary naming the apps', async () => {
        const file = writeTmp('valid.json', JSON.stringify(VALID_JSON, null, 2));
        const r = await run(['config', 'check', `--config=${file}`]);
        assert.equal(r.code, 0, show(r));
        assert.match(r.stdout, /cli-app-1/, show(r));
        assert.match(r.stdout, /cli-app-2/, show(r));
        assert.match(r.stdout, /cli-key-1/, show(r));
        assert.match(r.stdout, /2 app/, show(r));
    });

    test('an INI file with an unknown key: exit 1, stderr names file:line and the key', async () => {
        const file = writeTmp('unknown-key.ini', [
            '; a config with one typo',
            'port = 6001',
            '',
            '[appManager.array.apps.0]',
            'id = ini-app',
            'key = ini-key',
            'secret = ini-secret',
            'definitelyNotAnOption = 1',
            '',
        ].join('\n'));
        const r = await run(['config', 'check', `--config=${file}`]);
        assert.equal(r.code, 1, show(r));
        assert.match(r.stderr, /unknown-key\.ini:8\b/, show(r));
        assert.match(r.stderr, /definitelyNotAnOption/, show(r));
    });

    test('a valid INI file: exit 0', async () => {
        const file = writeTmp('valid.ini', [
            'port = 6001',
            '[appManager.array.apps.0]',
            'id = ini-app',
            'key = ini-key',
            'secret = ini-secret',
            '',
        ].join('\n'));
        const r = await run(['config', 'check', `--config=${file}`]);
        assert.equal(r.code, 0, show(r));
        assert.match(r.stdout, /ini-app/, show(r));
    });

    test('SOKETI_PORT=abc: exit 1, stderr names SOKETI_PORT', async () => {
        const file = writeTmp('valid-port.json', JSON.stringify(VALID_JSON));
        const r = await run(['config', 'check', `--config=${file}`], { env: { SOKETI_PORT: 'abc' } });
        assert.equal(r.code, 1, show(r));
        assert.match(r.stderr, /SOKETI_PORT/, show(r));
    });

    test('SOKETI_PORT=abc also stops `start` with exit 1', async () => {
        const r = await run(['start', ...(PLUGIN_DIR ? [`--plugin-dir=${PLUGIN_DIR}`] : [])],
            { env: { SOKETI_PORT: 'abc' } });
        assert.equal(r.code, 1, show(r));
        assert.match(r.stderr, /SOKETI_PORT/, show(r));
    });

    test('an unknown SOKETI_NOT_A_THING only warns', async () => {
        const file = writeTmp('valid-warn.json', JSON.stringify(VALID_JSON));
        const r = await run(['config', 'check', `--config=${file}`], { env: { SOKETI_NOT_A_THING: '1' } });
        assert.equal(r.code, 0, show(r));
        assert.match(r.stderr, /SOKETI_NOT_A_THING/, show(r));
        assert.match(r.stdout, /cli-app-1/, show(r));
    });

    test('a missing --config file: exit 1 naming the file', async () => {
        const file = path.join(tmpDir, 'does-not-exist.json');
        const r = await run(['config', 'check', `--config=${file}`]);
        assert.equal(r.code, 1, show(r));
        assert.match(r.stderr, /does-not-exist\.json/, show(r));
    });
});

describe('soketi plugins', { skip: skipTestPlugins }, () => {
    test('lists adapter_echo with ABI 1 and adapter_newer as refused', async () => {
        const r = await run(['plugins', `--plugin-dir=${TEST_PLUGIN_DIR}`]);
        assert.equal(r.code, 0, show(r));
        const lines = r.stdout.split('\n');
        const echo = lines.find((l) => /adapter_echo\.so/.test(l));
        const newer = lines.find((l) => /adapter_newer\.so/.test(l));
        assert.ok(echo, `no line for adapter_echo.so\n${show(r)}`);
        assert.ok(newer, `no line for adapter_newer.so\n${show(r)}`);
        assert.match(echo, /ABI 1\b/, echo);
        assert.doesNotMatch(echo, /refused/i, echo);
        assert.match(newer, /refused/i, newer);
        assert.match(newer, /ABI 2/, newer);
        const nosym = lines.find((l) => /adapter_nosym\.so/.test(l));
        assert.ok(nosym, `no line for adapter_nosym.so\n${show(r)}`);
        assert.match(nosym, /refused/i, nosym);
        assert.match(nosym, /soketi_adapter_init/, nosym);
    });

    test('the normal plugin dir lists adapter_local with ABI 1', { skip: PLUGIN_DIR ? false : 'SOKETI_PLUGIN_DIR_TEST is not set' }, async () => {
        const r = await run(['plugins', `--plugin-dir=${PLUGIN_DIR}`]);
        assert.equal(r.code, 0, show(r));
        const local = r.stdout.split('\n').find((l) => /adapter_local\.so/.test(l));
        assert.ok(local, show(r));
        assert.match(local, /ABI 1\b/, local);
    });
});

describe('soketi start refuses adapters it cannot load', { skip: skipAll }, () => {
    test('driver "newer" (speaks only ABI 2): exit 1, message mentions ABI', { skip: skipTestPlugins }, async () => {
        const r = await run(['start', `--plugin-dir=${TEST_PLUGIN_DIR}`], { env: { SOKETI_ADAPTER_DRIVER: 'newer' } });
        assert.equal(r.code, 1, show(r));
        assert.match(r.stderr, /\bABI\b/, show(r));
        assert.match(r.stderr, /adapter_newer\.so/, show(r));
    });

    test('driver "nosym": exit 1, message names soketi_adapter_init', { skip: skipTestPlugins }, async () => {
        const r = await run(['start', `--plugin-dir=${TEST_PLUGIN_DIR}`], { env: { SOKETI_ADAPTER_DRIVER: 'nosym' } });
        assert.equal(r.code, 1, show(r));
        assert.match(r.stderr, /soketi_adapter_init/, show(r));
    });

    test('driver "failinit": exit 1', { skip: skipTestPlugins }, async () => {
        const r = await run(['start', `--plugin-dir=${TEST_PLUGIN_DIR}`], { env: { SOKETI_ADAPTER_DRIVER: 'failinit' } });
        assert.equal(r.code, 1, show(r));
        assert.match(r.stderr, /adapter_failinit\.so/, show(r));
        assert.match(r.stderr, /soketi_adapter_init returned/, show(r));
        // The loader must not call cleanup after a failed init.
        assert.doesNotMatch(r.stderr, /cleanup called without state/, show(r));
    });

    test('driver "redis" not installed: names adapter_redis.so and the soketi-redis package', async () => {
        // A plugin directory without adapter_redis.so, as on a host without soketi-redis.
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soketi-noredis-'));
        const r = await run(['start', `--plugin-dir=${dir}`], { env: { SOKETI_ADAPTER_DRIVER: 'redis' } });
        fs.rmSync(dir, { recursive: true, force: true });
        assert.equal(r.code, 1, show(r));
        assert.match(r.stderr, /adapter_redis\.so/, show(r));
        assert.match(r.stderr, /soketi-redis/, show(r));
    });

    test('driver "nope": refused with exit 1', async () => {
        const r = await run(['start', ...(PLUGIN_DIR ? [`--plugin-dir=${PLUGIN_DIR}`] : [])],
            { env: { SOKETI_ADAPTER_DRIVER: 'nope' } });
        assert.equal(r.code, 1, show(r));
        assert.match(r.stderr, /nope/, show(r));
    });
});

describe('soketi start', { skip: skipAll }, () => {
    test('the start-up log mentions the open-files limit', async () => {
        const server = await startServer({ env: { SOKETI_SHUTDOWN_GRACE_PERIOD: '100' } });
        assert.match(server.output(), /open-files limit/i, server.output());
        const info = await server.stop('SIGTERM');
        assert.equal(info.code, 0, `exit ${JSON.stringify(info)}\n${server.output()}`);
    });
});
