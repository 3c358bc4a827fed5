#!/bin/sh
# check-install.sh PYTHON -- pip install ./client/python into a fresh
# virtual environment, as a user would, and import it from there.
# Offline: the build backend is the system's setuptools.
set -u
python=${1:-python3}
dir=$(mktemp -d /tmp/psync-pip.XXXXXX)
trap 'rm -rf "$dir"' 0 1 2 15
pass=0
fail=0
# From a copy: setuptools builds in the source tree (build/, egg-info).
cp -R client/python "$dir/src"
if "$python" -m venv --system-site-packages "$dir/venv" &&
    "$dir/venv/bin/pip" install -q --no-build-isolation --no-index \
        "$dir/src" > "$dir/log" 2>&1 &&
    (cd "$dir" && "$dir/venv/bin/python" -c '
import os, sys, psync
assert psync.__file__.startswith(sys.prefix), psync.__file__
assert os.path.exists(os.path.join(os.path.dirname(psync.__file__), "py.typed"))
' ) ; then
	pass=$((pass + 1))
else
	fail=$((fail + 1)); echo "pip install ./client/python failed:"; cat "$dir/log"
fi
echo "python install: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
