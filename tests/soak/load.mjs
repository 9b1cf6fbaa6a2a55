// tests/soak/load.mjs — the clients the soak runs against one daemon process.
//
// DESIGN: one ProcLoad per daemon process (a killed and restarted node is two processes, A1
// and A2, with two ProcLoads). It owns every socket it opens on that process:
//   - long-lived, counted exactly (ledger.mjs): pusher-js witnesses on every public, private and
//     presence channel (the first `talkers` of them also send client events), raw slow readers
//     on the public channels that stop reading for a while and resume, one raw bulk witness;
//   - long-lived, not counted: idle raw connections, raw bulk slow readers that stop reading
//     long enough to pass maxBackpressureInKb (closed with 4100, then they reconnect);
//   - churn: pusher-js clients living a few seconds (public + sometimes private and presence
//     channels, sometimes a client event), raw clients that close or just drop the TCP
//     connection, half-open HTTP connections;
//   - REST: triggers to 1-3 channels (some excluding a witness's socket_id), batches, bulk
//     events, read queries (channels, channel, users), through a keep-alive agent and through
//     one connection per request.
// Rates are per second and per process; a 100 ms ticker turns them into actions. Every timer
// and socket is released by kill() (the process was SIGKILLed) or by stopLoad(), closeChurn()
// and closeAll() at the end of the run.

import http from 'node:http';
import net from 'node:net';
import {
    disconnect, pusherClient, pusherRest, rawPusher, waitConnected, waitFor,
} from '../integration/harness.mjs';
import { BULK, PRESENCE, PRIVATE, PUBLIC } from './ledger.mjs';

const EVENT_CHANNELS = [...PUBLIC, ...PRIVATE, ...PRESENCE];
const SOAK_EVENTS = new Set(['soak-ev', 'client-soak', 'bulk']);

/** A small seeded PRNG (mulberry32), so a run's choices can be replayed with --seed. */
export function prng(seed) {
    let a = seed >>> 0;
    const next = () => {
        a = (a + 0x6D2B79F5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    next.between = (lo, hi) => lo + next() * (hi - lo);
    next.pick = (xs) => xs[Math.floor(next() * xs.length)];
    return next;
}

/** Resolves when a pusher-js channel's subscription succeeds; rejects on error or timeout. */
function subscribed(chan, timeoutMs) {
    if (chan.subscribed) return Promise.resolve(chan);
    return Promise.race([
        waitFor(chan, 'pusher:subscription_succeeded', timeoutMs).then(() => chan),
        waitFor(chan, 'pusher:subscription_error', timeoutMs + 1000).then((e) => {
            throw new Error(`subscription_error on ${chan.name}: ${JSON.stringify(e)}`);
        }),
    ]);
}

export class ProcLoad {
    /**
     * name: the process (A1, A2, B, S); server: its harness server; ledger; rng; P: the load
     * parameters (soak.mjs); users: presence user ids its churners use; peers(): the live
     * ProcLoads (exclusion targets may sit on another node).
     */
    constructor({ name, server, ledger, rng, P, users, peers }) {
        Object.assign(this, { name, server, ledger, rng, P, users, peers });
        this.witnesses = [];
        this.readers = []; // raw: { ws, o, paused, nextPauseAt, resumeAt, nextPingAt, bulk }
        this.idle = [];
        this.churners = new Set();
        this.rawChurners = new Set();
        this.halfOpen = new Set();
        this.timers = new Set();
        this.inFlight = 0;
        this.dead = false; // the process was killed
        this.quiet = false; // churn closed: nothing new starts
        this.ending = false; // the run is over: closes are expected
        this.acc = {};
        this.seqNames = 0;
        this.keepAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });
        this.closeAgent = new http.Agent({ keepAlive: false });
        const opts = { timeout: 15000 };
        this.restKeep = pusherRest(server, { ...opts, agent: this.keepAgent });
        this.restClose = pusherRest(server, { ...opts, agent: this.closeAgent });
        this.s = {
            witnesses: 0, readers: 0, idle: 0, opened: 0, closed: 0, openFailed: 0,
            churnPusher: 0, churnRaw: 0, halfOpen: 0, rawDropped: 0,
            restCalls: 0, restEvents: 0, restFailed: 0, restFailedAlive: 0, restSkipped: 0, batchCalls: 0, excluded: 0,
            clientEvents: 0, clientRefused: 0, bulkEvents: 0, reads: 0, readFailed: 0, readMaxMs: 0,
            pauses: 0, pausedMs: 0, bulkPauses: 0, bulkDropped4100: 0, bulkKept: 0, bulkOtherClose: 0,
            unexpectedClose: [], errors: [],
        };
    }

    note(what) {
        if (this.s.errors.length < 50) this.s.errors.push(`+${Date.now() - this.ledger.t0} ms ${what}`);
    }

    later(ms, fn) {
        const t = setTimeout(() => { this.timers.delete(t); fn(); }, ms);
        this.timers.add(t);
        return t;
    }

    // -- long-lived sockets ------------------------------------------------------------

    /** Opens the long-lived sockets, then starts the ticker. */
    async start() {
        const P = this.P;
        await Promise.all(Array.from({ length: P.witnesses }, (_, i) => this.witness(i)));
        await Promise.all(Array.from({ length: P.readers }, (_, i) => this.reader(`r${i}`, PUBLIC, { exact: true })));
        await this.reader('bulkw', [BULK], { exact: true, steady: true });
        await Promise.all(Array.from({ length: P.bulkReaders }, (_, i) => this.reader(`bulks${i}`, [BULK], { exact: false, bulk: true })));
        for (let i = 0; i < P.idle; i += 10) {
            await Promise.all(Array.from({ length: Math.min(10, P.idle - i) }, (_, k) => this.idleConn(i + k)));
        }
        this.lastTick = Date.now();
        this.ticker = setInterval(() => this.tick(), 100);
    }

    /**
     * A pusher-js witness on every event channel. If the connection drops while it should not
     * (a failure, reported), pusher-js reconnects and resubscribes: the witness goes on as a
     * new observer ("w3.1"), owed what is sent after its new subscriptions are confirmed.
     */
    async witness(i) {
        const user = `w-${this.name}-${i}`;
        const newObserver = (epoch) => this.ledger.observer({
            name: `${this.name}/w${i}${epoch ? `.${epoch}` : ''}`, proc: this.name, exact: true, steady: true,
        });
        const w = { o: newObserver(0), user, epoch: 0, joined: new Set(), lastError: null };
        const c = pusherClient(this.server, { presenceData: { user_id: user, user_info: { role: 'witness' } } });
        w.c = c;
        this.s.opened += 1;
        w.o.socketId = await waitConnected(c, 20000);
        c.connection.bind('error', (err) => {
            const d = err?.data ?? err?.error?.data;
            w.lastError = d?.code ? `${d.code} ${d.message}` : (err?.type || 'error');
        });
        c.connection.bind('state_change', ({ current }) => {
            if (this.ending || this.dead) return;
            if (current === 'connected') {
                if (w.o.brokenAt === null) return;
                w.o = newObserver(++w.epoch); // reconnected by pusher-js
                w.o.socketId = c.connection.socket_id;
                this.s.opened += 1;
                return;
            }
            if (w.o.brokenAt !== null) return;
            this.ledger.broken(w.o);
            this.s.closed += 1;
            this.s.unexpectedClose.push(`${this.name}/w${i}: ${w.lastError ?? `pusher-js state ${current}`}`);
            for (const ch of w.joined) this.ledger.presenceChange(this.name, ch, user, -1);
            w.joined.clear();
        });
        w.chans = EVENT_CHANNELS.map((ch) => {
            const chan = c.subscribe(ch);
            chan.bind_global((ev, data) => { if (SOAK_EVENTS.has(ev)) this.ledger.receive(w.o, ch, data); });
            chan.bind('pusher:subscription_succeeded', () => {
                this.ledger.subscribed(w.o, ch);
                if (ch.startsWith('presence-') && !w.joined.has(ch)) {
                    w.joined.add(ch);
                    this.ledger.presenceChange(this.name, ch, user, 1);
                }
            });
            return chan;
        });
        await Promise.all(w.chans.map((chan) => subscribed(chan, 20000)));
        this.witnesses.push(w);
        this.s.witnesses += 1;
    }

    /**
     * A raw socket on `channels`: exact (a slow reader counted exactly), bulk (a bulk slow
     * reader: pauses long enough to be closed with 4100, then reconnects), neither (idle).
     */
    async reader(tag, channels, { exact, bulk = false, steady = false }) {
        const o = this.ledger.observer({ name: `${this.name}/${tag}`, proc: this.name, exact, steady });
        let ws;
        this.s.opened += 1;
        try {
            ws = await rawPusher(this.server, undefined, { keepFrames: false, timeoutMs: 20000 });
        } catch (err) {
            if (!this.dead) { // a bulk reader may be reconnecting when its node is killed
                this.s.openFailed += 1;
                this.note(`${o.name}: open failed: ${err.message}`);
            }
            return;
        }
        if (this.dead) { ws.destroy(); this.s.closed += 1; return; }
        o.socketId = ws.socketId;
        const r = {
            ws, o, tag, bulk, paused: false, nextPingAt: Date.now() + this.rng.between(10000, 40000),
            nextPauseAt: Date.now() + (bulk ? this.rng.between(5000, 30000) : this.rng.between(10000, 40000)),
        };
        let pending = channels.length;
        let ready;
        const done = new Promise((resolve) => { ready = resolve; });
        ws.onMessage = (m) => {
            const j = m.json;
            if (!j) return;
            if (j.event === 'pusher_internal:subscription_succeeded') {
                this.ledger.subscribed(o, j.channel);
                if (--pending === 0) ready();
            } else if (SOAK_EVENTS.has(j.event)) {
                this.ledger.receive(o, j.channel, j.data);
            }
        };
        ws.closed.then((info) => this.readerClosed(r, info));
        for (const ch of channels) ws.send({ event: 'pusher:subscribe', data: { channel: ch } });
        const t = setTimeout(ready, 20000);
        await done;
        clearTimeout(t);
        if (pending > 0) this.note(`${o.name}: not subscribed within 20 s`);
        this.readers.push(r);
        if (exact && !steady) this.s.readers += 1;
    }

    readerClosed(r, info) {
        this.readers = this.readers.filter((x) => x !== r);
        this.s.closed += 1;
        if (this.ending || this.dead || (r.bulk && this.quiet)) return;
        if (r.bulk) {
            if (info?.code === 4100) this.s.bulkDropped4100 += 1;
            else { this.s.bulkOtherClose += 1; this.note(`${r.o.name}: closed ${JSON.stringify(info)}`); }
            this.ledger.ended(r.o);
            this.later(1000, () => { if (!this.quiet && !this.dead) this.reader(r.tag, [BULK], { exact: false, bulk: true }); });
            return;
        }
        this.ledger.broken(r.o);
        this.s.unexpectedClose.push(`${r.o.name}: closed ${JSON.stringify(info)}`);
    }

    async idleConn(i) {
        this.s.opened += 1;
        let ws;
        try {
            ws = await rawPusher(this.server, undefined, { keepFrames: false, timeoutMs: 20000 });
        } catch (err) {
            this.s.openFailed += 1;
            this.note(`idle ${i}: open failed: ${err.message}`);
            return;
        }
        ws.onMessage = () => {};
        ws.send({ event: 'pusher:subscribe', data: { channel: `soak-idle-${i % 10}` } });
        const r = { ws, nextPingAt: Date.now() + this.rng.between(5000, 60000) };
        ws.closed.then((info) => {
            this.s.closed += 1;
            this.idle = this.idle.filter((x) => x !== r);
            if (!this.ending && !this.dead) this.s.unexpectedClose.push(`${this.name}/idle${i}: closed ${JSON.stringify(info)}`);
        });
        this.idle.push(r);
        this.s.idle += 1;
    }

    // -- the ticker ----------------------------------------------------------------------

    tick() {
        const now = Date.now();
        const dt = Math.min(1, (now - this.lastTick) / 1000);
        this.lastTick = now;
        const P = this.P;
        const run = (key, rate, fn) => {
            this.acc[key] = (this.acc[key] || 0) + rate * dt;
            while (this.acc[key] >= 1) {
                this.acc[key] -= 1;
                fn();
            }
        };
        run('churn', P.churnRate, () => this.churn());
        run('raw', P.rawChurnRate, () => this.rawChurn());
        run('half', P.halfOpenRate, () => this.halfOpenConn());
        run('rest', P.restRate, () => this.rest());
        run('read', P.readRate, () => this.read());
        run('bulk', P.bulkRate, () => this.bulkEvent());
        run('talk', P.talkRate * Math.min(P.talkers, this.witnesses.length), () => this.talk());
        for (const r of this.readers) this.pacing(r, now);
        for (const r of this.idle) this.ping(r, now);
    }

    ping(r, now) {
        if (now < r.nextPingAt) return;
        r.ws.send({ event: 'pusher:ping', data: {} });
        r.nextPingAt = now + this.rng.between(30000, 50000);
    }

    /** Stops and resumes reading: a slow reader for a few seconds, a bulk one until dropped. */
    pacing(r, now) {
        this.ping(r, now);
        if (r.tag === 'bulkw') return;
        if (!r.paused && now >= r.nextPauseAt) {
            r.paused = true;
            r.pausedAt = now;
            r.resumeAt = now + (r.bulk ? this.P.bulkPauseMs : this.rng.between(5000, 20000));
            r.ws.socket.pause();
            if (r.bulk) this.s.bulkPauses += 1; else this.s.pauses += 1;
        } else if (r.paused && now >= r.resumeAt) {
            r.paused = false;
            r.ws.socket.resume();
            if (!r.bulk) this.s.pausedMs += now - r.pausedAt;
            r.nextPauseAt = now + (r.bulk ? this.rng.between(10000, 20000) : this.rng.between(20000, 60000));
            if (r.bulk) {
                // still open 10 s after resuming: the pause stayed under the limit
                this.later(10000, () => { if (this.readers.includes(r)) this.s.bulkKept += 1; });
            }
        }
    }

    // -- churn ---------------------------------------------------------------------------

    churn() {
        const rng = this.rng;
        const life = rng.between(this.P.churnLifeMs[0], this.P.churnLifeMs[1]);
        const user = rng.pick(this.users);
        const chans = [rng.pick(PUBLIC)];
        if (rng() < 0.5) chans.push(rng.pick(PRIVATE));
        if (rng() < 0.4) chans.push(rng.pick(PRESENCE));
        const o = this.ledger.observer({ name: `${this.name}/c${this.seqNames++}`, proc: this.name, exact: false });
        const c = pusherClient(this.server, { presenceData: { user_id: user, user_info: { role: 'churn' } } });
        this.s.opened += 1;
        this.s.churnPusher += 1;
        const entry = { c, o, user, joined: [], timers: [] };
        this.churners.add(entry);
        c.connection.bind('connected', () => { o.socketId = c.connection.socket_id; });
        for (const ch of chans) {
            const chan = c.subscribe(ch);
            chan.bind_global((ev, data) => { if (SOAK_EVENTS.has(ev)) this.ledger.receive(o, ch, data); });
            chan.bind('pusher:subscription_succeeded', () => {
                if (!this.churners.has(entry)) return;
                this.ledger.subscribed(o, ch);
                if (ch.startsWith('presence-')) {
                    this.ledger.presenceChange(this.name, ch, user, 1);
                    entry.joined.push(ch);
                }
                if (!ch.startsWith('soak-pub') && rng() < 0.5) {
                    const at = rng.between(0, Math.max(0, life - (Date.now() - entry.born) - 500));
                    entry.timers.push(setTimeout(() => this.clientEvent(chan, o, 'churn'), at));
                }
            });
        }
        entry.born = Date.now();
        entry.timers.push(setTimeout(() => this.endChurner(entry), life));
    }

    endChurner(entry) {
        if (!this.churners.delete(entry)) return;
        for (const t of entry.timers) clearTimeout(t);
        for (const ch of entry.joined) this.ledger.presenceChange(this.name, ch, entry.user, -1);
        this.ledger.ended(entry.o);
        disconnect(entry.c);
        this.s.closed += 1;
    }

    async rawChurn() {
        this.s.opened += 1;
        this.s.churnRaw += 1;
        let ws;
        try {
            ws = await rawPusher(this.server, undefined, { keepFrames: false, timeoutMs: 20000 });
        } catch (err) {
            if (!this.dead) {
                this.s.openFailed += 1;
                this.note(`raw churn: open failed: ${err.message}`);
            }
            return;
        }
        if (this.dead || this.quiet) { ws.destroy(); this.s.closed += 1; return; }
        ws.onMessage = () => {};
        this.rawChurners.add(ws);
        ws.send({ event: 'pusher:subscribe', data: { channel: this.rng.pick(PUBLIC) } });
        const abrupt = this.rng() < 0.5;
        this.later(this.rng.between(500, 5000), () => this.endRaw(ws, abrupt));
    }

    endRaw(ws, abrupt) {
        if (!this.rawChurners.delete(ws)) return;
        if (abrupt) { ws.destroy(); this.s.rawDropped += 1; } else ws.close(1000);
        this.s.closed += 1;
    }

    /** A connection that never completes its request, or holds an idle keep-alive one. */
    halfOpenConn() {
        const sock = net.connect(this.server.port, this.server.host);
        this.s.opened += 1;
        this.s.halfOpen += 1;
        this.halfOpen.add(sock);
        sock.on('error', () => {});
        sock.on('data', () => {});
        sock.on('close', () => { if (this.halfOpen.delete(sock)) this.s.closed += 1; });
        sock.on('connect', () => {
            sock.write(this.rng() < 0.5
                ? `GET /app/${'app-key'}?protocol=7 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n`
                : 'GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
        });
        this.later(this.rng.between(100, 1500), () => sock.destroy());
    }

    // -- events --------------------------------------------------------------------------

    /** A payload carrying the event's sequence number, origin and send time. */
    data(e, padding) {
        return { id: e.seq, o: this.name, t: e.ts0, p: 'x'.repeat(padding) };
    }

    /** Settles events as the request answers; failures are unsure, and noted while alive. */
    track(events, promise, what) {
        this.inFlight += 1;
        this.s.restCalls += 1;
        promise.then((res) => {
            for (const e of events) this.ledger.settle(e, true);
            return res.text();
        }).catch((err) => {
            for (const e of events) if (e.ts1 === null) this.ledger.settle(e, false);
            this.s.restFailed += 1;
            if (!this.dead) {
                this.s.restFailedAlive += 1;
                this.note(`${what}: ${err.status ?? ''} ${err.message} ${err.body ?? ''}`);
            }
        }).finally(() => { this.inFlight -= 1; });
    }

    /** One socket id of a witness on any live process, to exclude with socket_id. */
    exclusionTarget() {
        const ws = this.peers().flatMap((p) => p.witnesses);
        return ws.length ? this.rng.pick(ws).o.socketId : null;
    }

    rest() {
        if (this.inFlight >= this.P.maxInFlight) { this.s.restSkipped += 1; return; }
        const rng = this.rng;
        const sdk = rng() < 0.5 ? this.restKeep : this.restClose;
        if (rng() < 0.2) {
            const batch = [];
            const events = [];
            for (let i = 0, n = 2 + Math.floor(rng() * 2); i < n; i++) {
                const ch = rng.pick(EVENT_CHANNELS);
                const e = this.ledger.newEvent('rest', this.name, [ch]);
                events.push(e);
                batch.push({ channel: ch, name: 'soak-ev', data: JSON.stringify(this.data(e, Math.floor(rng() * 200))) });
            }
            this.s.batchCalls += 1;
            this.s.restEvents += events.length;
            this.track(events, sdk.triggerBatch(batch), 'batch');
            return;
        }
        const chans = [];
        for (let n = 1 + Math.floor(rng() * 3); chans.length < n;) {
            const ch = rng.pick(EVENT_CHANNELS);
            if (!chans.includes(ch)) chans.push(ch);
        }
        const exclude = rng() < 0.1 ? this.exclusionTarget() : null;
        const e = this.ledger.newEvent('rest', this.name, chans, { exclude });
        if (exclude) this.s.excluded += 1;
        this.s.restEvents += 1;
        this.track([e], sdk.trigger(chans, 'soak-ev', this.data(e, Math.floor(rng() * 200)),
            exclude ? { socket_id: exclude } : undefined), 'trigger');
    }

    bulkEvent() {
        if (this.inFlight >= this.P.maxInFlight) { this.s.restSkipped += 1; return; }
        const e = this.ledger.newEvent('bulk', this.name, [BULK]);
        this.s.bulkEvents += 1;
        this.track([e], this.restKeep.trigger(BULK, 'bulk', this.data(e, this.P.bulkBytes)), 'bulk');
    }

    /** A client event from a witness (talker) or a churner on a private or presence channel. */
    clientEvent(chan, o, who) {
        if (this.dead || this.quiet || !chan.subscribed) return;
        const e = this.ledger.newEvent('client', this.name, [chan.name], { exclude: o.socketId });
        const ok = chan.trigger('client-soak', this.data(e, Math.floor(this.rng() * 100)));
        this.ledger.settle(e, ok);
        if (ok) this.s.clientEvents += 1;
        else { this.s.clientRefused += 1; this.note(`client event (${who}) refused by pusher-js`); }
    }

    talk() {
        const w = this.witnesses[Math.floor(this.rng() * Math.min(this.P.talkers, this.witnesses.length))];
        const chan = this.rng.pick(w.chans.filter((c) => !c.name.startsWith('soak-pub')));
        this.clientEvent(chan, w.o, 'talker');
    }

    read() {
        if (this.inFlight >= this.P.maxInFlight) return;
        const rng = this.rng;
        const pres = rng.pick(PRESENCE);
        const [path, params] = rng.pick([
            ['/channels', {}],
            ['/channels', { filter_by_prefix: 'presence-', info: 'user_count' }],
            [`/channels/${rng.pick(PUBLIC)}`, { info: 'subscription_count' }],
            [`/channels/${pres}`, { info: 'user_count' }],
            [`/channels/${pres}/users`, {}],
        ]);
        const t0 = Date.now();
        this.inFlight += 1;
        this.s.reads += 1;
        this.restKeep.get({ path, params }).then((res) => res.text()).then(() => {
            this.s.readMaxMs = Math.max(this.s.readMaxMs, Date.now() - t0);
        }).catch((err) => {
            this.s.readFailed += 1;
            if (!this.dead) {
                this.s.restFailedAlive += 1;
                this.note(`read ${path}: ${err.status ?? ''} ${err.message}`);
            }
        }).finally(() => { this.inFlight -= 1; });
    }

    // -- the end -------------------------------------------------------------------------

    /** The process was SIGKILLed at `at`: its sockets' lives end there; release everything. */
    kill(at) {
        this.dead = true;
        clearInterval(this.ticker);
        for (const w of this.witnesses) this.ledger.ended(w.o, at);
        // a reader paused at the kill never reads what was sent since it paused
        for (const r of this.readers) this.ledger.ended(r.o, r.paused ? Math.min(at, r.pausedAt) : at);
        this.releaseAll();
    }

    /** Stops starting anything new, resumes paused readers; waits (up to 20 s) for the requests in flight. */
    async stopLoad() {
        clearInterval(this.ticker);
        for (const r of this.readers) {
            if (r.paused) { r.paused = false; r.ws.socket.resume(); }
        }
        const deadline = Date.now() + 20000;
        while (this.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    }

    /** Closes the churning sockets and the bulk slow readers (the long-lived ones stay). */
    closeChurn() {
        this.quiet = true;
        for (const t of this.timers) clearTimeout(t);
        this.timers.clear();
        for (const entry of [...this.churners]) this.endChurner(entry);
        for (const ws of [...this.rawChurners]) this.endRaw(ws, false);
        for (const sock of this.halfOpen) sock.destroy();
        for (const r of this.readers.filter((x) => x.bulk)) { this.ledger.ended(r.o); r.ws.destroy(); }
    }

    /** Every witness user with a presence subscription on this process. */
    witnessUsers() {
        return this.witnesses.map((w) => w.user);
    }

    /** Closes every socket this process's load opened, and the REST agents. */
    closeAll() {
        this.ending = true;
        for (const w of this.witnesses) this.ledger.ended(w.o);
        for (const r of this.readers) this.ledger.ended(r.o);
        this.releaseAll();
    }

    releaseAll() {
        for (const t of this.timers) clearTimeout(t);
        this.timers.clear();
        for (const entry of [...this.churners]) this.endChurner(entry);
        for (const ws of [...this.rawChurners]) this.endRaw(ws, true);
        for (const sock of this.halfOpen) sock.destroy();
        for (const w of this.witnesses) { disconnect(w.c); this.s.closed += 1; }
        this.witnesses = [];
        for (const r of [...this.readers, ...this.idle]) r.ws.destroy();
        this.keepAgent.destroy();
        this.closeAgent.destroy();
    }
}
