"""CPython's own multiprocessing tests, run against psync's classes.

test._test_multiprocessing (the interpreter's test package; on Debian
libpython3.X-testsuite) builds its test classes from a base class per
primitive and a mixin that says where the primitives come from.  Here the
mixins hand out psync's Lock, RLock, Semaphore, BoundedSemaphore,
Condition, Event and Barrier instead, with threads and with processes
started both ways a user may start them: fork and spawn (a fresh
interpreter that gets each primitive by pickle, as through a Queue).
The tests skipped, each with its reason, are in SKIPS.
"""
from __future__ import annotations

import multiprocessing
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


class _Spawn:
    """The processes flavour under the spawn start method."""

    @classmethod
    def setUpClass(cls) -> None:
        cls._spawn_old = multiprocessing.get_start_method(allow_none=True)
        multiprocessing.set_start_method("spawn", force=True)
        super().setUpClass()  # type: ignore[misc]

    @classmethod
    def tearDownClass(cls) -> None:
        super().tearDownClass()  # type: ignore[misc]
        multiprocessing.set_start_method(cls._spawn_old, force=True)


def _build() -> None:
    if mpt is None:
        return
    bases = (mpt._TestLock, mpt._TestSemaphore, mpt._TestCondition,
             mpt._TestEvent, mpt._TestBarrier)
    for flavour, mixin, extra in (("processes", mpt.ProcessesMixin, ()),
                                  ("spawn", mpt.ProcessesMixin, (_Spawn,)),
                                  ("threads", mpt.ThreadsMixin, ())):
        attrs = {k: staticmethod(v) for k, v in PRIMITIVES.items()}
        Mixin = type("Psync" + flavour.capitalize() + "Mixin", (mixin,),
                     attrs)
        kind = "threads" if flavour == "threads" else "processes"
        for base in bases:
            if kind not in base.ALLOWED_TYPES:
                continue
            name = "Psync" + flavour.capitalize() + base.__name__[1:]
            body = {}
            for test, why in SKIPS.items():
                if hasattr(base, test):
                    body[test] = unittest.skip(why)(getattr(base, test))
            globals()[name] = type(name, extra + (base, Mixin,
                                                  unittest.TestCase), body)


_build()

if __name__ == "__main__":
    unittest.main()
