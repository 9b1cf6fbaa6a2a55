#!/usr/bin/env bash
# test.sh - sets up and runs the whole test suite: Check unit tests and the
# integration tests (real daemon, official pusher-js / pusher clients, raw
# sockets, a headless browser), once with gcc and once with clang under
# AddressSanitizer + UndefinedBehaviorSanitizer, then the Debian packages
# (tests/package.sh, as root), then a fuzz smoke (every libFuzzer target of
# tests/fuzz for FUZZ_SECONDS, default 15). Ends with one summary line.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
"$top/scripts/deps.sh" --test || exit 1
(cd tests/integration && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; }) || exit 1
# soketi 1.6.1 itself, for the mixed soketi + soketi-c cluster tests.
(cd tests/reference && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; }) || exit 1
export SOKETI_REFERENCE_BIN="$top/tests/reference/node_modules/@soketi/soketi/bin/server.js"

status=0
run_build() { # name, configure args...
    local name=$1; shift
    echo "=== $name: build"
    "$top/scripts/build.sh" "$top/build-$name" "$@" || { status=1; return; }
    echo "=== $name: make check"
    make -C "$top/build-$name" -j2 check >"$top/build-$name/check.out" 2>&1 || status=1
    grep -E '^(PASS|FAIL|ERROR|XPASS|SKIP):|^# (TOTAL|PASS|FAIL|ERROR)' "$top/build-$name/check.out"
}
run_build gcc CC=gcc
run_build asan CC=clang --enable-sanitizers

# The Debian packages end to end (build, lintian, install, run, purge): needs root. The
# package build's own unit tests (debian/rules' dh_auto_test) are those the two builds
# above just ran: nocheck spares the suite a third run.
echo "=== packages: tests/package.sh"
DEB_BUILD_OPTIONS=nocheck "$top/tests/package.sh" "$top/build-gcc" >"$top/build-gcc/tests/package.log" 2>&1
case $? in
    0) echo "PASS: tests/package.sh" ;;
    77) echo "SKIP: tests/package.sh ($(tail -1 "$top/build-gcc/tests/package.log"))" ;;
    *) echo "FAIL: tests/package.sh"; grep -E '^not ok' "$top/build-gcc/tests/package.log"; status=1 ;;
esac

# The fuzz smoke: a clang fuzzing build, then each target for FUZZ_SECONDS from its seeds.
echo "=== fuzz: make fuzz"
fuzz_start=$(date +%s)
# Only what the targets link is built (make fuzz's prerequisites), not the whole tree.
mkdir -p "$top/build-fuzz"
if (cd "$top/build-fuzz" && "$top/configure" -q CC=clang --enable-fuzzing); then
    make -C "$top/build-fuzz" -j2 fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-15}" \
        >"$top/build-fuzz/fuzz.out" 2>&1 || status=1
    grep -E '^fuzz: ' "$top/build-fuzz/fuzz.out" | cut -c1-300
    grep -qE '^fuzz: ' "$top/build-fuzz/fuzz.out" || { echo "FAIL: fuzz build"; tail -20 "$top/build-fuzz/fuzz.out"; }
else
    echo "FAIL: fuzz configure"
    status=1
fi
echo "fuzz: smoke took $(($(date +%s) - fuzz_start)) s"

"$top/scripts/summarize.sh" "$top/build-gcc" "$top/build-asan" "$top/build-fuzz"
s=$?
[ "$status" -eq 0 ] && [ "$s" -eq 0 ] || { echo "test.sh: failures; see build-*/test-suite.log"; exit 1; }
