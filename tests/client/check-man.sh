#!/bin/sh
# check-man.sh -- the man pages: mandoc -T lint clean, and in step with
# what they describe (every function of psync.h in libpsync-client(3),
# every command of psync --help in psync(1)).
set -u
build=${1:-build}
pass=0
fail=0
for page in man/*.[0-9]; do
	if out=$(mandoc -T lint -W warning "$page" 2>&1) && [ -z "$out" ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1)); echo "man: $page: $out"
	fi
done
missing=
for fn in $(grep -E '^[a-z]' client/psync.h | grep -oE 'psync_[a-z_]+\(' | tr -d '('); do
	grep -q "^\.It Fn $fn\$" man/libpsync-client.3 || missing="$missing $fn"
done
for cmd in $("$build/psync" --help | sed -n 's/^  \([a-z]*\) .*/\1/p'); do
	grep -q "^\.Cm $cmd\b\|^\.It Cm $cmd\b\|Cm $cmd |\|| $cmd |\|Cm .* | $cmd\$" man/psync.1 ||
	    missing="$missing psync-$cmd"
done
if [ -z "$missing" ]; then pass=$((pass + 1)); else
	fail=$((fail + 1)); echo "man: not documented:$missing"; fi
echo "man: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
