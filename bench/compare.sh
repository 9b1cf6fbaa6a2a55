#!/usr/bin/env bash
# bench/compare.sh - soketi-c against soketi 1.6.1 on this machine: same scenarios, same client.
#
# Usage: bench/compare.sh [BUILD_DIR]
#   BUILD_DIR   a built soketi-c tree (soketi, plugins/.libs, bench/soketi-bench, bench/floor);
#               default: $BUILD, else the current directory.
# Environment:
#   SCENARIOS   which runs, in order (default: "idle fanout fanout-rate xnode-fanout
#               xnode-fanout-rate xnats-fanout xnats-fanout-rate http-publish many-channels
#               many-channels-rate presence-churn"); bench/floor is also run with the arguments
#               of fanout and fanout-rate (the "floor" column). xnode-* and xnats-* are the
#               cross-node runs over Redis and over NATS: see below.
#   SERVERS     "ours soketi" (default); either one alone works (no ratios then).
#   QUICK=1     smaller and shorter runs (a smoke test, ~2 minutes).
#   OUT         directory for the JSON reports (default: a new /tmp/soketi-compare.XXXX).
#   PORT        first port to try (default 16001; the first free ones are used).
#   RUN_TIMEOUT seconds one bench run may take (240).
#   NICE        niceness for the servers and the client (default 0; e.g. -5 on a machine that
#               others are using, so that their work disturbs the figures less).
#   REDIS_PORT  first port to try for the cross-node runs' redis-server (default 6390).
#   NATS_PORT   first port to try for the NATS runs' nats-server (default 4290).
#   REPORT_ONLY=1  run nothing: print the table of the JSON reports already in $OUT.
#
# Cross-node (xnode-fanout: the arguments of fanout plus --window 4; xnode-fanout-rate: those of
# fanout-rate): two nodes of the same server, both with SOKETI_ADAPTER_DRIVER=redis on one
# redis-server this script starts on loopback (no persistence). The subscribers connect to
# node B, the HTTP publishers to node A (soketi-bench --publish-port), so every event goes
# publisher -> A -> Redis -> B -> subscribers, and the latency covers that whole path. Node B
# is --server-pid; node A and Redis are --watch-pid, so the table has the CPU of all three.
# The window keeps at most 4 events undelivered, as 4 publishers waiting for their answers do
# on one node: node A answers before node B has delivered, and unbounded publishing would
# measure a queue.
# xnats-fanout and xnats-fanout-rate are the same runs with SOKETI_ADAPTER_DRIVER=nats on one
# nats-server (no JetStream: the runs share nothing but the broadcasts) instead of Redis; its
# pid is watched as "nats".
#
# w2-fanout (ours only): the arguments of fanout against soketi-c with SOKETI_WORKERS=2, the
# local adapter: the kernel spreads the subscribers over the two workers and every event
# crosses once from the worker that takes the HTTP publish to the other through the
# supervisor. --server-pid is the supervisor, the workers are watched as w1 and w2, and
# "all processes" sums the three: compare it with fanout's server CPU per delivery (the cost
# of crossing workers). Run "fanout w2-fanout" with SERVERS=ours for that pair alone.
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
SCENARIOS=${SCENARIOS:-"idle fanout fanout-rate xnode-fanout xnode-fanout-rate xnats-fanout xnats-fanout-rate http-publish many-channels many-channels-rate presence-churn"}
SERVERS=${SERVERS:-"ours soketi"}
QUICK=${QUICK:-0}
NICE=${NICE:-0}
RUN_TIMEOUT=${RUN_TIMEOUT:-240} # seconds one bench run may take, set-up included
REPORT_ONLY=${REPORT_ONLY:-0}

die() { echo "compare.sh: $*" >&2; exit 1; }
say() { echo "compare.sh: $*" >&2; }

if [ "$REPORT_ONLY" = 1 ]; then
    [ -d "${OUT:-}" ] || die "REPORT_ONLY=1 needs OUT, the directory of an earlier run"
    SCENARIOS='' SERVERS=''
fi
for f in ${SCENARIOS:+"$BENCH" "$FLOOR" "$OURS" "$PLUGINS/adapter_local.so"}; do
    [ -e "$f" ] || die "$f is missing: build first (mkdir -p /tmp/build && cd /tmp/build && \
$(cd "$HERE/.." && pwd)/configure && make -j2), then run $0 /tmp/build"
done
command -v node >/dev/null || die "node is needed for soketi"
command -v ss >/dev/null || die "ss (iproute2) is needed to find free ports"
case " $SCENARIOS " in
*" xnode-"*)
    command -v redis-server >/dev/null || die "redis-server is needed for the xnode runs"
    [ -e "$PLUGINS/adapter_redis.so" ] || die "$PLUGINS/adapter_redis.so is missing (hiredis?)"
    ;;
esac
case " $SCENARIOS " in
*" xnats-"*)
    command -v nats-server >/dev/null || die "nats-server is needed for the xnats runs"
    [ -e "$PLUGINS/adapter_nats.so" ] || die "$PLUGINS/adapter_nats.so is missing (libnats-dev?)"
    ;;
esac

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
# Cross-node: node A (the publishers' node) and its metrics port; node B is PORT and MPORT.
PORT_A=$(pick_port $((PORT + 1)))
MPORT_A=$(pick_port $((MPORT + 1)))
OUT=${OUT:-$(mktemp -d /tmp/soketi-compare.XXXX)}
mkdir -p "$OUT"
SRV_PID=  # the server, or node B (the subscribers' node) of a cross-node run
PUB_PID=  # node A of a cross-node run
REDIS_PID=
REDIS_FIRST_PORT=${REDIS_PORT:-6390}
REDIS_PORT= # the one picked
NATS_PID=
NATS_FIRST_PORT=${NATS_PORT:-4290}
NATS_PORT=

# The same app and limits for both servers: client events on, no rate limits, quick shutdown.
export SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES=true
export SOKETI_SHUTDOWN_GRACE_PERIOD=200
export SOKETI_DEBUG=0

# Waits until pid listens on port; dies (with its log) if it exits first.
wait_listening() { # pid port name log
    for _ in $(seq 1 150); do
        kill -0 "$1" 2>/dev/null || { cat "$4" >&2; die "$3 did not start"; }
        port_free "$2" || return 0
        sleep 0.1
    done
    die "$3 is not listening on $2 after 15 s"
}

# Starts one server process in the background; LAST_PID is its pid (nice execs the server,
# so it is the server itself, for --server-pid and for kill). The caller's environment (the
# adapter settings of a cross-node run) goes with it.
spawn() { # ours | soketi | floor, port, metrics port, log
    local what=$1 port=$2 mport=$3 log=$4
    port_free "$port" || die "port $port was taken meanwhile"
    case $what in
    ours)
        SOKETI_PORT=$port SOKETI_METRICS_SERVER_PORT=$mport \
            nice -n "$NICE" "$OURS" start --plugin-dir="$PLUGINS" >"$log" 2>&1 &
        ;;
    soketi)
        SOKETI_PORT=$port SOKETI_METRICS_SERVER_PORT=$mport \
            nice -n "$NICE" node "$SOKETI_JS" start >"$log" 2>&1 &
        ;;
    floor)
        nice -n "$NICE" "$FLOOR" --port "$port" --quiet >"$log" 2>&1 &
        ;;
    esac
    LAST_PID=$!
}

start_server() { # ours | soketi | floor
    local what=$1
    spawn "$what" "$PORT" "$MPORT" "$OUT/$what.log"
    SRV_PID=$LAST_PID
    wait_listening "$SRV_PID" "$PORT" "$what" "$OUT/$what.log"
}

# The redis-server of the cross-node runs: loopback, no persistence, in the foreground of a
# background job so that its pid is ours to watch and to stop.
start_redis() {
    [ -n "$REDIS_PID" ] && return 0
    REDIS_PORT=$(pick_port "$REDIS_FIRST_PORT")
    nice -n "$NICE" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' \
        --appendonly no --daemonize no >"$OUT/redis.log" 2>&1 &
    REDIS_PID=$!
    wait_listening "$REDIS_PID" "$REDIS_PORT" redis-server "$OUT/redis.log"
}

# The nats-server of the NATS runs, as start_redis.
start_nats() {
    [ -n "$NATS_PID" ] && return 0
    NATS_PORT=$(pick_port "$NATS_FIRST_PORT")
    nice -n "$NICE" nats-server -a 127.0.0.1 -p "$NATS_PORT" >"$OUT/nats.log" 2>&1 &
    NATS_PID=$!
    wait_listening "$NATS_PID" "$NATS_PORT" nats-server "$OUT/nats.log"
}

# Two nodes of one server on the redis-server (or nats-server): A (PORT_A) for the publishers,
# B (PORT) for the subscribers. Both are started before either is waited for, and B is given a
# moment after listening to subscribe (the bench's connection set-up takes longer anyway).
start_xnode() { # ours | soketi, redis | nats
    local what=$1 via=$2
    if [ "$via" = nats ]; then
        start_nats
        export SOKETI_ADAPTER_DRIVER=nats SOKETI_ADAPTER_NATS_SERVERS="[\"127.0.0.1:$NATS_PORT\"]"
    else
        start_redis
        export SOKETI_ADAPTER_DRIVER=redis SOKETI_DB_REDIS_HOST=127.0.0.1 SOKETI_DB_REDIS_PORT=$REDIS_PORT
    fi
    spawn "$what" "$PORT_A" "$MPORT_A" "$OUT/$what-node-a.log"
    PUB_PID=$LAST_PID
    spawn "$what" "$PORT" "$MPORT" "$OUT/$what-node-b.log"
    SRV_PID=$LAST_PID
    unset SOKETI_ADAPTER_DRIVER SOKETI_DB_REDIS_HOST SOKETI_DB_REDIS_PORT SOKETI_ADAPTER_NATS_SERVERS
    wait_listening "$PUB_PID" "$PORT_A" "$what node A" "$OUT/$what-node-a.log"
    wait_listening "$SRV_PID" "$PORT" "$what node B" "$OUT/$what-node-b.log"
    sleep 0.5
}

stop_pid() { # pid: SIGTERM, then SIGKILL after 10 s
    [ -n "$1" ] || return 0
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

stop_server() {
    stop_pid "$SRV_PID"
    stop_pid "$PUB_PID"
    SRV_PID='' PUB_PID=''
}
stop_all() {
    stop_server
    stop_pid "$REDIS_PID"
    stop_pid "$NATS_PID"
    REDIS_PID= NATS_PID=
}
trap stop_all EXIT
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
    w2-fanout) args_of fanout ;;
    fanout-rate) echo "fanout -c $FAN_N -k 4 -p 100 --rate 5 -d $RATE_DUR" ;;
    http-publish) echo "http-publish -c 10 -k 4 -p 100 -d $HTTP_DUR" ;;
    many-channels) echo "many-channels -c $MANY_N --channels $((MANY_N / 10)) -k 4 -p 100 -d $HTTP_DUR" ;;
    many-channels-rate) echo "many-channels -c $MANY_N --channels $((MANY_N / 10)) -k 4 -p 100 --rate 500 -d $HTTP_DUR" ;;
    presence-churn) echo "presence-churn -c 1000 --channels 100 -d $CHURN_DUR" ;;
    # Across nodes the publishing node answers before the far node has delivered: without a
    # window "as fast as the answers come" floods node B (see bench/README.md).
    xnode-fanout | xnats-fanout) echo "$(args_of fanout) --window 4" ;;
    xnode-fanout-rate | xnats-fanout-rate) args_of fanout-rate ;;
    *) die "unknown scenario $1" ;;
    esac
}

run() { # server scenario
    local server=$1 sc=$2 extra=
    case $sc in
    xnode-*)
        start_xnode "$server" redis
        extra="--publish-port $PORT_A --watch-pid node-a=$PUB_PID --watch-pid redis=$REDIS_PID"
        say "$sc against $server (subscribers on node B, pid $SRV_PID, port $PORT; publishers to" \
            "node A, pid $PUB_PID, port $PORT_A; redis pid $REDIS_PID, port $REDIS_PORT): $(args_of "$sc")"
        ;;
    xnats-*)
        start_xnode "$server" nats
        extra="--publish-port $PORT_A --watch-pid node-a=$PUB_PID --watch-pid nats=$NATS_PID"
        say "$sc against $server (subscribers on node B, pid $SRV_PID, port $PORT; publishers to" \
            "node A, pid $PUB_PID, port $PORT_A; nats pid $NATS_PID, port $NATS_PORT): $(args_of "$sc")"
        ;;
    w2-*)
        [ "$server" = ours ] || return 0 # soketi's own answer is PM2 + its cluster adapter
        export SOKETI_WORKERS=2
        start_server ours
        unset SOKETI_WORKERS
        for _ in $(seq 1 100); do # the port is bound by the first worker: wait for both
            grep -q 'all 2 workers listen' "$OUT/ours.log" && break
            sleep 0.1
        done
        local w1 w2
        read -r w1 w2 <"/proc/$SRV_PID/task/$SRV_PID/children" || true # no newline at its end
        extra="--watch-pid w1=$w1 --watch-pid w2=$w2"
        say "$sc against ours with 2 workers (supervisor pid $SRV_PID, workers $w1 $w2, port" \
            "$PORT): $(args_of "$sc")"
        ;;
    *)
        start_server "$server"
        say "$sc against $server (pid $SRV_PID, port $PORT): $(args_of "$sc")"
        ;;
    esac
    # shellcheck disable=SC2046,SC2086
    if ! timeout "$RUN_TIMEOUT" nice -n "$NICE" "$BENCH" $(args_of "$sc") --port "$PORT" $extra \
        --server-pid "$SRV_PID" --label "$server" --connect-timeout 60 \
        --json --quiet >"$OUT/$server-$sc.json" 2>"$OUT/$server-$sc.err"; then
        say "$sc against $server failed: $(tail -3 "$OUT/$server-$sc.err")"
        rm -f "$OUT/$server-$sc.json"
    fi
    stop_server
}

T0=$(date +%s)
[ "$REPORT_ONLY" = 1 ] || say "results in $OUT; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for sc in $SCENARIOS; do
    for server in $SERVERS; do
        run "$server" "$sc"
    done
    case $sc in fanout | fanout-rate) run floor "$sc" ;; esac
done
[ "$REPORT_ONLY" = 1 ] || say "done in $(($(date +%s) - T0)) s; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

# ------------------------------------------------------------------ the table
node - "$OUT" <<'EOF'
const fs = require("fs"), path = require("path");
const dir = process.argv[2];
const load = (n) => { try { return JSON.parse(fs.readFileSync(path.join(dir, n + ".json"))); } catch { return null; } };
const rows = [];
// A --watch-pid process of a report (cross-node: "node-a", "redis"), or {}.
const watched = (r, name) => (r.watched || []).find(w => w.name === name) || {};
// CPU of every server-side process (the server or node B, and the watched ones) per delivery
// and as % of one core: what the cluster spends, comparable with the single node's figures.
const cpuAll = (r) => r.server.cpu_s + (r.watched || []).reduce((a, w) => a + w.cpu_s, 0);
const cpuAllPerDelivery = (r) => r.delivery.unique ? cpuAll(r) * 1e6 / r.delivery.unique : null;
const cpuAllPct = (r) => r.server.cpu_util_pct + (r.watched || []).reduce((a, w) => a + w.cpu_util_pct, 0);
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
  ["2 workers fanout: deliveries/s", "w2-fanout", r => r.delivery.per_s, "hi"],
  ["2 workers fanout: conn/s set up", "w2-fanout", r => r.connections.setup_per_s, "hi"],
  ["2 workers fanout: CPU per delivery, all processes, us", "w2-fanout", cpuAllPerDelivery, "lo"],
  ["2 workers fanout: CPU, % of a core, all processes", "w2-fanout", cpuAllPct, "lo"],
  ["2 workers fanout: lost + duplicated", "w2-fanout", r => r.delivery.lost + r.delivery.duplicates, "lo"],
  ["fanout: conn/s set up", "fanout", r => r.connections.setup_per_s, "hi"],
  ["fanout: CPU, % of a core", "fanout", r => r.server.cpu_util_pct, "lo"],
  ["fanout 5/s: latency p50, ms", "fanout-rate", r => r.delivery.latency_ms_p50, "lo"],
  ["fanout 5/s: latency p99, ms", "fanout-rate", r => r.delivery.latency_ms_p99, "lo"],
  ["fanout 5/s: latency p99.9, ms", "fanout-rate", r => r.delivery.latency_ms_p999, "lo"],
  ["fanout 5/s: latency max, ms", "fanout-rate", r => r.delivery.latency_ms_max, "lo"],
  ["fanout 5/s: server CPU, % of a core", "fanout-rate", r => r.server.cpu_util_pct, "lo"],
  ["cross-node fanout: deliveries/s", "xnode-fanout", r => r.delivery.per_s, "hi"],
  ["cross-node fanout: events/s published", "xnode-fanout", r => r.publish.per_s, "hi"],
  ["cross-node fanout: latency p50, ms", "xnode-fanout", r => r.delivery.latency_ms_p50, "lo"],
  ["cross-node fanout: latency p99, ms", "xnode-fanout", r => r.delivery.latency_ms_p99, "lo"],
  ["cross-node fanout: node B CPU per delivery, us", "xnode-fanout", r => r.server.cpu_us_per_delivery, "lo"],
  ["cross-node fanout: node B CPU, % of a core", "xnode-fanout", r => r.server.cpu_util_pct, "lo"],
  // A few dozen triggers a second leave node A and Redis nearly idle: per event, their CPU
  // would be mostly the idle processes' timers. The share of a core says what they cost.
  ["cross-node fanout: node A CPU, % of a core", "xnode-fanout", r => watched(r, "node-a").cpu_util_pct, "lo"],
  ["cross-node fanout: Redis CPU, % of a core", "xnode-fanout", r => watched(r, "redis").cpu_util_pct, "lo"],
  ["cross-node fanout: A+B+Redis CPU per delivery, us", "xnode-fanout", cpuAllPerDelivery, "lo"],
  ["cross-node fanout: lost + duplicated", "xnode-fanout", r => r.delivery.lost + r.delivery.duplicates, "lo"],
  ["cross-node fanout: node B RSS peak, MB", "xnode-fanout", r => r.server.rss_kb_peak / 1024, "lo"],
  ["cross-node fanout 5/s: latency p50, ms", "xnode-fanout-rate", r => r.delivery.latency_ms_p50, "lo"],
  ["cross-node fanout 5/s: latency p99, ms", "xnode-fanout-rate", r => r.delivery.latency_ms_p99, "lo"],
  ["cross-node fanout 5/s: latency p99.9, ms", "xnode-fanout-rate", r => r.delivery.latency_ms_p999, "lo"],
  ["cross-node fanout 5/s: latency max, ms", "xnode-fanout-rate", r => r.delivery.latency_ms_max, "lo"],
  ["cross-node 5/s: node B CPU, % of a core", "xnode-fanout-rate", r => r.server.cpu_util_pct, "lo"],
  ["cross-node 5/s: node A CPU, % of a core", "xnode-fanout-rate", r => watched(r, "node-a").cpu_util_pct, "lo"],
  ["cross-node 5/s: Redis CPU, % of a core", "xnode-fanout-rate", r => watched(r, "redis").cpu_util_pct, "lo"],
  ["over NATS: deliveries/s", "xnats-fanout", r => r.delivery.per_s, "hi"],
  ["over NATS: events/s published", "xnats-fanout", r => r.publish.per_s, "hi"],
  ["over NATS: latency p50, ms", "xnats-fanout", r => r.delivery.latency_ms_p50, "lo"],
  ["over NATS: latency p99, ms", "xnats-fanout", r => r.delivery.latency_ms_p99, "lo"],
  ["over NATS: node B CPU per delivery, us", "xnats-fanout", r => r.server.cpu_us_per_delivery, "lo"],
  ["over NATS: node B CPU, % of a core", "xnats-fanout", r => r.server.cpu_util_pct, "lo"],
  ["over NATS: node A CPU, % of a core", "xnats-fanout", r => watched(r, "node-a").cpu_util_pct, "lo"],
  ["over NATS: nats-server CPU, % of a core", "xnats-fanout", r => watched(r, "nats").cpu_util_pct, "lo"],
  ["over NATS: A+B+NATS CPU per delivery, us", "xnats-fanout", cpuAllPerDelivery, "lo"],
  ["over NATS: lost + duplicated", "xnats-fanout", r => r.delivery.lost + r.delivery.duplicates, "lo"],
  ["over NATS: node B RSS peak, MB", "xnats-fanout", r => r.server.rss_kb_peak / 1024, "lo"],
  ["over NATS 5/s: latency p50, ms", "xnats-fanout-rate", r => r.delivery.latency_ms_p50, "lo"],
  ["over NATS 5/s: latency p99, ms", "xnats-fanout-rate", r => r.delivery.latency_ms_p99, "lo"],
  ["over NATS 5/s: latency p99.9, ms", "xnats-fanout-rate", r => r.delivery.latency_ms_p999, "lo"],
  ["over NATS 5/s: latency max, ms", "xnats-fanout-rate", r => r.delivery.latency_ms_max, "lo"],
  ["over NATS 5/s: node B CPU, % of a core", "xnats-fanout-rate", r => r.server.cpu_util_pct, "lo"],
  ["over NATS 5/s: nats-server CPU, % of a core", "xnats-fanout-rate", r => watched(r, "nats").cpu_util_pct, "lo"],
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
const w = [50, 14, 14, 12];
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
// Single node against cross-node, per server: what going through Redis costs.
const pairs = [
  ["deliveries/s", "fanout", r => r.delivery.per_s],
  ["events/s published", "fanout", r => r.publish.per_s],
  ["latency p50, ms", "fanout", r => r.delivery.latency_ms_p50],
  ["latency p99, ms", "fanout", r => r.delivery.latency_ms_p99],
  ["server CPU per delivery (all nodes + Redis), us", "fanout", cpuAllPerDelivery],
  ["lost + duplicated", "fanout", r => r.delivery.lost + r.delivery.duplicates],
  ["5/s: latency p50, ms", "fanout-rate", r => r.delivery.latency_ms_p50],
  ["5/s: latency p99, ms", "fanout-rate", r => r.delivery.latency_ms_p99],
  ["5/s: latency p99.9, ms", "fanout-rate", r => r.delivery.latency_ms_p999],
  ["5/s: latency max, ms", "fanout-rate", r => r.delivery.latency_ms_max],
  ["5/s: server CPU (all nodes + Redis), % of a core", "fanout-rate", cpuAllPct],
];
const servers = [["ours", "soketi-c"], ["soketi", "soketi 1.6.1"]]
  .filter(([s]) => load(s + "-xnode-fanout") || load(s + "-xnode-fanout-rate"));
if (servers.length) {
  const w2 = [50, 12, 12, 8];
  const line2 = (a) => console.log(a.map((s, i) => i ? String(s).padStart(i % 3 === 0 ? w2[3] : w2[1]) : String(s).padEnd(w2[0])).join(" "));
  console.log("\nsingle node vs cross-node (publishers -> node A -> Redis -> node B -> subscribers):");
  const group = w2[1] * 2 + w2[3] + 2;
  console.log(" ".repeat(w2[0]) + servers.map(([, name]) => " " + name.padStart(group)).join(""));
  const head = ["metric"], rule = ["-".repeat(w2[0])];
  for (const _ of servers) {
    head.push("1 node", "2 nodes", "2/1");
    rule.push("-".repeat(w2[1]), "-".repeat(w2[1]), "-".repeat(w2[3]));
  }
  line2(head);
  line2(rule);
  for (const [label, sc, get] of pairs) {
    const row = [label];
    let any = false;
    for (const [s] of servers) {
      const a = load(s + "-" + sc), b = load(s + "-xnode-" + sc);
      const va = a ? get(a) : null, vb = b ? get(b) : null;
      any = any || va != null || vb != null;
      row.push(fmt(va), fmt(vb), va && vb != null ? (vb / va).toFixed(2) : "-");
    }
    if (any) line2(row);
  }
}
// Cross-node over Redis against over NATS, per server.
const viaNats = [["ours", "soketi-c"], ["soketi", "soketi 1.6.1"]]
  .filter(([s]) => load(s + "-xnats-fanout") || load(s + "-xnats-fanout-rate"));
if (viaNats.length) {
  const w3 = [50, 12, 12, 8];
  const line3 = (a) => console.log(a.map((s, i) => i ? String(s).padStart(i % 3 === 0 ? w3[3] : w3[1]) : String(s).padEnd(w3[0])).join(" "));
  console.log("\ncross-node over Redis vs over NATS (publishers -> node A -> Redis or NATS -> node B):");
  console.log(" ".repeat(w3[0]) + viaNats.map(([, name]) => " " + name.padStart(w3[1] * 2 + w3[3] + 2)).join(""));
  const head = ["metric"], rule = ["-".repeat(w3[0])];
  for (const _ of viaNats) {
    head.push("Redis", "NATS", "N/R");
    rule.push("-".repeat(w3[1]), "-".repeat(w3[1]), "-".repeat(w3[3]));
  }
  line3(head);
  line3(rule);
  for (const [label, sc, get] of pairs) {
    const row = [label.replace("server CPU", "CPU").replace("all nodes + Redis", "nodes + Redis/NATS")];
    let any = false;
    for (const [s] of viaNats) {
      const a = load(s + "-xnode-" + sc), b = load(s + "-xnats-" + sc);
      const va = a ? get(a) : null, vb = b ? get(b) : null;
      any = any || va != null || vb != null;
      row.push(fmt(va), fmt(vb), va && vb != null ? (vb / va).toFixed(2) : "-");
    }
    if (any) line3(row);
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
