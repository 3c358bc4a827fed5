#!/bin/sh
# run-examples.sh BUILD -- run client/examples against a psyncd of their
# own and check they print what the seed texts show.
set -eu

build=${1:-build}
wrap=${PSYNC_EXAMPLE_WRAPPER:-}
. tests/util/psyncd.sh
export PSYNC_SOCKET="$psyncd_dir/psyncd.sock"

pass=0
fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); printf 'examples: %s\n' "$*"; }

psyncd_start "$build/psyncd" "$PSYNC_SOCKET" || exit 1

# The barrier: four lines, p1 and p2 (through the barrier) at about the
# same time.
if out=$($wrap "$build/examples/barrier"); then
	n=$(printf '%s\n' "$out" | grep -c '^process p[1-4] - test_with.*_barrier ----> [0-9-]* [0-9:.]*$' || true)
	[ "$n" -eq 4 ] && ok || bad "barrier printed: $out"
	t1=$(printf '%s\n' "$out" | sed -n 's/^process p1 .* \([0-9:.]*\)$/\1/p')
	t2=$(printf '%s\n' "$out" | sed -n 's/^process p2 .* \([0-9:.]*\)$/\1/p')
	# Both left the barrier within a second of each other (generous).
	d=$(echo "$t1 $t2" | awk '{ split($1,a,":"); split($2,b,":");
	    x = a[1]*3600 + a[2]*60 + a[3]; y = b[1]*3600 + b[2]*60 + b[3];
	    d = x - y; if (d < 0) d = -d; print (d < 1) ? "near" : "far" }')
	[ "$d" = near ] && ok || bad "p1 and p2 far apart: $out"
else
	bad "barrier failed"
fi

out=$($wrap "$build/examples/counter_file") || bad "counter_file failed"
[ "$out" = "file counter under a psync lock: expected 4000, got 4000" ] && ok ||
    bad "counter_file printed: $out"

out=$($wrap "$build/examples/counter_add") || bad "counter_add failed"
[ "$out" = "counter.add: expected 4000, got 4000" ] && ok ||
    bad "counter_add printed: $out"

# Without the lock: never more than 4000 (usually fewer; not asserted).
out=$("$build/examples/counter_file" --no-lock) || bad "counter_file --no-lock failed"
n=$(printf '%s\n' "$out" | sed -n 's/.*got \([0-9]*\)$/\1/p')
[ -n "$n" ] && [ "$n" -le 4000 ] && ok || bad "counter_file --no-lock printed: $out"

psyncd_stop || bad "psyncd exited non-zero"
echo "examples: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
