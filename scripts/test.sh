#!/usr/bin/env bash
# make test: install what the tests need (as root), lint, run every Go test
# verbosely into .out/test.log (package results are shown), run every fuzz
# target briefly, and end with one line "N passed, N failed, N skipped"
# counting tests and subtests.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .out
bash scripts/setup-test-deps.sh || exit 1
make --no-print-directory lint || exit 1
log=.out/test.log
go test -count=1 -timeout 25m -v ./... >"$log" 2>&1
status=$?
grep -E '^(ok|FAIL|---|panic:)|^\s+--- FAIL' "$log" | grep -v -- '--- PASS\|--- SKIP' || true
if [ "$status" -ne 0 ]; then
	echo "go test failed: see $log; the failing tests' output:"
	grep -B2 -A20 -E '^\s*--- FAIL' "$log" | head -200
fi
fuzz=0
bash scripts/fuzz.sh "${FUZZTIME:-10s}" || fuzz=1
pass=$(grep -cE '^\s*--- PASS' "$log")
fail=$(grep -cE '^\s*--- FAIL' "$log")
skip=$(grep -cE '^\s*--- SKIP' "$log")
if [ "$skip" -gt 0 ]; then
	echo "skipped tests (and why):"
	grep -A1 -E '^\s*--- SKIP' "$log" | grep -v -- '^--$' | head -40
fi
[ "$fuzz" -ne 0 ] && fail=$((fail + 1)) && echo "fuzzing found a failure (counted as one failed test)"
echo "$pass passed, $fail failed, $skip skipped"
[ "$status" -eq 0 ] && [ "$fuzz" -eq 0 ]
