#!/usr/bin/python3
"""Functional tests of zvmd: a real daemon on a free loopback port over a
temp store, real HTTP. One case per run: test_zvmd.py CASE.

Environment (set by meson): ZVMD (the binary), ZVMD_PROG_<NAME> (static
test programs), ZVMD_BOOKS (the demo's sample texts).
"""
import collections
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (  # noqa: E402,F401
    PARKED_NAME, Failure, check, descendants, group, nondeterminism, parked,
    wait_for)

ZVMD = os.environ["ZVMD"]
BOOKS = os.environ["ZVMD_BOOKS"]
PROGRAMS = {k[len("ZVMD_PROG_"):].lower(): v for k, v in os.environ.items()
            if k.startswith("ZVMD_PROG_")}
ACCT = "acct"





class Daemon:
    """zvmd over a temp store; always stopped and cleaned by __exit__."""

    preexec = None  # run in the child before zvmd starts (e.g. rlimits)
    expected_exit = 0  # a case that kills zvmd says how

    def __init__(self, spool_size=None, **conf):
        self.spool_size = spool_size
        self.tmp = tempfile.mkdtemp(prefix="zvmd-test-")
        self.root = os.path.join(self.tmp, "store")
        self.spool = os.path.join(self.tmp, "spool")
        os.makedirs(os.path.join(self.root, ACCT, "bin"))
        os.makedirs(self.spool)
        for name, path in PROGRAMS.items():
            shutil.copy(path, os.path.join(self.root, ACCT, "bin", name))
        settings = {"listen": "127.0.0.1:0", "root": self.root,
                    "spool": self.spool, "instance_timeout": "30",
                    "queue_length": "200"}
        settings.update({k: str(v) for k, v in conf.items()})
        self.conf = os.path.join(self.tmp, "zvmd.conf")
        self.write_conf(settings)
        self.port_file = os.path.join(self.tmp, "port")
        self.log = open(os.path.join(self.tmp, "zvmd.log"), "w+")
        self.proc = None
        self.port = None

    def write_conf(self, settings):
        with open(self.conf, "w") as f:
            f.write("[zvmd]\n")
            for k, v in settings.items():
                f.write("%s = %s\n" % (k, v))

    def __enter__(self):
        cmd = [ZVMD, "-c", self.conf, "--port-file", self.port_file]
        if self.spool_size:
            # A small spool of its own: a tmpfs in zvmd's own mount
            # namespace (the host sees the empty directory).
            cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                   'mount -t tmpfs -o size="$1" zvmd-spool "$2" && '
                   'shift 2 && exec "$@"', "sh", self.spool_size,
                   self.spool] + cmd
        self.proc = subprocess.Popen(
            cmd, stdout=self.log, stderr=self.log, preexec_fn=self.preexec)
        wait_for(lambda: os.path.exists(self.port_file) or
                 self.proc.poll() is not None, "zvmd to listen")
        check(self.proc.poll() is None, "zvmd exited at start")
        self.port = int(open(self.port_file).read())
        return self

    def __exit__(self, exc_type, exc, tb):
        spare = []
        if self.proc.poll() is None:
            spare = parked(self.proc.pid)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # A clean drain exits 0 (and under ASan, without leaks).
        if exc_type is None and self.proc.returncode != self.expected_exit:
            exc_type = Failure
            exc = Failure("zvmd exited with %d" % self.proc.returncode)
        # ... and reaps its parked child first (sandbox_prewarm_drop).
        if exc_type is None and [p for p in spare if alive(p)]:
            exc_type = Failure
            exc = Failure("parked children outlived zvmd: %r" % spare)
        if exc_type is not None:
            self.log.seek(0)
            sys.stderr.write("--- zvmd log ---\n" + self.log.read()[-4000:])
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        if exc is not None and tb is None:
            raise exc
        return False

    def put(self, name, data):
        path = os.path.join(self.root, ACCT, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())

    def mkdir(self, container):
        os.makedirs(os.path.join(self.root, ACCT, container), exist_ok=True)

    def path(self, name):
        return os.path.join(self.root, ACCT, name)

    def conn(self, timeout=120):
        return http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)

    def request(self, method, url, body=None, headers=None):
        c = self.conn()
        try:
            c.request(method, url, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, r.headers, r.read()
        finally:
            c.close()

    def job(self, job, headers=None, account=ACCT):
        body = job if isinstance(job, (bytes, str)) else json.dumps(job)
        h = {"X-Zerovm-Execute": "1.0", "Content-Type": "application/json"}
        h.update(headers or {})
        return self.request("POST", "/v1/" + account, body, h)

    def metrics(self):
        status, _, body = self.request("GET", "/metrics")
        check(status == 200, "GET /metrics: %d" % status)
        out = {}
        for line in body.decode().splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
        return out

    def descendants(self):
        """Pids of every process below zvmd."""
        return descendants(self.proc.pid)

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            m = re.search(r"VmRSS:\s+(\d+) kB", f.read())
        return int(m.group(1))


def alive(pid):
    """pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return {k: v.strip() for k, v in
                (line.split(":", 1) for line in f.read().splitlines())}


def fd_links(pid):
    d = "/proc/%d/fd" % pid
    return {int(n): os.readlink(os.path.join(d, n)) for n in os.listdir(d)}


def nexe(headers, name):
    return headers.get("X-Nexe-" + name, "").split(",")


def words(text):
    return re.findall(rb"[a-z]+", text.lower())


def tmp_files(d):
    found = []
    for dirpath, _, files in os.walk(d):
        found += [os.path.join(dirpath, f) for f in files
                  if f.startswith(".tmp")]
    return found

# ------------------------------------------------------------------ cases


def case_hello(d):
    status, h, body = d.job([group("hello", "hello")])
    check(status == 200, "status %d: %r" % (status, body))
    check(body == b"hello, world\n", "body %r" % body)
    check(nexe(h, "System") == ["hello"], "system %r" % h["X-Nexe-System"])
    check(nexe(h, "Status") == ["ok"], "status %r" % h["X-Nexe-Status"])
    check(nexe(h, "Retcode") == ["0"], "retcode %r" % h["X-Nexe-Retcode"])
    check(nexe(h, "Validation") == [nondeterminism()], "validation %r" %
          h["X-Nexe-Validation"])
    check(len(h["X-Nexe-Cdr-Line"].split(", ")) == 3, "cdr line %r" %
          h["X-Nexe-Cdr-Line"])
    # A program object without the execute bit runs all the same.
    shutil.copy(PROGRAMS["exitcode"], d.path("bin/noexec"))
    os.chmod(d.path("bin/noexec"), 0o644)
    status, h, body = d.job([group("x", "noexec", "0 ran")])
    check(status == 200 and body == b"ran\n", "mode 0644 program: %d %r %r"
          % (status, body, h.get("X-Nexe-Status")))
    # An undeclared stdout is /dev/null.
    status, h, body = d.job([group("hello", "hello", devices=[])])
    check(status == 200 and body == b"", "undeclared stdout: %d %r" %
          (status, body))


def case_stdin_object(d):
    data = b"".join(b"line %d of the input object\n" % i for i in range(5000))
    d.put("data/in.txt", data)
    status, _, body = d.job([group("cat", "cat", devices=[
        {"name": "stdin", "path": "swift://~/data/in.txt"},
        {"name": "stdout"}])])
    check(status == 200, "status %d: %r" % (status, body[:200]))
    check(body == data, "body differs (%d bytes, want %d)" %
          (len(body), len(data)))


def case_wildcard(d):
    names = ["a.txt", "b.txt", "c.txt", "skip.dat"]
    for n in names:
        d.put("docs/" + n, "text of %s\n" % n)
    status, h, body = d.job([group("up", "upcase", devices=[
        {"name": "stdin", "path": "swift://~/docs/*.txt"},
        {"name": "stdout"}])])
    check(status == 200, "status %d: %r" % (status, body))
    check(nexe(h, "System") == ["up-1", "up-2", "up-3"],
          "system %r" % h["X-Nexe-System"])
    check(body == b"TEXT OF A.TXT\nTEXT OF B.TXT\nTEXT OF C.TXT\n",
          "body %r" % body)


def case_wordcount(d):
    texts = {}
    for n in sorted(os.listdir(BOOKS)):
        texts[n] = open(os.path.join(BOOKS, n), "rb").read()
        d.put("books/" + n, texts[n])
    job = json.load(open(os.path.join(os.path.dirname(BOOKS), "..", "..",
                                      "wordcount.json")))
    status, h, body = d.job(job)
    check(status == 200, "status %d: %r %r" % (status, body, dict(h)))
    maps = ["map-%d" % (i + 1) for i in range(len(texts))]
    check(nexe(h, "System") == maps + ["reduce-1", "reduce-2"],
          "system %r" % h["X-Nexe-System"])
    got = collections.Counter()
    for line in body.splitlines():
        w, n = line.split()
        check(w not in got, "word %r counted by two reducers" % w)
        got[w] = int(n)
    want = collections.Counter()
    for t in texts.values():
        want.update(words(t))
    check(got == want, "counts differ: %r" %
          set((got - want) + (want - got)))


def case_wordcount_big(d):
    """More mappers than slots, each sending more than a pipe holds to
    each reducer: everything runs together, nothing deadlocks."""
    texts = {}
    for i in range(6):
        ws = ["w%s" % "".join(chr(97 + (n >> s) % 26) for s in (0, 5, 10, 15))
              for n in range(i * 7000, i * 7000 + 60000)]
        texts[i] = (" ".join(ws) + "\n").encode()
        d.put("big/t%d.txt" % i, texts[i])
    status, h, body = d.job([
        group("map", "wc_map", "reduce", devices=[
            {"name": "stdin", "path": "swift://~/big/*.txt"}],
            connect=["reduce"]),
        group("reduce", "wc_reduce", count=3)])
    check(status == 200, "status %d: %r" % (status, h.get("X-Nexe-Status")))
    got = collections.Counter()
    for line in body.splitlines():
        w, n = line.split()
        got[w] += int(n)
    want = collections.Counter()
    for t in texts.values():
        want.update(words(t))
    check(got == want, "counts differ (%d vs %d words)" % (len(got),
                                                          len(want)))


def case_output_objects(d):
    for n in ["x.txt", "y.txt"]:
        d.put("in/" + n, "content of %s\n" % n)
    s, _, body = d.job([group("up", "upcase", devices=[
        {"name": "stdin", "path": "swift://~/in/x.txt"},
        {"name": "stdout", "path": "swift://~/out/x.up"}])])
    check(s == 404 and b"acct/out" in body, "missing container: %d %r" %
          (s, body))
    d.mkdir("out")
    status, h, body = d.job([group("up", "upcase", devices=[
        {"name": "stdin", "path": "swift://~/in/*.txt"},
        {"name": "stdout", "path": "swift://~/out/*.up",
         "content_type": "text/x-upper", "meta": {"origin": "test"}}])])
    check(status == 200, "status %d: %r" % (status, body))
    outs = sorted(f for f in os.listdir(d.path("out")) if f[0] != ".")
    check(len(outs) == 2, "outputs %r" % outs)
    for f in outs:
        data = open(d.path("out/" + f), "rb").read()
        md5 = hashlib.md5(data).hexdigest()
        check(md5 in h["X-Nexe-Etag"], "etag %r" % h["X-Nexe-Etag"])
        check(data.startswith(b"CONTENT OF "), "object %s: %r" % (f, data))
        meta = json.load(open(d.path("out/.%s.meta.json" % f)))
        check(meta["content_type"] == "text/x-upper", "meta %r" % meta)
        check(meta["meta"] == {"origin": "test"}, "meta %r" % meta)
        check(meta["size"] == len(data), "meta size %r" % meta)
        check(meta["etag"] == md5, "meta etag %r" % meta)
    # An output over a directory is a bad job (400), refused before running.
    os.mkdir(d.path("out/adir"))
    status, _, body = d.job([group("up", "upcase", devices=[
        {"name": "stdin", "path": "swift://~/in/x.txt"},
        {"name": "stdout", "path": "swift://~/out/adir"}])])
    check(status == 400 and b"out/adir" in body and b"directory" in body,
          "output over a directory: %d %r" % (status, body))
    check(os.path.isdir(d.path("out/adir")), "the directory survives")
    # A failing instance leaves no object and no temp file.
    status, _, body = d.job([group("bad", "exitcode", "3 partial", devices=[
        {"name": "stdout", "path": "swift://~/out/failed.txt"}])])
    check(status == 500, "failing job: status %d" % status)
    check(not os.path.exists(d.path("out/failed.txt")), "partial object")
    check(tmp_files(d.root) == [], "temp files left: %r" % tmp_files(d.root))


def case_errors(d):
    s, _, body = d.request("GET", "/v1/acct", headers={
        "X-Zerovm-Execute": "1.0"})
    check(s == 501, "GET with X-Zerovm-Execute: %d" % s)
    s, _, body = d.job("this is not json")
    check(s == 422, "not JSON: %d %r" % (s, body))
    check(body.strip(), "422 has a message")
    s, _, body = d.job([{"name": "g"}])
    check(s == 400, "group without exec: %d %r" % (s, body))
    check(b"exec" in body, "400 message names the field: %r" % body)
    s, _, body = d.job([group("x", "no-such-program")])
    check(s == 404, "missing program: %d %r" % (s, body))
    check(b"no-such-program" in body, "404 names the object: %r" % body)
    s, _, body = d.job([group("x", "cat", devices=[
        {"name": "stdin", "path": "swift://~/nothing/here.txt"}])])
    check(s == 404, "missing input: %d %r" % (s, body))
    s, _, body = d.job(json.dumps([group("x", "hello")]) + " " * 5000)
    check(s == 413, "too large: %d %r" % (s, body))
    s, _, body = d.request("POST", "/v1/acct", iter([b"[" * 3000] * 2), {
        "X-Zerovm-Execute": "1.0", "Content-Type": "application/json"})
    check(s == 413, "too large, chunked: %d %r" % (s, body))
    s, _, body = d.request("POST", "/v1/acct", "[]", {
        "X-Zerovm-Execute": "1.0", "Content-Type": "text/plain"})
    check(s == 400, "wrong content type: %d" % s)
    s, _, body = d.request("GET", "/nowhere")
    check(s == 404, "unknown path: %d" % s)


def start_spin(d):
    """A spin job in a thread; returns once it runs. result["slow"] gets
    its answer."""
    result = {}

    def slow():
        result["slow"] = d.job([group("spin", "spin")])
    t = threading.Thread(target=slow)
    t.start()
    wait_for(lambda: d.metrics()["zvmd_slots_used"] == 1, "the spin job")
    return t, result


def case_busy(d):
    """pool_size 1, queue_length 0: a second job gets 503 + Retry-After."""
    t, result = start_spin(d)
    s, h, body = d.job([group("hello", "hello")])
    check(s == 503, "busy: %d %r" % (s, body))
    check(h.get("Retry-After") == "1", "Retry-After %r" % h.get("Retry-After"))
    check(b"slot" in body, "503 message: %r" % body)
    t.join()
    check(result["slow"][0] == 500, "spin ends by timeout: %r" %
          (result["slow"][:2],))


def case_nonzero_exit(d):
    d.put("bin/junk", "not a program\n")
    s, h, body = d.job([group("junk", "junk")])
    check(s == 500, "a program that cannot start: %d %r" % (s, body))
    check(nexe(h, "Status")[0].startswith("ZeroVM did not run"),
          "status %r" % h["X-Nexe-Status"])
    s, h, body = d.job([group("fail", "exitcode", "3 oops")])
    check(s == 500, "status %d" % s)
    check(body == b"oops\n", "body %r" % body)
    check(nexe(h, "Retcode") == ["3"], "retcode %r" % h["X-Nexe-Retcode"])


def case_timeout(d):
    s, h, body = d.job([group("spin", "spin")])
    check(s == 500, "status %d %r" % (s, body))
    check("timeout" in h["X-Nexe-Status"], "status %r" % h["X-Nexe-Status"])
    check(body == b"spinning\n", "output before the kill: %r" % body)


def case_output_limit(d):
    s, h, body = d.job([group("big", "bigout", str(3 << 20))])
    check(s == 500, "status %d" % s)
    check("limit" in h["X-Nexe-Status"], "status %r" % h["X-Nexe-Status"])
    check(len(body) <= 1 << 20, "body %d bytes > limit" % len(body))


def case_spool_full(d):
    """The spool is a 256 KiB tmpfs: 4 MiB of immediate output fails
    with a status that says the spool is full; the next job runs."""
    s, h, body = d.job([group("big", "bigout", str(4 << 20))])
    status = h["X-Nexe-Status"]
    check(s == 500, "status %d %r" % (s, status))
    check(status.startswith("no space left on the spool (%s): writing "
                            "/dev/stdout failed after " % d.spool),
          "X-Nexe-Status %r" % status)
    check(len(body) <= 256 << 10, "body of %d bytes" % len(body))
    s, h, body = d.job([group("hello", "hello")])
    check((s, body) == (200, b"hello, world\n"), "next job: %d %r" % (s, body))


def case_concurrent(d):
    n = 100
    results = [None] * n

    def one(i):
        results[i] = d.job([group("e", "exitcode", "0 job-%d" % i)])
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, (s, _, body) in enumerate(results):
        check(s == 200, "job %d: status %d %r" % (i, s, body))
        check(body == b"job-%d\n" % i, "job %d: body %r" % (i, body))


def raw_job_socket(d, job, extra=b""):
    body = json.dumps(job).encode()
    s = socket.create_connection(("127.0.0.1", d.port))
    s.sendall(b"POST /v1/acct HTTP/1.1\r\nHost: x\r\n" + extra +
              b"X-Zerovm-Execute: 1.0\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body)
    return s


def case_disconnect(d):
    d.job([group("hello", "hello")])
    d.mkdir("out")
    baseline = d.descendants()
    s = raw_job_socket(d, [group("spin", "spin", devices=[
        {"name": "stdout", "path": "swift://~/out/never.txt"}])])
    wait_for(lambda: d.metrics()["zvmd_slots_used"] == 1, "the job to run")
    check(tmp_files(d.root), "the output's temp file exists while running")
    s.close()
    wait_for(lambda: d.metrics()["zvmd_slots_used"] == 0, "the kill")
    wait_for(lambda: d.descendants() == baseline, "no orphan processes")
    check(tmp_files(d.root) == [], "temp files left: %r" % tmp_files(d.root))
    check(not os.path.exists(d.path("out/never.txt")), "partial object")
    check(os.listdir(d.spool) == [], "spool not empty")
    s, _, body = d.job([group("hello", "hello")])
    check(s == 200, "daemon still serves: %d" % s)


def case_stream_disconnect(d):
    d.job([group("hello", "hello")])
    baseline = d.descendants()
    s = raw_job_socket(d, [group("spin", "spin")], b"X-Zerovm-Stream: 1\r\n")
    got = b""
    while b"spinning" not in got:
        got += s.recv(4096)
    s.close()
    wait_for(lambda: d.metrics()["zvmd_slots_used"] == 0, "the kill")
    wait_for(lambda: d.descendants() == baseline, "no orphan processes")
    m = d.metrics()
    check(m["zvmd_instance_failures_total"] == 1, "killed: %r" % m)


STREAM = {"X-Zerovm-Stream": "1"}
NO_CAPS = "0000000000000000"


def one_parked(d):
    """zvmd's parked child, once there is one (it parks right after a
    spawn and names itself at once)."""
    wait_for(lambda: len(parked(d.proc.pid)) == 1, "a parked child")
    return parked(d.proc.pid)[0]


def check_parked_isolated(p):
    """A parked child holds no capability, runs as nobody under the
    filter, and none of zvmd's fds: only the spawn socket and its seccomp
    listener, neither a path."""
    wait_for(lambda: proc_status(p)["Seccomp"] == "2" and
             len(fd_links(p)) <= 2, "the parked child to attach its "
             "filter and close zvmd's fds")
    st = proc_status(p)
    check(st["Uid"].split() == ["65534"] * 4, "parked uid %r" % st["Uid"])
    check(all(st[k] == NO_CAPS for k in ("CapPrm", "CapEff", "CapAmb")),
          "parked child %d holds capabilities: %r" % (p, st))
    links = fd_links(p)
    check(not [x for x in links.values() if x.startswith("/")],
          "parked child %d holds files: %r" % (p, links))


def check_fresh_program(d, s):
    """Sandbox s (taken from a parked child) is the program's own process:
    its own name, binary and address space (not zvmd's heap), nobody, no
    capability, no_new_privs, the filter, only its channels, no env."""
    zexe = os.readlink("/proc/%d/exe" % d.proc.pid)
    check(open("/proc/%d/comm" % s).read().strip() != PARKED_NAME,
          "the program still calls itself %s" % PARKED_NAME)
    check(os.readlink("/proc/%d/exe" % s) != zexe, "the program is zvmd")
    maps = open("/proc/%d/maps" % s).read()
    check(maps != open("/proc/%d/maps" % d.proc.pid).read() and
          zexe not in maps, "the program maps zvmd's memory:\n" + maps)
    st = proc_status(s)
    check(st["Uid"].split() == ["65534"] * 4, "uid %r" % st["Uid"])
    check(all(st[k] == NO_CAPS for k in ("CapPrm", "CapEff", "CapAmb")),
          "the program holds capabilities: %r" % st)
    check(st["NoNewPrivs"] == "1" and st["Seccomp"] == "2",
          "no_new_privs %r, seccomp %r" % (st["NoNewPrivs"], st["Seccomp"]))
    check(sorted(fd_links(s)) == [0, 1, 2], "fds %r" % fd_links(s))
    check(open("/proc/%d/environ" % s, "rb").read() == b"", "environment")


def case_prewarm(d):
    """zvmd keeps one sandbox child parked (prewarm = yes, the default):
    the next instance of the same shape is that child, become a fresh
    program; whatever the jobs, at most one is parked (zvmd spawns on its
    loop thread only); every job's processes end; the drain reaps it."""
    pid = d.proc.pid
    s, _, body = d.job([group("hello", "hello")], headers=STREAM)
    check(s == 200 and body.startswith(b"hello, world\n"), "%d %r" % (s, body))
    p = one_parked(d)
    check_parked_isolated(p)
    baseline = d.descendants()  # the namespace holder
    sock = raw_job_socket(d, [group("spin", "spin")], b"X-Zerovm-Stream: 1\r\n")
    got = b""
    while b"spinning" not in got:
        got += sock.recv(4096)
    running = set(d.descendants()) - set(baseline)
    check(running == {p}, "the spin instance %r is not the parked child %d"
          % (running, p))
    check_fresh_program(d, p)
    q = one_parked(d)
    check(q != p, "a new child is parked while spin runs")
    sock.close()
    wait_for(lambda: d.metrics()["zvmd_slots_used"] == 0, "the kill")
    wait_for(lambda: d.descendants() == baseline, "no orphan processes")

    d.put("data/in.txt", b"some input\n")
    shapes = [
        [group("hello", "hello")],
        [group("cat", "cat", devices=[
            {"name": "stdin", "path": "swift://~/data/in.txt"},
            {"name": "stdout"}])],
        [group("e", "exitcode", "3 no")],
        [group("quiet", "hello", devices=[])],
        [group("a", "hello"), group("b", "exitcode", "0 b")],
    ]
    most, stop = [0], threading.Event()

    def sample():
        while not stop.is_set():
            most[0] = max(most[0], len(parked(pid)))
            time.sleep(0.005)
    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        for _ in range(10):
            ts = [threading.Thread(target=d.job, args=(j,)) for j in shapes]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
    finally:
        stop.set()
        sampler.join()
    check(d.metrics()["zvmd_instances_total"] >= 62, "60 instances ran")
    check(most[0] <= 1, "%d children parked at once (bound: 1)" % most[0])
    wait_for(lambda: d.descendants() == baseline, "no orphan processes")
    check(len(parked(pid)) <= 1, "parked: %r" % parked(pid))
    # Draining reaps it before zvmd exits (Daemon.__exit__ checks too).
    q = one_parked(d)
    d.proc.send_signal(signal.SIGTERM)
    check(d.proc.wait(30) == 0, "zvmd exit status")
    check(not alive(q), "parked child %d outlived the drain" % q)


def case_prewarm_killed(d):
    """SIGKILL gives zvmd no chance to reap its parked child: the child's
    parent-death signal ends it."""
    d.job([group("hello", "hello")])
    q = one_parked(d)
    d.expected_exit = -signal.SIGKILL
    d.proc.kill()
    d.proc.wait()
    wait_for(lambda: not alive(q), "the parked child to die with zvmd")


def case_prewarm_off(d):
    """prewarm = no on SIGHUP: the parked child goes and none comes."""
    d.job([group("hello", "hello")])
    one_parked(d)
    with open(d.conf, "a") as f:
        f.write("prewarm = no\n")
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: not parked(d.proc.pid), "the reload to drop it")
    holder = descendants(d.proc.pid, with_parked=True)
    for _ in range(3):
        s, _, body = d.job([group("hello", "hello")])
        check(s == 200 and body == b"hello, world\n", "%d %r" % (s, body))
    check(descendants(d.proc.pid, with_parked=True) == holder,
          "nothing parked with prewarm = no: %r" %
          descendants(d.proc.pid, with_parked=True))


def case_drain(d):
    t, result = start_spin(d)

    def queued():
        result["queued"] = d.job([group("hello", "hello")])
    q = threading.Thread(target=queued)
    q.start()
    wait_for(lambda: d.metrics()["zvmd_queue_depth"] == 1, "a queued job")
    d.proc.send_signal(signal.SIGTERM)
    q.join()
    check(result["queued"][0] == 503, "queued job while draining: %r" %
          (result["queued"],))
    check(d.metrics()["zvmd_draining"] == 1, "draining")
    s, _, body = d.job([group("hello", "hello")])
    check(s == 503, "new job while draining: %d %r" % (s, body))
    t.join()
    s, h, body = result["slow"]
    check(s == 500 and "shutting down" in h["X-Nexe-Status"],
          "running job killed after the grace: %d %r" %
          (s, h.get("X-Nexe-Status")))
    check(d.proc.wait(30) == 0, "zvmd exit status")


def case_stream(d):
    s, h, body = d.job([group("e", "exitcode", "0 streamed")],
                       headers={"X-Zerovm-Stream": "1"})
    check(s == 200, "status %d" % s)
    check(h.get("Transfer-Encoding") == "chunked", "chunked: %r" % dict(h))
    out, sep, report = body.partition(b"--- zerovm report ---\n")
    check(out == b"streamed\n", "streamed body %r" % body)
    lines = dict(l.split(": ", 1) for l in report.decode().splitlines())
    check(lines["X-Nexe-System"] == "e", "report %r" % lines)
    check(lines["X-Nexe-Retcode"] == "0", "report %r" % lines)
    check(lines["X-Zerovm-Status"] == "200", "report %r" % lines)


def case_metrics(d):
    s, _, body = d.request("GET", "/healthcheck")
    check(s == 200 and body == b"OK\n", "healthcheck %d %r" % (s, body))
    d.job([group("hello", "hello")])
    d.job([group("fail", "exitcode", "1")])
    m = d.metrics()
    check(m['zvmd_jobs_total{status="2xx"}'] == 1, "2xx %r" % m)
    check(m['zvmd_jobs_total{status="500"}'] == 1, "500 %r" % m)
    check(m["zvmd_instances_total"] == 2, "instances %r" % m)
    check(m["zvmd_instance_failures_total"] == 1, "failures %r" % m)
    check(m["zvmd_job_duration_seconds_count"] == 2, "histogram %r" % m)
    check(m["zvmd_spawn_seconds_count"] == 2 and
          m['zvmd_spawn_seconds_bucket{le="+Inf"}'] == 2 and
          m["zvmd_spawn_seconds_sum"] > 0, "spawn histogram %r" % m)
    check(m["zvmd_bytes_out_total"] > 0, "bytes out %r" % m)


def case_reload(d):
    s, _, _ = d.job([group("hello", "hello")])
    check(s == 200, "before reload: %d" % s)
    with open(d.conf, "a") as f:
        f.write("max_job_size = 10\n")
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: d.job([group("hello", "hello")])[0] == 413,
             "the reloaded limit")


def case_determinism(d):
    """Jobs are deterministic unless exec.deterministic is false: the same
    job gives byte-identical output (pids aside: they are the host's, see
    sandbox/README.md), instances draw different streams (seeded by their
    names), and with the switch off two runs differ."""
    def probe(det=None, count=2):
        g = group("probe", "detprobe", devices=[{"name": "stdout"}],
                  count=count)
        if det is not None:
            g["exec"]["deterministic"] = det
        s, h, body = d.job([g])
        check(s == 200, "detprobe job: %d %r" % (s, body))
        # X-Nexe-Validation names, per instance and after the number
        # (ZeroCloud's value, what clients parse), what stayed
        # nondeterministic; nothing was promised without determinism.
        want = nondeterminism() if det is None else "0"
        check(nexe(h, "Validation") == [want] * count,
              "X-Nexe-Validation %r, want %r each" %
              (h.get("X-Nexe-Validation"), want))
        check([int(v.split()[0]) for v in nexe(h, "Validation")] ==
              [0] * count, "the leading numbers")
        return [x for x in body.decode().split("\n")
                if not x.startswith("pid ")]
    a, b = probe(), probe()
    check(a == b, "two deterministic runs differ: %r" %
          sorted(set(a) ^ set(b)))
    check("vdso absent" in a, "the vDSO is visible: %r" % a)
    rand = [x for x in a if x.startswith("getrandom ")]
    half = len(rand) // 2
    check(half and rand[:half] != rand[half:],
          "probe-1 and probe-2 drew the same random stream: %r" % rand)
    a, b = probe(False, 1), probe(False, 1)
    check(a != b, "nondeterministic runs are identical")
    check("vdso present" in a, "exec.deterministic false keeps the vDSO")
    s, _, body = d.job([{"name": "p", "exec": {
        "path": "swift://~/bin/detprobe", "deterministic": "yes"}}])
    check(s == 400 and b"exec: deterministic" in body,
          "a non-boolean switch: %d %r" % (s, body))


def case_memory_etag(d):
    """exec.memory_etag: X-Nexe-Etag starts with ZeroVM's /dev/memory
    digest; the same job twice gives the same one, another input another;
    the run is pinned to one CPU (no `cpuid` in its validation note)."""
    d.put("data/a.txt", "the same input\n")
    d.put("data/b.txt", "another input\n")
    d.mkdir("out")

    def run(name, memory_etag=True, out=False):
        devices = [{"name": "stdin", "path": "swift://~/data/" + name},
                   {"name": "stdout", "path": "swift://~/out/up.txt"}
                   if out else {"name": "stdout"}]
        g = group("up", "upcase", devices=devices)
        g["exec"]["memory_etag"] = memory_etag
        s, h, body = d.job([g])
        check(s == 200, "upcase job: %d %r %r" % (s, body, dict(h)))
        return h
    h = run("a.txt")
    etag = h.get("X-Nexe-Etag", "")
    check(re.fullmatch(r"/dev/memory [0-9a-f]{32}", etag),
          "X-Nexe-Etag %r" % etag)
    check(nexe(h, "Validation") == [nondeterminism(pinned=True)],
          "a memory-etag run is pinned: %r" % h.get("X-Nexe-Validation"))
    check(run("a.txt").get("X-Nexe-Etag") == etag,
          "the same job gave another memory etag")
    check(run("b.txt").get("X-Nexe-Etag") not in ("", etag),
          "another input gave the same memory etag")
    check(run("a.txt", False).get("X-Nexe-Etag") == "disabled",
          "memory_etag false still digests memory")
    with_out = run("a.txt", out=True).get("X-Nexe-Etag", "").split()
    check(len(with_out) == 4 and with_out[:2] == etag.split() and
          with_out[2] == "/dev/stdout" and
          with_out[3] == hashlib.md5(b"THE SAME INPUT\n").hexdigest(),
          "memory first, then the output's etag: %r" % with_out)
    s, _, body = d.job([{"name": "up", "exec": {
        "path": "swift://~/bin/upcase", "memory_etag": 1}}])
    check(s == 400 and b'group "up": exec: memory_etag: must be true or '
          b'false' in body, "a non-boolean memory_etag: %d %r" % (s, body))


def case_pipe_pairing(d):
    # Pipes pair by the ends the plan names (proto_plan_edges), not by
    # order: j's stdin is fed by i's stdout (zvm://), although h's zvm://
    # pipe lands on a device of j between them and i also connects to j.
    # Paired by order, j's stdin was i's silent /dev/out/j.
    status, h, body = d.job([
        group("h", "exitcode", "0 from-h",
              devices=[{"name": "stdout", "path": "zvm://j:data"}]),
        group("i", "exitcode", "0 from-i", connect=["j"],
              devices=[{"name": "stdout", "path": "zvm://j:stdin"}]),
        group("j", "upcase")])
    check(status == 200, "status %d: %r" % (status, body))
    check(body == b"FROM-I\n", "j read %r on stdin" % body)


def case_store_paths(d):
    os.symlink("/etc/passwd", d.path("bin/link"))
    d.put("data/ok.txt", "ok\n")
    for path in ["swift://~/data/../../../etc/passwd", "swift://~/bin/link",
                 "swift://~/data//ok.txt", "swift://~/data/.hidden"]:
        s, _, body = d.job([group("cat", "cat", devices=[
            {"name": "stdin", "path": path}, {"name": "stdout"}])])
        check(s in (400, 404), "%s: status %d %r" % (path, s, body))
        check(b"root:" not in body, "%s leaked /etc/passwd" % path)
    s, _, body = d.job([group("cat", "cat", devices=[
        {"name": "stdin", "path": "swift://~/data/ok.txt"},
        {"name": "stdout", "path": "swift://~/data/../escape.txt"}])])
    check(s in (400, 404), "writing outside: %d %r" % (s, body))
    check(not os.path.exists(os.path.join(d.root, "escape.txt")) and
          not os.path.exists(os.path.join(d.tmp, "escape.txt")), "escaped")


def case_big_output(d):
    """1 GiB of immediate output; zvmd's RSS stays under 64 MiB."""
    size = 1 << 30
    c = d.conn(timeout=600)
    c.request("POST", "/v1/acct", json.dumps([group("big", "bigout",
                                                     str(size))]),
              {"X-Zerovm-Execute": "1.0", "Content-Type": "application/json"})
    peak = d.rss_kib()
    r = c.getresponse()
    check(r.status == 200, "status %d" % r.status)
    got = 0
    while True:
        chunk = r.read(1 << 20)
        if not chunk:
            break
        if got == 0:
            check(chunk.startswith(b"0123456789abcdef0123"), "pattern")
        got += len(chunk)
        peak = max(peak, d.rss_kib())
    c.close()
    check(got == size, "body %d bytes, want %d" % (got, size))
    check(peak < 64 * 1024, "zvmd RSS peaked at %d KiB" % peak)
    print("big_output: 1 GiB body, zvmd peak RSS %d KiB" % peak)


CASES = {
    "hello": ({}, case_hello),
    "stdin_object": ({}, case_stdin_object),
    "wildcard": ({}, case_wildcard),
    "wordcount": ({}, case_wordcount),
    "wordcount_big": ({"pool_size": 2}, case_wordcount_big),
    "output_objects": ({}, case_output_objects),
    "errors": ({"max_job_size": 4096}, case_errors),
    "busy": ({"pool_size": 1, "queue_length": 0, "instance_timeout": 2},
             case_busy),
    "nonzero_exit": ({}, case_nonzero_exit),
    "timeout": ({"instance_timeout": 1}, case_timeout),
    "job_timeout": ({"instance_timeout": 60, "job_timeout": 1}, case_timeout),
    "output_limit": ({"max_output": "1M"}, case_output_limit),
    "spool_full": ({"spool_size": "256k"}, case_spool_full),
    "concurrent": ({}, case_concurrent),
    "disconnect": ({"instance_timeout": 120}, case_disconnect),
    "stream_disconnect": ({"instance_timeout": 120},
                          case_stream_disconnect),
    "drain": ({"instance_timeout": 120, "drain_grace": 2, "pool_size": 1},
              case_drain),
    "stream": ({}, case_stream),
    "metrics": ({}, case_metrics),
    "reload": ({}, case_reload),
    "store_paths": ({}, case_store_paths),
    "big_output": ({"max_output": "2G", "instance_timeout": 300},
                   case_big_output),
    "determinism": ({}, case_determinism),
    "pipe_pairing": ({}, case_pipe_pairing),
    "memory_etag": ({}, case_memory_etag),
    "prewarm": ({"instance_timeout": 120, "pool_size": 20}, case_prewarm),
    "prewarm_killed": ({}, case_prewarm_killed),
    "prewarm_off": ({}, case_prewarm_off),
}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        sys.exit("usage: test_zvmd.py CASE (%s)" % " ".join(sorted(CASES)))
    conf, fn = CASES[sys.argv[1]]
    try:
        with Daemon(**conf) as d:
            fn(d)
    except Failure as e:
        print("FAIL %s: %s" % (sys.argv[1], e))
        sys.exit(1)
    print("ok %s" % sys.argv[1])


if __name__ == "__main__":
    main()
