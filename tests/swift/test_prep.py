#!/usr/bin/python3
"""The coordinator's planning phase (daemon/cluster_prep.c) against a real
Swift cluster: run inside tests/swift/cluster.py, through prep-driver.

    cluster.py -- /usr/bin/python3 test_prep.py

Each storage node gets a zvmd on <node ip>:<one port> (its /healthcheck
is what the planner asks). Checked, with Swift's own ring code as the
reference: wildcard listings over several pages, HEAD results (etag,
size, timestamp, policy), placement on the first live primary of each
object (and the next one when that node's zvmd is down), the least
loaded node for instances without an object, 403 for another account's
private object or listing until the owner grants X-Container-Read, the
write probe (allowed, refused, missing container) creating no object,
404 for a missing program, 503 when no worker is up.
"""
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_client import (  # noqa: E402
    Account, swift_get_nodes, wait_for)
from harness import check  # noqa: E402

DRIVER = os.environ["PREP_DRIVER"]
ZVMD = os.environ["ZVMD"]
PROXY = os.environ["ZVM_SWIFT_URL"]
SWIFT_DIR = os.environ["ZVM_SWIFT_DIR"]
NODE_IPS = [n.split(":")[0] for n in os.environ["ZVM_SWIFT_NODES"].split()]


def free_port(ips):
    """A port free on every node IP (the workers share it)."""
    while True:
        with socket.socket() as s:
            s.bind((ips[0], 0))
            port = s.getsockname()[1]
        try:
            for ip in ips[1:]:
                with socket.socket() as s:
                    s.bind((ip, port))
            return port
        except OSError:
            continue


class Workers(object):
    """A local-mode zvmd on every node IP: what /healthcheck asks."""

    def __init__(self, tmp, port):
        self.tmp, self.port, self.procs = tmp, port, {}

    def start(self, ip):
        d = os.path.join(self.tmp, "w-" + ip)
        for sub in ("store", "spool"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        log = open(os.path.join(d, "log"), "w")
        self.procs[ip] = subprocess.Popen(
            [ZVMD, "-l", "%s:%d" % (ip, self.port), "--root", d + "/store",
             "--spool", d + "/spool"], stdout=log, stderr=log)
        log.close()

        def up():
            try:
                socket.create_connection((ip, self.port), 1).close()
                return True
            except OSError:
                return False
        wait_for(up, "zvmd on %s:%d" % (ip, self.port), 30)

    def stop(self, ip):
        p = self.procs.pop(ip)
        p.terminate()
        p.wait(30)

    def stop_all(self):
        for ip in list(self.procs):
            self.stop(ip)


def prep(conf, tok, job, limit=None, account="AUTH_test"):
    args = [DRIVER, conf, account, tok] + ([str(limit)] if limit else [])
    p = subprocess.run(args, input=json.dumps(job).encode(),
                       capture_output=True, timeout=120)
    check(p.returncode == 0, "prep-driver: %d %r" % (p.returncode, p.stderr))
    return json.loads(p.stdout)


def job(stdin, prog="swift://~/bin/prog", outputs=(), name="map"):
    devices = [{"name": "stdin", "path": stdin}] if stdin else []
    devices += [{"name": "stdout", "path": o} for o in outputs]
    if not outputs:
        devices.append({"name": "stdout"})
    return [{"name": name, "exec": {"path": prog}, "devices": devices}]


def primaries(ring, cont, obj):
    return [n.split(":")[0] for n in
            swift_get_nodes(SWIFT_DIR, "AUTH_test", cont, obj, ring)[2]]


def placed_ip(res, i):
    return res["nodes"][res["placement"][i]]["http"].split(":")[0]


def main():
    tmp = tempfile.mkdtemp(prefix="zvm-prep-")
    port = free_port(NODE_IPS)
    workers = Workers(tmp, port)
    try:
        secret = os.path.join(tmp, "secret")
        with open(secret, "w") as f:
            f.write("s" * 40)
        os.chmod(secret, 0o600)
        os.makedirs(tmp + "/store")
        os.makedirs(tmp + "/spool")
        conf = os.path.join(tmp, "zvmd.conf")
        with open(conf, "w") as f:
            f.write("[zvmd]\nroot = %s/store\nspool = %s/spool\n"
                    "[cluster]\nrole = cluster\nproxy_url = %s\n"
                    "swift_dir = %s\ndevices = %s\nnode_ip = %s\n"
                    "worker_port = %d\nsecret_file = %s\n" % (
                        tmp, tmp, os.environ["ZVM_SWIFT_URL"], SWIFT_DIR,
                        tmp, NODE_IPS[0], port, secret))
        for ip in NODE_IPS:
            workers.start(ip)
        a = Account(PROXY, "test:tester", "testing")
        b = Account(PROXY, "test2:tester2", "testing2")
        tok = a.token
        a.put("books", b"")
        a.put("bin", b"")
        a.put("out", b"")
        a.put("silver", b"", {"X-Storage-Policy": "silver"})
        a.put("bin/prog", b"\x7fELF not really")
        books = {}
        for i in range(7):
            name = "b%d.txt" % i
            books[name] = ("book %d " % i).encode() * (i + 1)
            a.put("books/" + name, books[name])
        a.put("books/notes.md", b"not a txt")
        a.put("silver/s.txt", b"silver data")
        b.put("private", b"")
        b.put("private/secret.txt", b"secret")

        # Wildcards over pages of 2 names: 7 instances, each on the first
        # primary of its object; HEAD results recorded.
        res = prep(conf, tok, job("swift://~/books/*.txt"), limit=2)
        check(res["status"] == 200, res)
        check(res["instances"] == ["map-%d" % i for i in range(1, 8)], res)
        for i, name in enumerate(sorted(books)):
            want = primaries("object.ring.gz", "books", name)[0]
            check(placed_ip(res, i) == want, "%s on %s, first primary %s"
                  % (name, placed_ip(res, i), want))
            o = res["objects"]["AUTH_test/books/" + name]
            _, h, _ = a.call("HEAD", "books/" + name)
            check(o["etag"] == hashlib.md5(books[name]).hexdigest() and
                  o["size"] == len(books[name]) and
                  o["timestamp"] == h["X-Timestamp"] and o["policy"] == 0,
                  "%s: %r" % (name, o))
        check("AUTH_test/bin/prog" in res["objects"], res["objects"])
        check(sum(n["instances"] for n in res["nodes"]) == 7, res["nodes"])

        # The silver policy's ring places the silver object.
        res = prep(conf, tok, job("swift://~/silver/s.txt"))
        check(res["status"] == 200, res)
        check(res["objects"]["AUTH_test/silver/s.txt"]["policy"] == 1, res)
        check(placed_ip(res, 0) ==
              primaries("object-1.ring.gz", "silver", "s.txt")[0], res)

        # The first primary's zvmd is down: the next primary.
        first, second = primaries("object.ring.gz", "books", "b0.txt")[:2]
        workers.stop(first)
        res = prep(conf, tok, job("swift://~/books/b0.txt"))
        check(res["status"] == 200 and placed_ip(res, 0) == second,
              "first primary %s down: %r" % (first, res))
        # Instances without an object spread over the live nodes.
        res = prep(conf, tok, [{"name": "free", "count": 4, "exec": {
            "path": "swift://~/bin/prog"}, "devices": [{"name": "stdout"}]}])
        check(res["status"] == 200, res)
        used = sorted(placed_ip(res, i) for i in range(4))
        live = sorted(ip for ip in NODE_IPS if ip != first)
        check(used == sorted(live * 2), "4 instances on %r (live %r)"
              % (used, live))
        workers.start(first)

        # Another account's private object: 403 naming it, nothing else
        # asked; then the owner grants read and it plans.
        res = prep(conf, tok, job("swift://AUTH_test2/private/secret.txt"))
        check(res["status"] == 403 and
              "swift://AUTH_test2/private/secret.txt" in res["message"], res)
        res = prep(conf, tok, job("swift://AUTH_test2/private/*.txt"))
        check(res["status"] == 403 and "AUTH_test2/private" in
              res["message"], res)
        res = prep(conf, tok, job("swift://AUTH_test2/private"))
        check(res["status"] == 403 and "listing refused" in res["message"],
              res)
        b.put("private", b"", {"X-Container-Read": "test:tester"})
        res = prep(conf, tok, job("swift://AUTH_test2/private"))
        check(res["status"] == 200, res)
        res = prep(conf, tok, job("swift://AUTH_test2/private/secret.txt"))
        check(res["status"] == 200, res)
        res = prep(conf, tok, job("swift://AUTH_test2/private/*.txt"))
        check(res["status"] == 200 and res["instances"] == ["map-1"], res)

        # Write probes: allowed (and nothing created), refused, no
        # container.
        res = prep(conf, tok, job(None, outputs=["swift://~/out/r.txt"]))
        check(res["status"] == 200, res)
        status, _, data = a.call("GET", "out", query="format=json")
        check(status == 200 and json.loads(data) == [],
              "the probe created objects: %d %r" % (status, data))
        res = prep(conf, tok, job(None, outputs=[
            "swift://AUTH_test2/private/w.txt"]))
        check(res["status"] == 403 and
              "swift://AUTH_test2/private/w.txt" in res["message"], res)
        res = prep(conf, tok, job(None, outputs=["swift://~/nope/w.txt"]))
        check(res["status"] == 404 and "nope" in res["message"], res)
        status = b.head("private/w.txt")
        check(status == 404, "refused probe created an object: %d" % status)

        # A missing program or input: 404 naming it.
        res = prep(conf, tok, job("swift://~/books/b1.txt",
                                  prog="swift://~/bin/missing"))
        check(res["status"] == 404 and "swift://AUTH_test/bin/missing" in
              res["message"], res)
        res = prep(conf, tok, job("swift://~/books/none.txt"))
        check(res["status"] == 404 and "books/none.txt" in res["message"],
              res)
        # A bad token: refused by Swift.
        res = prep(conf, "AUTH_tk" + "0" * 32, job("swift://~/books/b1.txt"))
        check(res["status"] in (401, 403), res)

        # No worker up: 503 naming the nodes.
        workers.stop_all()
        res = prep(conf, tok, job("swift://~/books/b1.txt"))
        check(res["status"] == 503 and "healthcheck" in res["message"], res)
        print("test_prep: all cases passed")
    finally:
        workers.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
