#!/usr/bin/python3
"""Soak test of zvmd (issue #8; suite 'bench', not run by default).

A mixed load for --minutes (default 10) from --clients threads:
  small       hello                       -> 200 "hello, world"
  mapreduce   the demo wordcount          -> 200, exact word counts
  failing     exit 3 / missing program / bad JSON -> 500 / 404 / 400|422
  disconnect  a spin job whose client hangs up after 0-300 ms
then checks that nothing leaked or grew:
  - zero unexpected answers (any status or body not listed above),
  - zvmd's open fds and child processes back to their count after warm-up,
  - zvmd's RSS at the end within 10 % of the RSS after warm-up (skipped when
    zvmd runs under ASan, whose quarantine holds freed memory on purpose),
  - local target: no temp file in the store, an empty spool, and a clean
    SIGTERM exit (status 0: under ASan, LeakSanitizer found no leak).

Targets:
  (default)  a zvmd started here over a temp store ($ZVMD, programs from
             $ZVMD_PROG_*, texts from $ZVMD_BOOKS, as in tests/daemon)
  --url URL  an existing endpoint (a proxy with the zerovm filter, or a
             zvmd); --account/--token say who runs jobs, objects are
             uploaded with PUTs; --pid PID (repeatable) names the zvmd
             processes whose fds/children/RSS are checked.

  ZVMD=build/daemon/zvmd ... tests/bench/soak.py --minutes 2
Results: tests/bench/RESULTS.md ("Soak").
"""
import argparse
import collections
import http.client
import json
import os
import random
import re
import socket
import sys
import threading
import time
import types
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "daemon"))
from harness import Failure, check, fd_count, wait_for  # noqa: E402
import test_zvmd  # noqa: E402
from test_zvmd import Daemon, group, words  # noqa: E402

WORDCOUNT = os.path.join(HERE, "..", "..", "deploy", "demo", "wordcount.json")
JOB_HEADERS = {"X-Zerovm-Execute": "1.0", "Content-Type": "application/json"}


# ------------------------------------------------------------- targets

class LocalTarget:
    """A zvmd of our own (tests/daemon's Daemon) on a temp store."""

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

    def idle(self):
        m = self.d.metrics()
        return m["zvmd_slots_used"] == 0 and m["zvmd_queue_depth"] == 0

    def leftovers(self):
        return test_zvmd.tmp_files(self.d.root) + os.listdir(self.d.spool)


class RemoteTarget:
    """An endpoint someone else runs (e.g. the loopback Swift cluster)."""

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

    def put(self, name, data):
        container = name.split("/")[0]
        for path, body in (("/v1/%s/%s" % (self.account, container), b""),
                           ("/v1/%s/%s" % (self.account, name), data)):
            status, _, text = request(self, "PUT", path, body)
            check(status in (201, 202), "PUT %s: %d %r" % (path, status,
                                                           text[:200]))

    def idle(self):
        return True

    def leftovers(self):
        return []


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

    def job(self, job):
        body = job if isinstance(job, str) else json.dumps(job)
        return request(self.t, "POST", "/v1/" + self.t.account, body,
                       JOB_HEADERS)

    def expect(self, kind, ok, what):
        with self.lock:
            self.counts[kind] += 1
            if not ok:
                self.unexpected.append("%s: %s" % (kind, what))

    def small(self):
        s, _, body = self.job([group("hello", "hello")])
        self.expect("small", s == 200 and body == b"hello, world\n",
                    "%d %r" % (s, body[:200]))

    def mapreduce(self):
        s, h, body = self.job(self.wordcount)
        got = collections.Counter()
        for line in body.splitlines() if s == 200 else []:
            w, n = line.split()
            got[w] += int(n)
        self.expect("mapreduce", s == 200 and got == self.want,
                    "%d %r: missing %r, extra %r" % (
                        s, {k: v for k, v in h.items() if "Nexe" in k},
                        list((self.want - got).items())[:5],
                        list((got - self.want).items())[:5]))

    def failing(self):
        which = random.randrange(3)
        if which == 0:
            s, _, body = self.job([group("fail", "exitcode", "3 oops")])
            ok = s == 500 and body == b"oops\n"
        elif which == 1:
            s, _, body = self.job([group("x", "no-such-program")])
            ok = s == 404
        else:
            s, _, body = self.job("[{\"name\": ")
            ok = s in (400, 422)
        self.expect("failing", ok, "case %d: %d %r" % (which, s, body[:200]))

    def disconnect(self):
        body = json.dumps([group("spin", "spin")]).encode()
        head = ("POST /v1/%s HTTP/1.1\r\nHost: soak\r\n" % self.t.account +
                "".join("%s: %s\r\n" % kv for kv in JOB_HEADERS.items()) +
                ("X-Auth-Token: %s\r\n" % self.t.token if self.t.token
                 else "") +
                "Content-Length: %d\r\n\r\n" % len(body)).encode()
        s = socket.create_connection((self.t.host, self.t.port))
        try:
            s.sendall(head + body)
            time.sleep(random.uniform(0, 0.3))
        finally:
            s.close()
        self.expect("disconnect", True, "")

    KINDS = (("small", 4), ("mapreduce", 2), ("failing", 2),
             ("disconnect", 2))

    def client(self, deadline, seed):
        rnd = random.Random(seed)
        kinds = [k for k, w in self.KINDS for _ in range(w)
                 if k in self.only]
        while time.monotonic() < deadline:
            kind = rnd.choice(kinds)
            try:
                getattr(self, kind)()
            except (OSError, http.client.HTTPException, ValueError) as e:
                self.expect(kind, False, "%s: %s" % (type(e).__name__, e))

    def run(self, clients, seconds):
        deadline = time.monotonic() + seconds
        ts = [threading.Thread(target=self.client, args=(deadline, i))
              for i in range(clients)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()


# ---------------------------------------------------------- the checks

def children(pid):
    return Daemon.descendants(types.SimpleNamespace(
        proc=types.SimpleNamespace(pid=pid)))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))


def under_asan(pid):
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


def snapshot(t):
    return {pid: (fd_count(pid), children(pid), rss_kib(pid)) for pid in t.pids}


def settle(t, base):
    """Wait until the target is idle and every watched process has its
    baseline fds and children again (killed sandboxes take a moment)."""
    def back():
        return t.idle() and all(
            fd_count(pid) == base[pid][0] and children(pid) == base[pid][1]
            for pid in t.pids)
    try:
        wait_for(back, "zvmd to settle", timeout=60)
    except Failure:
        pass  # reported by the comparison below


def soak(t, args):
    books = {}
    for n in sorted(os.listdir(test_zvmd.BOOKS)):
        books[n] = open(os.path.join(test_zvmd.BOOKS, n), "rb").read()
        t.put("books/" + n, books[n])
    load = Load(t, books)
    load.only = args.kinds.split(",")
    # Warm-up: every kind a few times, so that caches, pools and the
    # allocator have reached their working size before the baseline.
    load.run(args.clients, 20)
    check(not load.unexpected, "warm-up: %s" % load.unexpected[:5])
    time.sleep(1)
    settle(t, snapshot(t))
    base = snapshot(t)
    t0 = time.monotonic()
    load.run(args.clients, args.minutes * 60)
    secs = time.monotonic() - t0
    settle(t, base)
    end = snapshot(t)

    rows, failures = [], list(load.unexpected[:10])
    total = sum(load.counts.values())
    rows.append(("requests (incl. warm-up)", str(total)))
    for kind, _ in Load.KINDS:
        rows.append(("  " + kind, str(load.counts[kind])))
    rows.append(("unexpected answers", str(len(load.unexpected))))
    for pid in t.pids:
        (f0, c0, r0), (f1, c1, r1) = base[pid], end[pid]
        asan = under_asan(pid)
        growth = (r1 - r0) / r0 * 100
        rows.append(("zvmd %d fds start/end" % pid, "%d / %d" % (f0, f1)))
        rows.append(("zvmd %d children start/end" % pid,
                     "%d / %d" % (len(c0), len(c1))))
        rows.append(("zvmd %d RSS KiB start/end" % pid, "%d / %d (%+.1f %%)%s"
                     % (r0, r1, growth, " asan: not checked" if asan else "")))
        if f1 != f0:
            failures.append("zvmd %d: %d fds at the end, %d at the start"
                            % (pid, f1, f0))
        if c1 != c0:
            failures.append("zvmd %d: children %r at the end, %r at the "
                            "start" % (pid, c1, c0))
        if not asan and abs(growth) > 10:
            failures.append("zvmd %d: RSS %+.1f %%" % (pid, growth))
    left = t.leftovers()
    if left:
        failures.append("left behind: %r" % left[:10])
    print("soak: %.1f min, %d clients, target %s:%d" % (
        secs / 60, args.clients, t.host, t.port))
    width = max(len(r[0]) for r in rows)
    for k, v in rows:
        print("  %-*s  %s" % (width, k, v))
    check(not failures, "; ".join(failures))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--kinds", default=",".join(k for k, _ in Load.KINDS),
                    help="the job kinds to mix (comma-separated)")
    ap.add_argument("--url", help="an existing endpoint instead of a "
                    "zvmd of our own")
    ap.add_argument("--account", default="acct")
    ap.add_argument("--token")
    ap.add_argument("--pid", type=int, action="append", default=[],
                    help="a zvmd process to check (with --url)")
    args = ap.parse_args()
    target = (RemoteTarget(args.url, args.account, args.token, args.pid)
              if args.url else LocalTarget())
    try:
        with target as t:
            soak(t, args)
    except Failure as e:
        print("FAIL soak: %s" % e)
        sys.exit(1)
    print("ok soak")


if __name__ == "__main__":
    main()
