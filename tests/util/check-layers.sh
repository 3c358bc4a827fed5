#!/bin/sh
# check-layers.sh -- fail if a psyncd source includes a header above its
# layer.  Each header says "Layer N" in its opening comment; a .c file is
# at its own header's layer, or says its layer the same way.  Headers
# from outside server/ (proto/, the generated version.h) are layer 0.
set -eu
cd "$(dirname "$0")/../.."

layer_of() {	# file -> its declared layer, or nothing
	sed -n '1,25{s/.*Layer \([0-9][0-9]*\).*/\1/p;}' "$1" | head -n 1
}

bad=0
n=0
for f in server/*.c server/*.h; do
	case $f in
	*.c)	h=${f%.c}.h
		if [ -f "$h" ]; then mine=$(layer_of "$h"); else mine=$(layer_of "$f"); fi ;;
	*)	mine=$(layer_of "$f") ;;
	esac
	if [ -z "$mine" ]; then
		echo "layers: $f states no layer (\"Layer N\" in its opening comment)"
		bad=1
		continue
	fi
	for inc in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"); do
		n=$((n + 1))
		[ -f "server/$inc" ] || continue	# proto/, generated: layer 0
		theirs=$(layer_of "server/$inc")
		if [ -z "$theirs" ]; then
			echo "layers: server/$inc states no layer"
			bad=1
		elif [ "$theirs" -gt "$mine" ]; then
			echo "layers: $f (layer $mine) includes $inc (layer $theirs)"
			bad=1
		fi
	done
done
if [ $bad -ne 0 ]; then
	echo "layers: FAILED"
	exit 1
fi
echo "layers: $n includes checked, none above its file's layer"
