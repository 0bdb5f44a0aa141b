#!/usr/bin/python3
"""Soak test of zvmd (issue #8; suite 'bench', not run by default).

A mixed load for --minutes (default 10) from --clients threads:
  small       hello                           -> 200 "hello, world"
  mapreduce   the demo wordcount              -> 200, exact word counts
  failing     exit 3 (stdout, or an output object) / missing program /
              bad JSON -> 500 / 500 / 404 / 400|422
  disconnect  a client that hangs up 0-300 ms after sending a wordcount,
              or 0-300 ms after the first bytes of a streamed bigout (and,
              on a zvmd of our own, 0-300 ms into a spin job)
then checks that nothing leaked or grew:
  - zero unexpected answers (any status or body not listed above),
  - every watched zvmd's open fds and sandbox processes back to their
    count after warm-up (zvmd's own forks -- its namespace holder -- and
    parked prewarm children, comm "zvm-parked", stay by design: they are
    shown, not compared),
  - zvmd's RSS at the end within 10 % of the RSS after warm-up (skipped when
    zvmd runs under ASan, whose quarantine holds freed memory on purpose),
  - no object of a failed job (no partial output), no temp file in a store,
    no file in a spool, no object server temp file,
  - zvmd started here: a clean SIGTERM exit (status 0) and no sanitizer
    report in its log (under ASan: no LeakSanitizer, AddressSanitizer or
    UBSan "runtime error" line).

Targets:
  (default)   a zvmd started here over a temp store ($ZVMD, programs from
              $ZVMD_PROG_*, texts from $ZVMD_BOOKS, as in tests/daemon)
  --cluster   the loopback Swift cluster of tests/swift/cluster.py, started
              here in a private mount namespace: 3 storage nodes with a
              cluster-mode zvmd each ($ZVMD), the proxy with the zerovm
              filter; programs and books are PUT through the proxy, the
              load runs through the proxy as test:tester, and all three
              zvmds (coordinators and workers) are checked
  --url URL   an existing endpoint (a proxy with the zerovm filter, or a
              zvmd); --account/--token say who runs jobs, objects are
              uploaded with PUTs; --pid PID (repeatable) names the zvmd
              processes whose fds/children/RSS are checked.

  ZVMD=build/daemon/zvmd ... tests/bench/soak.py --minutes 2
  meson test -C build --benchmark --suite bench soak-cluster -v
Results: tests/bench/RESULTS.md ("Soak").
"""
import argparse
import collections
import http.client
import itertools
import json
import os
import random
import re
import socket
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "daemon"))
sys.path.insert(0, os.path.join(HERE, "..", "swift"))
from harness import Failure, check, descendants, group, wait_for  # noqa: E402
import test_zvmd  # noqa: E402
from test_zvmd import Daemon, words  # noqa: E402
import cluster  # noqa: E402
import cluster_client  # noqa: E402
from cluster_client import Account  # noqa: E402

WORDCOUNT = os.path.join(HERE, "..", "..", "deploy", "demo", "wordcount.json")
JOB_HEADERS = {"X-Zerovm-Execute": "1.0", "Content-Type": "application/json"}
FAILED_CONTAINER = "soak-failed"   # where failing jobs try to write
ZVMD_IPS = cluster.NODE_IPS  # the cluster's zvmds (the proxy: 127.0.0.1)
SANITIZER_REPORT = re.compile(
    r"^.*(ERROR: (LeakSanitizer|AddressSanitizer)|runtime error:|"
    r"SUMMARY: \w+Sanitizer).*$", re.M)


def sanitizer_reports(log):
    """The lines of a zvmd log that are a sanitizer's report."""
    return [m.group(0) for m in SANITIZER_REPORT.finditer(log)]


# ------------------------------------------------------------- targets

class LocalTarget:
    """A zvmd of our own (tests/daemon's Daemon) on a temp store."""

    direct = True   # zvmd itself sees a client hang up
    http_addrs = ()  # zvmd makes no outgoing HTTP

    def __init__(self):
        self.d = Daemon(instance_timeout=30, queue_length=500)

    def __enter__(self):
        self.d.__enter__()
        self.pids = [self.d.proc.pid]
        self.host, self.port, self.account = "127.0.0.1", self.d.port, "acct"
        self.token = None
        return self

    def __exit__(self, *exc):
        return self.d.__exit__(*exc)

    def put(self, name, data):
        self.d.put(name, data)

    def mkdir(self, container):
        self.d.mkdir(container)

    def objects(self, container):
        d = self.d.path(container)
        return sorted(f for f in os.listdir(d) if not f.startswith("."))

    def idle(self):
        m = self.d.metrics()
        return m["zvmd_slots_used"] == 0 and m["zvmd_queue_depth"] == 0

    def leftovers(self):
        return test_zvmd.tmp_files(self.d.root) + os.listdir(self.d.spool)

    def stop(self):
        """SIGTERM zvmd; [(name, exit status, log)]."""
        self.d.proc.terminate()
        status = self.d.proc.wait(60)
        self.d.log.seek(0)
        return [("zvmd %d" % self.d.proc.pid, status, self.d.log.read())]


class SwiftAPI:
    """Objects through a Swift API (the proxy, or zvmd's own)."""

    direct = False  # behind a proxy: a hang-up is seen when it writes
    http_addrs = ()  # where the watched zvmds' libcurl connects

    def put(self, name, data):
        container = name.split("/")[0]
        self.mkdir(container)
        path = "/v1/%s/%s" % (self.account, name)
        status, _, text = request(self, "PUT", path, data)
        check(status in (201, 202), "PUT %s: %d %r" % (path, status,
                                                       text[:200]))

    def mkdir(self, container):
        path = "/v1/%s/%s" % (self.account, container)
        status, _, text = request(self, "PUT", path, b"")
        check(status in (201, 202), "PUT %s: %d %r" % (path, status,
                                                       text[:200]))

    def objects(self, container):
        status, _, text = request(self, "GET", "/v1/%s/%s?format=json" % (
            self.account, container))
        check(status in (200, 204, 404), "listing %s: %d %r" % (
            container, status, text[:200]))
        return sorted(o["name"] for o in json.loads(text or b"[]"))


class RemoteTarget(SwiftAPI):
    """An endpoint someone else runs."""

    def __init__(self, url, account, token, pids):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 80
        self.account, self.token, self.pids = account, token, pids

    def __enter__(self):
        for name, path in test_zvmd.PROGRAMS.items():
            self.put("bin/" + name, open(path, "rb").read())
        return self

    def __exit__(self, *exc):
        return False

    def idle(self):
        return True

    def leftovers(self):
        return []

    def stop(self):
        return []


class ClusterTarget(SwiftAPI):
    """The loopback Swift cluster with a cluster-mode zvmd per storage
    node (tests/swift/cluster.py), started for the soak; the load goes
    through its proxy."""

    def __init__(self, pool_size, queue_length):
        self.session = cluster.session(zvmd=os.environ["ZVMD"],
                                       pool_size=pool_size,
                                       queue_length=queue_length)

    def __enter__(self):
        self.c = self.session.__enter__()
        try:
            acct = Account(self.c.url, "test:tester", "testing")
            self.account, self.token = acct.name, acct.token
            self.host, self.port = "127.0.0.1", self.c.proxy_port
            for name, path in test_zvmd.PROGRAMS.items():
                self.put("bin/" + name, open(path, "rb").read())
        except BaseException:
            self.session.__exit__(*sys.exc_info())
            raise
        self.pids = [self.c.zvmd_pid(z.index) for z in self.c.zvmds]
        self.http_addrs = {"127.0.0.1:%d" % self.c.proxy_port} | {
            z.addr for z in self.c.zvmds}
        return self

    def __exit__(self, *exc):
        return self.session.__exit__(*exc)

    def idle(self):
        """No slot used or job queued on any zvmd, and no request from the
        proxy open (a coordinator takes no slot for remote instances)."""
        for pid in self.pids:
            if any(" -> 127.0.0.1:" in d
                   for d in fds(pid, self.http_addrs)[2]):
                return False
        for z in self.c.zvmds:
            status, _, body = cluster_client.request(z.url, "GET",
                                                     "/metrics")
            check(status == 200, "GET %s/metrics: %d" % (z.url, status))
            m = dict(line.rsplit(" ", 1) for line in body.decode()
                     .splitlines() if line and not line.startswith("#"))
            if float(m["zvmd_slots_used"]) or float(m["zvmd_queue_depth"]):
                return False
        return True

    def leftovers(self):
        """Spool files, temp files in zvmd's roots, and object server
        temp files (an output PUT cut short leaves one behind)."""
        found = []
        for z in self.c.zvmds:
            found += cluster_client.files_under(z.spool)
            found += test_zvmd.tmp_files(z.root)
            for dev in os.listdir(z.devices):
                found += cluster_client.files_under(
                    os.path.join(z.devices, dev, "tmp"))
        return found

    def stop(self):
        """SIGTERM every zvmd; [(name, exit status, log)]."""
        out = []
        for z in self.c.zvmds:
            status = self.c.zvmd_stop(z.index)
            with open(self.c.log_path(z.name), errors="replace") as f:
                out.append((z.name, status, f.read()))
        return out


def request(t, method, path, body=None, headers=None, timeout=120):
    h = dict(headers or {})
    if t.token:
        h["X-Auth-Token"] = t.token
    c = http.client.HTTPConnection(t.host, t.port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        return r.status, r.headers, r.read()
    finally:
        c.close()


# ------------------------------------------------------------ the load

class Load:
    def __init__(self, t, books):
        self.t = t
        self.wordcount = json.load(open(WORDCOUNT))
        self.want = collections.Counter()
        for text in books.values():
            self.want.update(words(text))
        self.counts = collections.Counter()
        self.unexpected = []
        self.lock = threading.Lock()
        self.serial = itertools.count()

    def job(self, job):
        body = job if isinstance(job, str) else json.dumps(job)
        return request(self.t, "POST", "/v1/" + self.t.account, body,
                       JOB_HEADERS)

    def expect(self, kind, variant, ok, what):
        with self.lock:
            self.counts[kind] += 1
            self.counts[kind, variant] += 1
            if not ok:
                self.unexpected.append("%s/%s: %s" % (kind, variant, what))

    def small(self, rnd):
        s, _, body = self.job([group("hello", "hello")])
        self.expect("small", "hello", s == 200 and body == b"hello, world\n",
                    "%d %r" % (s, body[:200]))

    def mapreduce(self, rnd):
        s, h, body = self.job(self.wordcount)
        got = collections.Counter()
        for line in body.splitlines() if s == 200 else []:
            w, n = line.split()
            got[w] += int(n)
        self.expect("mapreduce", "wordcount", s == 200 and got == self.want,
                    "%d %r %r: missing %r, extra %r" % (
                        s, {k: v for k, v in h.items() if "Nexe" in k},
                        body[:200], list((self.want - got).items())[:5],
                        list((got - self.want).items())[:5]))

    def failing(self, rnd):
        which = rnd.choice(("exit 3", "object", "missing", "bad JSON"))
        if which == "exit 3":
            s, _, body = self.job([group("fail", "exitcode", "3 oops")])
            ok = s == 500 and body == b"oops\n"
        elif which == "object":
            # A failed instance's output object is never committed: the
            # container stays empty (checked at the end).
            s, _, body = self.job([group("fail", "exitcode", "3 oops", [
                {"name": "stdout", "path": "swift://~/%s/%d" % (
                    FAILED_CONTAINER, next(self.serial))}])])
            ok = s == 500
        elif which == "missing":
            s, _, body = self.job([group("x", "no-such-program")])
            ok = s == 404
        else:
            s, _, body = self.job("[{\"name\": ")
            ok = s in (400, 422)
        self.expect("failing", which, ok, "%d %r" % (s, body[:200]))

    def raw_job(self, job, headers=None):
        """A connected socket that has sent job; the caller hangs up."""
        body = json.dumps(job).encode()
        h = dict(JOB_HEADERS, **(headers or {}))
        if self.t.token:
            h["X-Auth-Token"] = self.t.token
        head = ("POST /v1/%s HTTP/1.1\r\nHost: soak\r\n" % self.t.account +
                "".join("%s: %s\r\n" % kv for kv in h.items()) +
                "Content-Length: %d\r\n\r\n" % len(body)).encode()
        s = socket.create_connection((self.t.host, self.t.port), timeout=120)
        s.sendall(head + body)
        return s

    def disconnect(self, rnd):
        """Hang up mid-job. Behind a proxy a hang-up is noticed when the
        proxy writes to the client: a job that says nothing more (spin)
        would run until instance_timeout, so spin is for a direct zvmd."""
        which = rnd.choice(("early", "stream") +
                           (("spin",) if self.t.direct else ()))
        what = ""
        if which == "early":
            s = self.raw_job(self.wordcount)
        elif which == "spin":
            s = self.raw_job([group("spin", "spin")])
        else:
            # 256 MiB streamed: the instance is still writing when the
            # client goes; read the status line and the first bytes.
            s = self.raw_job([group("big", "bigout", str(256 << 20))],
                             {"X-Zerovm-Stream": "1"})
        try:
            if which == "stream":
                got = b""
                while b"\r\n\r\n" not in got or got.endswith(b"\r\n\r\n"):
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += chunk
                if not got.startswith(b"HTTP/1.1 200"):
                    what = "answer %r" % got[:300]
            time.sleep(rnd.uniform(0, 0.3))
        finally:
            s.close()
        self.expect("disconnect", which, not what, what)

    KINDS = (("small", 4), ("mapreduce", 2), ("failing", 2),
             ("disconnect", 2))

    def client(self, deadline, seed):
        rnd = random.Random(seed)
        kinds = [k for k, w in self.KINDS for _ in range(w)
                 if k in self.only]
        while time.monotonic() < deadline:
            kind = rnd.choice(kinds)
            try:
                getattr(self, kind)(rnd)
            except (OSError, http.client.HTTPException, ValueError) as e:
                self.expect(kind, "exception", False,
                            "%s: %s" % (type(e).__name__, e))

    def run(self, clients, seconds, seed=0):
        deadline = time.monotonic() + seconds
        ts = [threading.Thread(target=self.client,
                               args=(deadline, seed * 1000 + i))
              for i in range(clients)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()


# ---------------------------------------------------------- the checks

def fds(pid, http_addrs=()):
    """(open fds, of which libcurl's cached connections, what the others
    are): connections of this zvmd to http_addrs ("ip:port" of the proxy
    and of every zvmd's HTTP listener) that libcurl keeps for reuse
    (ESTABLISHED, or CLOSE_WAIT until curl looks again; at most
    CURL_CACHE) come and go with the load, and so do connections other
    zvmds keep to this one's listener; every other fd (files, pipes,
    pidfds, edge sockets, listeners, requests from the proxy...) must be
    back. Fds zvmd holds for its own forks (the namespace holder, parked
    prewarm children: their pidfds and the pipes they share) are left out,
    like the forks themselves. Sockets are named without their inode."""
    total, cached, others = 0, 0, []
    held = {fd for fd, _ in cluster_client.ZvmdClusterCase.holder_fds(pid)}
    for fd, what in cluster_client.fd_table(pid).items():
        total += 1
        if fd in held:
            continue
        m = re.match(r"socket:\[\d+\] (\S+) -> (\S+) (\w+)$", what)
        if m and m.group(2) in http_addrs and m.group(3) in (
                "ESTABLISHED", "CLOSE_WAIT"):
            cached += 1
        elif not (m and m.group(1) in http_addrs and
                  m.group(2).split(":")[0] in ZVMD_IPS and
                  m.group(3) == "ESTABLISHED"):
            others.append(re.sub(r"\[\d+\]", "", what))
    return total, cached, sorted(others)


def processes(pid):
    """(sandboxes, kept) below zvmd pid: kept are zvmd's own forks (same
    executable: its namespace holder) and parked prewarm children (comm
    "zvm-parked"), which live as long as zvmd; anything else is a sandbox
    and must be gone when zvmd is idle."""
    exe = os.readlink("/proc/%d/exe" % pid)
    sandboxes, kept = [], []
    for p in descendants(pid):
        try:
            with open("/proc/%d/comm" % p) as f:
                comm = f.read().strip()
            own = comm == "zvm-parked" or os.readlink(
                "/proc/%d/exe" % p) == exe
        except OSError:
            continue  # gone meanwhile
        (kept if own else sandboxes).append(p)
    return sandboxes, kept


def rss_kib(pid):
    """(VmRSS, RssAnon, RssFile) in KiB."""
    with open("/proc/%d/status" % pid) as f:
        text = f.read()
    return tuple(int(re.search(r"%s:\s+(\d+) kB" % k, text).group(1))
                 for k in ("VmRSS", "RssAnon", "RssFile"))


def under_asan(pid):
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


def snapshot(t):
    return {pid: (fds(pid, t.http_addrs), processes(pid), rss_kib(pid))
            for pid in t.pids}


def settle(t, base):
    """Wait until the target is idle and every watched process has its
    baseline fds (but libcurl's cache) and no sandbox again (killed
    sandboxes take a moment); the seconds it took."""
    def back():
        return t.idle() and all(
            fds(pid, t.http_addrs)[2] == base[pid][0][2] and
            processes(pid)[0] == base[pid][1][0] for pid in t.pids)
    start = time.monotonic()
    try:
        wait_for(back, "zvmd to settle", timeout=120)
    except Failure:
        pass  # reported by the comparison below
    return time.monotonic() - start


def quiet(t):
    """A snapshot once the target is idle and the watched processes' fds
    (but libcurl's cache) and sandboxes stayed the same for 3 s, and the
    seconds that took."""
    def state():
        return {pid: (fds(pid, t.http_addrs)[2], processes(pid)[0])
                for pid in t.pids}
    last, since = None, time.monotonic()
    start, deadline = since, since + 120
    while time.monotonic() < deadline:
        now = state() if t.idle() else None
        if now != last:
            last, since = now, time.monotonic()
        elif now is not None and time.monotonic() - since >= 3:
            break
        time.sleep(0.25)
    return snapshot(t), time.monotonic() - start


class RssCurve:
    """Each watched process's RSS (KiB) once a minute while the load runs:
    whether memory levels off or keeps climbing."""

    def __init__(self, pids):
        self.points = {pid: [] for pid in pids}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run)
        self.thread.start()

    def run(self):
        while not self.done.wait(60):
            for pid, points in self.points.items():
                points.append(rss_kib(pid)[0])

    def stop(self):
        self.done.set()
        self.thread.join()


def loadavg():
    return "%.1f %.1f %.1f" % os.getloadavg()


def soak(t, args):
    books = {}
    for n in sorted(os.listdir(test_zvmd.BOOKS)):
        books[n] = open(os.path.join(test_zvmd.BOOKS, n), "rb").read()
        t.put("books/" + n, books[n])
    t.mkdir(FAILED_CONTAINER)
    load = Load(t, books)
    load.only = args.kinds.split(",")
    # Warm-up: every kind a few times, so that caches, pools and the
    # allocator have reached their working size before the baseline.
    load.run(args.clients, 20, seed=1)
    check(not load.unexpected, "warm-up: %s" % load.unexpected[:5])
    base, quiet_s = quiet(t)
    load_start = loadavg()
    t0 = time.monotonic()
    curve = RssCurve(t.pids)
    load.run(args.clients, args.minutes * 60, seed=2)
    curve.stop()
    secs = time.monotonic() - t0
    load_end = loadavg()
    settle_s = settle(t, base)
    end = snapshot(t)

    rows, failures = [], list(load.unexpected[:10])
    total = sum(v for k, v in load.counts.items() if isinstance(k, str))
    rows.append(("requests (incl. warm-up)", str(total)))
    for kind, _ in Load.KINDS:
        variants = sorted((k[1], v) for k, v in load.counts.items()
                          if isinstance(k, tuple) and k[0] == kind)
        rows.append(("  " + kind, "%d (%s)" % (load.counts[kind], ", ".join(
            "%s %d" % kv for kv in variants))))
    rows.append(("unexpected answers", str(len(load.unexpected))))
    rows.append(("idle after warm-up / load", "%.0f s / %.0f s" % (
        quiet_s, settle_s)))
    for pid in t.pids:
        ((f0, c0, o0), (s0, k0), (r0, a0, m0)), \
            ((f1, c1, o1), (s1, k1), (r1, a1, m1)) = base[pid], end[pid]
        asan = under_asan(pid)
        growth = (r1 - r0) / r0 * 100
        rows.append(("zvmd %d fds start/end" % pid,
                     "%d / %d (of which libcurl's cached connections %d / %d)" % (
                         f0, f1, c0, c1)))
        rows.append(("zvmd %d sandboxes start/end" % pid,
                     "%d / %d (kept: holder + parked %d / %d)" % (
                         len(s0), len(s1), len(k0), len(k1))))
        rows.append(("zvmd %d RSS KiB each minute" % pid,
                     " ".join(str(r) for r in curve.points[pid])))
        rows.append(("zvmd %d RSS KiB start/end" % pid,
                     "%d / %d (%+.1f %%; anon %d / %d, file %d / %d)%s" % (
                         r0, r1, growth, a0, a1, m0, m1,
                         " asan: not checked" if asan else "")))
        if o1 != o0:
            failures.append("zvmd %d: fds (but libcurl's cache) gained %r, "
                            "lost %r" % (pid, sorted((
                                collections.Counter(o1) -
                                collections.Counter(o0)).elements()),
                                sorted((collections.Counter(o0) -
                                        collections.Counter(o1)).elements())))
        if c1 > cluster_client.CURL_CACHE:
            failures.append("zvmd %d: %d cached libcurl connections at "
                            "the end"
                            % (pid, c1))
        if s1 != s0:
            failures.append("zvmd %d: sandboxes %r at the end, %r at the "
                            "start" % (pid, s1, s0))
        if not asan and abs(growth) > 10:
            failures.append("zvmd %d: RSS %+.1f %%" % (pid, growth))
    left = t.leftovers()
    if left:
        failures.append("left behind: %r" % left[:10])
    partial = t.objects(FAILED_CONTAINER)
    rows.append(("objects of failed jobs", str(len(partial))))
    if partial:
        failures.append("objects of failed jobs: %r" % partial[:10])
    for name, status, log in t.stop():
        reports = sanitizer_reports(log)
        rows.append(("%s SIGTERM exit" % name, "%s, %d sanitizer lines" % (
            status, len(reports))))
        if status != 0 or reports:
            failures.append("%s exited %s on SIGTERM; sanitizer: %r" % (
                name, status, reports[:5]))
    rows.append(("load average start / end", "%s / %s" % (load_start,
                                                          load_end)))
    print("soak: %.1f min, %d clients, target %s:%d" % (
        secs / 60, args.clients, t.host, t.port))
    width = max(len(r[0]) for r in rows)
    for k, v in rows:
        print("  %-*s  %s" % (width, k, v))
    sys.stdout.flush()
    check(not failures, "; ".join(failures))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--kinds", default=",".join(k for k, _ in Load.KINDS),
                    help="the job kinds to mix (comma-separated)")
    ap.add_argument("--cluster", action="store_true",
                    help="start the loopback Swift cluster with a zvmd "
                    "per node and soak it through the proxy")
    ap.add_argument("--pool-size", type=int, default=4,
                    help="instance slots per zvmd (with --cluster)")
    ap.add_argument("--queue-length", type=int, default=64,
                    help="queued jobs per zvmd (with --cluster)")
    ap.add_argument("--url", help="an existing endpoint instead of a "
                    "zvmd of our own")
    ap.add_argument("--account", default="acct")
    ap.add_argument("--token")
    ap.add_argument("--pid", type=int, action="append", default=[],
                    help="a zvmd process to check (with --url)")
    args = ap.parse_args()
    if args.cluster:
        cluster.enter_namespace()
        target = ClusterTarget(args.pool_size, args.queue_length)
    elif args.url:
        target = RemoteTarget(args.url, args.account, args.token, args.pid)
    else:
        target = LocalTarget()
    try:
        with target as t:
            soak(t, args)
    except Failure as e:
        print("FAIL soak: %s" % e)
        sys.exit(1)
    print("ok soak")


if __name__ == "__main__":
    main()
