// tests/soak/checks.mjs — measuring the daemons (RSS, open fds, CPU) and the soak's checks on
// their state: presence members, channels left, cross-node probes.

import fs from 'node:fs';
import {
    cpuTicks, disconnect, pusherClient, restRequest, sleep, subscribe, waitFor,
} from '../integration/harness.mjs';
import { median } from './ledger.mjs';

/** VmRSS of pid in KiB (0 once it is gone). */
export function rssKiB(pid) {
    try {
        const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
        return m ? Number(m[1]) : 0;
    } catch {
        return 0;
    }
}

/** Number of open file descriptors of pid (-1 once it is gone). */
export function fdCount(pid) {
    try {
        return fs.readdirSync(`/proc/${pid}/fd`).length;
    } catch {
        return -1;
    }
}

/** Polls pid's fd count until it holds still for 1 s (at most timeoutMs); resolves it. */
export async function settledFds(pid, { timeoutMs = 10000, want } = {}) {
    const deadline = Date.now() + timeoutMs;
    let last = fdCount(pid);
    let since = Date.now();
    for (;;) {
        await sleep(250);
        const n = fdCount(pid);
        if (n !== last) { last = n; since = Date.now(); }
        if (want !== undefined && n <= want && Date.now() - since >= 1000) return n;
        if (want === undefined && Date.now() - since >= 1000) return n;
        if (Date.now() > deadline) return n;
    }
}

/** CPU seconds pid has used (0 once it is gone). */
export function cpuSeconds(pid) {
    try { return cpuTicks(pid) / 100; } catch { return 0; }
}

/** Samples VmRSS and fds of every tracked daemon process every intervalMs. */
export class Sampler {
    constructor(intervalMs) {
        this.intervalMs = intervalMs;
        this.series = new Map(); // name -> { pid, samples: [{ t, rss, fds }] }
        this.timer = setInterval(() => this.sample(), intervalMs);
    }

    track(name, pid) {
        this.series.set(name, { pid, samples: [], live: true });
    }

    untrack(name) {
        const s = this.series.get(name);
        if (s) s.live = false;
    }

    sample() {
        const t = Date.now();
        for (const s of this.series.values()) {
            if (!s.live) continue;
            const rss = rssKiB(s.pid);
            if (rss) s.samples.push({ t, rss, fds: fdCount(s.pid) });
        }
    }

    stop() {
        clearInterval(this.timer);
    }
}

/**
 * The RSS verdict of one process's samples between from and to: the median of the samples
 * after warm-up (the first warmFrac of the window) up to the window's middle, against the median
 * of the second half. Growth over maxGrowth fails; a fall is reported, not failed (memory
 * given back is not a leak). The text adds the trend after warm-up (not judged).
 */
export function rssVerdict(samples, from, to, { warmFrac = 0.2, maxGrowth = 0.10 } = {}) {
    const warmEnd = from + (to - from) * warmFrac;
    const mid = from + (to - from) / 2;
    const first = samples.filter((s) => s.t >= warmEnd && s.t < mid).map((s) => s.rss);
    const second = samples.filter((s) => s.t >= mid && s.t <= to).map((s) => s.rss);
    if (first.length < 3 || second.length < 3) {
        return { ok: null, text: `too few samples (${first.length} after warm-up, ${second.length} in the second half)` };
    }
    const m1 = median(first);
    const m2 = median(second);
    const growth = m2 / m1 - 1;
    const slope = trendKiBPerMin(samples.filter((s) => s.t >= warmEnd && s.t <= to));
    return {
        ok: growth <= maxGrowth,
        m1,
        m2,
        growth,
        text: `median ${(m1 / 1024).toFixed(1)} MB after warm-up, ${(m2 / 1024).toFixed(1)} MB in the second half `
            + `(${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)} %; trend ${slope >= 0 ? '+' : ''}${slope.toFixed(0)} KB/min)`,
    };
}

/** Least-squares slope of rss over time, in KiB per minute (a slow leak shows here first). */
function trendKiBPerMin(samples) {
    const n = samples.length;
    const mt = samples.reduce((a, s) => a + s.t, 0) / n;
    const mr = samples.reduce((a, s) => a + s.rss, 0) / n;
    let num = 0;
    let den = 0;
    for (const s of samples) {
        num += (s.t - mt) * (s.rss - mr);
        den += (s.t - mt) ** 2;
    }
    return den ? (num / den) * 60000 : 0;
}

/** A series of samples as text: "t+s:MB" lines of 10. */
export function formatSeries(samples, t0) {
    const cells = samples.map((s) => `${Math.round((s.t - t0) / 1000)}s:${(s.rss / 1024).toFixed(1)}`);
    const lines = [];
    for (let i = 0; i < cells.length; i += 10) lines.push(`      ${cells.slice(i, i + 10).join(' ')}`);
    return lines.join('\n');
}

/**
 * Cross-node probes: one pusher-js client per live process on the channel soak-probe.
 * recover() proves delivery in every direction: each process triggers a nonce (signed REST,
 * Connection: close) and every other process's probe client must get it.
 */
export class Probes {
    constructor() {
        this.nodes = new Map(); // name -> { server, client, got }
        this.nonce = 0;
    }

    async add(name, server) {
        const client = pusherClient(server);
        const ch = await subscribe(client, 'soak-probe', 20000);
        const got = new Set();
        ch.bind('probe', (d) => got.add(d.n));
        this.nodes.set(name, { server, client, got });
    }

    remove(name) {
        const n = this.nodes.get(name);
        if (n) disconnect(n.client);
        this.nodes.delete(name);
    }

    removeAll() {
        for (const name of [...this.nodes.keys()]) this.remove(name);
    }

    /** Resolves the send time of the first round in which every direction worked. */
    async recover(timeoutMs = 90000) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
            const t = Date.now();
            const sent = [];
            for (const [name, n] of this.nodes) {
                const nonce = `${name}-${this.nonce++}`;
                sent.push({ name, nonce });
                await restRequest(n.server, {
                    method: 'POST', path: '/events',
                    body: { name: 'probe', channels: ['soak-probe'], data: JSON.stringify({ n: nonce }) },
                }).catch(() => null);
            }
            const everyWay = () => sent.every(({ name, nonce }) => [...this.nodes]
                .every(([other, n]) => other === name || n.got.has(nonce)));
            const until = Date.now() + 1000;
            while (!everyWay() && Date.now() < until) await sleep(20);
            if (everyWay()) return t;
            if (Date.now() > deadline) throw new Error(`cross-node delivery not back within ${timeoutMs} ms`);
            await sleep(200);
        }
    }
}

/** GET a signed REST route; resolves the JSON body or throws with the status. */
export async function restJson(server, p, params = {}) {
    const res = await restRequest(server, { path: p, params });
    if (res.status !== 200) throw new Error(`GET ${p}: ${res.status} ${res.text}`);
    return res.json;
}

/** The member ids a new presence subscriber on server is given for channel (itself left out). */
export async function memberList(server, channel, me) {
    const client = pusherClient(server, { presenceData: { user_id: me, user_info: {} } });
    try {
        const ch = client.subscribe(channel);
        await waitFor(ch, 'pusher:subscription_succeeded', 20000);
        const ids = [];
        ch.members.each((m) => { if (m.id !== me) ids.push(m.id); });
        return ids.sort();
    } finally {
        disconnect(client);
    }
}

/**
 * What one process says about each presence channel: /users, user_count and a new
 * subscriber's member list. Problems: a user judge() rejects ("forbidden": e.g. a member of a
 * killed node), a user missing from `required`, and, when nothing churns any more (quiet),
 * disagreement between the three answers. Resolves { problems: [text], seen: { channel: [ids] } }.
 */
export async function presenceCheck(server, channels, { judge, required = [], me, quiet = false }) {
    const problems = [];
    const seen = {};
    for (const ch of channels) {
        const t = Date.now();
        const users = (await restJson(server, `/channels/${ch}/users`)).users.map((u) => String(u.id)).sort();
        const info = await restJson(server, `/channels/${ch}`, { info: 'user_count' });
        const members = await memberList(server, ch, me);
        seen[ch] = users;
        for (const u of users) {
            const why = judge(ch, u, t);
            if (why) problems.push(`${ch}: /users lists ${u} (${why})`);
        }
        for (const u of members) {
            const why = judge(ch, u, t);
            if (why) problems.push(`${ch}: a new subscriber is told ${u} is a member (${why})`);
        }
        for (const u of required) {
            if (!users.includes(u)) problems.push(`${ch}: /users misses ${u}`);
            if (!members.includes(u)) problems.push(`${ch}: a new subscriber is not told of ${u}`);
        }
        if (quiet && info.user_count !== users.length) {
            problems.push(`${ch}: user_count ${info.user_count} but /users lists ${users.length}`);
        }
        if (quiet && users.join() !== members.join()) {
            problems.push(`${ch}: /users lists ${users.join(' ')} but a new subscriber is told ${members.join(' ')}`);
        }
    }
    return { problems, seen };
}
