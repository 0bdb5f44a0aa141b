#!/usr/bin/python3
"""Programs in an image root (sandbox/README.md "Images"), through zvsh.

    run_image.py CASE

Environment (set by meson): ZVSH, ZEROVM, IMGESCAPE (static attacker),
DYNPROBE (dynamically linked probe), IMAGE_PYTHON3 and IMAGE_BUSYBOX
(tars from deploy/images), IMAGE_CACHE (where tars are extracted).

Attack cases build an image directory holding the attacker at
/prog/imgescape and bait: /data, symlinks to the host's canary (absolute
and relative), device nodes (/evil/*, and a mem node in the image's own
/dev), a setuid-root copy at /prog/suid, an empty /proc. Each must end
"RESULT: contained" (exit 0), with the image tree, the canary and the
host's /tmp unchanged; with determinism on and off. Functional cases run
a dynamically linked C program, python3 and busybox from images.
Exit status 0 = pass.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

ZVSH = os.environ.get("ZVSH", "zvsh")
ZEROVM = os.environ.get("ZEROVM", "zerovm")
ENV = dict(os.environ, ZEROVM_IMAGE_CACHE=os.environ.get(
    "IMAGE_CACHE", tempfile.gettempdir() + "/zvm-imageroot-cache"))
TMP_SIZE = 1 << 20


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def tree_state(root):
    """Everything about a tree a program could change."""
    state = []
    for d, dirs, files in os.walk(root):
        for n in sorted(dirs + files):
            p = os.path.join(d, n)
            st = os.lstat(p)
            digest = ""
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            state.append((os.path.relpath(p, root), st.st_mode, st.st_size,
                          st.st_mtime_ns, st.st_uid, digest))
    return sorted(state)


def zvsh(args, stdin=b"", mode=(), check_rc=None):
    proc = subprocess.run([ZVSH, *mode, *args], input=stdin,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=ENV, timeout=120)
    out = proc.stdout.decode(errors="replace")
    err = proc.stderr.decode(errors="replace")
    print(f"$ zvsh {' '.join(mode)} {' '.join(args)}\n--- stdout\n{out}"
          f"--- stderr\n{err}--- exit {proc.returncode}")
    if check_rc is not None:
        check(proc.returncode == check_rc,
              f"zvsh exited {proc.returncode}, expected {check_rc}")
    return proc.returncode, out, err


# ------------------------------------------------------------ attacks

def attack_image(work, canary):
    img = os.path.join(work, "image")
    for d in ("prog", "dev", "tmp", "proc", "evil", "lib64"):
        os.makedirs(os.path.join(img, d))
    prog = os.path.join(img, "prog", "imgescape")
    shutil.copy(os.environ["IMGESCAPE"], prog)
    os.chmod(prog, 0o755)
    suid = os.path.join(img, "prog", "suid")
    shutil.copy(os.environ["IMGESCAPE"], suid)
    os.chown(suid, 0, 0)
    os.chmod(suid, 0o4755)
    shutil.copy("/lib64/ld-linux-x86-64.so.2", os.path.join(img, "lib64"))
    with open(os.path.join(img, "data"), "w") as f:
        f.write("image data\n")
    secret = os.path.join(canary, "secret")
    os.symlink(secret, os.path.join(img, "abs_link"))
    os.symlink("../" * 16 + secret.lstrip("/"), os.path.join(img, "rel_link"))
    os.symlink("/", os.path.join(img, "root_link"))
    os.symlink("..", os.path.join(img, "dotdot_link"))
    root_dev = os.stat("/").st_dev
    for name, kind, dev in (
            ("evil/mem", 0o020000, os.makedev(1, 1)),
            ("evil/null", 0o020000, os.makedev(1, 3)),
            ("evil/kmsg", 0o020000, os.makedev(1, 11)),
            ("evil/disk", 0o060000, os.makedev(os.major(root_dev),
                                                os.minor(root_dev))),
            ("dev/mem", 0o020000, os.makedev(1, 1))):
        os.mknod(os.path.join(img, name), kind | 0o666, dev)
    return img


def run_attack(attack, mode):
    work = tempfile.mkdtemp(prefix="zvm-imageroot-")
    try:
        canary = os.path.join(work, "canary")
        os.mkdir(canary)
        with open(os.path.join(canary, "secret"), "w") as f:
            f.write("canary secret " + os.urandom(8).hex() + "\n")
        img = attack_image(work, canary)
        before = tree_state(img), tree_state(canary), sorted(os.listdir("/tmp"))
        prog = "/prog/suid" if attack == "setuid" else "/prog/imgescape"
        extra = [str(TMP_SIZE)] if attack == "tmpfill" else []
        runs = 2 if attack == "tmpfill" else 1  # the second /tmp is fresh
        for _ in range(runs):
            rc, out, _ = zvsh(["--image", img, "--tmp", str(TMP_SIZE), prog,
                               canary, prog, "token", attack, *extra],
                              mode=mode)
            check("canary secret" not in out, "the secret was printed")
            check("ESCAPED" not in out, "the program reports an ESCAPE")
            check(rc == 0 and "RESULT: contained" in out,
                  f"ended with exit {rc}, not 'RESULT: contained'")
        pwned = [n for n in os.listdir("/tmp") if n.startswith("zvm-hostile-pwned")]
        check(not pwned, f"host /tmp has {pwned}")
        after = tree_state(img), tree_state(canary), sorted(os.listdir("/tmp"))
        check(after[0] == before[0], "the image tree changed")
        check(after[1] == before[1], "the canary changed")
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ------------------------------------------------------------ programs

def lib_image(work, prog, name):
    """An image with a dynamically linked program and what ldd says it
    needs, the way one would assemble it by hand."""
    img = os.path.join(work, "image")
    for d in ("bin", "dev", "tmp"):
        os.makedirs(os.path.join(img, d))
    shutil.copy(prog, os.path.join(img, "bin", name))
    ldd = subprocess.run(["ldd", prog], stdout=subprocess.PIPE, check=True)
    for word in ldd.stdout.decode().split():
        if word.startswith("/"):
            dest = os.path.join(img, word.lstrip("/"))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copy(word, dest)
    return img


def case_dynamic():
    work = tempfile.mkdtemp(prefix="zvm-imageroot-")
    try:
        img = lib_image(work, os.environ["DYNPROBE"], "dynprobe")
        inp = os.path.join(work, "input")
        with open(inp, "w") as f:
            f.write("from a channel\n")
        want = ("args: one two /dev/input\ntmp: scratch ok\ninput: from a channel\n"
                "devices: ok\ntmp listing: . .. a b c scratch\n")
        for mode in ((), (), ("-N",)):
            _, out, _ = zvsh(["--image", img, "/bin/dynprobe", "one", "two",
                              f"@input={inp}"], mode=mode, check_rc=0)
            if mode:  # the kernel's order: tmpfs lists newest first
                head, listing = out.rsplit("tmp listing:", 1)
                out = head + "tmp listing: " + " ".join(sorted(listing.split())) + "\n"
            check(out == want, f"output {out!r}, expected {want!r}")
        # Not found, not executable, no interpreter in the image.
        rc, _, err = zvsh(["--image", img, "/bin/missing"])
        check(rc == 125 and "/bin/missing" in err, "a missing program")
        os.chmod(os.path.join(img, "bin", "dynprobe"), 0o750)
        rc, _, err = zvsh(["--image", img, "/bin/dynprobe"])
        check(rc == 125 and "chmod o+x" in err, "a program not o+x")
        os.chmod(os.path.join(img, "bin", "dynprobe"), 0o755)
        os.remove(os.path.join(img, "lib64", "ld-linux-x86-64.so.2"))
        rc, _, err = zvsh(["--image", img, "/bin/dynprobe"])
        check(rc == 125 and "interpreter" in err, "no ld.so in the image")
        rc, _, err = zvsh(["--image", img, "/../../../bin/../usr/bin/env"])
        check(rc == 125 and "No such file" in err, "a path out of the image")
        os.rmdir(os.path.join(img, "dev"))
        rc, _, err = zvsh(["--image", img, "/bin/dynprobe"])
        check(rc == 125 and "/dev must be a directory" in err,
              "an image without /dev")
        rc, _, err = zvsh(["--image", os.path.join(work, "nope"), "/bin/x"])
        check(rc == 125 and "nope" in err, "a missing image")
    finally:
        shutil.rmtree(work, ignore_errors=True)


PY_SCRIPT = r"""
import os, sys, json, hashlib, tempfile
total = sum(int(l) for l in open('/dev/input'))
with tempfile.NamedTemporaryFile('w+', dir='/tmp') as t:
    t.write('x' * 1000); t.flush(); t.seek(0); n = len(t.read())
os.chdir('/dev')
names = sorted(l.split()[1] for l in open('channels'))
print(json.dumps({'total': total, 'tmp': n, 'sha': hashlib.sha256(b'zerovm').hexdigest()[:12],
                  'channels': names, 'cwd': os.getcwd(), 'uid': os.getuid()}))
with open('output', 'w') as out:
    out.write('written through an alias\n')
"""


def case_python():
    work = tempfile.mkdtemp(prefix="zvm-imageroot-")
    try:
        tar = os.environ["IMAGE_PYTHON3"]
        inp = os.path.join(work, "input")
        with open(inp, "w") as f:
            f.write("".join(f"{i}\n" for i in range(1, 101)))
        outp = os.path.join(work, "output")
        _, out, _ = zvsh(["--image", tar, "/usr/bin/python3", "-c", PY_SCRIPT,
                          f"@input={inp}", f"@output={outp}"], check_rc=0)
        want = ('{"total": 5050, "tmp": 1000, "sha": "'
                + hashlib.sha256(b"zerovm").hexdigest()[:12]
                + '", "channels": ["/dev/input", "/dev/output", "/dev/stderr",'
                ' "/dev/stdin", "/dev/stdout"], "cwd": "/dev", "uid": 65534}\n')
        check(out == want, f"python printed {out!r}, expected {want!r}")
        with open(outp) as f:
            check(f.read() == "written through an alias\n", "/dev/output")
        _, again, _ = zvsh(["--image", tar, "/usr/bin/python3", "-c",
                            "import random, time; print(random.random(), time.time())"],
                           check_rc=0)
        _, twice, _ = zvsh(["--image", tar, "/usr/bin/python3", "-c",
                            "import random, time; print(random.random(), time.time())"],
                           check_rc=0)
        check(again == twice, "python is not deterministic")
        rc, _, err = zvsh(["--image", tar, "/usr/bin/python3", "-c",
                           "import os; os.fork()"])
        check(rc == 1 and "PermissionError" in err, "fork must fail")
        # The zerovm manifest key.
        manifest = os.path.join(work, "manifest")
        with open(manifest, "w") as f:
            f.write(f"""Version = 20130611
Program = /usr/bin/python3
Image = {tar}
ImageTmp = 65536
Memory = 1073741824, 0
Timeout = 60
CommandLine = python3 -c "print(sum(map(int, open('/dev/input'))))"
Channel = /dev/stdin, /dev/stdin, 0, 0, 4294967296, 4294967296, 0, 0
Channel = {work}/zerovm.out, /dev/stdout, 0, 0, 0, 0, 4294967296, 4294967296
Channel = /dev/stderr, /dev/stderr, 0, 0, 0, 0, 4294967296, 4294967296
Channel = {inp}, /dev/input, 1, 0, 4294967296, 4294967296, 0, 0
""")
        proc = subprocess.run([ZEROVM, manifest], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=ENV, timeout=120)
        print(proc.stdout.decode(), proc.stderr.decode())
        check(proc.returncode == 0, f"zerovm exited {proc.returncode}")
        with open(f"{work}/zerovm.out") as f:
            check(f.read() == "5050\n", "zerovm with Image")
        # A dynamically linked program may read the TSC (ld.so does): the
        # validation line says so instead of claiming determinism.
        first = proc.stdout.decode().split("\n")[0]
        check(first.startswith("0 nondeterministic: tsc"),
              f"validation line {first!r} does not name the TSC")
    finally:
        shutil.rmtree(work, ignore_errors=True)


PY_ESCAPE = r"""
import ctypes, os, socket, subprocess, threading
libc = ctypes.CDLL(None, use_errno=True)
attempts = {
    'socket': lambda: socket.socket(),
    'fork': lambda: os.fork(),
    'subprocess': lambda: subprocess.run(['/usr/bin/python3', '-c', 'pass']),
    'thread': lambda: threading.Thread(target=print).start(),
    'proc': lambda: open('/proc/self/maps'),
    'host file': lambda: open('/etc/passwd'),
    'write image': lambda: open('/usr/bin/python3', 'ab'),
    'mkdir image': lambda: os.mkdir('/x'),
    'dotdot': lambda: os.listdir('/../../..') == os.listdir('/') or 1 / 0,
    'chroot': lambda: os.chroot('/tmp'),
    'execv': lambda: os.execv('/usr/bin/python3', ['python3', '-c', 'print("ESCAPED")']),
    'mount (ctypes)': lambda: libc.mount(b'proc', b'/proc', b'proc', 0, None) == 0 or
                      (_ for _ in ()).throw(OSError(ctypes.get_errno(), 'mount')),
}
for name, f in attempts.items():
    try:
        r = f()
        print('ESCAPED' if name != 'dotdot' else 'contained', name, r)
    except (OSError, RuntimeError) as e:
        print('contained', name, type(e).__name__, e.errno if isinstance(e, OSError) else '')
print('RESULT: contained')
"""


def case_python_escape():
    """Python's own ways out (ctypes included) end like the C attacker's."""
    tar = os.environ["IMAGE_PYTHON3"]
    for mode in ((), ("-N",)):
        _, out, _ = zvsh(["--image", tar, "/usr/bin/python3", "-c", PY_ESCAPE],
                         mode=mode, check_rc=0)
        check("ESCAPED" not in out and "RESULT: contained" in out,
              "a python attempt got out")
        check(out.count("contained ") == 12, "not every attempt ran")


def case_busybox():
    tar = os.environ["IMAGE_BUSYBOX"]
    _, out, _ = zvsh(["--image", tar, "/usr/bin/wc", "-l"],
                     stdin=b"a\nb\nc\n", check_rc=0)
    check(out.strip() == "3", f"wc -l printed {out!r}")
    # A pipeline is a chain of instances, each one applet.
    sort = subprocess.Popen([ZVSH, "--image", tar, "/usr/bin/sort", "-n"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            env=ENV)
    head = subprocess.Popen([ZVSH, "--image", tar, "/usr/bin/head", "-2"],
                            stdin=sort.stdout, stdout=subprocess.PIPE, env=ENV)
    sort.stdout.close()
    sort.stdin.write(b"10\n9\n2\n30\n1\n")
    sort.stdin.close()
    out = head.communicate(timeout=60)[0]
    sort.wait(timeout=60)
    check(out == b"1\n2\n", f"sort | head printed {out!r}")
    _, out, _ = zvsh(["--image", tar, "/bin/sh", "-c", "echo $((6 * 7))"],
                     check_rc=0)
    check(out == "42\n", "sh -c with builtins only")
    # A shell pipeline needs fork: refused, and said so.
    rc, _, err = zvsh(["--image", tar, "/bin/sh", "-c", "echo a | cat"])
    check(rc != 0, "sh -c 'echo a | cat' cannot fork")


CASES = {
    "dynamic": case_dynamic,
    "python": case_python,
    "busybox": case_busybox,
    "python_escape": case_python_escape,
}
ATTACKS = ["dotdot", "symlink", "proc", "write", "setuid", "devnode",
           "hardlink", "tmpfill", "exec"]


def main():
    name = sys.argv[1]
    try:
        if name in ATTACKS:
            run_attack(name, ())
            run_attack(name, ("-N",))
        else:
            CASES[name]()
    except (Failure, subprocess.TimeoutExpired) as e:
        print(f"FAIL {name}: {e}")
        return 1
    print(f"PASS {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
