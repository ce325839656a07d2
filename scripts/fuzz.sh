#!/usr/bin/env bash
# Runs every native Go fuzz target of the module for a short time each
# (default 10s): CI proves the targets still run and finds shallow crashes;
# longer runs are for developers (FUZZTIME=10m make fuzz).
set -euo pipefail
t="${1:-10s}"
cd "$(dirname "$0")/.."
fails=0
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	targets=$(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u || true)
	for f in $targets; do
		echo "fuzz $pkg $f ($t)"
		if ! go test -run='^$' -fuzz="^${f}\$" -fuzztime="$t" "$pkg" >/tmp/orchard-fuzz.log 2>&1; then
			cat /tmp/orchard-fuzz.log
			fails=$((fails + 1))
		fi
	done
done
if [ "$fails" -gt 0 ]; then
	echo "fuzz: $fails target(s) failed"
	exit 1
fi
echo "fuzz: all targets ran clean"
