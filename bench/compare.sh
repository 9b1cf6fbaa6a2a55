#!/usr/bin/env bash
# bench/compare.sh - soketi-c against soketi 1.6.1 on this machine: same scenarios, same client.
#
# Usage: bench/compare.sh [BUILD_DIR]
#   BUILD_DIR   a built soketi-c tree (soketi, plugins/.libs, bench/soketi-bench, bench/floor);
#               default: $BUILD, else the current directory.
# Environment:
#   SCENARIOS   which runs, in order (default: "idle fanout fanout-rate http-publish
#               many-channels many-channels-rate presence-churn"); bench/floor is also run with the arguments
#               of fanout and fanout-rate (the "floor" column).
#   SERVERS     "ours soketi" (default); either one alone works (no ratios then).
#   QUICK=1     smaller and shorter runs (a smoke test, ~2 minutes).
#   OUT         directory for the JSON reports (default: a new /tmp/soketi-compare.XXXX).
#   PORT        first port to try (default 16001; the first free ones are used).
#   RUN_TIMEOUT seconds one bench run may take (240).
#   NICE        niceness for the servers and the client (default 0; e.g. -5 on a machine that
#               others are using, so that their work disturbs the figures less).
#
# soketi 1.6.1 is installed once from npm into bench/.soketi (git-ignored), with uWebSockets.js
# replaced by the npm-published build soketi's own git dependency cannot be fetched without. Each
# scenario gets a freshly started server (so that RSS figures start from a clean process),
# started with the open-files limit raised to the hard limit, stopped with SIGTERM afterwards.
# Only processes this script started are ever signalled.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:-${BUILD:-$PWD}}" && pwd)
BENCH=$BUILD/bench/soketi-bench
FLOOR=$BUILD/bench/floor
OURS=$BUILD/soketi
PLUGINS=$BUILD/plugins/.libs
SOKETI_DIR=$HERE/.soketi
SOKETI_JS=$SOKETI_DIR/node_modules/@soketi/soketi/bin/server.js
SCENARIOS=${SCENARIOS:-"idle fanout fanout-rate http-publish many-channels many-channels-rate presence-churn"}
SERVERS=${SERVERS:-"ours soketi"}
QUICK=${QUICK:-0}
NICE=${NICE:-0}
RUN_TIMEOUT=${RUN_TIMEOUT:-240} # seconds one bench run may take, set-up included

die() { echo "compare.sh: $*" >&2; exit 1; }
say() { echo "compare.sh: $*" >&2; }

for f in "$BENCH" "$FLOOR" "$OURS" "$PLUGINS/adapter_local.so"; do
    [ -e "$f" ] || die "$f is missing: build first (mkdir -p /tmp/build && cd /tmp/build && \
$(cd "$HERE/.." && pwd)/configure && make -j2), then run $0 /tmp/build"
done
command -v node >/dev/null || die "node is needed for soketi"
command -v ss >/dev/null || die "ss (iproute2) is needed to find free ports"

# ------------------------------------------------------------------ soketi 1.6.1
install_soketi() {
    [ -f "$SOKETI_JS" ] && return 0
    say "installing soketi 1.6.1 into $SOKETI_DIR"
    mkdir -p "$SOKETI_DIR"
    # `npm init -y` refuses the directory name ".soketi", and `npm pkg set
    # overrides.uWebSockets.js=...` would nest "js" under "uWebSockets": write the file instead.
    (cd "$SOKETI_DIR" && node -e '
        const fs = require("fs");
        const p = fs.existsSync("package.json") ? JSON.parse(fs.readFileSync("package.json")) : {};
        p.name = p.name || "soketi-bench-deps"; p.version = p.version || "1.0.0"; p.private = true;
        p.overrides = Object.assign({}, p.overrides,
            {"uWebSockets.js": "npm:@trufflesuite/uws-js-unofficial@20.30.0-unofficial.0"});
        fs.writeFileSync("package.json", JSON.stringify(p, null, 2) + "\n");' &&
        npm install --no-audit --no-fund @soketi/soketi@1.6.1 >&2) ||
        die "npm install of @soketi/soketi@1.6.1 failed"
}
case " $SERVERS " in *" soketi "*) install_soketi ;; esac

# ------------------------------------------------------------------ processes
ulimit -n "$(ulimit -Hn)"
port_free() { ! ss -Htln "sport = :$1" | grep -q .; }
pick_port() {
    local p=$1
    while ! port_free "$p"; do p=$((p + 1)); done
    echo "$p"
}
PORT=$(pick_port "${PORT:-16001}")
MPORT=$(pick_port $((PORT + 600)))
OUT=${OUT:-$(mktemp -d /tmp/soketi-compare.XXXX)}
mkdir -p "$OUT"
SRV_PID=

# The same app and limits for both servers: client events on, no rate limits, quick shutdown.
export SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES=true
export SOKETI_SHUTDOWN_GRACE_PERIOD=200
export SOKETI_DEBUG=0

start_server() { # ours | soketi | floor
    local what=$1
    port_free "$PORT" || die "port $PORT was taken meanwhile"
    # nice execs the server: $! is the server itself, for --server-pid and for kill.
    case $what in
    ours)
        SOKETI_PORT=$PORT SOKETI_METRICS_SERVER_PORT=$MPORT \
            nice -n "$NICE" "$OURS" start --plugin-dir="$PLUGINS" >"$OUT/$what.log" 2>&1 &
        ;;
    soketi)
        SOKETI_PORT=$PORT SOKETI_METRICS_SERVER_PORT=$MPORT \
            nice -n "$NICE" node "$SOKETI_JS" start >"$OUT/$what.log" 2>&1 &
        ;;
    floor)
        nice -n "$NICE" "$FLOOR" --port "$PORT" --quiet >"$OUT/$what.log" 2>&1 &
        ;;
    esac
    SRV_PID=$!
    for _ in $(seq 1 150); do
        kill -0 "$SRV_PID" 2>/dev/null || { cat "$OUT/$what.log" >&2; die "$what did not start"; }
        port_free "$PORT" || return 0
        sleep 0.1
    done
    die "$what is not listening on $PORT after 15 s"
}

stop_server() {
    [ -n "$SRV_PID" ] || return 0
    kill -TERM "$SRV_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SRV_PID" 2>/dev/null || true
    wait "$SRV_PID" 2>/dev/null || true
    SRV_PID=
}
trap stop_server EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ scenarios
if [ "$QUICK" = 1 ]; then
    IDLE_N=3000 FAN_N=2000 DUR=4 RATE_DUR=4 HTTP_DUR=3 MANY_N=1000 CHURN_DUR=3
else
    IDLE_N=15000 FAN_N=10000 DUR=15 RATE_DUR=15 HTTP_DUR=10 MANY_N=5000 CHURN_DUR=10
fi

args_of() { # scenario -> soketi-bench arguments
    case $1 in
    idle) echo "idle -c $IDLE_N --settle 3" ;;
    fanout) echo "fanout -c $FAN_N -k 4 -p 100 -d $DUR" ;;
    fanout-rate) echo "fanout -c $FAN_N -k 4 -p 100 --rate 5 -d $RATE_DUR" ;;
    http-publish) echo "http-publish -c 10 -k 4 -p 100 -d $HTTP_DUR" ;;
    many-channels) echo "many-channels -c $MANY_N --channels $((MANY_N / 10)) -k 4 -p 100 -d $HTTP_DUR" ;;
    many-channels-rate) echo "many-channels -c $MANY_N --channels $((MANY_N / 10)) -k 4 -p 100 --rate 500 -d $HTTP_DUR" ;;
    presence-churn) echo "presence-churn -c 1000 --channels 100 -d $CHURN_DUR" ;;
    *) die "unknown scenario $1" ;;
    esac
}

run() { # server scenario
    local server=$1 sc=$2
    start_server "$server"
    say "$sc against $server (pid $SRV_PID, port $PORT): $(args_of "$sc")"
    # shellcheck disable=SC2046
    if ! timeout "$RUN_TIMEOUT" nice -n "$NICE" "$BENCH" $(args_of "$sc") --port "$PORT" \
        --server-pid "$SRV_PID" --label "$server" --connect-timeout 60 \
        --json --quiet >"$OUT/$server-$sc.json" 2>"$OUT/$server-$sc.err"; then
        say "$sc against $server failed: $(tail -3 "$OUT/$server-$sc.err")"
        rm -f "$OUT/$server-$sc.json"
    fi
    stop_server
}

T0=$(date +%s)
say "results in $OUT; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for sc in $SCENARIOS; do
    for server in $SERVERS; do
        run "$server" "$sc"
    done
    case $sc in fanout | fanout-rate) run floor "$sc" ;; esac
done
say "done in $(($(date +%s) - T0)) s; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

# ------------------------------------------------------------------ the table
node - "$OUT" <<'EOF'
const fs = require("fs"), path = require("path");
const dir = process.argv[2];
const load = (n) => { try { return JSON.parse(fs.readFileSync(path.join(dir, n + ".json"))); } catch { return null; } };
const rows = [];
const fmt = (v) => v == null || Number.isNaN(v) ? "-" : Math.abs(v) >= 100 ? Math.round(v).toLocaleString("en-US") : (+v.toPrecision(3)).toString();
// [label, scenario, getter, "hi" (higher is better) | "lo"]
const metrics = [
  ["connection set-up, conn/s", "idle", r => r.connections.setup_per_s, "hi"],
  ["set-up time p99, ms", "idle", r => r.connections.setup_ms_p99, "lo"],
  ["idle: server RSS per connection, bytes", "idle", r => r.server.rss_bytes_per_conn, "lo"],
  ["idle: server RSS, MB", "idle", r => r.server.rss_kb_end / 1024, "lo"],
  ["fanout: deliveries/s", "fanout", r => r.delivery.per_s, "hi"],
  ["fanout: events/s published", "fanout", r => r.publish.per_s, "hi"],
  ["fanout: latency p50, ms", "fanout", r => r.delivery.latency_ms_p50, "lo"],
  ["fanout: latency p99, ms", "fanout", r => r.delivery.latency_ms_p99, "lo"],
  ["fanout: server CPU per delivery, us", "fanout", r => r.server.cpu_us_per_delivery, "lo"],
  ["fanout: lost + duplicated", "fanout", r => r.delivery.lost + r.delivery.duplicates, "lo"],
  ["fanout: server RSS peak, MB", "fanout", r => r.server.rss_kb_peak / 1024, "lo"],
  ["fanout 5/s: latency p50, ms", "fanout-rate", r => r.delivery.latency_ms_p50, "lo"],
  ["fanout 5/s: latency p99, ms", "fanout-rate", r => r.delivery.latency_ms_p99, "lo"],
  ["fanout 5/s: latency p99.9, ms", "fanout-rate", r => r.delivery.latency_ms_p999, "lo"],
  ["fanout 5/s: latency max, ms", "fanout-rate", r => r.delivery.latency_ms_max, "lo"],
  ["fanout 5/s: server CPU, % of a core", "fanout-rate", r => r.server.cpu_util_pct, "lo"],
  ["http-publish: events/s", "http-publish", r => r.publish.per_s, "hi"],
  ["http-publish: server CPU per event, us", "http-publish", r => r.server.cpu_us_per_event, "lo"],
  ["http-publish: HTTP latency p50, ms", "http-publish", r => r.publish.http_ms_p50, "lo"],
  ["many-channels: deliveries/s", "many-channels", r => r.delivery.per_s, "hi"],
  ["many-channels: latency p99, ms", "many-channels", r => r.delivery.latency_ms_p99, "lo"],
  ["many-channels 500/s: latency p50, ms", "many-channels-rate", r => r.delivery.latency_ms_p50, "lo"],
  ["many-channels 500/s: latency p99, ms", "many-channels-rate", r => r.delivery.latency_ms_p99, "lo"],
  ["many-channels 500/s: server CPU per event, us", "many-channels-rate", r => r.server.cpu_us_per_event, "lo"],
  ["presence-churn: joins/s", "presence-churn", r => r.presence.joins_per_s, "hi"],
  ["presence-churn: join p99, ms", "presence-churn", r => r.presence.join_ms_p99, "lo"],
  ["presence-churn: server CPU per join, us", "presence-churn", r => r.server.cpu_us_per_join, "lo"],
];
const w = [42, 14, 14, 12];
const line = (a) => console.log(a.map((s, i) => i ? String(s).padStart(w[i]) : String(s).padEnd(w[i])).join(" "));
console.log("");
line(["metric", "soketi-c", "soketi 1.6.1", "ours/soketi"]);
line(["-".repeat(w[0]), "-".repeat(w[1]), "-".repeat(w[2]), "-".repeat(w[3])]);
for (const [label, sc, get, dir_] of metrics) {
  const a = load("ours-" + sc), b = load("soketi-" + sc);
  if (!a && !b) continue;
  const va = a ? get(a) : null, vb = b ? get(b) : null;
  const ratio = va != null && vb ? va / vb : null;
  line([label, fmt(va), fmt(vb), ratio == null ? "-" : ratio.toFixed(ratio < 10 ? 2 : 1) + (dir_ === "lo" ? " (lo)" : "")]);
}
for (const sc of ["fanout", "fanout-rate"]) {
  const fl = load("floor-" + sc), oa = load("ours-" + sc), sb = load("soketi-" + sc);
  if (!fl) continue;
  console.log("");
  console.log(`floor, ${sc} (bench/floor, same arguments): ${fmt(fl.delivery.per_s)} deliveries/s, ` +
              `latency p50 ${fmt(fl.delivery.latency_ms_p50)} ms, p99 ${fmt(fl.delivery.latency_ms_p99)} ms, ` +
              `server CPU ${fmt(fl.server.cpu_us_per_delivery)} us per delivery`);
  for (const [name, r] of [["soketi-c", oa], ["soketi  ", sb]]) {
    if (!r) continue;
    console.log(`  ${name} / floor: deliveries/s ${(r.delivery.per_s / fl.delivery.per_s).toFixed(3)}, ` +
                `CPU per delivery ${(r.server.cpu_us_per_delivery / fl.server.cpu_us_per_delivery).toFixed(2)}, ` +
                `latency p50 ${(r.delivery.latency_ms_p50 / fl.delivery.latency_ms_p50).toFixed(2)}`);
  }
}
console.log("\n(lo) = lower is better; other ratios: higher is better.");
const busy = [];
for (const f of fs.readdirSync(dir).filter(f => f.endsWith(".json"))) {
  const r = JSON.parse(fs.readFileSync(path.join(dir, f)));
  if (r.machine && r.machine.others_pct_of_one_cpu > 15) busy.push(`${f.replace(".json", "")} ${Math.round(r.machine.others_pct_of_one_cpu)}%`);
  const bad = r.connections.failed + r.connections.closed_during_run + r.delivery.lost + r.delivery.duplicates + r.publish.events_failed;
  if (bad) console.log(`note: ${f}: failed connections ${r.connections.failed}, closed ${r.connections.closed_during_run}, lost ${r.delivery.lost}, duplicates ${r.delivery.duplicates}, failed publishes ${r.publish.events_failed}${r.first_error ? " (" + r.first_error + ")" : ""}`);
}
if (busy.length) console.log("note: other processes used CPU during: " + busy.join(", ") + " (of one CPU)");
EOF
