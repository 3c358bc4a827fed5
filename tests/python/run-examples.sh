#!/bin/sh
# run-examples.sh PYTHON BUILD -- the seeds' Python programs, changed only
# in their imports, against a psyncd of their own: their output checked.
set -u
python=${1:-python3}
build=${2:-build}
. tests/util/psyncd.sh
export PSYNC_SOCKET="$psyncd_dir/psyncd.sock"
export PYTHONPATH="client/python/src"
pass=0
fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); printf 'python examples: %s\n' "$*"; }
psyncd_start "$build/psyncd" "$PSYNC_SOCKET" || exit 1

# Four processes print to one pipe, as the seed has them, so their lines
# may interleave: each "process ... ----> time" is picked out wherever.
out=$("$python" client/python/examples/barrier.py) || bad "barrier.py failed"
stamps=$(printf '%s\n' "$out" | grep -o 'process p[1-4] - test_with[a-z]*_barrier ----> [0-9-]* [0-9:.]*[0-9]')
n=$(printf '%s\n' "$stamps" | grep -c . || true)
[ "$n" -eq 4 ] && ok || bad "barrier.py printed: $out"
# p1 and p2 leave the barrier together: their times within a second.
printf '%s\n' "$stamps" | awk '/p[12] - test_with_barrier/ { split($NF, t, ":");
    s[++n] = t[1] * 3600 + t[2] * 60 + t[3] }
    END { d = s[1] - s[2]; if (d < 0) d = -d; exit !(n == 2 && d < 1) }' &&
    ok || bad "p1 and p2 far apart: $out"

out=$("$python" client/python/examples/file_counter.py) || bad "file_counter.py failed"
[ "$out" = "file counter under a psync lock: expected 4000, got 4000" ] && ok ||
    bad "file_counter.py printed: $out"
out=$("$python" client/python/examples/file_counter.py --no-lock) ||
    bad "file_counter.py --no-lock failed"
n=$(printf '%s\n' "$out" | sed -n 's/.*got \([0-9]*\)$/\1/p')
[ -n "$n" ] && [ "$n" -le 4000 ] && ok || bad "--no-lock printed: $out"

out=$("$python" client/python/examples/value_counter.py) || bad "value_counter.py failed"
[ "$out" = "Counter.add: expected 4000, got 4000" ] && ok ||
    bad "value_counter.py printed: $out"

# Nothing anonymous is left behind once they have exited.
left=$(echo '{"op":"stat"}' | socat - UNIX-CONNECT:"$PSYNC_SOCKET" |
    sed 's/.*"objects":\([0-9]*\).*/\1/')
[ "$left" = 0 ] && ok || bad "$left objects left behind"

psyncd_stop || bad "psyncd exited non-zero"
echo "python examples: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
