"""CPython's own multiprocessing tests, run against psync's classes.

test._test_multiprocessing (the interpreter's test package; on Debian
libpython3.X-testsuite) builds its test classes from a base class per
primitive and a mixin that says where the primitives come from.  Here the
mixins hand out psync's Lock, RLock, Semaphore, BoundedSemaphore,
Condition, Event and Barrier instead, with processes (fork) and threads.
The tests skipped, each with its reason, are in SKIPS.
"""
from __future__ import annotations

import os
import unittest

import psync
import psync_test_daemon

try:
    import test._test_multiprocessing as mpt
except ImportError:     # no test package: say so, do not pass silently
    mpt = None

PRIMITIVES = {
    "Lock": psync.Lock, "RLock": psync.RLock, "Semaphore": psync.Semaphore,
    "BoundedSemaphore": psync.BoundedSemaphore,
    "Condition": psync.Condition, "Event": psync.Event,
    "Barrier": psync.Barrier,
}

# test name -> why it cannot pass against psync.
SKIPS: dict = {}


def setUpModule() -> None:
    if mpt is None:
        # .ci/install-deps installs it: missing is a broken setup, not a
        # reason to pass.
        raise RuntimeError("no test._test_multiprocessing: install "
                           "libpython3.X-testsuite for this python3")
    psync_test_daemon.start()


def tearDownModule() -> None:
    psync_test_daemon.stop()


def _build() -> None:
    if mpt is None:
        return
    bases = (mpt._TestLock, mpt._TestSemaphore, mpt._TestCondition,
             mpt._TestEvent, mpt._TestBarrier)
    for flavour, mixin in (("processes", mpt.ProcessesMixin),
                           ("threads", mpt.ThreadsMixin)):
        attrs = {k: staticmethod(v) for k, v in PRIMITIVES.items()}
        Mixin = type("Psync" + mixin.__name__, (mixin,), attrs)
        for base in bases:
            if flavour not in base.ALLOWED_TYPES:
                continue
            name = "Psync" + flavour.capitalize() + base.__name__[1:]
            body = {}
            for test, why in SKIPS.items():
                if hasattr(base, test):
                    body[test] = unittest.skip(why)(getattr(base, test))
            globals()[name] = type(name, (base, Mixin, unittest.TestCase),
                                   body)


_build()

if __name__ == "__main__":
    unittest.main()
