#!/usr/bin/env bash
# tests/package.sh - the Debian packages end to end, as an administrator meets them:
# `make deb` builds soketi, soketi-redis, soketi-nats, soketi-mysql, soketi-postgres and
# soketi-dev; lintian checks them; apt installs
# them; the installed daemon runs as the soketi user with the installed /etc/soketi.conf
# on a free port and serves curl and a pusher-js client (tests/integration/roundtrip.mjs),
# then with the packaged NATS adapter on a nats-server, and with each packaged SQL app
# manager on a mariadbd / postgres loaded with soketi's fixture (when they are installed);
# the example plugin is built from the installed soketi-dev (pkg-config, header only) and
# loaded by the installed daemon through a config file; then everything is purged.
#
#   tests/package.sh BUILD_DIR      (a configured build directory: `make deb` runs there)
#
# scripts/test.sh runs it after the builds (not make check: it installs packages). It
# needs root, dpkg-buildpackage and apt-get, and skips (exit 77) without them, or when a
# soketi package is already installed here (it never touches an existing installation).
# Not under systemd (CI has none): the daemon is started directly, as the unit would.
# Ends with a line in Check's format ("Checks: N, Failures: F, Errors: 0") that
# scripts/summarize.sh counts.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bdir=${1:?usage: tests/package.sh BUILD_DIR}
bdir=$(cd "$bdir" && pwd)
pkgs=(soketi soketi-redis soketi-nats soketi-mysql soketi-postgres soketi-dev)

skip() { echo "package.sh: skipped: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root to install packages"
for tool in dpkg-buildpackage dh apt-get curl; do
    command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed (scripts/deps.sh --test installs it)"
done
for p in "${pkgs[@]}"; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
        skip "$p is already installed on this machine: not replacing it"
    fi
done

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
bad() { fail=$((fail + 1)); echo "not ok - $*"; }
# check DESCRIPTION COMMAND...: one counted check.
check() { local d=$1; shift; if "$@"; then ok "$d"; else bad "$d"; fi; }

tmp=$(mktemp -d /tmp/soketi-package.XXXXXX)
chmod 755 "$tmp"
daemon_pid=
installed=0
sql_pid=
cleanup() {
    [ -n "$daemon_pid" ] && kill -KILL "$daemon_pid" 2>/dev/null
    [ -n "$sql_pid" ] && { pkill -KILL -P "$sql_pid"; kill -KILL "$sql_pid"; } 2>/dev/null
    if [ "$installed" = 1 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "${pkgs[@]}" >/dev/null 2>&1
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

finish() {
    local n=$((pass + fail))
    echo "$((n ? 100 * pass / n : 0))%: Checks: $n, Failures: $fail, Errors: 0"
    [ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
    exit $?
}

# A TCP port nobody listens on (bash's /dev/tcp fails to connect).
free_port() {
    local p
    for _ in $(seq 50); do
        p=$((20000 + RANDOM % 40000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
    return 1
}

# The command prefix that runs what follows as the soketi user in a clean environment
# (VAR=value words may follow it). setpriv execs, so a background "${as_soketi[@]}" cmd &
# leaves the daemon itself in $!.
if command -v setpriv >/dev/null 2>&1; then
    as_soketi=(setpriv --reuid=soketi --regid=soketi --init-groups env -i PATH=/usr/bin:/bin)
else
    as_soketi=(runuser -u soketi -- env -i PATH=/usr/bin:/bin)
fi

# Starts the installed daemon as the soketi user: start_daemon LOG [ARGS...]. Sets
# daemon_pid and port; waits until /ready answers (10 s).
start_daemon() {
    local log=$1; shift
    port=$(free_port) && mport=$(free_port) || return 1
    "${as_soketi[@]}" SOKETI_HOST=127.0.0.1 SOKETI_PORT="$port" SOKETI_METRICS_HOST=127.0.0.1 \
        SOKETI_METRICS_SERVER_PORT="$mport" /usr/bin/soketi start "$@" >"$log" 2>&1 &
    daemon_pid=$!
    for _ in $(seq 100); do
        [ "$(curl -fsS "http://127.0.0.1:$port/ready" 2>/dev/null)" = OK ] && return 0
        kill -0 "$daemon_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "--- daemon output:"; cat "$log"
    return 1
}

# Stops it with SIGTERM (as systemd would) and expects exit status 0.
stop_daemon() {
    kill -TERM "$daemon_pid" 2>/dev/null
    wait "$daemon_pid"
    local rc=$?
    daemon_pid=
    return "$rc"
}

# The pusher-js + pusher SDK round trip, when node and the test's npm packages are here.
have_node=0
if command -v node >/dev/null 2>&1 && [ -d "$top/tests/integration/node_modules/pusher-js" ]; then
    have_node=1
else
    echo "package.sh: node or tests/integration/node_modules missing: client round trips not run"
fi
roundtrip() {
    (cd "$top/tests/integration" && node roundtrip.mjs --port="$port")
}

# ---------------------------------------------------------------- build and lint

echo "package.sh: make deb (log: $tmp/deb.log)"
if make -C "$bdir" deb >"$tmp/deb.log" 2>&1; then
    ok "make deb builds the packages"
else
    bad "make deb builds the packages"; tail -40 "$tmp/deb.log"; finish
fi
debs=()
for p in "${pkgs[@]}"; do
    f=$(ls "$bdir"/deb/"${p}"_*.deb 2>/dev/null | head -1)
    check "package $p was built" test -n "$f"
    [ -n "$f" ] && debs+=("$f")
done
[ "${#debs[@]}" -eq "${#pkgs[@]}" ] || finish

if command -v lintian >/dev/null 2>&1; then
    lintian --pedantic -I "$bdir"/deb/soketi-c_*.changes >"$tmp/lintian.log" 2>&1
    grep -v '^running with root privileges' "$tmp/lintian.log" >"$tmp/lintian.tags" || true
    check "lintian reports nothing (remaining tags: packaging/README.md)" test ! -s "$tmp/lintian.tags"
    cat "$tmp/lintian.tags"
else
    echo "package.sh: lintian not installed: not run"
fi

# ---------------------------------------------------------------- install

echo "package.sh: apt-get install ${debs[*]##*/}"
installed=1
if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${debs[@]}" \
    >"$tmp/install.log" 2>&1; then
    ok "apt-get installs the ${#pkgs[@]} packages"
else
    bad "apt-get installs the ${#pkgs[@]} packages"; cat "$tmp/install.log"; finish
fi

multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
plugindir=/usr/lib/$multiarch/soketi/plugins
unit=$(dpkg -L soketi | grep -E '/systemd/system/soketi\.service$' | head -1)

check "the soketi system user exists (adduser --system)" \
    bash -c '[ "$(getent passwd soketi | cut -d: -f3)" -lt 1000 ] && getent group soketi >/dev/null'
check "/etc/soketi.conf is a conffile" \
    bash -c "dpkg-query -W -f='\${Conffiles}\n' soketi | grep -q '^ /etc/soketi.conf '"
check "/etc/soketi.conf is the documented sample (soketi config sample)" \
    bash -c 'cmp -s /etc/soketi.conf <(/usr/bin/soketi config sample)'
check "the systemd unit is installed, Type=notify, as the soketi user" \
    bash -c "[ -n '$unit' ] && grep -qx 'Type=notify' '$unit' && grep -qx 'User=soketi' '$unit' \
        && grep -qx 'ExecStart=/usr/bin/soketi start' '$unit'"
if command -v systemd-analyze >/dev/null 2>&1; then
    check "systemd-analyze verify accepts the unit" systemd-analyze verify "$unit"
fi
if command -v systemctl >/dev/null 2>&1; then
    check "the unit is installed disabled (set an app secret first)" \
        bash -c '[ "$(systemctl is-enabled soketi.service 2>/dev/null)" = disabled ]'
fi
check "man pages soketi(8) and soketi.conf(5) are installed" \
    test -f /usr/share/man/man8/soketi.8.gz -a -f /usr/share/man/man5/soketi.conf.5.gz
check "plugins are in $plugindir, the SDK says the same" \
    bash -c "[ \"\$(pkg-config --variable=plugindir soketi-adapter)\" = '$plugindir' ] \
        && [ -f '$plugindir/adapter_local.so' ] && [ -f '$plugindir/adapter_redis.so' ] \
        && [ -f '$plugindir/adapter_nats.so' ] && [ -f '$plugindir/adapter_cluster.so' ]"
check "the SQL app managers are in $plugindir, each in its package, their libraries found" \
    bash -c "dpkg -L soketi-mysql | grep -qx '$plugindir/app_manager_mysql.so' \
        && dpkg -L soketi-postgres | grep -qx '$plugindir/app_manager_postgres.so' \
        && ! ldd '$plugindir/app_manager_mysql.so' '$plugindir/app_manager_postgres.so' | grep -q 'not found' \
        && ! dpkg -L soketi | grep -q app_manager_"
check "soketi-dev ships both plugin ABI headers" \
    test -f /usr/include/soketi/adapter.h -a -f /usr/include/soketi/app_manager.h
/usr/bin/soketi plugins >"$tmp/plugins.txt" 2>&1
cat "$tmp/plugins.txt"
check "soketi plugins lists local, cluster, redis and nats (ABI 1) from $plugindir" \
    bash -c "grep -q '^plugin directory $plugindir ' '$tmp/plugins.txt' \
        && grep -Eq '^local +ABI 1 ' '$tmp/plugins.txt' && grep -Eq '^redis +ABI 1 ' '$tmp/plugins.txt' \
        && grep -Eq '^nats +ABI 1 ' '$tmp/plugins.txt' && grep -Eq '^cluster +ABI 1 ' '$tmp/plugins.txt'"
check "soketi config check passes as the soketi user" "${as_soketi[@]}" /usr/bin/soketi config check

# ---------------------------------------------------------------- run it

if start_daemon "$tmp/daemon.log"; then
    ok "the installed daemon runs as soketi with /etc/soketi.conf and answers /ready"
    check "it runs as the soketi user" bash -c "[ \"\$(ps -o user= -p $daemon_pid)\" = soketi ]"
    check "it serves the HTTP API (GET /apps/app-id/channels needs a signature: 401)" \
        bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/apps/app-id/channels)\" = 401 ]"
    [ "$have_node" = 1 ] && check "pusher-js receives an event sent with the pusher SDK" roundtrip
    check "SIGTERM stops it with status 0" stop_daemon
    check "it logged its address" grep -q "listening on 127.0.0.1:$port" "$tmp/daemon.log"
else
    bad "the installed daemon runs as soketi with /etc/soketi.conf and answers /ready"
fi

# The packaged NATS adapter, on a nats-server of ours (when the machine has one).
if command -v nats-server >/dev/null 2>&1; then
    nats_port=$(free_port)
    nats-server -a 127.0.0.1 -p "$nats_port" >"$tmp/nats.log" 2>&1 &
    nats_pid=$!
    for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$nats_port") 2>/dev/null && break; sleep 0.1; done
    printf '[adapter]\ndriver = nats\n[adapter.nats]\nservers = ["127.0.0.1:%s"]\n' "$nats_port" \
        >"$tmp/nats.conf"
    chmod 644 "$tmp/nats.conf"
    if start_daemon "$tmp/daemon-nats.log" --config="$tmp/nats.conf"; then
        check "the installed daemon joins NATS with the packaged adapter_nats.so" \
            bash -c "for _ in \$(seq 50); do grep -q 'cross-node delivery is on' '$tmp/daemon-nats.log' && exit 0; sleep 0.1; done; exit 1"
        [ "$have_node" = 1 ] && check "pusher-js receives an event through it" roundtrip
        check "SIGTERM stops it with status 0" stop_daemon
    else
        bad "the installed daemon starts with the nats adapter"
    fi
    kill "$nats_pid" 2>/dev/null
    wait "$nats_pid" 2>/dev/null
else
    echo "package.sh: nats-server not installed: the NATS adapter's run is skipped"
fi

# The packaged SQL app managers, each on a database server of ours loaded with soketi's
# schema fixture (its app is app-id / app-key / app-secret, as roundtrip.mjs expects), when
# the machine has the server. PostgreSQL runs as the postgres user (this script is root).
# sql_run KIND DIR PORT: starts the server (leaves sql_pid) and loads the fixture.
sql_run() {
    local kind=$1 dir=$2 port=$3
    if [ "$kind" = mysql ]; then
        mariadb-install-db --no-defaults --datadir="$dir" --user=root --skip-test-db \
            >"$dir.init.log" 2>&1 || return 1
        mkdir -p "$dir/main"
        mariadbd --no-defaults --datadir="$dir" --socket="$dir/sock" --port="$port" \
            --bind-address=127.0.0.1 --user=root --skip-grant-tables --skip-log-bin \
            >"$dir.log" 2>&1 &
        sql_pid=$!
        for _ in $(seq 100); do
            mariadb --no-defaults -h 127.0.0.1 -P "$port" -u root main -e 'SELECT 1' \
                >/dev/null 2>&1 && break
            sleep 0.1
        done
        mariadb --no-defaults -h 127.0.0.1 -P "$port" -u root main \
            <"$top/tests/fixtures/mysql_schema.sql"
    else
        local bin
        bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
        mkdir -p "$dir" && chown postgres: "$dir" && chmod 700 "$dir"
        runuser -u postgres -- "$bin/initdb" -D "$dir" -U postgres --auth=trust --no-sync \
            >"$dir.init.log" 2>&1 || return 1
        runuser -u postgres -- "$bin/postgres" -D "$dir" -p "$port" -k "$dir" \
            -c listen_addresses=127.0.0.1 >"$dir.log" 2>&1 &
        sql_pid=$!
        for _ in $(seq 100); do
            psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c 'SELECT 1' \
                >/dev/null 2>&1 && break
            sleep 0.1
        done
        psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c 'CREATE DATABASE main' &&
            psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d main \
                -f "$top/tests/fixtures/postgres_schema.sql" >/dev/null
    fi
}
sql_stop() {
    pkill -KILL -P "$sql_pid" 2>/dev/null # runuser's child (postgres), then runuser itself
    kill -KILL "$sql_pid" 2>/dev/null
    wait "$sql_pid" 2>/dev/null
    sql_pid=
}
for kind in mysql postgres; do
    if [ "$kind" = mysql ] && ! command -v mariadbd >/dev/null 2>&1; then
        echo "package.sh: mariadbd not installed: the mysql app manager's run is skipped"; continue
    fi
    if [ "$kind" = postgres ] && ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
        echo "package.sh: postgres not installed: the postgres app manager's run is skipped"; continue
    fi
    sql_port=$(free_port)
    if ! sql_run "$kind" "$tmp/$kind-data" "$sql_port"; then
        bad "a $kind server with soketi's fixture runs"; sql_stop; continue
    fi
    printf '[appManager]\ndriver = %s\n[database.%s]\nport = %s\n' "$kind" "$kind" "$sql_port" \
        >"$tmp/$kind.conf"
    chmod 644 "$tmp/$kind.conf"
    if start_daemon "$tmp/daemon-$kind.log" --config="$tmp/$kind.conf"; then
        check "the installed daemon reads apps with the packaged app_manager_$kind.so" \
            grep -q "$kind app manager: apps from table" "$tmp/daemon-$kind.log"
        check "an app of the table answers REST (401 unsigned), an unknown one 404" \
            bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/apps/app-id/channels)\" = 401 ] \
                && [ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/apps/nope/channels)\" = 404 ]"
        [ "$have_node" = 1 ] && check "pusher-js receives an event through an app of the table" roundtrip
        check "SIGTERM stops it with status 0" stop_daemon
    else
        bad "the installed daemon starts with the $kind app manager"
    fi
    sql_stop
done

# ---------------------------------------------------------------- a third-party plugin

ex=$tmp/adapter_example
mkdir -p "$ex"
cp -R /usr/share/doc/soketi-dev/examples/adapter_example/. "$ex"/ 2>/dev/null
gunzip -f "$ex"/*.gz 2>/dev/null
chmod -R a+rX "$ex"
check "soketi-dev ships the example plugin" test -f "$ex/adapter_example.c" -a -f "$ex/Makefile"
if command -v cc >/dev/null 2>&1 && command -v pkg-config >/dev/null 2>&1; then
    check "the example builds against the installed SDK (pkg-config soketi-adapter)" \
        make -C "$ex" CFLAGS="-O2 -Wall -Wextra -Werror"
    check "soketi plugins sees it" \
        bash -c "/usr/bin/soketi plugins --plugin-dir='$ex' | grep -Eq '^example +ABI 1 '"
    printf 'pluginDir = %s\n\n[adapter]\ndriver = example\n' "$ex" >"$ex/soketi.conf"
    chmod 644 "$ex/soketi.conf"
    if start_daemon "$tmp/example.log" --config="$ex/soketi.conf"; then
        ok "the installed daemon loads it through the config (adapter.driver = example)"
        [ "$have_node" = 1 ] && check "an event goes through it to pusher-js" roundtrip
        stop_daemon
        check "it logged the adapter and its broadcasts" \
            bash -c "grep -q \"adapter 'example' loaded from $ex/adapter_example.so (ABI 1)\" '$tmp/example.log' \
                && { [ $have_node = 0 ] || grep -q 'example adapter: broadcast #2:' '$tmp/example.log'; }"
    else
        bad "the installed daemon loads it through the config (adapter.driver = example)"
    fi
else
    echo "package.sh: cc or pkg-config missing: the example plugin was not built"
fi

# ---------------------------------------------------------------- purge

if DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "${pkgs[@]}" >"$tmp/purge.log" 2>&1; then
    installed=0
    ok "apt-get purges the packages"
else
    bad "apt-get purges the packages"; cat "$tmp/purge.log"
fi
check "nothing of them is left (binary, config, plugins, unit, dpkg state)" \
    bash -c "[ ! -e /usr/bin/soketi ] && [ ! -e /etc/soketi.conf ] && [ ! -e '$plugindir' ] \
        && [ ! -e '$unit' ] && ! dpkg-query -W -f='\${Status}\n' ${pkgs[*]} 2>/dev/null \
            | grep -Eq ' (installed|config-files|unpacked|half-installed|half-configured)\$'"
echo "package.sh: the soketi system user stays after purge, as Debian keeps system users"
finish
