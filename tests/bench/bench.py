#!/usr/bin/env python3
"""make bench: psync measured side by side with what users would pick
instead, in one run, unpinned and pinned to one CPU.  See BENCHMARKS.md.

Starts its own psyncd, echo floor and redis-server on temporary sockets
(stopped by PID), drives them with build/bench/psync-bench, runs the
Python multiprocessing anchors itself, prints a table and writes
bench-results.json.
"""
import argparse
import json
import multiprocessing as mp
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import cluster_bench  # noqa: E402  (the cluster rows, beside etcdctl)


def wait_socket(path, proc, deadline=10.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("%s exited at startup" % path)
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            s.close()
            return
        except OSError:
            time.sleep(0.01)  # polling for the socket, bounded by deadline
    raise RuntimeError("nothing listens on %s" % path)


class Servers:
    """psyncd, the echo floor and redis-server on temporary sockets."""

    def __init__(self, build, pin, tmp):
        self.pin = pin
        self.tmp = tmp
        self.procs = {}
        self.socks = {}
        self.build = build

    def prefix(self):
        return ["taskset", "-c", "0"] if self.pin else []

    def start(self, name, argv, sock):
        if os.path.exists(sock):
            os.unlink(sock)
        p = subprocess.Popen(self.prefix() + argv, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        wait_socket(sock, p)
        self.procs[name] = p
        self.socks[name] = sock

    def start_psyncd(self, extra=()):
        sock = os.path.join(self.tmp, "psyncd.sock")
        self.start("psync", [os.path.join(self.build, "psyncd"), "--socket",
                             sock, "--max-connections", "20000",
                             "--max-objects", "3000000",
                             "--log-level", "error"] + list(extra), sock)

    def start_all(self):
        self.start_psyncd()
        sock = os.path.join(self.tmp, "echo.sock")
        self.start("echo", [os.path.join(self.build, "bench", "echo-server"),
                            sock], sock)
        if shutil.which("redis-server"):
            sock = os.path.join(self.tmp, "redis.sock")
            self.start("redis", ["redis-server", "--port", "0",
                                 "--unixsocket", sock, "--save", "",
                                 "--appendonly", "no", "--maxclients",
                                 "20000"], sock)
        self.socks["flock"] = os.path.join(self.tmp, "flock")

    def stop(self, name):
        p = self.procs.pop(name, None)
        if p is not None:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=30)

    def stop_all(self):
        for name in list(self.procs):
            self.stop(name)

    def pid(self, name):
        return self.procs[name].pid


def bench1(srv, target, scenario, clients, ops, reps):
    if target not in srv.socks:
        return None
    argv = srv.prefix() + [os.path.join(srv.build, "bench", "psync-bench"),
                           target, scenario, str(clients), str(max(1, ops)),
                           str(reps), srv.socks[target]]
    out = subprocess.run(argv, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def median(v):
    v = sorted(v)
    return v[len(v) // 2]


def compare(srv, targets, scenario, clients, ops, reps):
    """Run the targets' repetitions in rotation, so that a noisy neighbour
    or a frequency change hits them alike; median, min, max per target."""
    got = {t: [] for t in targets if t in srv.socks}
    for _ in range(reps):
        for t in got:
            got[t].append(bench1(srv, t, scenario, clients, ops, 1))
    out = {}
    for t, runs in got.items():
        rates = [r["median"] for r in runs]
        out[t] = {"median": median(rates), "min": min(rates),
                  "max": max(rates), "reps": rates,
                  "p50_us": median([r["p50_us"] for r in runs]),
                  "p99_us": median([r["p99_us"] for r in runs])}
    for t in targets:
        out.setdefault(t, None)
    return out


def bench(srv, target, scenario, clients, ops, reps):
    return compare(srv, [target], scenario, clients, ops, reps)[target]


def helper(srv, kind, n, target="psync"):
    """Start a psync-bench helper (fill/idle) and wait for its 'ready'."""
    argv = srv.prefix() + [os.path.join(srv.build, "bench", "psync-bench"),
                           kind, str(n), srv.socks[target]]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if line.strip() != "ready":
        raise RuntimeError("%s helper failed" % kind)
    return p


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


# ---- Python multiprocessing anchors ----

def _mgr_lock_worker(lock, ops, q):
    t = time.monotonic()
    for _ in range(ops):
        lock.acquire()
        lock.release()
    q.put(time.monotonic() - t)


def _barrier_worker(barrier, rounds):
    for _ in range(rounds):
        barrier.wait()


def py_manager_lock(clients, ops):
    with mp.Manager() as m:
        lock = m.Lock()
        q = mp.Queue()
        t = time.monotonic()
        ps = [mp.Process(target=_mgr_lock_worker, args=(lock, ops, q))
              for _ in range(clients)]
        for p in ps:
            p.start()
        for p in ps:
            p.join()
        return clients * ops / (time.monotonic() - t)


def py_barrier(kind, parties, rounds):
    m = None
    if kind == "manager":
        m = mp.Manager()
        barrier = m.Barrier(parties)
    elif kind == "psync":
        import psync
        barrier = psync.Barrier(parties)
    else:
        barrier = mp.Barrier(parties)
    ps = [mp.Process(target=_barrier_worker, args=(barrier, rounds))
          for _ in range(parties)]
    t = time.monotonic()
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    rate = rounds / (time.monotonic() - t)
    if m is not None:
        m.shutdown()
    return rate


# psync for Python (client/python) beside the same done by multiprocessing.

def _lock_pairs(lock, ops):
    t = time.monotonic()
    for _ in range(ops):
        lock.acquire()
        lock.release()
    return ops / (time.monotonic() - t)


def _adder(counter, lock, ops):
    for _ in range(ops):
        if lock is None:
            counter.add(1)
        else:
            with lock:
                counter.value += 1


def py_counter(kind, procs, ops):
    if kind == "psync":
        import psync
        counter, lock = psync.Counter(), None
    else:
        counter = mp.Value("i", 0)
        lock = counter.get_lock()
    ps = [mp.Process(target=_adder, args=(counter, lock, ops))
          for _ in range(procs)]
    t = time.monotonic()
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    return procs * ops / (time.monotonic() - t)


def py_anchor(srv, name, *args):
    """Run one Python anchor in a child interpreter (pinned if asked),
    psync's pointed at this run's daemon."""
    argv = srv.prefix() + [sys.executable, os.path.abspath(__file__),
                           "--anchor", name] + [str(a) for a in args]
    env = dict(os.environ, PSYNC_SOCKET=srv.socks["psync"],
               PYTHONPATH=os.path.join(ROOT, "client", "python", "src"))
    out = subprocess.run(argv, check=True, capture_output=True, text=True,
                         env=env)
    return float(out.stdout.strip())


def run_anchor(name, args):
    args = [int(a) for a in args]
    if name == "manager-lock":
        print(py_manager_lock(*args))
    elif name == "manager-barrier":
        print(py_barrier("manager", *args))
    elif name == "mp-barrier":
        print(py_barrier("mp", *args))
    elif name == "psync-py-lock":
        import psync
        print(_lock_pairs(psync.Lock(), *args))
    elif name == "mp-lock":
        print(_lock_pairs(mp.Lock(), *args))
    elif name == "manager-lock-1":
        with mp.Manager() as m:
            print(_lock_pairs(m.Lock(), *args))
    elif name == "psync-py-barrier":
        print(py_barrier("psync", *args))
    elif name == "psync-py-counter":
        print(py_counter("psync", *args))
    elif name == "mp-value":
        print(py_counter("mp", *args))


# ---- the rows ----

def rows_for(srv, scale):
    def n(x):
        return max(10, int(x * scale))

    reps = 5 if scale >= 0.5 else 2
    rows = []

    def row(name, unit, psync, anchors, note=""):
        rows.append({"row": name, "unit": unit, "psync": psync,
                     "anchors": anchors, "note": note})
        r = rows[-1]
        sys.stderr.write("  %-28s %12s %s\n" % (name, fmt(psync),
                         " ".join("%s=%s" % (k, fmt(v))
                                  for k, v in anchors.items())))

    def med(res, key="median"):
        return None if res is None else res[key]

    # 1. uncontended pairs
    c = compare(srv, ["psync", "echo", "redis", "flock"], "pair", 1,
                n(20000), reps)
    p1, e1, r1, f1 = c["psync"], c["echo"], c["redis"], c["flock"]
    ml1 = py_anchor(srv, "manager-lock", 1, n(5000))
    row("1 lock pair, 1 client", "pairs/s", med(p1),
        {"echo floor": med(e1), "redis SET NX+DEL": med(r1),
         "flock": med(f1), "Manager().Lock()": ml1})
    c = compare(srv, ["psync", "echo", "redis", "flock"], "pair", 8,
                n(5000), reps)
    row("1 lock pair, 8 clients", "pairs/s", med(c["psync"]),
        {"echo floor": med(c["echo"]),
         "redis SET NX+DEL": med(c["redis"]), "flock": med(c["flock"])})
    # 2. contended
    for c in (4, 16):
        pc = bench(srv, "psync", "contended", c, n(20000) // c, reps)
        fc = bench(srv, "flock", "contended", c, n(20000) // c, reps)
        anchors = {"flock": med(fc)}
        if c == 4:
            anchors["Manager().Lock()"] = py_anchor(srv, "manager-lock", 4,
                                                    n(2000))
        row("2 one lock, %d clients" % c, "pairs/s", med(pc), anchors)
        row("2 ... wait p50/p99", "us", "%.0f/%.0f" % (pc["p50_us"],
            pc["p99_us"]), {"flock": "%.0f/%.0f" % (fc["p50_us"],
                                                     fc["p99_us"])})
    # 3. handoff vs the echo floor's round trip
    ph = bench(srv, "psync", "handoff", 2, n(10000), reps)
    rows.append({"row": "3 handoff p50/p99", "unit": "us",
                 "psync": "%.0f/%.0f" % (ph["p50_us"], ph["p99_us"]),
                 "anchors": {"echo round trip p50": e1["p50_us"] / 2},
                 "ratio": ph["p50_us"] / (e1["p50_us"] / 2)})
    # 4. barrier
    pb = bench(srv, "psync", "barrier", 4, n(5000), reps)
    row("4 barrier, 4 parties", "rounds/s", med(pb),
        {"mp.Barrier(4)": py_anchor(srv, "mp-barrier", 4, n(5000)),
         "Manager().Barrier(4)": py_anchor(srv, "manager-barrier", 4,
                                           n(1000))})
    # 5. event fan-out
    pe = bench(srv, "psync", "event", 17, n(500), reps)
    row("5 event set -> 16 woken", "us p50/p99", "%.0f/%.0f" % (
        pe["p50_us"], pe["p99_us"]), {})
    # 6. pipelined
    c = compare(srv, ["psync", "echo", "redis"], "pipeline", 1,
                n(100000), reps)
    row("6 pipelined counter.add x64", "ops/s", med(c["psync"]),
        {"echo floor": med(c["echo"]), "redis INCR": med(c["redis"])})
    # 7. counter from 4 clients
    c = compare(srv, ["psync", "redis"], "counter", 4, n(10000), reps)
    row("7 counter.add, 4 clients", "ops/s", med(c["psync"]),
        {"redis INCR": med(c["redis"])})
    # 8. scale: the same pair beside many objects or idle connections,
    # each compared with the bare pair measured just before it (minutes
    # apart, a noisy machine drifts more than what is measured here).
    def scaled(label, kind, count):
        base = bench(srv, "psync", "pair", 1, n(20000), reps)
        h = helper(srv, kind, count)
        ps = bench(srv, "psync", "pair", 1, n(20000), reps)
        h.send_signal(signal.SIGTERM)
        h.wait()
        row(label, "pairs/s", med(ps), {"same, just before": med(base)})

    for objs in (1000, n(1000000)):
        scaled("8 pair, %d other objects" % objs, "fill", objs)
    idle_n = n(10000)
    scaled("8 pair, %d idle connections" % idle_n, "idle", idle_n)
    # 9. memory, each on a fresh daemon: RSS growth per object/connection
    objs = n(1000000)
    srv.stop("psync")
    srv.start_psyncd()
    base = rss_bytes(srv.pid("psync"))
    h = helper(srv, "fill", objs)
    held = (rss_bytes(srv.pid("psync")) - base) / objs
    h.send_signal(signal.SIGTERM)
    h.wait()
    srv.stop("psync")
    srv.start_psyncd()
    base = rss_bytes(srv.pid("psync"))
    h = helper(srv, "idle", idle_n)
    per_conn = (rss_bytes(srv.pid("psync")) - base) / idle_n
    h.send_signal(signal.SIGTERM)
    h.wait()
    redis_bytes = None
    if "redis" in srv.procs:
        rb = rss_bytes(srv.pid("redis"))
        subprocess.run(srv.prefix() + [os.path.join(
            srv.build, "bench", "psync-bench"), "redis-fill", str(objs),
            srv.socks["redis"]], check=True, capture_output=True)
        redis_bytes = (rss_bytes(srv.pid("redis")) - rb) / objs
    # 10. psync for Python against what the seeds' users would reach for
    row("10 Python Lock pair, 1 process", "pairs/s",
        py_anchor(srv, "psync-py-lock", n(20000)),
        {"Manager().Lock()": py_anchor(srv, "manager-lock-1", n(5000)),
         "multiprocessing.Lock": py_anchor(srv, "mp-lock", n(200000))})
    row("10 Python Barrier(4)", "rounds/s",
        py_anchor(srv, "psync-py-barrier", 4, n(5000)),
        {"mp.Barrier(4)": py_anchor(srv, "mp-barrier", 4, n(5000))})
    row("10 Python Counter.add, 4 processes", "adds/s",
        py_anchor(srv, "psync-py-counter", 4, n(10000)),
        {"Value + its lock": py_anchor(srv, "mp-value", 4, n(10000))})
    rows.append({"row": "9 memory per held lock", "unit": "bytes",
                 "psync": held,
                 "anchors": {"redis key (SET NX PX)": redis_bytes}})
    rows.append({"row": "9 memory per idle connection", "unit": "bytes",
                 "psync": per_conn, "anchors": {}})
    return rows


def fmt(v):
    if v is None:
        return "skipped"
    if isinstance(v, str):
        return v
    if v >= 100:
        return "{:,.0f}".format(v)
    return "{:.2f}".format(v)


def ratio(a, b, row):
    if "ratio" in row and b is not None:
        return row["ratio"]
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) \
            or not b:
        return None
    return a / b


def print_table(title, rows):
    print("\n%s" % title)
    print("%-30s %-10s %12s  %-24s %12s %8s" % ("scenario", "unit", "psync",
                                              "anchor", "anchor", "ratio"))
    print("-" * 102)
    for r in rows:
        anchors = list(r["anchors"].items()) or [("", None)]
        for i, (name, val) in enumerate(anchors):
            rt = ratio(r["psync"], val, r) if name else None
            print("%-30s %-10s %12s  %-24s %12s %8s" % (
                r["row"] if i == 0 else "", r["unit"] if i == 0 else "",
                fmt(r["psync"]) if i == 0 else "", name,
                fmt(val) if name else "",
                "%.2fx" % rt if rt is not None else ""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--out", default="bench-results.json")
    ap.add_argument("--anchor", nargs="+")
    a = ap.parse_args()
    if a.anchor:
        run_anchor(a.anchor[0], a.anchor[1:])
        return
    build = os.path.join(ROOT, a.build) if not os.path.isabs(a.build) \
        else a.build
    results = {"machine": {"nproc": os.cpu_count(),
                           "kernel": platform.release(),
                           "cpu": cpu_model()},
               "commit": commit(), "scale": a.scale,
               "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
               "runs": {}}
    t0 = time.monotonic()
    for mode, pin in (("unpinned", False), ("pinned to one CPU", True)):
        with tempfile.TemporaryDirectory(prefix="psync-bench.") as tmp:
            srv = Servers(build, pin, tmp)
            sys.stderr.write("%s:\n" % mode)
            try:
                srv.start_all()
                if "redis" not in srv.procs:
                    sys.stderr.write("  redis-server not installed: Redis "
                                     "rows skipped\n")
                results["runs"][mode] = rows_for(srv, a.scale)
            finally:
                srv.stop_all()
    sys.stderr.write("cluster (unpinned):\n")
    crows = cluster_bench.rows(build, a.scale)
    if crows:
        results["runs"]["cluster, unpinned"] = crows
    results["seconds"] = time.monotonic() - t0
    print("psync bench: %s, %d CPUs, kernel %s, commit %s, scale %g" % (
        results["machine"]["cpu"], results["machine"]["nproc"],
        results["machine"]["kernel"], results["commit"], a.scale))
    for mode, rows in results["runs"].items():
        print_table(mode, rows)
    with open(a.out, "w") as f:
        json.dump(results, f, indent=1)
    print("\n(%.0f s; figures in %s)" % (results["seconds"], a.out))


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def commit():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short",
                               "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


if __name__ == "__main__":
    main()
