#!/bin/sh
# bench_smoke.sh - keeps the benchmark tool honest: a short fan-out and an idle run of
# bench/soketi-bench against the real daemon must deliver every event (none lost or
# duplicated) and report server figures. A smoke test, not a measurement: numbers are not
# judged here (see bench/README.md for the benchmarks and their figures).
set -u
bench=${SOKETI_BENCH_BIN:-$(dirname "$SOKETI_BIN")/bench/soketi-bench}
[ -x "$bench" ] || { echo "no $bench"; exit 77; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log=$(mktemp)
SOKETI_PORT=$port SOKETI_METRICS_SERVER_PORT=$mport SOKETI_HOST=127.0.0.1 \
    "$SOKETI_BIN" start --plugin-dir="$SOKETI_PLUGIN_DIR_TEST" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 1 50); do
    curl -sf "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
    sleep 0.1
done
fail=0
check() { # name json-file
    python3 - "$1" "$2" <<'PY' || fail=1
import json, sys
name, path = sys.argv[1], sys.argv[2]
r = json.load(open(path))
c, d, srv = r["connections"], r["delivery"], r["server"]
print(f"{name}: connected {c['connected']}/{c['attempted']}, delivered {d['received']}/{d['expected']},"
      f" lost {d['lost']}, duplicates {d['duplicates']}, server RSS/conn {srv['rss_bytes_per_conn']:.0f} B")
ok = c["connected"] == c["attempted"] and c["failed"] == 0
ok = ok and d["received"] == d["expected"] and d["lost"] == 0 and d["duplicates"] == 0
ok = ok and srv["rss_kb_end"] > 0
if name == "fanout":
    ok = ok and d["expected"] > 0
if name == "idle":
    ok = ok and srv["rss_bytes_per_conn"] > 0
sys.exit(0 if ok else 1)
PY
}
out=$(mktemp)
"$bench" fanout --port "$port" -c 200 -k 2 -d 2 --drain 2 --rate 50 --server-pid $pid --json -q >"$out" || fail=1
check fanout "$out"
# publishers on their own host:port (what the cross-node runs use), here the same daemon
"$bench" fanout --port "$port" --publish-host 127.0.0.1 --publish-port "$port" -c 100 -k 2 -d 1 \
    --drain 2 --rate 50 --window 4 --server-pid $pid --json -q >"$out" || fail=1
check fanout "$out"
"$bench" idle --port "$port" -c 300 --settle 1 --server-pid $pid --json -q >"$out" || fail=1
check idle "$out"
rm -f "$out"
[ $fail -eq 0 ] && echo "bench smoke: ok" || { echo "bench smoke: FAILED"; cat "$log"; }
exit $fail
