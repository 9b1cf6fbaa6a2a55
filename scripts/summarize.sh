#!/usr/bin/env bash
# summarize.sh - counts individual test cases across build dirs' test logs:
# Check suites ("Checks: N, Failures: F, Errors: E") and node's test runner
# ("# pass N" / "# fail N"); a test without either (a script, a fuzz target of
# tests/fuzz/run.sh) counts once by its .trs. Prints failing logs, then
# "summary: N passed, N failed".
pass=0; fail=0
for d in "$@"; do
    for log in "$d"/tests/*.log "$d"/tests/integration/*.log "$d"/tests/fuzz/*.log; do
        [ -f "$log" ] || continue
        if line=$(grep -E 'Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$log" | tail -1) && [ -n "$line" ]; then
            n=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
            f=$(sed -E 's/.*Failures: ([0-9]+), Errors: ([0-9]+).*/\1+\2/' <<<"$line")
            f=$((f)); pass=$((pass + n - f)); fail=$((fail + f))
        elif grep -qE '^ℹ (pass|fail) [0-9]+' "$log"; then
            p=$(grep -E '^ℹ pass [0-9]+' "$log" | tail -1 | awk '{print $3}')
            f=$(grep -E '^ℹ fail [0-9]+' "$log" | tail -1 | awk '{print $3}')
            pass=$((pass + p)); fail=$((fail + f))
        elif grep -qE '^(FAIL|ERROR): ' "${log%.log}.trs" 2>/dev/null || grep -q ':test-result: FAIL' "${log%.log}.trs" 2>/dev/null; then
            fail=$((fail + 1))
        elif grep -q ':test-result: PASS' "${log%.log}.trs" 2>/dev/null; then
            pass=$((pass + 1))
        fi
        if grep -qE ':test-result: (FAIL|ERROR)' "${log%.log}.trs" 2>/dev/null; then
            echo "--- failed: $log"; tail -40 "$log"
        fi
    done
done
echo "summary: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
