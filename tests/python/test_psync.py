"""psync for Python beyond CPython's tests: what psyncd adds (death,
unrelated processes, consumed units, anonymous objects that go with
their process) and how threads and fork behave.  Every wait is on a
state, with a deadline."""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

import psync
import psync_test_daemon

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "client", "python",
                   "src")


def setUpModule() -> None:
    psync_test_daemon.start()


def tearDownModule() -> None:
    psync_test_daemon.stop()


def until(cond, secs: float = 10.0) -> bool:
    """Poll cond until it holds or secs pass."""
    deadline = time.monotonic() + secs
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)   # polling a state, bounded by the deadline
    return True


def _hold_and_wait(lock, ready) -> None:
    lock.acquire()
    ready.set()
    time.sleep(60)          # killed by the test long before


def _take_one(sem) -> None:
    sem.acquire()


def _party(barrier, out) -> None:
    try:
        out.put(barrier.wait(10))
    except psync.BrokenBarrierError:
        out.put("broken")


def _blocked_party(barrier) -> None:
    barrier.wait()


class TestLocks(unittest.TestCase):
    def test_lock_semantics(self) -> None:
        lock = psync.Lock()
        self.assertTrue(lock.acquire())
        self.assertIsInstance(lock.token, int)
        self.assertFalse(lock.acquire(False))       # a try: False
        self.assertFalse(lock.acquire(True, -2))    # negative: try once
        with self.assertRaises(psync.DeadlockError):
            lock.acquire()                          # Python would hang
        lock.release()
        self.assertRaises(ValueError, lock.release)

    def test_cross_thread_release(self) -> None:
        lock = psync.Lock()
        lock.acquire()
        t = threading.Thread(target=lock.release)
        t.start()
        t.join()
        self.assertTrue(lock.acquire(False))
        lock.release()

    def test_threads_contend(self) -> None:
        lock, rlock = psync.Lock("t-lock"), psync.RLock("t-rlock")
        inside, worst = [0], [0]

        def work() -> None:
            for _ in range(200):
                for lk in (lock, rlock):
                    with lk:
                        inside[0] += 1
                        worst[0] = max(worst[0], inside[0])
                        inside[0] -= 1
        ts = [threading.Thread(target=work) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(worst[0], 1)

    def test_holder_killed_releases_at_once(self) -> None:
        lock, ready = psync.Lock("kill-me"), mp.Event()
        p = mp.Process(target=_hold_and_wait, args=(lock, ready))
        p.start()
        self.assertTrue(ready.wait(10))
        self.assertFalse(lock.acquire(False))
        p.kill()
        p.join()
        self.assertTrue(lock.acquire(True, 10))
        lock.release()

    def test_interrupted_acquire_keeps_the_session(self) -> None:
        # Ctrl-C in a blocked acquire cancels that acquire only: what
        # the thread already held stays held, on the same connection.
        mine, theirs = psync.Lock(), psync.Lock()
        self.assertTrue(mine.acquire())
        ready = mp.Event()
        p = mp.Process(target=_hold_and_wait, args=(theirs, ready))
        p.start()
        try:
            self.assertTrue(ready.wait(20))

            def interrupt(*_: object) -> None:
                raise KeyboardInterrupt

            old = signal.signal(signal.SIGALRM, interrupt)
            signal.setitimer(signal.ITIMER_REAL, 0.2)
            try:
                with self.assertRaises(KeyboardInterrupt):
                    theirs.acquire()    # blocks: p holds it
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old)
            held = psync_test_daemon.request({"op": "info",
                                              "name": mine.name})
            self.assertEqual(len(held["holders"]), 1)
            waits = psync_test_daemon.request({"op": "info",
                                               "name": theirs.name})
            self.assertEqual(waits["waiters"], [])
            self.assertTrue(mine._is_mine())
            mine.release()
        finally:
            p.kill()
            p.join()

    def test_fork_while_another_thread_holds(self) -> None:
        lock = psync.Lock()
        held, go = threading.Event(), threading.Event()

        def holder() -> None:
            with lock:
                held.set()
                go.wait(10)
        t = threading.Thread(target=holder)
        t.start()
        held.wait(10)
        fd = psync._client().sock.fileno()
        pid = os.fork()
        if pid == 0:
            # The parent's socket is closed here; the child's own
            # connection does not hold the parent's lock.
            try:
                os.fstat(fd)
                closed = False
            except OSError:
                closed = True
            ok = closed and not lock.acquire(False) and \
                psync.Lock().acquire(False)
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        go.set()
        t.join()
        self.assertEqual(status, 0)


class TestSemaphores(unittest.TestCase):
    def test_units_are_consumed(self) -> None:
        sem = psync.Semaphore(1)
        p = mp.Process(target=_take_one, args=(sem,))
        p.start()
        p.join()
        self.assertEqual(sem.get_value(), 0)    # not given back

    def test_owned_units_come_back(self) -> None:
        sem = psync.Semaphore(1, owned=True)
        p = mp.Process(target=_take_one, args=(sem,))
        p.start()
        p.join()
        self.assertTrue(until(lambda: sem.get_value() == 1))

    def test_bounded_over_release(self) -> None:
        sem = psync.BoundedSemaphore(1)
        sem.acquire()
        sem.release()
        self.assertRaises(ValueError, sem.release)


def _worker_from_queue(inbox, outbox) -> None:
    """Take primitives from a Queue and use them: the lock for a while,
    the semaphore's unit, the event to say it is done."""
    lock, sem, done = inbox.get(timeout=20)
    with lock:
        outbox.put(("held", lock.name))
        done.wait(20)
    sem.acquire()
    outbox.put(("took", sem.get_value()))


def _worker_from_pipe(conn) -> None:
    counter, barrier = conn.recv()
    counter.add(5)
    conn.send(barrier.wait(20))
    conn.close()


class TestBarrierAndEvent(unittest.TestCase):
    def test_three_processes(self) -> None:
        b, q = psync.Barrier(3), mp.Queue()
        ps = [mp.Process(target=_party, args=(b, q)) for _ in range(3)]
        for p in ps:
            p.start()
        got = sorted(q.get(timeout=20) for _ in ps)
        for p in ps:
            p.join()
        self.assertEqual(got, [0, 1, 2])

    def test_party_killed_breaks_it(self) -> None:
        b, q = psync.Barrier(3), mp.Queue()
        victim = mp.Process(target=_blocked_party, args=(b,))
        victim.start()
        self.assertTrue(until(lambda: b.n_waiting == 1))
        other = mp.Process(target=_party, args=(b, q))
        other.start()
        self.assertTrue(until(lambda: b.n_waiting == 2))
        victim.kill()
        victim.join()
        self.assertEqual(q.get(timeout=20), "broken")
        other.join()

    def test_event_across_processes(self) -> None:
        e = psync.Event()
        p = mp.Process(target=e.set)
        p.start()
        p.join()
        self.assertTrue(e.wait(10))


class TestPassedAround(unittest.TestCase):
    """Primitives go through a Queue and a Pipe, to processes started
    by spawn (a fresh interpreter: only the pickled name travels) as
    well as by fork, and stay one object."""

    def _queue_round(self, ctx) -> None:
        lock, sem, done = psync.Lock(), psync.Semaphore(1), psync.Event()
        inbox, outbox = ctx.Queue(), ctx.Queue()
        p = ctx.Process(target=_worker_from_queue, args=(inbox, outbox))
        p.start()
        inbox.put((lock, sem, done))
        self.assertEqual(outbox.get(timeout=30), ("held", lock.name))
        # The child holds it: here it is taken.
        self.assertFalse(lock.acquire(False))
        done.set()
        self.assertEqual(outbox.get(timeout=30), ("took", 0))
        p.join(30)
        self.assertEqual(p.exitcode, 0)
        self.assertTrue(lock.acquire(False))
        lock.release()
        self.assertEqual(sem.get_value(), 0)

    def _pipe_round(self, ctx) -> None:
        counter, barrier = psync.Counter(), psync.Barrier(2)
        here, there = ctx.Pipe()
        p = ctx.Process(target=_worker_from_pipe, args=(there,))
        p.start()
        here.send((counter, barrier))
        mine = barrier.wait(20)
        theirs = here.recv()
        p.join(30)
        self.assertEqual(p.exitcode, 0)
        self.assertEqual(sorted([mine, theirs]), [0, 1])
        self.assertEqual(counter.get(), 5)

    def test_queue_spawn(self) -> None:
        self._queue_round(mp.get_context("spawn"))

    def test_queue_fork(self) -> None:
        self._queue_round(mp.get_context("fork"))

    def test_pipe_spawn(self) -> None:
        self._pipe_round(mp.get_context("spawn"))

    def test_pipe_fork(self) -> None:
        self._pipe_round(mp.get_context("fork"))


class TestBeyondMultiprocessing(unittest.TestCase):
    def test_counter_add(self) -> None:
        c = psync.Counter()
        ps = [mp.Process(target=lambda: [c.add() for _ in range(250)])
              for _ in range(4)]
        for p in ps:
            p.start()
        for p in ps:
            p.join()
        self.assertEqual(c.get(), 1000)
        self.assertTrue(c.cas(1000, 7))
        self.assertFalse(c.cas(1000, 8))
        self.assertEqual(c.value, 7)

    def test_info_and_ls(self) -> None:
        lock = psync.Lock("seen")
        with lock:
            i = psync.info("seen")
            self.assertEqual(i["holders"][0]["pid"], os.getpid())
            self.assertIn("seen", [o["name"] for o in psync.ls("se")])

    def _python(self, code: str) -> str:
        env = dict(os.environ, PYTHONPATH=SRC + os.pathsep +
                   os.path.dirname(os.path.abspath(__file__)))
        return subprocess.run([sys.executable, "-c", code], env=env,
                              check=True, capture_output=True,
                              text=True, timeout=60).stdout

    def test_unrelated_processes_share_by_name(self) -> None:
        self._python("import psync; psync.Counter('shared').set(41)")
        out = self._python("import psync; print(psync.Counter('shared')"
                           ".add())")
        self.assertEqual(out.strip(), "42")
        psync.Counter("shared").set(0)

    def test_anonymous_objects_go_with_their_process(self) -> None:
        before = psync_test_daemon.objects()
        out = self._python("import psync, psync_test_daemon as d\n"
                           "s = [psync.Semaphore(2) for _ in range(1000)]\n"
                           "b, e, c = psync.Barrier(2), psync.Event(), "
                           "psync.Counter(value=3)\n"
                           "e.set()\nprint(d.objects())")
        self.assertGreaterEqual(int(out), before + 1003)
        self.assertTrue(until(lambda: psync_test_daemon.objects() == before))

    def test_locked_decorator(self) -> None:
        calls = []

        @psync.locked("decorated")
        def f() -> None:
            calls.append(psync.info("decorated")["holders"][0]["pid"])
        f()
        self.assertEqual(calls, [os.getpid()])


if __name__ == "__main__":
    unittest.main()
