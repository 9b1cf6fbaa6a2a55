#!/bin/sh
# tests/valgrind.sh - runs the daemon under valgrind (memcheck) while
# tests/integration/valgrind-drive.mjs drives it with pusher-js clients and REST
# calls, then stops it with SIGTERM with two clients still connected. Passes when
# the daemon exits 0 and valgrind found no error and no definite or indirect leak.
# Four times: with the local adapter; with the cluster adapter and a peer (a daemon not
# under valgrind) that it finds and asks, unicast on loopback (no packet leaves the host);
# then (when redis-server and adapter_redis.so are there) with the Redis adapter and
# everything it shares in Redis: the redis rate limiter and cache, webhooks once per
# cluster (to an endpoint that refuses, so retries are pending at shutdown) and
# cluster-wide watchlists; then the same over the NATS adapter with JetStream (when
# nats-server and adapter_nats.so are there); then with the apps in PostgreSQL
# (appManager.driver postgres, databasePooling.min 2: when postgres and
# app_manager_postgres.so are there), the server started as the integration tests start
# theirs (tests/integration/sqldb.mjs, soketi's fixture app being the drive's).
#
# DESIGN: valgrind's --error-exitcode=42 turns any memory error or leak into exit
# 42, and otherwise the exit code is the daemon's, so one `wait` says it all.
# Skips (77) without valgrind, node, the integration node_modules, or on a
# sanitizer build (ASan and valgrind do not mix). Environment: SOKETI_BIN,
# SOKETI_PLUGIN_DIR_TEST and SOKETI_SRCDIR (set by `make check`);
# VALGRIND_KEEP_LOG=1 keeps the work directory.

skip() { echo "valgrind.sh: SKIP: $*"; exit 77; }
fail() { echo "valgrind.sh: FAIL: $*"; exit 1; }

srcdir=${SOKETI_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${SOKETI_BIN:-$PWD/soketi}
inttests=$srcdir/tests/integration
drive=$inttests/valgrind-drive.mjs

[ -x "$bin" ] || fail "no daemon at $bin (set SOKETI_BIN)"
command -v valgrind >/dev/null 2>&1 || skip "valgrind is not installed"
command -v node >/dev/null 2>&1 || skip "node is not installed"
[ -d "$inttests/node_modules/pusher-js" ] || skip "no $inttests/node_modules (run npm ci there)"
[ -f "$drive" ] || fail "no $drive"
if command -v nm >/dev/null 2>&1 && { nm "$bin"; nm -D "$bin"; } 2>/dev/null | grep -q __asan_init; then
    skip "$bin is a sanitizer build"
fi
# A libtool wrapper script (shared-library build) must run the real binary.
run_prefix=
if head -c 2 "$bin" | grep -q '^#!'; then
    libtool_bin=$(dirname "$bin")/libtool
    [ -x "$libtool_bin" ] || fail "$bin is a script and there is no libtool beside it"
    run_prefix="$libtool_bin --mode=execute"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/soketi-valgrind.XXXXXX") || fail "mktemp"
daemon_pid=
drive_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
finish() {
    [ -n "$drive_pid" ] && kill "$drive_pid" 2>/dev/null
    [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null
    [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null
    [ -n "$nats_pid" ] && kill "$nats_pid" 2>/dev/null
    [ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null
    [ -n "$sql_pid" ] && kill "$sql_pid" 2>/dev/null
    if [ "${VALGRIND_KEEP_LOG:-0}" = 1 ]; then
        echo "valgrind.sh: work directory kept: $work"
    else
        rm -rf "$work"
    fi
}
trap finish EXIT
trap 'exit 1' INT TERM

# Two free ports (the daemon's and its metrics server's) from the kernel.
ports=$(node -e '
const net = require("net");
const get = () => new Promise((res) => { const s = net.createServer(); s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); }); });
(async () => { const seen = []; while (seen.length < 4) { const p = await get(); if (!seen.includes(p)) seen.push(p); } console.log(...seen); })();
') || fail "cannot find free ports"
# shellcheck disable=SC2086 # four words on purpose
set -- $ports
port=$1
metrics_port=$2
redis_port=$3
nats_port=$4
redis_pid=
nats_pid=
peer_pid=
sql_pid=

dump() {
    echo "--- daemon output ---"
    cat "$work/daemon.out" 2>/dev/null
    echo "--- drive output ---"
    cat "$work/drive.out" 2>/dev/null
    echo "--- valgrind log ---"
    cat "$work/valgrind.log" 2>/dev/null
}

plugin_arg=
plugin_dir=$SOKETI_PLUGIN_DIR_TEST # kept: the loop below unsets it
[ -n "$plugin_dir" ] && plugin_arg="--plugin-dir=$plugin_dir"

# 0 when plugin $1 is in the plugin directory (or none was given); else says that the $2
# run is skipped.
have_plugin() {
    { [ -z "$plugin_dir" ] || [ -e "$plugin_dir/$1" ]; } && return 0
    echo "valgrind.sh: no $1 in $plugin_dir: the $2 run is skipped"
    return 1
}

# Only the SOKETI_* variables set below reach the daemon (the test's own were read above).
for v in $(env | sed -n 's/^\(SOKETI_[A-Za-z0-9_]*\)=.*/\1/p'); do
    unset "$v"
done

# One run: the daemon under valgrind, $1 naming the run (with the environment the caller
# exported for it), driven, stopped, judged. Returns 0 when clean.
run_once() {
echo "valgrind.sh: starting $bin on 127.0.0.1:$port under valgrind ($1)"
rm -f "$work/drive.ready"
SOKETI_HOST=127.0.0.1 SOKETI_PORT=$port \
    SOKETI_METRICS_HOST=127.0.0.1 SOKETI_METRICS_SERVER_PORT=$metrics_port \
    SOKETI_SHUTDOWN_GRACE_PERIOD=200 \
    SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES=true \
    $run_prefix valgrind --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --error-exitcode=42 \
    --track-fds=no --num-callers=30 --log-file="$work/valgrind.log" \
    "$bin" start ${plugin_arg:+"$plugin_arg"} >"$work/daemon.out" 2>&1 &
daemon_pid=$!

# Wait for /ready (valgrind is slow to start).
ready=0
i=0
while [ $i -lt 300 ]; do
    if ! kill -0 "$daemon_pid" 2>/dev/null; then
        wait "$daemon_pid"
        rc=$?
        daemon_pid=
        dump
        echo "valgrind.sh: FAIL: the daemon exited (status $rc) before it was ready"
        return 1
    fi
    if [ "$(curl -s -m 2 "http://127.0.0.1:$port/ready" 2>/dev/null)" = OK ]; then
        ready=1
        break
    fi
    sleep 0.1
    i=$((i + 1))
done
[ $ready = 1 ] || { dump; echo "valgrind.sh: FAIL: the daemon was not ready within 30 s"; return 1; }

# Drive it; wait until it says two clients are left connected.
DRIVE_PORT=$port DRIVE_READY_FILE=$work/drive.ready node "$drive" >"$work/drive.out" 2>&1 &
drive_pid=$!
i=0
while [ ! -f "$work/drive.ready" ]; do
    if ! kill -0 "$drive_pid" 2>/dev/null; then
        wait "$drive_pid"
        rc=$?
        drive_pid=
        dump
        echo "valgrind.sh: FAIL: valgrind-drive.mjs exited (status $rc) before it was done"
        return 1
    fi
    i=$((i + 1))
    [ $i -lt 1200 ] || { dump; echo "valgrind.sh: FAIL: valgrind-drive.mjs did not finish within 120 s"; return 1; }
    sleep 0.1
done

echo "valgrind.sh: SIGTERM with two clients connected"
kill -TERM "$daemon_pid"
# Wait up to 60 s for valgrind to finish its leak check.
i=0
while kill -0 "$daemon_pid" 2>/dev/null; do
    # A zombie is done: `wait` below collects it.
    if [ -r "/proc/$daemon_pid/stat" ] && [ "$(cut -d' ' -f3 "/proc/$daemon_pid/stat")" = Z ]; then
        break
    fi
    i=$((i + 1))
    if [ $i -ge 600 ]; then
        kill -9 "$daemon_pid" 2>/dev/null
        wait "$daemon_pid" 2>/dev/null
        daemon_pid=
        dump
        echo "valgrind.sh: FAIL: the daemon did not exit within 60 s of SIGTERM"
        return 1
    fi
    sleep 0.1
done
wait "$daemon_pid"
daemon_rc=$?
daemon_pid=

wait "$drive_pid"
drive_rc=$?
drive_pid=

status=0
if [ $daemon_rc -eq 42 ]; then
    echo "valgrind.sh: valgrind found memory errors or leaks (exit 42)"
    status=1
elif [ $daemon_rc -ne 0 ]; then
    echo "valgrind.sh: the daemon exited with status $daemon_rc after SIGTERM (expected 0)"
    status=1
fi
if [ $drive_rc -ne 0 ]; then
    echo "valgrind.sh: valgrind-drive.mjs failed (status $drive_rc)"
    status=1
fi
if [ $status -ne 0 ]; then
    dump
    return 1
fi
grep -E 'ERROR SUMMARY|definitely lost|indirectly lost' "$work/valgrind.log"
echo "valgrind.sh: PASS ($1)"
return 0
}

# The environment of the shared-state runs: the adapter's rate limiter and cache, webhooks
# once per cluster to an endpoint that refuses (retries pending at shutdown).
shared_env() {
    export SOKETI_RATE_LIMITER_DRIVER=redis SOKETI_CACHE_DRIVER=redis \
        SOKETI_DEFAULT_APP_MAX_BACKEND_EVENTS_PER_SEC=1000 SOKETI_DEFAULT_APP_MAX_READ_REQ_PER_SEC=1000 \
        SOKETI_DEFAULT_APP_WEBHOOKS='[{"url":"http://127.0.0.1:9/hook","event_types":["channel_occupied","channel_vacated","member_added","member_removed"]}]'
}

# Waits until something answers on 127.0.0.1:$1 with a line matching $2; fails naming $3.
await_server() {
    i=0
    until node -e '
const s = require("net").connect(+process.argv[1], "127.0.0.1", () => s.write("PING\r\n"));
s.on("data", (d) => process.exit(new RegExp(process.argv[2]).test(d) ? 0 : 1));
s.on("error", () => process.exit(1));' "$1" "$2"; do
        i=$((i + 1))
        [ $i -lt 100 ] || { cat "$work/$3.out"; fail "$3 did not start"; }
        sleep 0.1
    done
}

# The cluster adapter and a peer on other ports (a daemon not under valgrind): both send to
# both UDP ports, unicast on loopback only.
run_cluster() {
    have_plugin adapter_cluster.so cluster || return 0
    # shellcheck disable=SC2046 # two UDP ports, then two TCP ports
    set -- $(node -e '
const dgram = require("dgram"), net = require("net");
const udp = () => new Promise((res) => { const s = dgram.createSocket("udp4"); s.bind(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); }); });
const tcp = () => new Promise((res) => { const s = net.createServer(); s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); }); });
(async () => { const u = await udp(); let v = await udp(); while (v === u) v = await udp(); console.log(u, v, await tcp(), await tcp()); })();
') || fail "cannot find free ports for the cluster run"
    unicast="127.0.0.1:$1,127.0.0.1:$2"
    SOKETI_ADAPTER_DRIVER=cluster SOKETI_CLUSTER_UNICAST_ADDRESSES=$unicast SOKETI_CLUSTER_PORT=$2 \
        SOKETI_HOST=127.0.0.1 SOKETI_PORT=$3 SOKETI_METRICS_HOST=127.0.0.1 SOKETI_METRICS_SERVER_PORT=$4 \
        $run_prefix "$bin" start ${plugin_arg:+"$plugin_arg"} >"$work/peer.out" 2>&1 &
    peer_pid=$!
    (export SOKETI_ADAPTER_DRIVER=cluster SOKETI_CLUSTER_UNICAST_ADDRESSES=$unicast \
        SOKETI_CLUSTER_PORT=$1 SOKETI_ADAPTER_CLUSTER_REQUESTS_TIMEOUT=1000 && run_once "cluster adapter") ||
        { cat "$work/peer.out"; return 1; }
    grep -q 'joined: 1 other node' "$work/daemon.out" || { dump; echo "valgrind.sh: FAIL: the peer was not found"; return 1; }
    kill "$peer_pid" 2>/dev/null
    wait "$peer_pid" 2>/dev/null
    peer_pid=
}

# The Redis adapter and the state it shares, when the machine has what it takes.
run_redis() {
    redis_bin=${REDIS_SERVER:-redis-server}
    if ! command -v "$redis_bin" >/dev/null 2>&1; then
        echo "valgrind.sh: no $redis_bin: the Redis run is skipped"
        return 0
    fi
    have_plugin adapter_redis.so Redis || return 0
    "$redis_bin" --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
        >"$work/redis.out" 2>&1 &
    redis_pid=$!
    await_server "$redis_port" PONG redis
    (export SOKETI_ADAPTER_DRIVER=redis SOKETI_DB_REDIS_PORT=$redis_port && shared_env && run_once "redis adapter")
}

# The NATS adapter and the state it shares in JetStream. libnats stays loaded with its
# threads until the process exits (plugins/nats/nats_conn.h): what they hold is reachable.
run_nats() {
    nats_bin=${NATS_SERVER:-nats-server}
    if ! command -v "$nats_bin" >/dev/null 2>&1; then
        echo "valgrind.sh: no $nats_bin: the NATS run is skipped"
        return 0
    fi
    have_plugin adapter_nats.so NATS || return 0
    "$nats_bin" -a 127.0.0.1 -p "$nats_port" -js -sd "$work/jetstream" >"$work/nats.out" 2>&1 &
    nats_pid=$!
    await_server "$nats_port" INFO nats
    (export SOKETI_ADAPTER_DRIVER=nats SOKETI_ADAPTER_NATS_SERVERS="[\"127.0.0.1:$nats_port\"]" &&
        shared_env && run_once "nats adapter")
}

# The apps in PostgreSQL. A node process (sqldb.mjs) holds the server until SIGTERM; it
# writes the daemon's settings (KEY=VALUE lines), or SKIP and why, to $work/sql.env.
run_sql() {
    have_plugin app_manager_postgres.so PostgreSQL || return 0
    # shellcheck disable=SC2016 # JavaScript, not shell
    node --input-type=module -e '
const [sqldb, out] = process.argv.slice(1);
const fs = await import("node:fs");
const m = await import(sqldb);
const a = m.sqlAvailable("postgres");
if (!a.ok) { fs.writeFileSync(out, `SKIP ${a.why}\n`); process.exit(0); }
const db = await m.startPostgres();
process.on("SIGTERM", () => db.stop().then(() => process.exit(0)));
const env = db.env({ SOKETI_DB_POOLING_ENABLED: "true", SOKETI_DB_POOLING_MIN: "2" });
fs.writeFileSync(out + ".tmp", Object.entries(env).map(([k, v]) => `${k}=${v}\n`).join(""));
fs.renameSync(out + ".tmp", out);
setInterval(() => {}, 1 << 30);' "$inttests/sqldb.mjs" "$work/sql.env" >"$work/sql.out" 2>&1 &
    sql_pid=$!
    i=0
    until [ -f "$work/sql.env" ]; do
        kill -0 "$sql_pid" 2>/dev/null || [ -f "$work/sql.env" ] ||
            { cat "$work/sql.out"; fail "PostgreSQL did not start"; }
        i=$((i + 1))
        [ $i -lt 600 ] || { cat "$work/sql.out"; fail "PostgreSQL did not start within 60 s"; }
        sleep 0.1
    done
    if grep -q '^SKIP' "$work/sql.env"; then
        echo "valgrind.sh: the PostgreSQL run is skipped: $(sed 's/^SKIP //' "$work/sql.env")"
        sql_pid=
        return 0
    fi
    (while IFS= read -r kv; do export "${kv?}"; done <"$work/sql.env" && run_once "apps in postgres") || return 1
    grep -q 'postgres app manager: apps from table' "$work/daemon.out" ||
        { dump; echo "valgrind.sh: FAIL: the apps were not read from PostgreSQL"; return 1; }
    kill "$sql_pid" 2>/dev/null
    wait "$sql_pid" 2>/dev/null
    sql_pid=
}

run_once "local adapter" || exit 1
run_cluster || exit 1
run_redis || exit 1
run_nats || exit 1
run_sql || exit 1
exit 0
