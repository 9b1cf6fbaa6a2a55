// tests/soak/ledger.mjs — what the soak sent, what each client received, and the exact
// accounting that decides which deliveries were owed.
//
// DESIGN: every event the soak triggers (REST trigger, batch entry, client event, bulk event)
// gets a sequence number, carried in its data as `id`, and a record: the channels it went to,
// the daemon process it entered through (its "origin", e.g. A1, A2, B), the socket it excludes
// (REST socket_id or the sender of a client event), the time the request was sent (ts0) and the
// time its answer came back (ts1; a client event has no answer: ts1 = ts0). An event whose
// request failed or was never answered is "unsure": it may or may not have been broadcast.
//
// An observer is one socket that counts what it receives, per (event, channel). Exact
// observers are the long-lived sockets (pusher-js witnesses, raw slow readers, bulk witnesses)
// connected throughout their process's life; others (churners, bulk slow readers) are only
// checked for duplicates. For an exact observer o and an event e on a channel c that o joined,
// the owed count is:
//   0  when e excludes o's socket (socket_id, or o sent the client event);
//   1  when e was answered, o's subscription to c was confirmed before e was sent, o was still
//      connected marginMs after e was answered, and either e entered through o's own process
//      (local delivery needs nothing else) or e was sent and answered inside one "clean"
//      interval: both nodes and Redis up and cross-node delivery proven by a probe in both
//      directions, ending marginMs before the next disruption (node kill, Redis kill);
//   unsure otherwise (at most once: delivered or not, never twice).
// Every (event, channel, observer) is checked: lost = owed 1 got 0, duplicated = got more than
// 1 anywhere (any observer, owed or not), leaked = owed 0 got 1. Unsure ones are counted as
// delivered or missed (missed only when sent during the observer's subscribed life).

/** Channels of the soak, by index (an observer's counts are per event and channel index). */
export const PUBLIC = ['soak-pub-0', 'soak-pub-1', 'soak-pub-2', 'soak-pub-3'];
export const PRIVATE = ['private-soak-0', 'private-soak-1'];
export const PRESENCE = ['presence-soak-0', 'presence-soak-1'];
export const BULK = 'soak-bulk';
export const CHANNELS = [...PUBLIC, ...PRIVATE, ...PRESENCE, BULK];
export const NCH = CHANNELS.length;
export const chIndex = (name) => CHANNELS.indexOf(name);

const LAT_MAX_MS = 60000;

/** Median of an array of numbers (NaN when empty). */
export function median(xs) {
    if (!xs.length) return NaN;
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export class Ledger {
    constructor({ marginMs = 2000 } = {}) {
        this.marginMs = marginMs;
        this.events = []; // by seq
        this.observers = [];
        this.clean = []; // [{ from, to }] cross-node clean intervals (to: Infinity while open)
        this.duplicates = []; // { o, seq, ch, n }
        this.received = 0; // every event message any observer got
        this.lastRecvAt = 0;
        this.latency = new Uint32Array(LAT_MAX_MS + 1); // steady observers, REST and client events
        this.presence = new Map(); // process -> Map `${channel}|${user}` -> { n, changed }
    }

    /** Records an event about to be sent; returns its record (e.seq goes into its data). */
    newEvent(kind, origin, channels, { exclude = null } = {}) {
        const e = {
            seq: this.events.length, kind, origin, chans: channels.map(chIndex), exclude,
            ts0: Date.now(), ts1: null, ok: false,
        };
        this.events.push(e);
        return e;
    }

    /** The answer to e's request came back (ok) or the request failed (not ok: unsure). */
    settle(e, ok) {
        e.ts1 = Date.now();
        e.ok = ok;
    }

    /** Cross-node delivery proven from `at` on (a probe went both ways). */
    recovered(at) {
        this.clean.push({ from: at, to: Infinity });
    }

    /** A node or Redis goes down at `at`: the open clean interval ends there. */
    disrupted(at) {
        const last = this.clean[this.clean.length - 1];
        if (last && last.to === Infinity) last.to = at;
    }

    /**
     * A socket that counts what it gets. exact: owed deliveries are checked for it; steady: it
     * never stops reading, so its deliveries' latency is recorded.
     */
    observer({ name, proc, exact, steady = false }) {
        const o = {
            name, proc, exact, steady, socketId: null, subs: new Map(), endAt: null, brokenAt: null,
            counts: exact ? new Uint8Array(1024 * NCH) : new Map(), got: 0,
        };
        if (exact) this.observers.push(o);
        return o;
    }

    /** o's subscription to channel was confirmed now. */
    subscribed(o, channel) {
        o.subs.set(chIndex(channel), Date.now());
    }

    /** o's life ends (its process was killed, or the run is over): nothing owed after. */
    ended(o, at = Date.now()) {
        if (o.endAt === null) o.endAt = at;
    }

    /** o lost its connection unexpectedly (a failure of its own: it was to stay connected). */
    broken(o, at = Date.now()) {
        if (o.endAt === null && o.brokenAt === null) o.brokenAt = at;
    }

    /** o received the event with data.id = seq on channel; ignores data without a soak id. */
    receive(o, channel, data) {
        if (typeof data === 'string') {
            try { data = JSON.parse(data); } catch { return; }
        }
        const seq = data?.id;
        if (!Number.isInteger(seq) || seq < 0 || seq >= this.events.length) return;
        const ch = chIndex(channel);
        const k = seq * NCH + ch;
        const now = Date.now();
        this.received += 1;
        this.lastRecvAt = now;
        o.got += 1;
        let n;
        if (o.exact) {
            if (k >= o.counts.length) {
                const grown = new Uint8Array(Math.max(o.counts.length * 2, k + NCH));
                grown.set(o.counts);
                o.counts = grown;
            }
            n = o.counts[k] = Math.min(255, o.counts[k] + 1);
            const e = this.events[seq];
            if (n === 1 && o.steady && e.kind !== 'bulk') this.latency[Math.min(LAT_MAX_MS, Math.max(0, now - e.ts0))] += 1;
        } else {
            n = (o.counts.get(k) || 0) + 1;
            o.counts.set(k, n);
        }
        if (n > 1) this.duplicates.push({ o: o.name, seq, ch: CHANNELS[ch], n });
    }

    /** Latency percentiles (ms) of first deliveries to steady observers (send to receipt). */
    latencyPercentiles(ps = [0.5, 0.99, 1]) {
        let total = 0;
        for (const c of this.latency) total += c;
        return ps.map((p) => {
            const want = Math.max(1, Math.ceil(p * total));
            let acc = 0;
            for (let ms = 0; ms < this.latency.length; ms++) {
                acc += this.latency[ms];
                if (acc >= want) return ms;
            }
            return NaN;
        });
    }

    inClean(from, to) {
        return this.clean.some((c) => c.from <= from && to <= c.to);
    }

    /** What o is owed of e on channel index ch: 0, 1, or why it is unsure (a string). */
    owed(o, e, ch) {
        // a socket pusher-js reconnected has a new socket id: nothing is known after the break
        if (o.brokenAt !== null && e.ts0 >= o.brokenAt) return 'the socket was disconnected';
        if (e.exclude !== null && e.exclude === o.socketId) return 0;
        const subAt = o.subs.get(ch);
        if (subAt === undefined || subAt > e.ts0) return 'sent before the subscription was confirmed';
        if (!e.ok) return 'its request failed (node killed)';
        const until = e.ts1 + this.marginMs;
        if (o.endAt !== null && until > o.endAt) return 'answered under 2 s before the socket\'s node was killed';
        if (o.brokenAt !== null && until > o.brokenAt) return 'the socket was disconnected';
        if (e.origin !== o.proc && !this.inClean(e.ts0, until)) return 'cross-node while a node or Redis was down';
        return 1;
    }

    /** Was e sent while o was subscribed to ch (and not yet gone)? */
    during(o, e, ch) {
        const end = Math.min(o.endAt ?? Infinity, o.brokenAt ?? Infinity);
        return o.subs.get(ch) <= e.ts0 && e.ts0 < end;
    }

    /**
     * Checks every exact observer against every event. Returns { owed, delivered, lost,
     * leaked, unsureGot, unsureMissed, unsure (by reason: { got, missed }), duplicates, broken,
     * failures (first 20 described) }.
     */
    verdict() {
        const r = {
            owed: 0, delivered: 0, lost: 0, leaked: 0, unsureGot: 0, unsureMissed: 0, zeroOk: 0,
            duplicates: this.duplicates.length, broken: [], failures: [], unsure: {},
        };
        const fail = (what, o, e, ch, n) => {
            if (r.failures.length < 20) {
                r.failures.push(`${what}: event ${e.seq} (${e.kind} via ${e.origin}, ${CHANNELS[ch]}, `
                    + `sent +${e.ts0 - this.t0} ms, answered ${e.ts1 === null ? 'never' : `+${e.ts1 - this.t0} ms`}`
                    + `${e.ok ? '' : ', failed'}) at ${o.name} (${o.socketId}) got ${n}`);
            }
        };
        for (const o of this.observers) {
            if (o.brokenAt !== null) r.broken.push(`${o.name} disconnected at +${o.brokenAt - this.t0} ms`);
            for (const e of this.events) {
                for (const ch of e.chans) {
                    if (!o.subs.has(ch)) continue;
                    const k = e.seq * NCH + ch;
                    const n = k < o.counts.length ? o.counts[k] : 0;
                    const want = this.owed(o, e, ch);
                    if (want === 1) {
                        r.owed += 1;
                        if (n === 1) r.delivered += 1;
                        else if (n === 0) { r.lost += 1; fail('lost', o, e, ch, n); }
                    } else if (want === 0) {
                        if (n === 0) r.zeroOk += 1;
                        else { r.leaked += 1; fail('excluded socket got it', o, e, ch, n); }
                    } else if (n > 0 || this.during(o, e, ch)) {
                        const u = r.unsure[want] ??= { got: 0, missed: 0 };
                        if (n > 0) { r.unsureGot += 1; u.got += 1; } else { r.unsureMissed += 1; u.missed += 1; }
                    }
                }
            }
        }
        for (const d of this.duplicates.slice(0, 20 - Math.min(20, r.failures.length))) {
            r.failures.push(`duplicate: event ${d.seq} on ${d.ch} at ${d.o} got ${d.n}`);
        }
        return r;
    }

    // -- presence bookkeeping: which users have a confirmed presence subscription where --

    presenceMap(proc) {
        if (!this.presence.has(proc)) this.presence.set(proc, new Map());
        return this.presence.get(proc);
    }

    /** user joined (+1) or left (-1) channel on process proc. */
    presenceChange(proc, channel, user, delta) {
        const m = this.presenceMap(proc);
        const key = `${channel}|${user}`;
        const cur = m.get(key) || { n: 0, changed: 0 };
        cur.n += delta;
        cur.changed = Date.now();
        m.set(key, cur);
    }

    /**
     * Could proc's answer at time t list user on channel? Yes when a subscription of user is
     * live there, or one changed within slackMs before t (the server may not have seen a
     * close yet, or seen a join the client has not been told about).
     */
    presencePossible(proc, channel, user, t, slackMs = 2000) {
        const cur = this.presenceMap(proc).get(`${channel}|${user}`);
        return !!cur && (cur.n > 0 || cur.changed >= t - slackMs);
    }
}
