#!/bin/sh
# run-replays.sh BUILD -- replay the fuzz corpus (seeds and every crash
# the fuzzers found) through the plain replay drivers.
set -eu
build=${1:-build}
pass=0
fail=0
for t in conn script; do
	if "$build/fuzz/replay-$t" tests/fuzz/corpus/$t/* >/dev/null; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1)); echo "fuzz replay: $t failed"
	fi
done
echo "fuzz replay: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
