#!/bin/sh
# check-snippets.sh -- every C snippet of the guides compiles cleanly.
# A snippet with a main() is a whole program; any other is the body of a
# function given a psync_t *h.  Compiled with -Wall -Wextra -Werror, so a
# guide that ignores a result marked warn_unused_result fails here.
set -eu

cc=${CC:-cc}
dir=$(mktemp -d /tmp/psync-snippets.XXXXXX)
trap 'rm -rf "$dir"' 0 1 2 15
pass=0
fail=0
for doc in client/README.md README.md proto/PROTOCOL.md; do
	# One file per ```c block: snippet-N.c, with the line it starts at.
	awk -v dir="$dir" -v doc="$doc" -v tag="$(echo "$doc" | tr / _)" '
	    /^```c$/ { n++; f = sprintf("%s/%s-%d.c", dir, tag, n);
	        printf("/* %s:%d */\n", doc, NR) > f; inside = 1; next }
	    /^```/ && inside { inside = 0; close(f); next }
	    inside { print >> f }' "$doc"
done
for f in "$dir"/*.c; do
	[ -e "$f" ] || continue
	where=$(head -n 1 "$f")
	if grep -q '^main(void)' "$f"; then
		src=$f
	else
		src=$f.wrapped.c
		{
			printf '#include <poll.h>\n#include <stdbool.h>\n'
			printf '#include <stdint.h>\n#include <stdio.h>\n'
			printf '#include <stdlib.h>\n#include <psync.h>\n\n'
			printf 'void snippet(psync_t *h);\n\nvoid\nsnippet(psync_t *h)\n{\n'
			cat "$f"
			printf '}\n'
		} > "$src"
	fi
	# Compiled, not just parsed: some warnings come from the middle end.
	if "$cc" -std=c11 -Wall -Wextra -Werror -c -o "$dir/out.o" -Iclient \
	    "$src" 2>"$dir/err"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "snippets: $where does not compile cleanly:"
		cat "$dir/err"
	fi
done
echo "snippets: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
