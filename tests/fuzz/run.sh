#!/usr/bin/env bash
# run.sh - runs libFuzzer targets one after the other, each for FUZZ_SECONDS with its seed
# corpus and dictionary, and prints one line per target (executions, coverage, exec/s).
#   tests/fuzz/run.sh SRC_FUZZ_DIR BUILD_FUZZ_DIR TARGET...   (what `make fuzz` calls)
# Each target works in BUILD_FUZZ_DIR/work/<target>/: corpus/ (the seeds copied in, then what
# the fuzzer adds; kept from run to run), crash-* (reproducers) and fuzz.log. The source tree
# is only read. A crash, leak or timeout fails the target: its reproducer path and the
# sanitizer's report are printed. Writes <target>.log/.trs beside the targets so that
# scripts/summarize.sh counts them. Exit status: 0 when every target ran clean.
# Environment: FUZZ_SECONDS (default 20), FUZZ_ARGS (more libFuzzer flags, e.g. -jobs or
# -max_len), FUZZ_NICE (default 0: the nice level of the fuzzer).
set -uo pipefail
src=$1
build=$2
shift 2
secs=${FUZZ_SECONDS:-20}
status=0

# libFuzzer's final "#N DONE cov: C ft: F corp: X/Yb ..." line and -print_final_stats.
stat() { # log, key
    sed -nE "s/^stat::$2: *([0-9]+).*/\1/p" "$1" | tail -1
}

for t in "$@"; do
    bin=$build/fuzz_$t
    work=$build/work/$t
    if [ ! -x "$bin" ]; then
        echo "fuzz: $t: no such target ($bin)"
        status=1
        continue
    fi
    mkdir -p "$work/corpus"
    [ -d "$src/corpus/$t" ] && cp -n "$src/corpus/$t"/* "$work/corpus/" 2>/dev/null
    dict=()
    [ -f "$src/$t.dict" ] && dict=(-dict="$src/$t.dict")
    rm -f "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*
    start=$(date +%s)
    # shellcheck disable=SC2086
    nice -n "${FUZZ_NICE:-0}" "$bin" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$work/" "${dict[@]}" ${FUZZ_ARGS:-} \
        "$work/corpus" >"$work/fuzz.log" 2>&1
    rc=$?
    took=$(($(date +%s) - start))
    execs=$(stat "$work/fuzz.log" number_of_executed_units)
    rate=$(stat "$work/fuzz.log" average_exec_per_sec)
    last=$(grep -E '^#[0-9]+' "$work/fuzz.log" | tail -1)
    cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
    ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
    corp=$(ls "$work/corpus" | wc -l)
    line=$(printf '%-13s %10s execs %7s exec/s  cov %5s  ft %6s  corpus %5s  %ss' "$t" \
        "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$corp" "$took")
    repro=$(ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* 2>/dev/null | head -1)
    if [ "$rc" -eq 0 ] && [ -z "$repro" ]; then
        echo "fuzz: $line  ok"
        result=PASS
    else
        echo "fuzz: $line  FAILED (exit $rc)"
        echo "fuzz: $t: reproducer: ${repro:-none written}; log: $work/fuzz.log"
        [ -n "$repro" ] && echo "fuzz: $t: run it again: $bin $repro" &&
            echo "fuzz: $t: base64: $(base64 -w0 "$repro" | head -c 2000)"
        grep -E -A40 '^==[0-9]+==ERROR|runtime error|check failed|deadly signal' "$work/fuzz.log" |
            head -60 | sed "s/^/fuzz: $t: /"
        result=FAIL
        status=1
    fi
    # For scripts/summarize.sh: one test per target.
    { echo "$line"; [ "$result" = PASS ] || tail -60 "$work/fuzz.log"; } >"$build/$t.log"
    printf ':test-result: %s\n' "$result" >"$build/$t.trs"
done
exit $status
