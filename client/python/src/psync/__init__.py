"""psync for Python: multiprocessing's primitives across any processes.

Lock, RLock, Event, Condition, Semaphore, BoundedSemaphore and Barrier
behave like multiprocessing's, but live in psyncd, so that unrelated
processes share them by name and a holder's death releases what it held.
Counter adds the atomic increment multiprocessing.Value lacks.

The socket is psync.connect(path), else $PSYNC_SOCKET, else
/run/psync/psyncd.sock for root, else $XDG_RUNTIME_DIR/psync/psyncd.sock,
else /tmp/psync-$UID/psyncd.sock.  Standard library only.
"""
from __future__ import annotations

import functools
import itertools
import json
import os
import socket
import threading
import time
import uuid
import weakref
from threading import BrokenBarrierError
from typing import Any, Callable, Dict, List, Optional, TypeVar

__all__ = [
    "Lock", "RLock", "Event", "Condition", "Semaphore", "BoundedSemaphore",
    "Barrier", "Counter", "BrokenBarrierError", "PsyncError",
    "DeadlockError", "LostError", "locked", "connect", "info", "ls",
    "set_lost_handler",
]
__version__ = "1.0.0"

_F = TypeVar("_F", bound=Callable[..., Any])


class PsyncError(Exception):
    """An error reply of psyncd: .code is the protocol's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__("%s: %s" % (code, message))
        self.code = code
        self.message = message


class DeadlockError(PsyncError, RuntimeError):
    """A blocking acquire that would never return (psyncd's would_deadlock):
    the lock is held by this thread already, or waiting would close a
    cycle.  The message names the cycle."""


class LostError(PsyncError):
    """psyncd could not keep the etcd lease of a cluster hold of this
    connection (psyncd stalled or cut off from etcd past its TTL), so
    another host may hold it now.  Raised by the next call made on that
    connection; .name, .type and .token say which hold (.notices has every
    one, if more were lost at once).  Fence what you write with tokens."""

    def __init__(self, notices: List[Dict[str, Any]]) -> None:
        first = notices[0]
        super().__init__("lost", "%s '%s' (token %s) is no longer held: %s"
                         % (first.get("type"), first.get("name"),
                            first.get("token"), first.get("message")))
        self.notices = notices
        self.name: str = first.get("name", "")
        self.type: str = first.get("type", "")
        self.token: Optional[int] = first.get("token")


_lost_handler: Optional[Callable[[str, str, int, str], Any]] = None


def set_lost_handler(fn: Optional[Callable[[str, str, int, str], Any]]
                     ) -> None:
    """Have fn(name, type, token, message) called for each lost cluster
    hold as soon as this process reads psyncd's notice: from inside
    whichever call on that connection reads it, so fn must not call psync
    itself.  The next call on the connection raises LostError either way.
    None: no handler."""
    global _lost_handler
    _lost_handler = fn


# ---- the socket -------------------------------------------------------

_path: Optional[str] = None


def _socket_path() -> str:
    if _path is not None:
        return _path
    env = os.environ.get("PSYNC_SOCKET")
    if env:
        return env
    if os.geteuid() == 0:
        return "/run/psync/psyncd.sock"
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return os.path.join(xdg, "psync", "psyncd.sock")
    return "/tmp/psync-%d/psyncd.sock" % os.getuid()


def connect(path: Optional[str] = None) -> None:
    """Use the daemon at path (None: the default resolution) from now on,
    and check that it answers."""
    global _path
    _path = path
    _forget_clients()
    _client().call({"op": "ping"})


class _Client:
    """One connection, usable from any thread of the process that opened
    it: replies are matched to requests by id, and one thread at a time
    reads for all."""

    def __init__(self, path: str) -> None:
        self.pid = os.getpid()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.connect(path)
        except OSError as e:
            self.sock.close()
            raise ConnectionError("cannot connect to psyncd at %s: %s"
                                  % (path, e.strerror)) from None
        # Lines are cut from raw recv()s, with no buffered reader: its
        # internal lock could be held, at fork(), by a thread the child
        # does not have, and the child could never close it.
        self.buf = bytearray()
        self.send_lock = threading.Lock()
        self.cond = threading.Condition()
        self.replies: Dict[int, Optional[Dict[str, Any]]] = {}
        self.reading = False
        self.dead: Optional[str] = None
        self.lost: List[Dict[str, Any]] = []
        self.ids = itertools.count(1)
        # Asked to be told of lost cluster holds; its reply, with no id,
        # is not waited for (a notice is only ever sent to holders).
        try:
            self.sock.sendall(b'{"op":"hello","notices":true}\n')
        except OSError as e:
            self.sock.close()
            raise ConnectionError("cannot talk to psyncd at %s: %s"
                                  % (path, e.strerror)) from None
        _clients.add(self)

    def call(self, req: Dict[str, Any]) -> Dict[str, Any]:
        """Send req and return its reply; an error reply raises."""
        r = self.call_raw(req)
        if not r.get("ok"):
            code = r.get("error", "internal")
            cls = DeadlockError if code == "would_deadlock" else PsyncError
            raise cls(code, r.get("message", ""))
        return r

    def call_raw(self, req: Dict[str, Any]) -> Dict[str, Any]:
        rid = next(self.ids)
        # The id goes in as text ahead of the encoder's output: no copy
        # of req, and one shared encoder (json.dumps with separators
        # builds a new one per call).
        line = b'{"id":%d,%s\n' % (rid, _encode(req)[1:].encode())
        with self.cond:
            if self.dead is not None:
                raise ConnectionError(self.dead)
            if self.lost:
                lost, self.lost = self.lost, []
                raise LostError(lost)
            self.replies[rid] = None
        try:
            with self.send_lock:
                self.sock.sendall(line)
        except OSError as e:
            with self.cond:
                self.replies.pop(rid, None)
                self.dead = "psyncd connection lost: %s" % e.strerror
            raise ConnectionError(self.dead) from None
        try:
            return self._await(rid)
        except (KeyboardInterrupt, SystemExit) as e:
            # Interrupted (Ctrl-C, a signal handler raising): cancel the
            # request and learn its outcome, for the caller to undo.
            e.psync_outcome = self._cancel(rid)  # type: ignore[attr-defined]
            raise

    def _cancel(self, rid: int) -> Optional[Dict[str, Any]]:
        """Cancel pending request rid; its reply (cancelled, or what it
        got meanwhile), or None if the connection is gone."""
        try:
            with self.send_lock:
                self.sock.sendall(json.dumps(
                    {"op": "cancel", "target": rid}).encode() + b"\n")
            return self._await(rid)
        except (OSError, ConnectionError):
            return None

    def _await(self, rid: int) -> Dict[str, Any]:
        while True:
            with self.cond:
                while True:
                    r = self.replies.get(rid)
                    if r is not None:
                        del self.replies[rid]
                        return r
                    if self.dead is not None:
                        raise ConnectionError(self.dead)
                    if not self.reading:
                        break
                    self.cond.wait()
                self.reading = True
            raw: Optional[bytes] = None
            try:
                raw = self._readline()
            finally:
                # Interrupted (raw None), nothing was read and the
                # connection is as good as before: the caller cancels.
                with self.cond:
                    self.reading = False
                    r = self._deliver(raw, rid) if raw is not None else None
                    self.cond.notify_all()
            if r is not None:
                return r

    def _readline(self) -> bytes:
        """The next line, "\n" included; b"" at end of input.  Called by
        the one reading thread only."""
        while True:
            nl = self.buf.find(b"\n")
            if nl >= 0:
                line = bytes(self.buf[:nl + 1])
                del self.buf[:nl + 1]
                return line
            chunk = self.sock.recv(65536)
            if not chunk:
                return b""
            self.buf += chunk

    def _deliver(self, raw: bytes, mine: int) -> Optional[Dict[str, Any]]:
        """File the reply line raw; return it instead if it is mine's
        (the reader's own: the common case, no hand-over)."""
        if not raw:
            self.dead = "psyncd closed the connection"
            return None
        r = _decode(raw.decode())
        rid = r.get("id")
        if rid == mine:
            del self.replies[rid]
            return r
        if isinstance(rid, int) and rid in self.replies:
            self.replies[rid] = r
        elif rid is None and r.get("event") == "lost":
            self.lost.append(r)
            fn = _lost_handler
            if fn is not None:
                fn(r.get("name", ""), r.get("type", ""), r.get("token", 0),
                   r.get("message", ""))
        elif not r.get("ok"):
            # Unasked: the daemon's last word (forbidden, limit, too_large).
            self.dead = "%s: %s" % (r.get("error"), r.get("message"))
        return None

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


# Every client of this process (for the fork handler), each thread's own,
# and the one that creates anonymous objects, tied to this process's life.
_clients: "weakref.WeakSet[_Client]" = weakref.WeakSet()
_encode = json.JSONEncoder(separators=(",", ":")).encode
_decode = json.JSONDecoder().decode
_local = threading.local()
_owner_client: Optional[_Client] = None
_owner_lock = threading.Lock()


def _client() -> _Client:
    """This thread's connection: a lock is held by a thread, as in Python."""
    c: Optional[_Client] = getattr(_local, "client", None)
    if c is None or c.dead is not None:
        c = _Client(_socket_path())
        _local.client = c
    return c


def _owner() -> _Client:
    """The connection whose session anonymous objects are tied to."""
    global _owner_client
    with _owner_lock:
        c = _owner_client
        if c is None or c.dead is not None:
            c = _owner_client = _Client(_socket_path())
        return c


def _forget_clients() -> None:
    global _local, _owner_client
    for c in list(_clients):
        c.close()
    _local = threading.local()
    _owner_client = None


def _after_fork_in_child() -> None:
    # The child never uses the parent's connections: closing its copies
    # leaves the parent's sessions as they are.  Marked dead, they are
    # never picked again (so no call needs an os.getpid()).
    global _local, _owner_client, _owner_lock
    for c in list(_clients):
        if c.pid != os.getpid():
            c.close()
            c.dead = "this connection belongs to process %d" % c.pid
    _local = threading.local()
    _owner_client = None
    _owner_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _anonymous(kind: str) -> str:
    return "py.anon/%s/%s" % (kind, uuid.uuid4().hex)


def _timeout(block: bool, timeout: Optional[float]) -> Dict[str, Any]:
    """The request's timeout field, as multiprocessing reads its
    arguments: block False tries once; a negative timeout is 0."""
    if not block:
        return {"timeout": 0}
    if timeout is None:
        return {}
    return {"timeout": max(0.0, float(timeout))}


def info(name: str) -> Dict[str, Any]:
    """Who holds object name and who waits for it (psyncd's info)."""
    r = _client().call({"op": "info", "name": name})
    return {k: v for k, v in r.items() if k not in ("id", "ok")}


def ls(prefix: Optional[str] = None) -> List[Dict[str, Any]]:
    """The objects, or those whose name starts with prefix."""
    req: Dict[str, Any] = {"op": "list"}
    if prefix is not None:
        req["prefix"] = prefix
    return list(_client().call(req)["objects"])


# ---- lock -------------------------------------------------------------

class Lock:
    """multiprocessing.Lock held by psyncd.  A thread holds it (through
    its connection); another thread of the same process may release it,
    as in Python.  .token is the fencing token of the current hold."""

    _op = "lock"

    def __init__(self, name: Optional[str] = None) -> None:
        self.name = name if name is not None else _anonymous(self._op)
        self._holder: Optional[_Client] = None
        self.token: Optional[int] = None

    def acquire(self, block: bool = True,
                timeout: Optional[float] = None) -> bool:
        t = _timeout(block, timeout)
        c = _client()
        try:
            r = c.call(dict({"op": self._op + ".acquire", "name": self.name},
                            **t))
        except DeadlockError:
            if t.get("timeout") == 0:
                return False        # Python's try of a held lock
            raise
        except (KeyboardInterrupt, SystemExit) as e:
            # Interrupted: not acquired, even if the grant came meanwhile.
            got = getattr(e, "psync_outcome", None)
            if got is not None and got.get("acquired"):
                c.call({"op": self._op + ".release", "name": self.name})
            raise
        if not r.get("acquired"):
            return False
        self._holder = c
        self.token = r.get("token")
        return True

    def release(self) -> None:
        c = self._holder
        if c is None or c.dead is not None:
            c = _client()
        try:
            c.call({"op": self._op + ".release", "name": self.name})
        except PsyncError as e:
            if e.code == "not_owner":
                raise ValueError("semaphore or lock released too many "
                                 "times") from None
            raise
        self._holder = None
        self.token = None

    def _is_mine(self) -> bool:
        c = self._holder
        return c is not None and c.dead is None

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def __reduce__(self) -> Any:
        return (type(self), (self.name,))

    def __repr__(self) -> str:
        return "<psync.%s %r>" % (type(self).__name__, self.name)


class RLock(Lock):
    """multiprocessing.RLock: the holding thread may acquire again."""

    _op = "rlock"

    def __init__(self, name: Optional[str] = None) -> None:
        super().__init__(name)
        self._depth = threading.local()

    def acquire(self, block: bool = True,
                timeout: Optional[float] = None) -> bool:
        t = _timeout(block, timeout)
        r = _client().call(dict({"op": "rlock.acquire", "name": self.name},
                                **t))
        if not r.get("acquired"):
            return False
        self._depth.count = r.get("count", 1)
        self.token = r.get("token")
        return True

    def release(self) -> None:
        try:
            r = _client().call({"op": "rlock.release", "name": self.name})
        except PsyncError as e:
            if e.code == "not_owner":
                raise AssertionError("attempt to release recursive lock "
                                     "not owned by thread") from None
            raise
        self._depth.count = r.get("count", 0)

    def _is_mine(self) -> bool:
        return getattr(self._depth, "count", 0) > 0

    def __setstate__(self, state: Any) -> None:
        self.__dict__.update(state)

    def __reduce__(self) -> Any:
        return (type(self), (self.name,))


# ---- semaphore --------------------------------------------------------

class Semaphore:
    """multiprocessing.Semaphore.  Its units are consumed, as Python's are:
    one taken by a process that then dies stays taken (a producer's signal
    must not come back).  owned=True makes them slots instead, returned
    when their taker dies (a pool of database connections)."""

    _bounded = False

    def __init__(self, value: int = 1, name: Optional[str] = None, *,
                 owned: bool = False, _attach: bool = False) -> None:
        if value < 0:
            raise ValueError("semaphore initial value must be >= 0")
        self.name = name if name is not None else _anonymous("sem")
        self._value = value
        self._owned = owned
        if not _attach:
            req = {"op": "sem.value", "name": self.name, "value": value,
                   "bounded": self._bounded, "owned": owned}
            if name is None:
                req["temporary"] = True
                _owner().call(req)
            else:
                _client().call(req)

    def acquire(self, block: bool = True,
                timeout: Optional[float] = None) -> bool:
        r = _client().call(dict({"op": "sem.acquire", "name": self.name},
                                **_timeout(block, timeout)))
        return bool(r.get("acquired"))

    def release(self) -> None:
        try:
            _client().call({"op": "sem.release", "name": self.name})
        except PsyncError as e:
            if e.code == "would_exceed":
                raise ValueError("semaphore or lock released too many "
                                 "times") from None
            raise

    def get_value(self) -> int:
        return int(_client().call({"op": "sem.value",
                                   "name": self.name})["value"])

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def __reduce__(self) -> Any:
        return (_attach_sem, (type(self), self.name, self._value,
                              self._owned))

    def __repr__(self) -> str:
        return "<psync.%s %r>" % (type(self).__name__, self.name)


class BoundedSemaphore(Semaphore):
    """multiprocessing.BoundedSemaphore: a release past the initial value
    raises ValueError."""

    _bounded = True


def _attach_sem(cls: Any, name: str, value: int, owned: bool) -> Any:
    return cls(value, name, owned=owned, _attach=True)


# ---- event ------------------------------------------------------------

class Event:
    """multiprocessing.Event."""

    def __init__(self, name: Optional[str] = None, *,
                 _attach: bool = False) -> None:
        self.name = name if name is not None else _anonymous("event")
        if name is None and not _attach:
            # Made now, tied to this process: a set one left behind
            # would outlive the program otherwise.
            _owner().call({"op": "event.is_set", "name": self.name,
                           "temporary": True})

    def is_set(self) -> bool:
        return bool(_client().call({"op": "event.is_set",
                                    "name": self.name})["set"])

    def set(self) -> None:
        _client().call({"op": "event.set", "name": self.name})

    def clear(self) -> None:
        _client().call({"op": "event.clear", "name": self.name})

    def wait(self, timeout: Optional[float] = None) -> bool:
        r = _client().call(dict({"op": "event.wait", "name": self.name},
                                **_timeout(True, timeout)))
        return bool(r["set"])

    def __repr__(self) -> str:
        return "<%s at %#x %s>" % (type(self).__qualname__, id(self),
                                   "set" if self.is_set() else "unset")

    def __reduce__(self) -> Any:
        return (_attach_event, (self.name,))


def _attach_event(name: str) -> Event:
    return Event(name, _attach=True)


# ---- condition --------------------------------------------------------

class Condition:
    """multiprocessing.Condition over a psync Lock or RLock (an RLock by
    default)."""

    def __init__(self, lock: Optional[Lock] = None,
                 name: Optional[str] = None) -> None:
        self._lock = lock if lock is not None else RLock()
        self.name = name if name is not None else _anonymous("cond")
        self.acquire = self._lock.acquire
        self.release = self._lock.release

    def __enter__(self) -> bool:
        return self._lock.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self._lock.__exit__(*exc)

    def _holder(self) -> _Client:
        h = self._lock._holder if type(self._lock) is Lock else None
        return h if h is not None and h.dead is None else _client()

    def wait(self, timeout: Optional[float] = None) -> bool:
        assert self._lock._is_mine(), \
            "must acquire() condition before using wait()"
        c = self._holder()
        try:
            r = c.call(dict(
                {"op": "cond.wait", "name": self.name,
                 "lock": self._lock.name}, **_timeout(True, timeout)))
        except PsyncError as e:
            if e.code == "not_owner":
                raise AssertionError("must acquire() condition before "
                                     "using wait()") from None
            raise
        except (KeyboardInterrupt, SystemExit) as e:
            # As multiprocessing's wait, leave with the lock held again:
            # a cancelled cond.wait does not take it back by itself.
            got = getattr(e, "psync_outcome", None)
            if got is None or not got.get("ok"):
                self._take_back()
            raise
        self._lock.token = r.get("token")
        return bool(r.get("notified"))

    def _take_back(self) -> None:
        depth = getattr(getattr(self._lock, "_depth", None), "count", 1)
        self._lock.acquire()
        for _ in range(max(0, depth - 1)):
            self._lock.acquire()

    @property
    def _sleeping_count(self) -> "_Sleepers":
        # For CPython's check_invariant: who waits on it now.
        return _Sleepers(self.name)

    @property
    def _woken_count(self) -> "_Sleepers":
        return _Sleepers(None)

    @property
    def _wait_semaphore(self) -> "_Sleepers":
        return _Sleepers(None)

    def wait_for(self, predicate: Callable[[], Any],
                 timeout: Optional[float] = None) -> Any:
        result = predicate()
        if result:
            return result
        endtime = None if timeout is None else time.monotonic() + timeout
        waittime = None
        while not result:
            if endtime is not None:
                waittime = endtime - time.monotonic()
                if waittime <= 0:
                    break
            self.wait(waittime)
            result = predicate()
        return result

    def notify(self, n: int = 1) -> None:
        assert self._lock._is_mine(), "lock is not owned"
        _client().call({"op": "cond.notify", "name": self.name, "n": n})

    def notify_all(self) -> None:
        assert self._lock._is_mine(), "lock is not owned"
        _client().call({"op": "cond.notify_all", "name": self.name})

    def __reduce__(self) -> Any:
        return (Condition, (self._lock, self.name))


class _Sleepers:
    """How many wait on condition name now (0 for None), with
    multiprocessing's get_value()."""

    def __init__(self, name: Optional[str]) -> None:
        self._name = name

    def get_value(self) -> int:
        if self._name is None:
            return 0
        try:
            return len(info(self._name)["waiters"])
        except PsyncError:
            return 0


# ---- barrier ----------------------------------------------------------

class Barrier:
    """multiprocessing.Barrier.  A wait that times out breaks it for
    every party, as in Python; so does a party's death."""

    def __init__(self, parties: int, action: Optional[Callable[[], Any]] = None,
                 timeout: Optional[float] = None, name: Optional[str] = None,
                 *, _attach: bool = False) -> None:
        if parties < 1:
            raise ValueError("parties must be >= 1")
        self.name = name if name is not None else _anonymous("barrier")
        self._parties = parties
        self._action = action
        self._timeout = timeout
        if not _attach:
            # With an action, a second barrier holds everyone until it ran.
            for n in [self.name] + ([self.name + "/action"] if action else []):
                req = {"op": "barrier.info", "name": n, "parties": parties}
                if name is None:
                    req["temporary"] = True
                    _owner().call(req)
                else:
                    _client().call(req)

    def wait(self, timeout: Optional[float] = None) -> int:
        if timeout is None:
            timeout = self._timeout
        try:
            r = _client().call(dict({"op": "barrier.wait", "name": self.name},
                                    **_timeout(True, timeout)))
        except PsyncError as e:
            if e.code == "broken":
                raise BrokenBarrierError from None
            raise
        index = int(r["index"])
        if self._action is not None:
            # The last to arrive runs it before anyone goes on: all meet
            # again on a second barrier, which it breaks if it fails.
            gate = self.name + "/action"
            if index == self._parties - 1:
                try:
                    self._action()
                except BaseException:
                    self.abort()
                    raise
            try:
                _client().call({"op": "barrier.wait", "name": gate})
            except PsyncError as e:
                if e.code == "broken":
                    raise BrokenBarrierError from None
                raise
        return index

    def reset(self) -> None:
        _client().call({"op": "barrier.reset", "name": self.name})
        if self._action is not None:
            _client().call({"op": "barrier.reset", "name": self.name +
                            "/action"})

    def abort(self) -> None:
        _client().call({"op": "barrier.abort", "name": self.name})
        if self._action is not None:
            _client().call({"op": "barrier.abort", "name": self.name +
                            "/action"})

    def _info(self) -> Dict[str, Any]:
        return _client().call({"op": "barrier.info", "name": self.name})

    @property
    def parties(self) -> int:
        return self._parties

    @property
    def n_waiting(self) -> int:
        return int(self._info()["n_waiting"])

    @property
    def broken(self) -> bool:
        return bool(self._info()["broken"])

    def __reduce__(self) -> Any:
        return (_attach_barrier, (self.name, self._parties, self._action,
                                  self._timeout))


def _attach_barrier(name: str, parties: int, action: Any,
                    timeout: Optional[float]) -> "Barrier":
    return Barrier(parties, action, timeout, name, _attach=True)


# ---- counter ----------------------------------------------------------

class Counter:
    """An atomic signed 64-bit integer: the increment multiprocessing.Value
    lacks.  Anonymous counters go when the process that made them exits."""

    def __init__(self, name: Optional[str] = None, value: int = 0, *,
                 _attach: bool = False) -> None:
        self.name = name if name is not None else _anonymous("counter")
        if name is None and not _attach:
            # Made now, tied to this process, and kept even at 0.
            _owner().call({"op": "counter.get", "name": self.name,
                           "temporary": True})
        if not _attach and value != 0:
            self.set(value)

    def _call(self, req: Dict[str, Any]) -> Dict[str, Any]:
        return _client().call(req)

    def get(self) -> int:
        return int(_client().call({"op": "counter.get",
                                   "name": self.name})["value"])

    def set(self, value: int) -> int:
        return int(self._call({"op": "counter.set", "name": self.name,
                               "value": int(value)})["value"])

    def add(self, delta: int = 1) -> int:
        """Add delta atomically; returns the new value."""
        return int(self._call({"op": "counter.add", "name": self.name,
                               "delta": int(delta)})["value"])

    def cas(self, expect: int, value: int) -> bool:
        """Set value if the counter equals expect; whether it did."""
        return bool(self._call({"op": "counter.cas", "name": self.name,
                                "expect": int(expect),
                                "value": int(value)})["swapped"])

    @property
    def value(self) -> int:
        return self.get()

    def __reduce__(self) -> Any:
        return (_attach_counter, (self.name,))


def _attach_counter(name: str) -> Counter:
    return Counter(name, _attach=True)


# ---- locked -----------------------------------------------------------

class locked:
    """A named psync Lock as a decorator and a context manager, in the
    spirit of fasteners.interprocess_locked: @psync.locked("counter")."""

    def __init__(self, name: str, timeout: Optional[float] = None) -> None:
        self._lock = Lock(name)
        self._timeout = timeout

    def __enter__(self) -> "locked":
        if not self._lock.acquire(True, self._timeout):
            raise TimeoutError("lock %r not acquired within %s s"
                               % (self._lock.name, self._timeout))
        return self

    def __exit__(self, *exc: Any) -> None:
        self._lock.release()

    def __call__(self, fn: _F) -> _F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
