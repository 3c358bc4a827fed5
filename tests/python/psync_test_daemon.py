"""A psyncd of the tests' own on a temporary socket, stopped by its PID."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import Optional

_proc: Optional[subprocess.Popen] = None
_dir: Optional[str] = None


def psyncd() -> str:
    return os.environ.get("PSYNCD", "build/psyncd")


def request(line: dict) -> dict:
    """One request on a connection of its own; its reply."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(os.environ["PSYNC_SOCKET"])
        return _exchange(s, line)


def _exchange(s: socket.socket, line: dict) -> dict:
    with s.makefile("rwb") as f:
        f.write(json.dumps(line).encode() + b"\n")
        f.flush()
        return json.loads(f.readline())


def start() -> str:
    """Start it, set $PSYNC_SOCKET (inherited by every child), wait until
    it answers."""
    global _proc, _dir
    _dir = tempfile.mkdtemp(prefix="psync-py.")
    sock = os.path.join(_dir, "psyncd.sock")
    with open(os.path.join(_dir, "psyncd.log"), "wb") as log:
        _proc = subprocess.Popen([psyncd(), "--socket", sock], stderr=log)
    os.environ["PSYNC_SOCKET"] = sock
    deadline = time.monotonic() + 10
    while True:
        try:
            if request({"op": "ping"}).get("ok"):
                # A test module after another: forget the old daemon.
                import psync
                psync.connect(sock)
                return sock
        except OSError:
            pass
        if _proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("psyncd did not start")
        time.sleep(0.01)    # polling for an answer, bounded above


def objects() -> int:
    return int(request({"op": "stat"})["objects"])


def stop() -> None:
    global _proc
    if _proc is not None:
        _proc.send_signal(signal.SIGTERM)
        code = _proc.wait(20)
        _proc = None
        if _dir is not None:
            shutil.rmtree(_dir, ignore_errors=True)
        if code != 0:
            raise RuntimeError("psyncd exited %d" % code)
