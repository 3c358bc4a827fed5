#!/bin/sh
# run-installed-test.sh BUILD -- install into a temporary DESTDIR, build a
# program against the installed library with pkg-config, and run it
# against a psyncd.
set -eu

build=${1:-build}
. tests/util/psyncd.sh
dir=$psyncd_dir

make --no-print-directory -s install BUILD="$build" PREFIX=/opt/psync \
    DESTDIR="$dir/root" >/dev/null
export PKG_CONFIG_SYSROOT_DIR="$dir/root"
export PKG_CONFIG_PATH="$dir/root/opt/psync/lib/pkgconfig"
flags=$(pkg-config --cflags --libs psync-client)
${CC:-cc} -o "$dir/installed" tests/client/installed/main.c $flags

export PSYNC_SOCKET="$dir/psyncd.sock"
psyncd_start "$dir/root/opt/psync/sbin/psyncd" "$PSYNC_SOCKET" || exit 1
out=$(LD_LIBRARY_PATH="$dir/root/opt/psync/lib" "$dir/installed")
psyncd_stop
pass=0
fail=0
if [ "$out" = "installed: lock token ok, counter 1" ]; then
	pass=$((pass + 1))
else
	fail=$((fail + 1)); echo "installed: printed: $out"
fi

# The library exports exactly the functions psync.h declares.
lib="$dir/root/opt/psync/lib/libpsync-client.so"
nm -D --defined-only "$lib" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' |
    sort > "$dir/exported"
grep -E '^[a-z]' client/psync.h | grep -oE 'psync_[a-z_]+\(' | tr -d '(' |
    sort -u > "$dir/declared"
if cmp -s "$dir/exported" "$dir/declared"; then
	pass=$((pass + 1))
else
	fail=$((fail + 1)); echo "installed: exports differ from psync.h:"
	diff "$dir/declared" "$dir/exported" || true
fi
# So does the static archive (its hidden symbols localized): the proto/
# internals cannot clash with a program's own names ...
nm -g --defined-only "$dir/root/opt/psync/lib/libpsync-client.a" |
    awk 'NF == 3 && $2 ~ /^[TDRBV]$/ { print $3 }' | sort -u > "$dir/archived"
if cmp -s "$dir/archived" "$dir/declared"; then
	pass=$((pass + 1))
else
	fail=$((fail + 1)); echo "installed: the archive's exports differ from psync.h:"
	diff "$dir/declared" "$dir/archived" || true
fi
# ... and a program links statically against it and runs.
${CC:-cc} -o "$dir/installed-static" tests/client/installed/main.c \
    $(pkg-config --cflags psync-client) "$dir/root/opt/psync/lib/libpsync-client.a" \
    $(pkg-config --libs jansson) -pthread
psyncd_start "$dir/root/opt/psync/sbin/psyncd" "$PSYNC_SOCKET" || exit 1
out=$("$dir/installed-static")
psyncd_stop
if [ "$out" = "installed: lock token ok, counter 1" ] &&
    ! ldd "$dir/installed-static" | grep -q libpsync-client; then
	pass=$((pass + 1))
else
	fail=$((fail + 1)); echo "installed: the static program printed: $out"
fi
# The shared library has a real soname.
if readelf -d "$lib" | grep -q 'SONAME.*\[libpsync-client.so.1\]'; then
	pass=$((pass + 1))
else
	fail=$((fail + 1)); echo "installed: no soname libpsync-client.so.1"
fi
# The CLI, its man pages and its completion are installed too.
root="$dir/root/opt/psync"
if [ -x "$root/bin/psync" ] && [ -f "$root/share/man/man1/psync.1" ] &&
    [ -f "$root/share/man/man3/libpsync-client.3" ] &&
    [ -f "$root/share/man/man8/psyncd.8" ] &&
    [ -f "$root/share/bash-completion/completions/psync" ] &&
    "$root/bin/psync" --version >/dev/null &&
    ldd "$root/bin/psync" | grep -q "libpsync-client.so.1 => $root/bin/../lib/"; then
	pass=$((pass + 1))
else
	fail=$((fail + 1)); echo "installed: psync, its man pages or completion missing"
fi

# Every relative link of the installed docs resolves there.
docdir="$dir/root/opt/psync/share/doc/psync"
broken=
for doc in "$docdir"/*.md; do
	for link in $(grep -o '](\([^)]*\))' "$doc" | sed 's/^](//; s/)$//; s/#.*//' |
	    grep -v -e '^[a-z]*:' -e '^$' | sort -u); do
		[ -e "$docdir/$link" ] || broken="$broken $(basename "$doc"):$link"
	done
done
if [ -z "$broken" ] && [ -e "$docdir/RELIABILITY.md" ]; then
	pass=$((pass + 1))
else
	fail=$((fail + 1)); echo "installed: broken doc links:$broken"
fi
echo "installed: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
