#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Run every test and print one summary line "N passed, N failed".
# Usage: run-tests.sh BUILD_DIR ASAN_BUILD_DIR
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
asan=${2:-build-asan}
fuzz=${3:-}
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
passed=0
failed=0
logdir=$(mktemp -d)

count_cmocka() { # log -> adds to passed/failed
	local p f
	p=$(grep -hoE '^\[  PASSED  \] [0-9]+' "$1" | awk '{s+=$4} END {print s+0}')
	f=$(grep -hoE '^\[  FAILED  \] [0-9]+' "$1" | awk '{s+=$4} END {print s+0}')
	passed=$((passed + p))
	failed=$((failed + f))
}

echo "== style"
if scripts/check-style.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); fi

for dir in "$build" "$asan"; do
	echo "== unit tests ($dir)"
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	if ! meson test -C "$dir" --no-rebuild --print-errorlogs --suite unit >"$logdir/unit.log" 2>&1; then
		grep -E 'FAIL|ERROR' "$logdir/unit.log" | head -20
	fi
	# cmocka's own per-case counts, from each test's output in the meson log.
	count_cmocka "$dir/meson-logs/testlog.txt"
	# A test program that crashed before printing counts as one failure.
	crashed=$(grep -cE '^ *[0-9]+/[0-9]+ .*(FAIL|TIMEOUT)' "$logdir/unit.log" || true)
	total_fail_reported=$(grep -hoE '^\[  FAILED  \] [0-9]+' "$dir/meson-logs/testlog.txt" | wc -l)
	if [ "$crashed" -gt "$total_fail_reported" ]; then
		failed=$((failed + crashed - total_fail_reported))
	fi
	grep -E '^(Ok|Fail|Timeout):' "$logdir/unit.log"
done

if [ -d tests/cli ] && meson test -C "$build" --no-rebuild --list 2>/dev/null | grep -q 'cli'; then
	echo "== cli tests"
	if meson test -C "$build" --no-rebuild --print-errorlogs --suite cli >"$logdir/cli.log" 2>&1; then :; fi
	p=$(grep -E '^Ok:' "$logdir/cli.log" | awk '{print $2}')
	f=$(grep -E '^Fail:' "$logdir/cli.log" | awk '{print $2}')
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	[ "${f:-0}" = 0 ] || cat "$logdir/cli.log" | tail -30
fi

if [ -n "$fuzz" ] && [ -d "$fuzz/tests/fuzz" ]; then
	echo "== fuzzing (${FUZZ_SECONDS}s each)"
	export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	for f in "$fuzz"/tests/fuzz/fuzz_*; do
		[ -f "$f" ] && [ -x "$f" ] || continue
		if "$f" -max_total_time="$FUZZ_SECONDS" -artifact_prefix="$logdir/" >"$logdir/fuzz.log" 2>&1; then
			echo "$(basename "$f"): $(grep -oE 'Done [0-9]+ runs' "$logdir/fuzz.log")"
			passed=$((passed + 1))
		else
			echo "$(basename "$f"): FAILED"; tail -40 "$logdir/fuzz.log"
			failed=$((failed + 1))
		fi
	done
fi

echo "== end-to-end tests (matrix-js-sdk against $asan/myelin)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
MYELIN_BIN="$PWD/$asan/myelin" tests/e2e/run.sh >"$logdir/e2e.log" 2>&1
e2e_rc=$?
grep -E '^# (tests|pass|fail|skipped)' "$logdir/e2e.log"
p=$(grep -E '^# pass ' "$logdir/e2e.log" | awk '{print $3}' | tail -1)
f=$(grep -E '^# fail ' "$logdir/e2e.log" | awk '{print $3}' | tail -1)
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-0}))
if [ "$e2e_rc" -ne 0 ]; then
	grep -E -A12 '^ *not ok' "$logdir/e2e.log" | grep -vE '^ +at |^ +(duration_ms|type|location|code|stack):' | head -80
	[ "${f:-0}" -gt 0 ] || failed=$((failed + 1))
fi

rm -rf "$logdir"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
