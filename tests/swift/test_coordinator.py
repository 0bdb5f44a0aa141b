#!/usr/bin/python3
"""The coordinator (daemon/coordinator.c) end to end against fake workers:
run inside tests/swift/cluster.py --zerovm.

    cluster.py --zerovm -- /usr/bin/python3 test_coordinator.py

A real zvmd with role = cluster serves the filter's coordinator port; the
three storage nodes' "workers" are small HTTP servers in this process
(GET /healthcheck, POST /internal/v1/task) that check the task's
signature, remember the task, and answer frames: each instance placed on
them writes "<instance>@<ip>\\n" and reports ok. So this tests planning
through the real proxy, signing, dispatch, frames into the job and the
answer, and each worker fault, without the real worker side:

  * a job over 3 objects: body in instance order, X-Nexe-* per instance,
    X-Nexe-Node = the first primary of each object; each node got one
    signed task with its own `self`, the user's token and the HEAD data;
  * the same streamed (X-Zerovm-Stream);
  * a worker whose stream is cut mid-job: the job fails naming it;
  * a worker refusing the task: the job fails with its reason;
  * a worker that passes /healthcheck but drops the task: its instances
    are re-placed on another node and the job succeeds;
  * a busy worker (503): the same; every worker busy: 503 with
    Retry-After;
  * a coordinator with pool_size + queue_length jobs running refuses the
    next with 503 and Retry-After;
  * another account's private object: 403 before any task is sent.
"""
import hashlib
import hmac
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_client import (  # noqa: E402
    Account, JOB_HEADERS, nexe, primary_ips, request, wait_for)
from harness import check  # noqa: E402

ZVMD = os.environ["ZVMD"]
PROXY = os.environ["ZVM_SWIFT_URL"]
SWIFT_DIR = os.environ["ZVM_SWIFT_DIR"]
COORD_PORT = int(os.environ["ZVM_COORDINATOR_PORT"])
NODE_IPS = [n.split(":")[0] for n in os.environ["ZVM_SWIFT_NODES"].split()]
TASK_PATH = "/internal/v1/task"


class Fakes(object):
    """Fake workers on every node IP, sharing one port."""

    def __init__(self, secret):
        self.secret = secret
        self.mode = {ip: "ok" for ip in NODE_IPS}
        self.tasks = []          # (ip, task dict, signature ok)
        self.release = threading.Event()   # "hold" tasks wait for it
        self.held = 0
        self.lock = threading.Lock()
        self.servers = []
        self.port = None

    def start(self):
        fakes = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                ok = self.path == "/healthcheck"
                self.send_response(200 if ok else 404)
                self.end_headers()
                self.wfile.write(b"OK\n" if ok else b"no\n")

            def do_POST(self):
                ip = self.server.server_address[0]
                body = self.rfile.read(int(self.headers["Content-Length"]))
                fakes.task(self, ip, body)

        while True:
            port = None
            servers = []
            try:
                for ip in NODE_IPS:
                    s = http.server.ThreadingHTTPServer(
                        (ip, port or 0), Handler)
                    port = s.server_address[1]
                    servers.append(s)
                break
            except OSError:
                for s in servers:
                    s.server_close()
        self.servers, self.port = servers, port
        for s in servers:
            threading.Thread(target=s.serve_forever, daemon=True).start()

    def stop(self):
        for s in self.servers:
            s.shutdown()
            s.server_close()

    def signed(self, h, body):
        msg = "POST\n%s\n%s\n%s\n%s" % (
            TASK_PATH, h.get("X-Zvm-Expires"), h.get("X-Zvm-Nonce"),
            hashlib.sha256(body).hexdigest())
        want = hmac.new(self.secret, msg.encode(), hashlib.sha256)
        return hmac.compare_digest(want.hexdigest(),
                                   h.get("X-Zvm-Signature", ""))

    def task(self, req, ip, body):
        task = json.loads(body)
        with self.lock:
            self.tasks.append((ip, task, self.signed(req.headers, body)))
        mode = self.mode[ip]
        if mode == "hold":
            with self.lock:
                self.held += 1
            self.release.wait(60)
        if mode == "drop":
            req.close_connection = True
            req.connection.shutdown(socket.SHUT_RDWR)
            return
        if mode == "busy":
            req.send_response(503)
            req.send_header("Retry-After", "1")
            req.end_headers()
            req.wfile.write(b"worker busy: 2 of 2 instance slots in use\n")
            return
        if mode == "refuse":
            req.send_response(403)
            req.end_headers()
            req.wfile.write(b"bad signature\n")
            return
        req.send_response(200)
        req.end_headers()
        mine = [i for i, k in enumerate(task["placement"])
                if k == task["self"]]
        for i in mine:
            name = task["plan"]["inst"][i]["name"]
            out = ("%s@%s\n" % (name, ip)).encode()
            req.wfile.write(b'{"type":"output","inst":%d,"len":%d}\n'
                            % (i, len(out)) + out)
            if mode == "cut":
                req.wfile.flush()
                req.close_connection = True
                return
            req.wfile.write(json.dumps({
                "type": "report", "inst": i, "system": name,
                "status": "ok", "retcode": 0, "etag": "disabled",
                "validation": 0, "cdr": "0.001, 0 0 0 0 0 0 0 0 0 0"
            }).encode() + b"\n")
        req.wfile.write(b'{"type":"done"}\n')


def job(acct, stdin, stream=False):
    return acct.job([{"name": "map", "exec": {"path": "swift://~/bin/prog"},
                      "devices": [{"name": "stdin", "path": stdin},
                                  {"name": "stdout"}]}],
                    headers={"X-Zerovm-Stream": "1"} if stream else None)


def main():
    tmp = tempfile.mkdtemp(prefix="zvm-coord-")
    secret = b"k" * 48
    fakes = Fakes(secret)
    zvmd = None
    try:
        fakes.start()
        with open(tmp + "/secret", "wb") as f:
            f.write(secret + b"\n")
        os.chmod(tmp + "/secret", 0o600)
        for d in ("store", "spool", "devices"):
            os.makedirs(os.path.join(tmp, d))
        conf = tmp + "/zvmd.conf"
        with open(conf, "w") as f:
            f.write("[zvmd]\nlisten = 127.0.0.1:%d\nroot = %s/store\n"
                    "spool = %s/spool\npool_size = 1\nqueue_length = 1\n"
                    "[cluster]\nrole = cluster\n"
                    "proxy_url = %s\nswift_dir = %s\ndevices = %s/devices\n"
                    "worker_port = %d\nsecret_file = %s/secret\n" % (
                        COORD_PORT, tmp, tmp, PROXY,
                        SWIFT_DIR, tmp, fakes.port, tmp))
        log = open(tmp + "/zvmd.log", "w")
        zvmd = subprocess.Popen([ZVMD, "-c", conf], stdout=log, stderr=log)
        log.close()

        def up():
            check(zvmd.poll() is None, "zvmd exited: " +
                  open(tmp + "/zvmd.log").read())
            try:
                socket.create_connection(("127.0.0.1", COORD_PORT), 1).close()
                return True
            except OSError:
                return False
        wait_for(up, "the coordinator zvmd", 30)

        a = Account(PROXY, "test:tester", "testing")
        b = Account(PROXY, "test2:tester2", "testing2")
        tok = a.token
        a.put("bin", b"")
        a.put("bin/prog", b"program bytes")
        a.put("data", b"")
        names = ["d%d.txt" % i for i in range(3)]
        for n in names:
            a.put("data/" + n, n.encode())
        where = [primary_ips(SWIFT_DIR, "AUTH_test", "data", n)[0]
                 for n in names]
        want = "".join("map-%d@%s\n" % (i + 1, ip)
                       for i, ip in enumerate(where)).encode()

        # A job over three objects, whole and streamed.
        status, h, body = job(a, "swift://~/data/*.txt")
        check(status == 200 and body == want, "job: %d %r, want %r\n%r"
              % (status, body, want, dict(h)))
        check(nexe(h, "System") == ["map-1", "map-2", "map-3"], dict(h))
        check(nexe(h, "Status") == ["ok"] * 3, dict(h))
        check([a.split(":")[0] for a in nexe(h, "Node")] == where, dict(h))
        check(all(ok for _, _, ok in fakes.tasks), "a bad task signature")
        got = {ip: t for ip, t, _ in fakes.tasks}
        check(sorted(got) == sorted(set(where)), "tasks went to %r, "
              "instances are on %r" % (sorted(got), where))
        for ip, t in got.items():
            check(t["nodes"][t["self"]]["http"] == "%s:%d" % (ip, fakes.port),
                  "self of %s: %r" % (ip, t["nodes"]))
            check(t["token"] == tok and t["account"] == "AUTH_test", ip)
            o = t["objects"]["AUTH_test/data/d0.txt"]
            check(o["etag"] == hashlib.md5(b"d0.txt").hexdigest() and
                  o["size"] == 6, o)
        status, h, body = job(a, "swift://~/data/*.txt", stream=True)
        check(status == 200 and body.startswith(want),
              "streamed: %d %r" % (status, body))

        # A worker whose stream is cut, one that refuses.
        victim = where[0]
        fakes.mode[victim] = "cut"
        status, h, body = job(a, "swift://~/data/*.txt")
        text = body.decode() + h.get("X-Nexe-Status", "")
        check(status != 200 and "worker %s:%d stopped mid-job"
              % (victim, fakes.port) in text, "cut: %d %r %r"
              % (status, body, dict(h)))
        fakes.mode[victim] = "refuse"
        status, h, body = job(a, "swift://~/data/d0.txt")
        text = body.decode() + h.get("X-Nexe-Status", "")
        check(status != 200 and "refused the task (403): bad signature"
              in text, "refused: %d %r %r" % (status, body, dict(h)))

        # A worker that passes the healthcheck but drops the task: its
        # instance runs on another node.
        fakes.mode[victim] = "drop"
        status, h, body = job(a, "swift://~/data/d0.txt")
        check(status == 200, "dropped: %d %r %r" % (status, body, dict(h)))
        node = nexe(h, "Node")[0].split(":")[0]
        check(node != victim and body == ("map@%s\n" % node).encode(),
              "re-placed: %r %r" % (body, dict(h)))
        # A busy worker (503): another replica's node runs the instance;
        # every node busy: 503 with Retry-After, naming the worker.
        fakes.mode[victim] = "busy"
        status, h, body = job(a, "swift://~/data/d0.txt")
        node = nexe(h, "Node")[0].split(":")[0] if status == 200 else None
        check(status == 200 and node != victim and
              body == ("map@%s\n" % node).encode(),
              "busy, re-placed: %d %r %r" % (status, body, dict(h)))
        for ip in NODE_IPS:
            fakes.mode[ip] = "busy"
        status, h, body = job(a, "swift://~/data/d0.txt")
        text = body.decode() + h.get("X-Nexe-Status", "")
        check(status == 503 and h.get("Retry-After") and
              "refused the task (503): worker busy" in text,
              "all busy: %d %r %r" % (status, body, dict(h)))
        for ip in NODE_IPS:
            fakes.mode[ip] = "ok"

        # The coordinator takes pool_size + queue_length = 2 jobs at once:
        # with two held by their workers, a third is refused before
        # planning (503, Retry-After); the two then end well.
        for ip in NODE_IPS:
            fakes.mode[ip] = "hold"
        answers = []
        ts = [threading.Thread(target=lambda: answers.append(
            job(a, "swift://~/data/d0.txt"))) for _ in range(2)]
        for t in ts:
            t.start()
        try:
            wait_for(lambda: fakes.held == 2, "two held tasks", 60)
            status, h, body = job(a, "swift://~/data/d0.txt")
            check(status == 503 and h.get("Retry-After") and
                  b"coordinator busy: 2 jobs" in body,
                  "coordinator full: %d %r %r" % (status, body, dict(h)))
        finally:
            fakes.release.set()
            for t in ts:
                t.join(120)
        check([s for s, _, _ in answers] == [200, 200],
              "held jobs: %r" % (answers,))
        for ip in NODE_IPS:
            fakes.mode[ip] = "ok"

        # Another account's private object: 403, no task sent.
        b.put("private", b"")
        b.put("private/p.txt", b"private")
        before = len(fakes.tasks)
        status, h, body = job(a, "swift://AUTH_test2/private/p.txt")
        check(status == 403 and b"AUTH_test2/private/p.txt" in body,
              "cross-account: %d %r" % (status, body))
        check(len(fakes.tasks) == before, "a task was sent for a 403 job")
        # Straight to zvmd without a token: 401.
        status, _, body = request("http://127.0.0.1:%d" % COORD_PORT,
                                  "POST", "/v1/AUTH_test", JOB_HEADERS, b"[]")
        check(status == 401 and b"X-Auth-Token" in body, (status, body))
        log_text = open(tmp + "/zvmd.log").read()
        check(tok not in log_text, "the token is in zvmd's log")
        # A clean exit (under ASan: no leak, no error).
        zvmd.terminate()
        rc = zvmd.wait(60)
        zvmd = None
        check(rc == 0, "zvmd exited %d:\n%s" % (
            rc, open(tmp + "/zvmd.log").read()[-4000:]))
        print("test_coordinator: all cases passed")
    finally:
        if zvmd is not None:
            zvmd.terminate()
            zvmd.wait(30)
        fakes.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
