#!/usr/bin/python3
"""Images in zvmd: a real daemon with [sysimages] python3 and busybox (tars
built by deploy/images/ into the build dir), real HTTP. One case per run:
test_zvmd_images.py CASE.

Environment (set by meson): ZVMD, ZVMD_BOOKS (as for tests/daemon),
IMAGE_PYTHON3, IMAGE_BUSYBOX (the image tars), TARS (the hostile archives
of make_tars.py).
"""
import collections
import glob
import hashlib
import io
import json
import os
import re
import socket
import subprocess
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "daemon"))
sys.path.insert(0, os.path.join(HERE, ".."))
from harness import Failure, check, wait_for  # noqa: E402
import test_zvmd  # noqa: E402

IMAGES = {"python3": os.environ["IMAGE_PYTHON3"],
          "busybox": os.environ["IMAGE_BUSYBOX"]}
TARS = os.environ["TARS"]

WORDCOUNT = r"""
import collections, re, sys
words = collections.Counter()
with open("/dev/input") as f:
    for line in f:
        words.update(re.findall(r"[a-z']+", line.lower()))
for word, n in sorted(words.items(), key=lambda kv: (-kv[1], kv[0]))[:10]:
    print(n, word)
"""


class Daemon(test_zvmd.Daemon):
    """zvmd with a [sysimages] section and its image cache in the temp dir."""

    def __init__(self, images=IMAGES, **conf):
        self.images = images
        super().__init__(**conf)

    def write_conf(self, settings):
        super().write_conf(settings)
        with open(self.conf, "a") as f:
            f.write("[sysimages]\n")
            for name, path in self.images.items():
                f.write("%s = %s\n" % (name, path))

    def cache_trees(self):
        return [p for p in glob.glob(os.path.join(self.spool, "images", "*"))
                if re.fullmatch(r"[0-9a-f]{64}", os.path.basename(p))]


def text():
    with open(os.path.join(test_zvmd.BOOKS, sorted(
            os.listdir(test_zvmd.BOOKS))[0]), encoding="utf-8") as f:
        return f.read()


def expected_wordcount(data):
    words = collections.Counter(re.findall(r"[a-z']+", data.lower()))
    top = sorted(words.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    return "".join("%d %s\n" % (n, w) for w, n in top)


def python_job():
    return [{"name": "wc",
             "exec": {"path": "file://python3:python3",
                      "args": "/dev/script"},
             "devices": [{"name": "python3"},
                         {"name": "script",
                          "path": "swift://~/scripts/wc.py"},
                         {"name": "input", "path": "swift://~/data/book.txt"},
                         {"name": "stdout"}]}]


def case_python_wordcount(d):
    data = text()
    d.put("scripts/wc.py", WORDCOUNT)
    d.put("data/book.txt", data)
    s, h, body = d.job(python_job())
    check(s == 200, "python job: %d %r %r" % (s, body[-2000:],
                                             h.get("X-Nexe-Status")))
    check(body.decode() == expected_wordcount(data),
          "word count:\n%s\nwanted:\n%s" % (body.decode(),
                                            expected_wordcount(data)))


def case_second_run_cached(d):
    d.put("scripts/wc.py", WORDCOUNT)
    d.put("data/book.txt", text())
    first = d.job(python_job())
    check(first[0] == 200, "first run: %d %r" % (first[0], first[2][-500:]))
    trees = d.cache_trees()
    check(len(trees) == 1, "one tree after the first run: %r" % trees)
    mtime = os.stat(trees[0]).st_mtime_ns
    second = d.job(python_job())
    check(second[0] == 200, "second run: %d" % second[0])
    check(second[2] == first[2], "same output twice")
    m = d.metrics()
    check(m["zvmd_image_extractions_total"] == 1,
          "extracted once: %r" % m["zvmd_image_extractions_total"])
    check(d.cache_trees() == trees and
          os.stat(trees[0]).st_mtime_ns == mtime, "the tree was remade")
    d.log.flush()
    d.log.seek(0)
    log = d.log.read()
    check(log.count("image extracted") == 1, "log lines: %r" % log[-2000:])


def case_disconnect_during_extraction(d):
    """The client leaves while the image is being unpacked: the job is
    cancelled, the extraction still completes (and is reused), zvmd stays
    up and drains cleanly (checked when the Daemon stops)."""
    d.put("scripts/wc.py", WORDCOUNT)
    d.put("data/book.txt", text())
    body = json.dumps(python_job()).encode()
    sock = socket.create_connection(("127.0.0.1", d.port))
    sock.sendall(b"POST /v1/acct HTTP/1.1\r\nHost: x\r\n"
                 b"X-Zerovm-Execute: 1.0\r\n"
                 b"Content-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body) + body)
    wait_for(lambda: os.path.isdir(os.path.join(d.spool, "images", ".locks")),
             "the extraction to start")
    sock.close()
    wait_for(lambda: d.metrics()["zvmd_image_extractions_total"] == 1,
             "the extraction to finish")
    s, _, out = d.job(python_job())
    check(s == 200 and out, "a job after the disconnect: %d %r" % (s, out))
    check(len(d.cache_trees()) == 1, "trees: %r" % d.cache_trees())
    check(d.metrics()["zvmd_image_extractions_total"] == 1, "re-extracted")


def busybox_job(args, exe="bin/busybox"):
    return [{"name": "bb",
             "exec": {"path": "file://busybox:" + exe, "name": "busybox",
                      "args": args},
             "devices": [{"name": "busybox"},
                         {"name": "input", "path": "swift://~/data/lines.txt"},
                         {"name": "stdout"}]}]


LINES = "pear\napple\nfig\napple\n"


def case_busybox(d):
    d.put("data/lines.txt", LINES)
    s, h, body = d.job(busybox_job("wc -l /dev/input"))
    check(s == 200, "wc: %d %r %r" % (s, body, h.get("X-Nexe-Status")))
    check(body.split() == [b"4", b"/dev/input"], "wc -l: %r" % body)
    s, h, body = d.job(busybox_job("sort -u /dev/input"))
    check(s == 200 and body == b"apple\nfig\npear\n", "sort: %d %r %r" %
          (s, body, h.get("X-Nexe-Status")))


def case_object_program_over_image(d):
    """A static program stored as an object, with a system image device:
    the image is its root (the program sees the image's files)."""
    s, h, body = d.job([test_zvmd.group(
        "hello", "hello", devices=[{"name": "busybox"}, {"name": "stdout"}])])
    check(s == 200 and body == b"hello, world\n",
          "hello over busybox: %d %r %r" % (s, body, h.get("X-Nexe-Status")))
    s, h, body = d.job([test_zvmd.group(
        "cat", "cat", args="/bin/busybox",
        devices=[{"name": "busybox"}, {"name": "stdout"}])])
    check(s == 200 and body[:4] == b"\x7fELF",
          "cat of a file of the image: %d %r %r" % (s, body[:40],
                                                    h.get("X-Nexe-Status")))


def case_job_image(d):
    """The job brings its own image: a tar object as the `image` device."""
    with open(IMAGES["busybox"], "rb") as f:
        d.put("images/bb.tar", f.read())
    d.put("data/lines.txt", LINES)
    s, h, body = d.job([{
        "name": "bb",
        "exec": {"path": "file://bin/busybox", "name": "busybox",
                 "args": "wc -l /dev/input"},
        "devices": [{"name": "image", "path": "swift://~/images/bb.tar"},
                    {"name": "input", "path": "swift://~/data/lines.txt"},
                    {"name": "stdout"}]}])
    check(s == 200 and body.split() == [b"4", b"/dev/input"],
          "job image: %d %r %r" % (s, body, h.get("X-Nexe-Status")))


def case_errors(d):
    s, _, body = d.job([{"name": "x",
                         "exec": {"path": "file://nope:python3"}}])
    check(s == 400 and b'no system image named "nope"' in body,
          "unknown image in exec.path: %d %r" % (s, body))
    s, _, body = d.job([{"name": "x", "exec": {"path": "file://busybox:bin/sh"},
                         "devices": [{"name": "nope"}]}])
    check(s == 400 and b"nope" in body, "unknown image device: %d %r" %
          (s, body))
    d.put("data/lines.txt", LINES)
    s, h, body = d.job(busybox_job("true", exe="bin/no-such-program"))
    check(s == 404 and "bin/no-such-program" in h.get("X-Nexe-Status", ""),
          "missing program in an image: %d %r" % (s, h.get("X-Nexe-Status")))
    s, _, body = d.job([{"name": "x", "exec": {"path": "file://bin/busybox"}}])
    check(s == 400 and b'no "image" device' in body,
          "file:// program without an image: %d %r" % (s, body))
    # A hostile job image: refused, naming the entry; nothing cached.
    before = d.cache_trees()
    with open(os.path.join(TARS, "dotdot.tar"), "rb") as f:
        d.put("images/evil.tar", f.read())
    s, h, body = d.job([{
        "name": "x", "exec": {"path": "file://bin/busybox"},
        "devices": [{"name": "image", "path": "swift://~/images/evil.tar"}]}])
    status = h.get("X-Nexe-Status", "")
    check(s == 400 and "entry '../evil'" in status,
          "hostile image: %d %r" % (s, status))
    check(d.cache_trees() == before, "a hostile image left a tree")
    check(not glob.glob(os.path.join(d.spool, "images", ".tmp-*")),
          "a hostile image left a temporary tree")


def case_check_config(_):
    """--check-config: every system image must be a readable file."""
    tmp = tempfile.mkdtemp(prefix="zvmd-images-conf-")
    os.makedirs(os.path.join(tmp, "root"))
    os.makedirs(os.path.join(tmp, "spool"))
    conf = os.path.join(tmp, "zvmd.conf")

    def run(sysimages):
        with open(conf, "w") as f:
            f.write("[zvmd]\nroot = %s/root\nspool = %s/spool\n[sysimages]\n"
                    % (tmp, tmp) + sysimages)
        return subprocess.run([test_zvmd.ZVMD, "-c", conf, "--check-config"],
                              capture_output=True, text=True)

    r = run("python3 = %s\nbusybox = %s\n" % (IMAGES["python3"],
                                              IMAGES["busybox"]))
    check(r.returncode == 0, "good config: %d %s" % (r.returncode, r.stderr))
    r = run("python3 = %s\nbusybox = %s/missing.tar\n" % (IMAGES["python3"],
                                                          tmp))
    check(r.returncode != 0 and "zvmd.conf:6: [sysimages] busybox" in r.stderr
          and "missing.tar" in r.stderr, "missing image: %s" % r.stderr)
    r = run("python3 = %s\n" % tmp)
    check(r.returncode != 0 and "not a regular file" in r.stderr,
          "directory as image: %s" % r.stderr)
    r = run("stdin = %s\n" % IMAGES["python3"])
    check(r.returncode != 0 and "built-in device" in r.stderr,
          "reserved name: %s" % r.stderr)
    r = run("py = %s\npy = %s\n" % (IMAGES["python3"], IMAGES["python3"]))
    check(r.returncode != 0 and "set twice" in r.stderr,
          "duplicate name: %s" % r.stderr)
    subprocess.run(["rm", "-rf", tmp], check=True)


def small_image(path, n):
    """A tar of bin/hello and 2 MiB of bytes of its own (a tree of about
    2.9 MB); returns the SHA-256 that names its tree in the cache."""
    with tarfile.open(path, "w") as t:
        t.add(test_zvmd.PROGRAMS["hello"], "bin/hello")
        filler = hashlib.sha256(b"%d" % n).digest() * (65536)
        info = tarfile.TarInfo("filler")
        info.size = len(filler)
        t.addfile(info, io.BytesIO(filler))
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def du(path):
    """Disk use of a tree, as zvmd counts it (st_blocks)."""
    total = os.lstat(path).st_blocks * 512
    for top, dirs, files in os.walk(path):
        for n in dirs + files:
            total += os.lstat(os.path.join(top, n)).st_blocks * 512
    return total


EVICT_BOUND = 7 << 20


def case_eviction(d):
    """image_cache_size 7M, images of ~2.9 MB: the third image evicts the
    least recently used one nobody uses — not img1, the root of a running
    instance, although it is the oldest; the evicted one is unpacked again
    when a job needs it, and works."""
    names = sorted(d.images)
    hexes = {n: small_image(d.images[n], i) for i, n in enumerate(names)}
    trees = lambda: {os.path.basename(p) for p in d.cache_trees()}  # noqa

    def hello(image):
        s, h, body = d.job([{"name": "h",
                             "exec": {"path": "file://%s:bin/hello" % image},
                             "devices": [{"name": "stdout"}]}])
        check(s == 200 and body == b"hello, world\n", "hello in %s: %d %r %r"
              % (image, s, body, h.get("X-Nexe-Status")))

    def evicted(n):
        wait_for(lambda: d.metrics()["zvmd_image_evictions_total"] == n,
                 "%d evictions" % n)
    spin = test_zvmd.raw_job_socket(d, [test_zvmd.group(
        "spin", "spin", devices=[{"name": "img1"}, {"name": "stdout"}])])
    try:
        wait_for(lambda: d.metrics()["zvmd_slots_used"] == 1, "spin to run")
        hello("img2")
        size = du(os.path.join(d.spool, "images", hexes["img2"]))
        check(2 * size <= EVICT_BOUND < 3 * size,
              "the images do not fit the test: a tree takes %d bytes" % size)
        check(trees() == {hexes["img1"], hexes["img2"]}, "trees %r" % trees())
        hello("img3")
        evicted(1)
        check(trees() == {hexes["img1"], hexes["img3"]},
              "img2 (least recently used, not in use) should have gone: %r"
              % trees())
        hello("img2")
        evicted(2)
        check(trees() == {hexes["img1"], hexes["img2"]},
              "img3 should have gone: %r" % trees())
        m = d.metrics()
        check(m["zvmd_image_extractions_total"] == 4,
              "img2 unpacked again: %r" % m["zvmd_image_extractions_total"])
        check(m["zvmd_image_cache_bytes"] == 2 * size,
              "cache bytes %r, want %d" % (m["zvmd_image_cache_bytes"],
                                           2 * size))
        d.log.flush()
        d.log.seek(0)
        log = d.log.read()
        for gone in ("img2", "img3"):
            check(re.search(r'msg="image evicted" root=\S*/%s bytes=%d'
                            % (hexes[gone], size), log),
                  "no eviction line for %s: %r" % (gone, log[-2000:]))
    finally:
        spin.close()
    wait_for(lambda: d.metrics()["zvmd_slots_used"] == 0, "spin to end")
    # img1, released, is the least recently used tree now, but two
    # trees fit: nothing more goes.
    check(d.metrics()["zvmd_image_evictions_total"] == 2, "evicted more")


CASES = {name[len("case_"):]: fn for name, fn in globals().items()
         if name.startswith("case_")}


def main():
    case = sys.argv[1]
    if case == "check_config":
        CASES[case](None)
    elif case == "eviction":
        tmp = tempfile.mkdtemp(prefix="zvmd-evict-")
        images = {n: os.path.join(tmp, n + ".tar")
                  for n in ("img1", "img2", "img3")}
        for path in images.values():  # --check-config wants the files
            open(path, "w").close()
        try:
            with Daemon(images=images, image_cache_size=EVICT_BOUND,
                        instance_timeout=120) as d:
                CASES[case](d)
        finally:
            subprocess.run(["rm", "-rf", tmp], check=True)
    else:
        with Daemon() as d:
            CASES[case](d)
    print("ok", case)


if __name__ == "__main__":
    try:
        main()
    except Failure as e:
        print("FAIL:", e)
        sys.exit(1)
