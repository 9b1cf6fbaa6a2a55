#!/usr/bin/env node
// tests/soak/soak.mjs — a bounded soak of the daemon: connection churn, presence joins and
// leaves, REST triggers, client events and slow readers together for --minutes, in two setups
// (one node; two nodes on one Redis with a node SIGKILLed and restarted, then Redis restarted),
// then prints PASS/FAIL per invariant and throughput figures. Exit status 1 on any FAIL.
// Usage and what each check means: tests/soak/README.md.
//
// DESIGN: the timeline of a setup is fixed in fractions of the run (kill at 35 %, Redis restart
// at 70 %) so runs of any length compare. Each daemon process has its ProcLoad (load.mjs);
// the Ledger (ledger.mjs) knows every event sent and every delivery, and the clean intervals
// this file declares around disruptions; checks.mjs measures the processes. The end of a setup
// is ordered: stop sending, close the churn, let deliveries drain, judge deliveries, judge
// presence while only the long-lived members remain, close everything, judge channels and
// fds, SIGTERM the daemons and read their output for sanitizer reports.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
    SANITIZER_REPORT, cleanup, restRequest, sleep, startRedis, startServer,
} from '../integration/harness.mjs';
import {
    Probes, Sampler, cpuSeconds, formatSeries, presenceCheck, restJson, rssVerdict, settledFds,
} from './checks.mjs';
import { Ledger, PRESENCE } from './ledger.mjs';
import { ProcLoad, prng } from './load.mjs';

const { values: opt } = parseArgs({
    options: {
        minutes: { type: 'string', default: '10' },
        setup: { type: 'string', default: 'both' },
        build: { type: 'string' },
        scale: { type: 'string', default: '1' },
        seed: { type: 'string', default: '1' },
        logs: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
    },
});
if (opt.help) {
    console.log('usage: node tests/soak/soak.mjs [--minutes 10] [--setup both|local|redis] [--build DIR]\n'
        + '                              [--scale 1] [--seed 1] [--logs DIR]\n'
        + 'DIR: a build directory (DIR/soketi, DIR/plugins/.libs); else $SOKETI_BIN and $SOKETI_PLUGIN_DIR_TEST.');
    process.exit(0);
}
if (opt.build) {
    process.env.SOKETI_BIN = path.resolve(opt.build, 'soketi');
    process.env.SOKETI_PLUGIN_DIR_TEST = path.resolve(opt.build, 'plugins/.libs');
}
if (!process.env.SOKETI_BIN) {
    console.error('soak: give --build DIR or set SOKETI_BIN (and SOKETI_PLUGIN_DIR_TEST)');
    process.exit(2);
}
const MINUTES = Number(opt.minutes);
const SCALE = Number(opt.scale);
const SEED = Number(opt.seed);
const DURATION = MINUTES * 60000;
const SETUPS = opt.setup === 'both' ? ['local', 'redis'] : [opt.setup];
if (!(MINUTES > 0) || !(SCALE > 0) || SETUPS.some((s) => !['local', 'redis'].includes(s))) {
    console.error('soak: --minutes and --scale must be positive, --setup both, local or redis');
    process.exit(2);
}
const LOGS = opt.logs || fs.mkdtempSync(path.join(os.tmpdir(), 'soketi-soak-'));
fs.mkdirSync(LOGS, { recursive: true });
const SANITIZED = fs.readFileSync(process.env.SOKETI_BIN).includes('AddressSanitizer');

// Per daemon process, scaled by --scale (counts rounded up).
const n = (x) => Math.max(1, Math.ceil(x * SCALE));
const P = {
    witnesses: n(8), talkers: 2, talkRate: 1 * SCALE, readers: n(8), bulkReaders: n(2), idle: n(150),
    churnRate: 3 * SCALE, churnLifeMs: [2000, 20000], rawChurnRate: 1.5 * SCALE, halfOpenRate: 0.5 * SCALE,
    restRate: 12 * SCALE, readRate: 1 * SCALE, maxInFlight: 16,
    bulkRate: 2 * SCALE, bulkBytes: 64000, bulkPauseMs: 60000,
};
const NODE_TTL = 5; // adapter.redis.nodeTtl, seconds (the soak's short one)
const REQUESTS_TIMEOUT = 2000; // adapter.redis.requestsTimeout, ms
const SHARED_USERS = Array.from({ length: 20 }, (_, i) => `s-${i}`);
const A_ONLY_USERS = Array.from({ length: 10 }, (_, i) => `a-${i}`);

const log = (...a) => console.log(...a);
process.on('unhandledRejection', (err) => log(`  (unhandled rejection: ${err?.stack || err})`));

const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** One setup's state, shared by its steps. */
class Run {
    constructor(setup) {
        this.setup = setup;
        this.ledger = new Ledger({ marginMs: 2000 });
        this.rng = prng(SEED);
        this.loads = new Map(); // process name -> ProcLoad (live ones)
        this.allLoads = [];
        this.servers = new Map(); // process name -> { server, killed, cpu0, loadFrom, loadTo, baseFds }
        this.sampler = new Sampler(Math.min(5000, Math.max(2000, DURATION / 120)));
        this.probes = new Probes();
        this.results = []; // { ok: true|false|null, line }
        this.events = []; // timeline lines
        this.loadavg = [loadavg()];
    }

    mark(what) {
        const line = `+${Math.round((Date.now() - this.ledger.t0) / 1000)} s ${what}`;
        this.events.push(line);
        log(`  ${line}`);
    }

    result(ok, line) {
        this.results.push({ ok, line });
    }

    async startProc(name, env, extra = {}) {
        const server = await startServer({ env, readyTimeoutMs: 30000, ...extra });
        this.servers.set(name, { server, killed: false, name });
        this.sampler.track(name, server.proc.pid);
        return server;
    }

    async startLoad(name, users) {
        const p = this.servers.get(name);
        const load = new ProcLoad({
            name, server: p.server, ledger: this.ledger, rng: this.rng, P, users,
            peers: () => [...this.loads.values()],
        });
        this.loads.set(name, load);
        this.allLoads.push(load);
        p.cpu0 = cpuSeconds(p.server.proc.pid);
        await load.start();
        p.loadFrom = Date.now();
    }

    /** SIGKILL process name; its load's sockets end now. */
    kill(name) {
        const p = this.servers.get(name);
        const at = Date.now();
        this.ledger.disrupted(at);
        p.cpu1 = cpuSeconds(p.server.proc.pid);
        p.server.proc.kill('SIGKILL');
        p.killed = true;
        p.loadTo = at;
        this.sampler.untrack(name);
        this.loads.get(name).kill(at);
        this.loads.delete(name);
        this.probes.remove(name);
        return at;
    }

    /** Sleeps until t, printing a progress line every minute (or tenth of a short run). */
    async until(t) {
        const every = Math.min(60000, Math.max(10000, DURATION / 10));
        while (Date.now() < t) {
            await sleep(Math.min(1000, t - Date.now()));
            const now = Date.now();
            if (!this.nextProgress) this.nextProgress = this.ledger.t0 + every;
            if (now >= this.nextProgress) {
                this.nextProgress += every;
                const conns = [...this.loads.values()].map((l) => `${l.name} ${l.s.opened - l.s.closed}`).join(', ');
                const rss = [...this.servers.values()].filter((p) => !p.killed)
                    .map((p) => {
                        const s = this.sampler.series.get(p.name).samples;
                        return `${p.name} ${s.length ? (s[s.length - 1].rss / 1024).toFixed(1) : '?'} MB`;
                    }).join(', ');
                log(`  +${Math.round((now - this.ledger.t0) / 1000)} s: open sockets ${conns}; events ${this.ledger.events.length}; `
                    + `received ${this.ledger.received}; RSS ${rss}; load ${loadavg()}`);
                this.loadavg.push(loadavg());
            }
        }
    }

    /** The end of a setup: drain, judge deliveries, presence, channels, fds, exits. */
    async finish(expectedUsers) {
        const live = [...this.servers.values()].filter((p) => !p.killed);
        const loads = [...this.loads.values()];
        this.mark('load stops');
        await Promise.all(loads.map((l) => l.stopLoad()));
        const stopAt = Date.now();
        for (const p of live) { p.loadTo = stopAt; p.cpu1 = cpuSeconds(p.server.proc.pid); }
        this.sampler.stop();
        this.loadavg.push(loadavg());
        for (const l of loads) l.closeChurn();
        const drainDeadline = Date.now() + 30000;
        while (Date.now() < drainDeadline && Date.now() - Math.max(this.ledger.lastRecvAt, stopAt) < 3000) await sleep(200);

        // deliveries
        const v = this.ledger.verdict();
        const exact = this.ledger.observers.length;
        const unexpected = this.allLoads.flatMap((l) => l.s.unexpectedClose);
        this.result(unexpected.length === 0, `long-lived sockets stayed connected: ${unexpected.length
            ? `${unexpected.length} dropped (${[...new Set(unexpected.map((x) => x.slice(x.indexOf(': ') + 2)))].join('; ')}; `
                + 'pusher-js witnesses reconnect and are counted on as new sockets)'
            : 'none dropped but those of the killed node'}`);
        const okDeliveries = v.lost === 0 && v.duplicates === 0 && v.leaked === 0 && v.owed > 0;
        this.result(okDeliveries, `exactly once: ${v.owed} owed deliveries to ${exact} long-lived sockets `
            + `(pusher-js reconnections counted apart): ${v.delivered} delivered once, ${v.lost} lost; ${v.duplicates} duplicates anywhere; `
            + `${v.zeroOk + v.leaked} deliveries owed 0 (excluded socket_id, sender), ${v.leaked} of them delivered; `
            + `unsure (at most once): ${v.unsureGot} delivered, ${v.unsureMissed} not`
            + `${Object.keys(v.unsure).length ? ` (${Object.entries(v.unsure).map(([why, u]) => `${why}: ${u.got}/${u.missed}`).join('; ')})` : ''}`);
        this.details = [...v.broken, ...v.failures];

        // presence once only the long-lived members remain
        await sleep(2000);
        const presenceProblems = [];
        for (const p of live) {
            const { problems } = await presenceCheck(p.server, PRESENCE, {
                me: `final-${p.name}`, quiet: true, required: expectedUsers,
                judge: (ch, u) => (expectedUsers.includes(u) ? null : 'not a long-lived member'),
            }).catch((err) => ({ problems: [`${p.name}: ${err.message}`] }));
            presenceProblems.push(...problems.map((x) => `${p.name} ${x}`));
        }
        this.presenceFinal = presenceProblems;

        // everything closed: no channel left, fds back to baseline
        for (const l of loads) l.closeAll();
        this.probes.removeAll();
        await sleep(2000);
        const leftovers = [];
        for (const p of live) {
            const chans = await restJson(p.server, '/channels').catch((err) => ({ channels: { error: err.message } }));
            if (Object.keys(chans.channels).length) leftovers.push(`${p.name}: ${JSON.stringify(chans.channels)}`);
        }
        this.result(leftovers.length === 0, `no channel left once every client left: ${leftovers.length
            ? leftovers.join('; ') : live.map((p) => `${p.name} GET /channels {}`).join(', ')}`);
        const fdLines = [];
        let fdsOk = true;
        for (const p of live) {
            p.endFds = await settledFds(p.server.proc.pid, { timeoutMs: 15000, want: p.baseFds });
            if (p.endFds !== p.baseFds) fdsOk = false;
            fdLines.push(`${p.name} ${p.baseFds} before load, ${p.endFds} after${p.startFds !== undefined ? ` (${p.startFds} at its start)` : ''}`);
        }
        this.result(fdsOk, `open fds back to baseline: ${fdLines.join('; ')}`);

        // RSS
        const rssLines = [];
        let rssOk = true;
        for (const p of this.servers.values()) {
            const r = rssVerdict(this.sampler.series.get(p.name).samples, p.loadFrom, p.loadTo);
            if (r.ok === false) rssOk = false;
            rssLines.push(`${p.name}: ${r.text}`);
        }
        this.result(SANITIZED ? null : rssOk, `RSS flat after warm-up (within +10 %): ${rssLines.join('; ')}`
            + `${SANITIZED ? ' [not judged: ASan quarantine holds freed memory]' : ''}`);

        // daemons: alive until now, exit 0 on SIGTERM, no sanitizer report
        const crash = [];
        for (const p of live) {
            const alive = p.server.proc.exitCode === null && p.server.proc.signalCode === null;
            if (!alive) crash.push(`${p.name} died (${p.server.proc.exitCode ?? p.server.proc.signalCode})`);
        }
        for (const p of live) {
            const ex = await p.server.stop('SIGTERM', 10000);
            p.exit = ex;
            if (ex.code !== 0) crash.push(`${p.name} exited ${JSON.stringify(ex)} on SIGTERM`);
        }
        for (const p of this.servers.values()) {
            fs.writeFileSync(path.join(LOGS, `${this.setup}-${p.name}.log`), p.server.output());
            if (SANITIZER_REPORT.test(p.server.output())) crash.push(`${p.name} printed a sanitizer report (${LOGS}/${this.setup}-${p.name}.log)`);
        }
        this.result(crash.length === 0, `no crash: ${crash.length ? crash.join('; ')
            : `${live.map((p) => p.name).join(', ')} alive to the end, exit 0 on SIGTERM`}`
            + `${[...this.servers.values()].some((p) => p.killed) ? `; ${[...this.servers.values()].filter((p) => p.killed).map((p) => p.name).join(', ')} killed on purpose` : ''}`
            + `; no sanitizer report${SANITIZED ? ' (ASan+UBSan build)' : ''}`);
        const apiFailures = this.allLoads.reduce((k, l) => k + l.s.restFailedAlive + l.s.openFailed, 0);
        this.apiFailures = apiFailures;
    }

    report() {
        const t0 = this.ledger.t0;
        const lines = [];
        lines.push(`== ${this.setup}: results`);
        lines.push('  timeline:');
        for (const e of this.events) lines.push(`    ${e}`);
        lines.push(`  machine: ${os.cpus().length} cores, load average ${this.loadavg.join(' | ')}`);
        // throughput
        const sum = (k) => this.allLoads.reduce((a, l) => a + l.s[k], 0);
        const secs = Math.max(1, (Math.max(...[...this.servers.values()].map((p) => p.loadTo)) - t0) / 1000);
        lines.push(`  throughput over ${Math.round(secs)} s:`);
        lines.push(`    connections opened ${sum('opened')} (${(sum('opened') / secs).toFixed(1)}/s), closed ${sum('closed')}, `
            + `failed to open ${sum('openFailed')}; churn: ${sum('churnPusher')} pusher-js, ${sum('churnRaw')} raw `
            + `(${sum('rawDropped')} dropped without a close frame), ${sum('halfOpen')} half-open HTTP; `
            + `long-lived: ${sum('witnesses')} pusher-js witnesses, ${sum('readers')} raw slow readers, ${sum('idle')} idle`);
        const restEv = sum('restEvents');
        lines.push(`    REST: ${sum('restCalls')} calls (${(sum('restCalls') / secs).toFixed(1)}/s; ${sum('batchCalls')} batches, `
            + `${sum('excluded')} with socket_id), ${restEv} events (${(restEv / secs).toFixed(1)} triggers/s), `
            + `${sum('bulkEvents')} bulk events of ${P.bulkBytes} B, ${sum('reads')} reads (slowest ${Math.max(...this.allLoads.map((l) => l.s.readMaxMs))} ms); `
            + `failed: ${sum('restFailed')} (${sum('restFailedAlive')} while their node was up), skipped for backlog ${sum('restSkipped')}`);
        lines.push(`    client events: ${sum('clientEvents')} (${(sum('clientEvents') / secs).toFixed(1)}/s), refused by pusher-js ${sum('clientRefused')}`);
        const [p50, p99, pmax] = this.ledger.latencyPercentiles();
        lines.push(`    messages received by the soak's sockets: ${this.ledger.received} (${(this.ledger.received / secs).toFixed(0)}/s); `
            + `latency from the REST request (client event) to the witnesses' receipt p50 ${p50} ms, p99 ${p99} ms, max ${pmax} ms`);
        lines.push(`    slow readers: ${sum('pauses')} pauses (${(sum('pausedMs') / Math.max(1, sum('pauses')) / 1000).toFixed(1)} s on average); `
            + `bulk slow readers: ${sum('bulkPauses')} pauses of ${P.bulkPauseMs / 1000} s, ${sum('bulkDropped4100')} closed with 4100, `
            + `${sum('bulkKept')} kept, ${sum('bulkOtherClose')} closed otherwise`);
        const cpu = [...this.servers.values()].map((p) => `${p.name} ${((p.cpu1 - p.cpu0) / ((p.loadTo - p.loadFrom) / 1000) * 100).toFixed(0)} %`);
        const me = process.cpuUsage();
        lines.push(`    CPU (of one core, under load): ${cpu.join(', ')}; the soak's own process ${((me.user + me.system) / 1e6 / ((Date.now() - this.wallStart) / 1000) * 100).toFixed(0)} % (whole run)`);
        const unexpected = this.allLoads.flatMap((l) => l.s.unexpectedClose);
        const notes = this.allLoads.flatMap((l) => l.s.errors.map((e) => `${l.name} ${e}`));
        if (unexpected.length) {
            const byWhy = new Map();
            for (const x of unexpected) {
                const [who, why] = [x.slice(0, x.indexOf(': ')), x.slice(x.indexOf(': ') + 2)];
                if (!byWhy.has(why)) byWhy.set(why, []);
                byWhy.get(why).push(who);
            }
            lines.push(`  unexpected closes (${unexpected.length}):`);
            for (const [why, who] of byWhy) {
                const counts = new Map();
                for (const w of who) counts.set(w, (counts.get(w) || 0) + 1);
                lines.push(`    ${who.length} x "${why}": ${[...counts].map(([w, k]) => `${w}${k > 1 ? ` x${k}` : ''}`).join(', ')}`);
            }
        }
        if (notes.length) lines.push(`  notes:\n${notes.slice(0, 30).map((x) => `    ${x}`).join('\n')}`);
        lines.push('  RSS series (s since start: MB):');
        for (const [name, s] of this.sampler.series) lines.push(`    ${name}\n${formatSeries(s.samples, t0)}`);
        if (this.details?.length) lines.push(`  delivery failures:\n${this.details.map((x) => `    ${x}`).join('\n')}`);
        for (const r of this.results) lines.push(`${r.ok === null ? 'SKIP' : r.ok ? 'PASS' : 'FAIL'}  [${this.setup}] ${r.line}`);
        lines.push(`  daemon logs: ${LOGS}/${this.setup}-*.log`);
        log(lines.join('\n'));
    }
}

async function runLocal() {
    const run = new Run('local');
    run.wallStart = Date.now();
    const env = { SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES: 'true' };
    const s = await run.startProc('S', env);
    const p = run.servers.get('S');
    p.baseFds = await settledFds(s.proc.pid);
    run.ledger.t0 = Date.now();
    run.mark(`S started (pid ${s.proc.pid}, port ${s.port}), ${p.baseFds} fds`);
    await run.startLoad('S', SHARED_USERS);
    run.mark('load running');
    await run.until(run.ledger.t0 + DURATION);
    await run.finish(run.loads.get('S').witnessUsers());
    run.result(run.presenceFinal.length === 0, `presence at the end: ${run.presenceFinal.length
        ? run.presenceFinal.join('; ') : '/users, user_count and a new subscriber\'s list show exactly the long-lived members'}`);
    run.result(run.apiFailures === 0, `the API answered every request and connection while its node was up (${run.apiFailures} failures)`);
    return run;
}

async function runRedis() {
    const run = new Run('redis');
    run.wallStart = Date.now();
    const redis = await startRedis();
    const env = {
        SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES: 'true',
        SOKETI_ADAPTER_DRIVER: 'redis',
        SOKETI_DB_REDIS_HOST: '127.0.0.1',
        SOKETI_DB_REDIS_PORT: String(redis.port),
        SOKETI_ADAPTER_REDIS_NODE_TTL: String(NODE_TTL),
        SOKETI_ADAPTER_REDIS_REQUESTS_TIMEOUT: String(REQUESTS_TIMEOUT),
    };
    const a1 = await run.startProc('A1', env);
    const b = await run.startProc('B', env);
    await run.probes.add('A1', a1);
    await run.probes.add('B', b);
    await run.probes.recover();
    run.probes.removeAll();
    const [fa, fb] = await Promise.all([settledFds(a1.proc.pid), settledFds(b.proc.pid)]);
    run.servers.get('A1').baseFds = fa;
    run.servers.get('B').baseFds = fb;
    run.ledger.t0 = Date.now();
    run.mark(`redis-server on ${redis.port}; A1 (pid ${a1.proc.pid}, port ${a1.port}, ${fa} fds) and B (pid ${b.proc.pid}, port ${b.port}, ${fb} fds) up`);
    await run.probes.add('A1', a1);
    await run.probes.add('B', b);
    run.ledger.recovered(await run.probes.recover());
    await run.startLoad('A1', [...SHARED_USERS, ...A_ONLY_USERS]);
    await run.startLoad('B', SHARED_USERS);
    run.mark('load running on A1 and B; cross-node delivery proven both ways');

    // the node kill
    await run.until(run.ledger.t0 + 0.35 * DURATION);
    const killedUsers = (u) => u.startsWith('a-') || u.startsWith('w-A1-');
    let before = 0; // what B lists of A1's members just before the kill: the check is not vacuous
    for (const ch of PRESENCE) {
        const r = await restJson(b, `/channels/${ch}/users`).catch(() => ({ users: [] }));
        before += r.users.filter((u) => killedUsers(String(u.id))).length;
    }
    const killAt = run.kill('A1');
    run.mark(`A1 killed (SIGKILL); just before, B's /users listed ${before} members only A1 had`);
    const checkAt = killAt + NODE_TTL * 1000 + REQUESTS_TIMEOUT + 1000;
    await run.until(checkAt);
    const { problems, seen } = await presenceCheck(b, PRESENCE, {
        me: 'probe-after-kill',
        required: run.loads.get('B').witnessUsers(),
        judge: (ch, u, t) => {
            if (killedUsers(u)) return 'a member only the killed node had';
            return run.ledger.presencePossible('B', ch, u, t) ? null : 'no client of B has joined as this user';
        },
    }).catch((err) => ({ problems: [err.message], seen: {} }));
    const staleInWitness = run.loads.get('B').witnesses[0]?.chans.filter((c) => c.name.startsWith('presence-'))
        .reduce((k, c) => { let x = 0; c.members.each((m) => { if (killedUsers(m.id)) x += 1; }); return k + x; }, 0);
    run.mark(`presence on B ${Math.round((Date.now() - killAt) / 1000)} s after the kill (nodeTtl ${NODE_TTL} s + requestsTimeout ${REQUESTS_TIMEOUT} ms + 1 s): `
        + `${Object.entries(seen).map(([ch, us]) => `${ch} ${us.length} members`).join(', ')}; ${problems.length} problems; `
        + `a B witness's pusher-js member lists still hold ${staleInWitness} killed-node members (no member_removed for a dead node, by design)`);
    run.killCheck = problems;

    const a2 = await run.startProc('A2', env, { port: a1.port, metricsPort: a1.metricsPort });
    const pa2 = run.servers.get('A2');
    pa2.baseFds = run.servers.get('A1').baseFds; // same configuration: A2 must end where A1 began
    pa2.startFds = await settledFds(a2.proc.pid);
    await run.probes.add('A2', a2);
    run.ledger.recovered(await run.probes.recover());
    run.mark(`A2 restarted on A1's port (pid ${a2.proc.pid}); cross-node delivery proven both ways`);
    await run.startLoad('A2', [...SHARED_USERS, ...A_ONLY_USERS]);
    run.mark('load running on A2');

    // the Redis restart
    await run.until(run.ledger.t0 + 0.7 * DURATION);
    run.ledger.disrupted(Date.now());
    await redis.stop();
    run.mark('redis-server killed (SIGKILL)');
    await sleep(3000);
    await redis.start();
    run.mark('redis-server started again (empty)');
    run.ledger.recovered(await run.probes.recover());
    run.mark('cross-node delivery proven both ways');

    await run.until(run.ledger.t0 + DURATION);
    const expected = [...run.loads.values()].flatMap((l) => l.witnessUsers());
    await run.finish(expected);
    run.result(run.killCheck.length === 0 && run.presenceFinal.length === 0,
        `presence: ${run.killCheck.length ? `after the kill: ${run.killCheck.join('; ')}`
            : `${NODE_TTL} s + ${REQUESTS_TIMEOUT} ms after A1's kill, B's /users and a new subscriber's list held no member of A1 and every B witness`}`
        + `; at the end: ${run.presenceFinal.length ? run.presenceFinal.join('; ')
            : '/users, user_count and a new subscriber\'s list on A2 and B show exactly the long-lived members of both'}`);
    run.result(run.apiFailures === 0, `the API answered every request and connection while its node was up (${run.apiFailures} failures)`);
    fs.writeFileSync(path.join(LOGS, 'redis-redis-server.log'), redis.output());
    await redis.stop();
    return run;
}

async function main() {
    log(`soak: ${MINUTES} min per setup (${SETUPS.join(', ')}), ${process.env.SOKETI_BIN}${SANITIZED ? ' (ASan build)' : ''}, `
        + `scale ${SCALE}, seed ${SEED}; load average ${loadavg()}; logs in ${LOGS}`);
    const runs = [];
    for (const setup of SETUPS) {
        log(`== ${setup}: ${setup === 'local' ? 'one node, local adapter' : 'two nodes on one redis-server (Redis adapter)'}`);
        const run = setup === 'local' ? await runLocal() : await runRedis();
        run.report();
        runs.push(run);
        await cleanup().catch((err) => log(`  cleanup: ${err.message}`));
    }
    const all = runs.flatMap((r) => r.results.map((x) => ({ ...x, setup: r.setup })));
    const failed = all.filter((r) => r.ok === false);
    log(`\nsummary (${MINUTES} min per setup):`);
    for (const r of all) log(`  ${r.ok === null ? 'SKIP' : r.ok ? 'PASS' : 'FAIL'}  [${r.setup}] ${r.line.split(':')[0]}`);
    log(failed.length ? `soak: FAIL (${failed.length})` : 'soak: PASS');
    process.exit(failed.length ? 1 : 0);
}

main().catch((err) => {
    console.error(`soak: ${err.stack || err}`);
    process.exit(1);
});
