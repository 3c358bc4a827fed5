"""make bench's cluster rows: psync's cluster locks beside `etcdctl lock`.

Three etcd members on loopback and a psyncd on each of two of them (two
"hosts"), started and stopped here by PID.  Unpinned only: etcd, two
psyncd and the clients share the machine's CPUs either way.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))

import test_cluster as tc  # noqa: E402  (its Cluster and Client)


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))]


def psync_handoff(a_sock, b_sock, n):
    """Release on host A -> grant on host B, ms: p50, p99."""
    a, b = tc.Client(a_sock), tc.Client(b_sock)
    name = "cluster/bench-handoff"
    assert a.call({"op": "lock.acquire", "name": name})["acquired"]
    holder, other = a, b
    lat = []
    for _ in range(n):
        other.send({"op": "lock.acquire", "name": name})
        time.sleep(0.003)       # the waiter is queued before the release
        t = time.monotonic()
        holder.send({"op": "lock.release", "name": name})
        g = other.recv(10)
        lat.append((time.monotonic() - t) * 1e3)
        assert g is not None and g.get("acquired"), g
        r = holder.recv(10)
        assert r is not None and r.get("ok"), r
        holder, other = other, holder
    holder.call({"op": "lock.release", "name": name})
    a.close()
    b.close()
    return pct(lat, 0.5), pct(lat, 0.99)


def etcd_floor(port_a, port_b, n):
    """etcd's own part of a handoff, ms p50: a delete sent to member A
    until a watch on member B reports it (the delete's reply awaited
    too), from Python's http.client: the cluster's "echo floor"."""
    import base64
    import http.client

    key = base64.b64encode(b"bench/floor").decode()
    w = http.client.HTTPConnection("127.0.0.1", port_b)
    w.request("POST", "/v3/watch", json.dumps({"create_request":
                                               {"key": key}}))
    stream = w.getresponse()
    stream.readline()                   # created
    u = http.client.HTTPConnection("127.0.0.1", port_a)

    def post(path, body):
        u.request("POST", path, json.dumps(body))
        return u.getresponse().read()

    lat = []
    for _ in range(n):
        post("/v3/kv/put", {"key": key, "value": key})
        stream.readline()
        t = time.monotonic()
        post("/v3/kv/deleterange", {"key": key})
        stream.readline()
        lat.append((time.monotonic() - t) * 1e3)
    u.close()
    w.close()
    return pct(lat, 0.5)


def etcdctl_handoff(ep_a, ep_b, n, tmp):
    """`etcdctl lock` from process to process, ms p50: the holder's
    command prints the time as it ends; the waiter's, as it starts
    (queued 150 ms before, as in ../shared/design/cluster-etcd.md)."""
    # etcdctl gives its command no stdin: the holder waits on a FIFO.
    fifo = os.path.join(tmp, "release")
    os.mkfifo(fifo)
    hold = os.path.join(tmp, "hold.sh")
    with open(hold, "w") as f:
        f.write("#!/bin/sh\necho held\nread x < %s\ndate +%%s%%N\n" % fifo)
    os.chmod(hold, 0o755)
    env = dict(os.environ, ETCDCTL_API="3")
    lat = []
    for _ in range(n):
        a = subprocess.Popen(["etcdctl", "--endpoints", ep_a, "lock",
                              "bench/etcdctl", hold],
                             stdout=subprocess.PIPE, env=env, text=True)
        assert a.stdout.readline().strip() == "held"
        b = subprocess.Popen(["etcdctl", "--endpoints", ep_b, "lock",
                              "bench/etcdctl", "date", "+%s%N"],
                             stdout=subprocess.PIPE, env=env, text=True)
        time.sleep(0.15)
        with open(fifo, "w") as f:
            f.write("\n")
        ta = int(a.stdout.readline())
        tb = int(b.stdout.readline())
        a.wait()
        b.wait()
        a.stdout.close()
        b.stdout.close()
        lat.append((tb - ta) / 1e6)
    return pct(lat, 0.5), pct(lat, 0.99)


def kill9_release(a_sock, b_sock, n):
    """A holder on host A is SIGKILLed -> the waiter on B has it, ms."""
    lat = []
    code = ("import socket,sys,time\n"
            "s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
            "s.sendall(b'{\"op\":\"lock.acquire\",\"name\":\"cluster/b-k\"}"
            "\\n')\nprint(s.recv(4096).decode(), flush=True)\n"
            "time.sleep(60)\n")
    for _ in range(n):
        child = subprocess.Popen([sys.executable, "-c", code, a_sock],
                                 stdout=subprocess.PIPE)
        assert b'"acquired":true' in child.stdout.readline()
        w = tc.Client(b_sock)
        w.send({"op": "lock.acquire", "name": "cluster/b-k"})
        time.sleep(0.02)
        t = time.monotonic()
        child.kill()
        child.wait()
        child.stdout.close()
        g = w.recv(10)
        lat.append((time.monotonic() - t) * 1e3)
        assert g is not None and g.get("acquired"), g
        w.close()
    return pct(lat, 0.5), pct(lat, 0.99)


def local_pairs(build, socks, n, reps=5):
    """Local lock pairs/s through psync-bench (the C client), on each
    socket in rotation so that noise hits them alike: the medians."""
    got = [[] for _ in socks]
    for _ in range(reps):
        for i, sock in enumerate(socks):
            out = subprocess.run([os.path.join(build, "bench",
                                               "psync-bench"),
                                  "psync", "pair", "1", str(n), "1", sock],
                                 capture_output=True, text=True,
                                 check=True).stdout
            got[i].append(json.loads(out)["median"])
    return [sorted(g)[len(g) // 2] for g in got]


def rows(build, scale):
    """The cluster rows, or [] (with a reason on stderr) without etcd."""
    if not shutil.which("etcd") or not shutil.which("etcdctl"):
        sys.stderr.write("  etcd or etcdctl not installed: cluster rows "
                         "skipped\n")
        return []
    tc.PSYNCD = os.path.join(build, "psyncd")
    n = max(20, int(300 * scale))
    c = tc.Cluster()
    out = []
    try:
        a = c.start("a", "--cluster", c.url(0), "--log-level", "error")
        b = c.start("b", "--cluster", c.url(1), "--log-level", "error")
        plain = c.start("plain", "--log-level", "error")
        p50, p99 = psync_handoff(a, b, n)
        e50, e99 = etcdctl_handoff(c.url(0), c.url(1), max(10, n // 10),
                                   c.dir)
        f50 = etcd_floor(tc.BASE, tc.BASE + 1, n)
        out.append({"row": "11 cluster lock handoff p50/p99",
                    "unit": "ms", "psync": "%.2f/%.2f" % (p50, p99),
                    "anchors": {"etcdctl lock p50": e50},
                    "ratio": p50 / e50})
        out.append({"row": "11 ... vs etcd's own floor", "unit": "ms",
                    "psync": p50, "anchors": {"delete -> watch p50": f50}})
        k50, k99 = kill9_release(a, b, max(10, n // 10))
        out.append({"row": "12 release after kill -9 p50/p99",
                    "unit": "ms", "psync": "%.2f/%.2f" % (k50, k99),
                    "anchors": {}})
        pairs = max(2000, int(20000 * scale))
        with_c, without = local_pairs(build, [a, plain], pairs)
        out.append({"row": "13 local pair with --cluster", "unit": "pairs/s",
                    "psync": with_c, "anchors": {"same, no --cluster":
                                                 without}})
    finally:
        c.stop()
    for r in out:
        sys.stderr.write("  %-28s %s %s\n" % (r["row"], r["psync"],
                                              r["anchors"]))
    return out
