#!/bin/sh
# check-repeat.sh N HOGS CMD... -- run CMD N times in a row, with HOGS
# CPU-bound processes running meanwhile; stop at the first failure.
# Prints one line per run and a closing "N passed, N failed".
set -u
n=$1
hogs=$2
shift 2

hog_pids=
stop_hogs() { [ -n "$hog_pids" ] && kill $hog_pids 2>/dev/null; hog_pids=; }
trap stop_hogs 0 1 2 15
i=0
while [ "$i" -lt "$hogs" ]; do
	sh -c 'while :; do :; done' &
	hog_pids="$hog_pids $!"
	i=$((i + 1))
done

log=$(mktemp /tmp/psync-repeat.XXXXXX)
pass=0
fail=0
i=1
while [ "$i" -le "$n" ]; do
	start=$(date +%s)
	if "$@" >"$log" 2>&1; then
		pass=$((pass + 1))
		echo "check-repeat: run $i of $n passed ($(( $(date +%s) - start )) s, $hogs hogs)"
	else
		fail=$((fail + 1))
		echo "check-repeat: run $i of $n FAILED; its output:"
		cat "$log"
		break
	fi
	i=$((i + 1))
done
rm -f "$log"
echo "check-repeat: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
