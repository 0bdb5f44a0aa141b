#!/usr/bin/python3
"""Suite 'deploy': installing zerovm on a node and running zvmd as a service.

    test_deploy.py CASE

Cases: install (meson install + install-storage-node.sh into a staging
root: tree, upgrade, uninstall, systemd-analyze verify), proxy (the filter
installed for /usr/bin/python3, proxy-server.conf applied, loaded by
paste.deploy, reverted), check_config (a good file and bad ones, each with
its message), readiness (sd_notify READY/RELOADING/STOPPING under a fake
NOTIFY_SOCKET), capabilities (a job under the unit's capability bounding
set), logs (one line per job, level, no secrets), spawn_failure (a program
that cannot start gets an answer), metrics_documented (every metric of
GET /metrics is in deploy/README.md), cluster (the installed filter and proxy
configuration in a real swift-proxy-server in front of zvmd).

Environment (set by meson): ZEROVM_SRC, ZEROVM_BUILD, ZEROVM_PREFIX,
ZEROVM_BINDIR, ZEROVM_UNITDIR, ZEROVM_CONFDIR, ZEROVM_BINS (installed
programs), ZVMD, ZVSH and ZVMD_PROG_HELLO (when zvmd is built).
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import (  # noqa: E402
    Failure, check, descendants, parked, wait_for)

SRC = os.environ["ZEROVM_SRC"]
BUILD = os.environ["ZEROVM_BUILD"]
PREFIX = os.environ["ZEROVM_PREFIX"]
BINDIR = os.environ["ZEROVM_BINDIR"]
UNITDIR = os.environ["ZEROVM_UNITDIR"]
CONFDIR = os.environ["ZEROVM_CONFDIR"]
BINS = os.environ["ZEROVM_BINS"].split()
ZVMD = os.environ.get("ZVMD")
ZVSH = os.environ.get("ZVSH")
PY = "/usr/bin/python3"




def run(cmd, env=None, ok=True, **kw):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(cmd, env=e, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, **kw)
    if ok and p.returncode != 0:
        raise Failure("%s exited %d:\n%s%s" % (" ".join(cmd), p.returncode,
                                                p.stdout, p.stderr))
    return p



def tree(root):
    """Every file and directory under root, as target paths, with the kind
    ('f' or 'd') and permission bits."""
    out = {}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            st = os.lstat(p)
            out["/" + os.path.relpath(p, root)] = (
                "d" if stat.S_ISDIR(st.st_mode) else "f",
                stat.S_IMODE(st.st_mode))
    return out


def parents(paths):
    out = set()
    for p in paths:
        while p != "/":
            p = os.path.dirname(p)
            if p != "/":
                out.add(p)
    return out


# ---------------------------------------------------------------- install

def storage_install(stage, *args):
    return run(["bash", os.path.join(SRC, "deploy/install-storage-node.sh"),
                "--no-build", "--builddir", BUILD] + list(args),
               env={"DESTDIR": stage})


def expected_files():
    files = {BINDIR + "/" + b for b in BINS}
    files |= {CONFDIR + "/zvmd.conf", CONFDIR + "/zvmd.conf.dist",
              UNITDIR + "/zvmd.service",
              PREFIX + "/share/doc/zerovm/deploy.md",
              "/var/lib/zerovm/storage-node.manifest"}
    return files


def check_tree(stage, files, dirs):
    got = tree(stage)
    want = files | dirs | parents(files | dirs)
    extra = sorted(set(got) - want)
    missing = sorted(want - set(got))
    check(not extra, "unexpected in the install: %s" % extra)
    check(not missing, "missing from the install: %s" % missing)
    for f in files:
        check(got[f][0] == "f", "%s is not a file" % f)
    return got


def systemd_verify(stage):
    """systemd-analyze verify on the staged unit, its binaries pointed at
    the staged ones (verify checks that ExecStart exists)."""
    unit = open(stage + UNITDIR + "/zvmd.service").read()
    check(("ExecStart=%s/zvmd -c %s/zvmd.conf" % (BINDIR, CONFDIR)) in unit,
          "ExecStart does not name the installed zvmd and config")
    tmp = tempfile.mkdtemp(prefix="zerovm-unit-")
    try:
        path = os.path.join(tmp, "zvmd.service")
        with open(path, "w") as f:
            f.write(unit.replace(BINDIR + "/", stage + BINDIR + "/"))
        p = run(["systemd-analyze", "verify", path], ok=False,
                env={"SYSTEMD_LOG_LEVEL": "notice"})
        ours = [l for l in (p.stdout + p.stderr).splitlines()
                if "zvmd.service" in l]
        check(p.returncode == 0 and not ours,
              "systemd-analyze verify: %d\n%s" % (p.returncode,
                                                  "\n".join(ours)))
    finally:
        shutil.rmtree(tmp)


def case_install():
    stage = tempfile.mkdtemp(prefix="zerovm-stage-")
    try:
        files = expected_files()
        dirs = {"/var/lib/zvmd/store", "/var/spool/zvmd", CONFDIR,
                "/var/lib/zerovm"}
        out = storage_install(stage).stdout
        check("Created %s/zvmd.conf" % CONFDIR in out, out)
        got = check_tree(stage, files, dirs)
        check(got[CONFDIR + "/zvmd.conf"][1] == 0o600, "zvmd.conf mode %o" %
              got[CONFDIR + "/zvmd.conf"][1])
        for d in ("/var/lib/zvmd/store", "/var/spool/zvmd"):
            check(got[d][1] == 0o700, "%s mode %o" % (d, got[d][1]))
        for b in BINS:
            check(got[BINDIR + "/" + b][1] & 0o111, b + " not executable")
        conf = stage + CONFDIR + "/zvmd.conf"
        check(open(conf).read() ==
              open(os.path.join(SRC, "conf/zvmd.conf")).read(),
              "zvmd.conf is not the sample")
        systemd_verify(stage)

        # Upgrade: an edited zvmd.conf survives, the sample is renewed.
        with open(conf, "a") as f:
            f.write("# edited by the operator\n")
        os.unlink(stage + CONFDIR + "/zvmd.conf.dist")
        out = storage_install(stage).stdout
        check("Keeping %s/zvmd.conf" % CONFDIR in out, out)
        check(open(conf).read().endswith("# edited by the operator\n"),
              "upgrade overwrote zvmd.conf")
        check_tree(stage, files, dirs)

        # Uninstall keeps the edited configuration and nothing else.
        out = storage_install(stage, "--uninstall").stdout
        check("keeping %s/zvmd.conf" % CONFDIR in out, out)
        left = {p for p, (k, _) in tree(stage).items() if k == "f"}
        check(left == {CONFDIR + "/zvmd.conf"}, "left after uninstall: %s"
              % sorted(left))

        # An unedited install uninstalls to nothing but empty directories.
        os.unlink(conf)
        storage_install(stage)
        storage_install(stage, "--uninstall")
        left = {p for p, (k, _) in tree(stage).items() if k == "f"}
        check(not left, "left after uninstall: %s" % sorted(left))
        for d in ("/var/lib/zvmd", "/var/spool/zvmd", CONFDIR,
                  "/var/lib/zerovm"):
            check(not os.path.exists(stage + d), d + " left behind")
    finally:
        shutil.rmtree(stage)


# ------------------------------------------------------------------ proxy

PROXY_CONF = """\
[DEFAULT]
bind_port = 8080

[pipeline:main]
# the usual pipeline, tempauth as auth
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache
    listing_formats tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
"""

LOAD_FILTER = """
import sys
from paste.deploy import loadfilter
conf, stage = sys.argv[1], sys.argv[2]
make = loadfilter('config:' + conf, 'zerovm')
import zerovm_filter
assert zerovm_filter.__file__.startswith(stage), zerovm_filter.__file__
def app(env, start):
    start('200 OK', [('Content-Type', 'text/plain')])
    return [b'passed through']
f = make(app)
assert [('127.0.0.1', 8090), ('10.0.0.2', 8090)] == f.endpoints, f.endpoints
out = []
body = f({'REQUEST_METHOD': 'GET', 'PATH_INFO': '/v1/AUTH_test/c/o',
          'SERVER_NAME': 'x', 'SERVER_PORT': '80', 'wsgi.input': None,
          'wsgi.url_scheme': 'http'}, lambda s, h: out.append(s))
assert out == ['200 OK'] and b''.join(body) == b'passed through', out
print('loaded', zerovm_filter.__file__)
"""


def case_proxy():
    stage = tempfile.mkdtemp(prefix="zerovm-proxy-")
    script = os.path.join(SRC, "deploy/install-proxy-node.sh")
    endpoints = "http://127.0.0.1:8090, http://10.0.0.2:8090"
    try:
        conf = os.path.join(stage, "proxy-server.conf")
        with open(conf, "w") as f:
            f.write(PROXY_CONF)
        env = {"DESTDIR": stage + "/root"}
        out = run(["bash", script], env=env).stdout
        check("[filter:zerovm]" in out and "tempauth zerovm" in out,
              "printed lines:\n" + out)
        run(["bash", script, "--apply", conf, "--endpoints", endpoints],
            env=env)
        text = open(conf).read()
        pipe = re.search(r"^pipeline = (.*)$", text, re.M).group(1).split()
        check(pipe[pipe.index("tempauth") + 1] == "zerovm", text)
        check(text.count("[filter:zerovm]") == 1, text)
        check(text.startswith(PROXY_CONF.split("[pipeline")[0]), text)
        # Again (an upgrade): nothing doubles.
        run(["bash", script, "--apply", conf, "--endpoints", endpoints],
            env=env)
        check(open(conf).read() == text, "second --apply changed the file")

        site = run([PY, "-c", "import site; "
                    "print(site.getsitepackages()[0])"]).stdout.strip()
        check(os.path.isfile(stage + "/root" + site + "/zerovm_filter.py"),
              "zerovm_filter.py not in " + site)
        out = run([PY, "-c", LOAD_FILTER, conf, stage],
                  env={"PYTHONPATH": stage + "/root" + site,
                       "PYTHONDONTWRITEBYTECODE": "1"}).stdout
        check("loaded " + stage in out, out)

        run(["bash", script, "--uninstall"], env=env)
        text = open(conf).read()
        check("zerovm" not in text, "uninstall left zerovm in:\n" + text)
        left = [p for p, (k, _) in tree(stage + "/root").items() if k == "f"]
        check(not left, "left after uninstall: %s" % left)
    finally:
        shutil.rmtree(stage)


# ------------------------------------------------------------ check-config

def bad_configs(d):
    """(name, file text, expected message after 'FILE:') for bad files."""
    base = "[zvmd]\nroot = %s\nspool = %s\n" % (d + "/store", d + "/spool")
    os.makedirs(d + "/afile.d")
    open(d + "/afile", "w").close()
    return [
        ("unknown_key", base + "pool = 3\n", "4: unknown option 'pool'"),
        ("section", "[server]\nlisten = :1\n",
         "2: section [server] is unknown"),
        ("not_ini", base + "pool_size\n", "4: not an INI line"),
        ("size", base + "max_output = 12Q\n",
         "4: max_output: '12Q' is not a size"),
        ("negative", base + "pool_size = -2\n",
         "4: pool_size: '-2' is not a non-negative integer"),
        ("suffix", base + "queue_length = 5K\n",
         "4: queue_length: '5K' takes no unit suffix"),
        ("zero", base + "instance_timeout = 0\n",
         "4: instance_timeout: must be greater than 0"),
        ("zero_pool", "[zvmd]\npool_size = 0\nroot = %s/store\n"
         "spool = %s/spool\n" % (d, d), "2: pool_size: must be greater"),
        ("too_many", base + "pool_size = 5000\n",
         "4: pool_size: 5000 is more than 1020"),
        ("listen_port", base + "listen = 127.0.0.1:99999\n",
         "4: listen: '127.0.0.1:99999': port must be 0..65535"),
        ("listen_addr", "[zvmd]\nlisten = localhost:80\nroot = %s/store\n"
         "spool = %s/spool\n" % (d, d),
         "2: listen: 'localhost:80': 'localhost' is not an IPv4 address"),
        ("root_missing", "[zvmd]\n\nroot = %s/nope\n" % d,
         "3: root: '%s/nope': No such file or directory" % d),
        ("spool_file", base.replace(d + "/spool", d + "/afile"),
         "3: spool: '%s/afile' is not a directory" % d),
        ("twice", base + "pool_size = 2\n# again\npool_size = 3\n",
         "6: pool_size: set twice (first at line 4)"),
        ("log_level", base + "log_level = loud\n",
         "4: log_level: 'loud' is not one of error, warning, info, debug"),
        ("retry_after", base + "retry_after = 0\n",
         "4: retry_after: must be greater than 0"),
        ("prewarm", base + "prewarm = maybe\n",
         "4: prewarm: 'maybe' is not yes or no"),
    ] + bad_cluster_configs(d, base)


def cluster_dirs(d):
    """A swift_dir (the fixtures' swift.conf and a ring per policy), a
    devices dir and a secret: what a good [cluster] section names."""
    fixtures = os.path.join(SRC, "tests/swift/fixtures")
    os.makedirs(d + "/swift")
    os.makedirs(d + "/node")
    shutil.copy(fixtures + "/swift.conf", d + "/swift/swift.conf")
    for ring in ("object.ring.gz", "object-1.ring.gz"):
        shutil.copy(fixtures + "/three.ring.gz", d + "/swift/" + ring)
    with open(d + "/secret", "w") as f:
        f.write("0123456789abcdef" * 4 + "\n")
    os.chmod(d + "/secret", 0o600)
    return ("[cluster]\nrole = cluster\nswift_dir = %s/swift\n"
            "devices = %s/node\nsecret_file = %s/secret\n" % (d, d, d))


def bad_cluster_configs(d, base):
    """Bad [cluster] sections: the key's line and what is wrong with the
    rings, swift.conf or secret it names. Lines: 4 [cluster], 5 role,
    6 swift_dir, 7 devices, 8 secret_file, 9 the line added."""
    good = base + cluster_dirs(d)
    os.makedirs(d + "/noring")
    shutil.copy(d + "/swift/swift.conf", d + "/noring/swift.conf")
    shutil.copytree(d + "/swift", d + "/badring")
    with open(d + "/badring/object-1.ring.gz", "wb") as f:
        f.write(b"R1NG but not gzip")
    os.makedirs(d + "/noconf")
    with open(d + "/short", "w") as f:
        f.write("tooshort\n")
    os.chmod(d + "/short", 0o600)
    shutil.copy(d + "/secret", d + "/public")
    os.chmod(d + "/public", 0o644)
    return [
        ("role", good.replace("role = cluster", "role = mesh"),
         "5: role: 'mesh' is not local or cluster"),
        ("cluster_key_in_zvmd", base + "secret_file = %s/secret\n" % d,
         "4: secret_file: belongs in section [cluster], not [zvmd]"),
        ("no_ring", good.replace(d + "/swift", d + "/noring"),
         "6: swift_dir: storage policy 0 (gold): %s/noring/object.ring.gz"
         % d),
        ("bad_ring", good.replace(d + "/swift", d + "/badring"),
         "6: swift_dir: storage policy 1 (ec): %s/badring/object-1.ring.gz"
         % d),
        ("no_swift_conf", good.replace(d + "/swift", d + "/noconf"),
         "6: swift_dir: %s/noconf/swift.conf" % d),
        ("no_secret", good.replace(d + "/secret", d + "/nosecret"),
         "8: secret_file: '%s/nosecret': No such file or directory" % d),
        ("short_secret", good.replace(d + "/secret", d + "/short"),
         "8: secret_file: '%s/short' holds 8 bytes; a cluster secret needs "
         "at least 32" % d),
        ("public_secret", good.replace(d + "/secret", d + "/public"),
         "8: secret_file: '%s/public' is accessible to every user" % d),
        ("proxy_url", good + "proxy_url = ftp://proxy:8080\n",
         "9: proxy_url: 'ftp://proxy:8080' is not http://HOST[:PORT]"),
        ("worker_port", good + "worker_port = 70000\n",
         "9: worker_port: 70000 is not a port (1..65535)"),
        ("same_ports", good + "edge_port = 8090\n",
         "9: edge_port: 8090 is also worker_port"),
        ("node_ip", good + "node_ip = node-1\n",
         "9: node_ip: 'node-1' is not an IPv4 address"),
    ]


def case_check_config():
    d = tempfile.mkdtemp(prefix="zerovm-conf-")
    try:
        os.makedirs(d + "/store")
        os.makedirs(d + "/spool")
        good = os.path.join(d, "good.conf")
        with open(good, "w") as f:
            f.write("# comment\n[zvmd]\nlisten = 127.0.0.1:0\nroot = %s/store\n"
                    "spool = %s/spool\npool_size = 4\nmax_output = 64M\n"
                    "log_level = warning\n" % (d, d))
        p = run([ZVMD, "--check-config", "-c", good])
        check("configuration OK" in p.stdout, p.stdout)
        failures = []
        for name, text, msg in bad_configs(d):
            path = os.path.join(d, name + ".conf")
            with open(path, "w") as f:
                f.write(text)
            p = run([ZVMD, "--check-config", "-c", path], ok=False)
            want = "zvmd: %s:%s" % (path, msg)
            if p.returncode != 1 or want not in p.stderr:
                failures.append("%s: exit %d, stderr %r, want %r" % (
                    name, p.returncode, p.stderr, want))
            # The daemon refuses to start with the same message.
            p = run([ZVMD, "-c", path], ok=False, timeout=30)
            if p.returncode != 1 or want not in p.stderr:
                failures.append("%s (start): exit %d, stderr %r" % (
                    name, p.returncode, p.stderr))
        # A good cluster node: rings, swift.conf and secret load.
        with open(good, "w") as f:
            f.write("[zvmd]\nroot = %s/store\nspool = %s/spool\n"
                    "[cluster]\nrole = cluster\nswift_dir = %s/swift\n"
                    "devices = %s/node\nsecret_file = %s/secret\n"
                    "node_ip = 127.0.0.2\n" % (d, d, d, d, d))
        p = run([ZVMD, "--check-config", "-c", good], ok=False)
        if p.returncode != 0 or "configuration OK" not in p.stdout:
            failures.append("good cluster config: %d %r" % (p.returncode,
                                                            p.stderr))
        # A flag's bad value has no file line, but names the key.
        p = run([ZVMD, "--check-config", "-c", good, "--set",
                 "pool_size=0"], ok=False)
        if p.returncode != 1 or "zvmd: pool_size: must be greater than 0" \
                not in p.stderr:
            failures.append("--set: %d %r" % (p.returncode, p.stderr))
        # The installed sample itself is valid (with its directories).
        sample = open(os.path.join(SRC, "conf/zvmd.conf")).read()
        sample = sample.replace("/var/lib/zvmd/store", d + "/store")
        sample = sample.replace("/var/spool/zvmd", d + "/spool")
        with open(good, "w") as f:
            f.write(sample)
        p = run([ZVMD, "--check-config", "-c", good], ok=False)
        if p.returncode != 0:
            failures.append("conf/zvmd.conf: %r" % p.stderr)
        check(not failures, "\n".join(failures))
    finally:
        shutil.rmtree(d)


# ------------------------------------------------------------ a live zvmd

class Daemon:
    """zvmd over a temp store, optionally under a NOTIFY_SOCKET and a
    command prefix; stopped and cleaned up even on failure."""

    def __init__(self, conf=None, notify=False, prefix=(), owner=None):
        self.tmp = tempfile.mkdtemp(prefix="zerovm-deploy-")
        self.root = os.path.join(self.tmp, "store")
        self.spool = os.path.join(self.tmp, "spool")
        os.makedirs(os.path.join(self.root, "acct", "bin"))
        os.makedirs(self.spool)
        shutil.copy(os.environ["ZVMD_PROG_HELLO"],
                    os.path.join(self.root, "acct", "bin", "hello"))
        self.port_file = os.path.join(self.tmp, "port")
        settings = {"listen": "127.0.0.1:0", "root": self.root,
                    "spool": self.spool, "port_file": self.port_file}
        settings.update(conf or {})
        self.conf = os.path.join(self.tmp, "zvmd.conf")
        with open(self.conf, "w") as f:
            f.write("[zvmd]\n" + "".join("%s = %s\n" % kv
                                         for kv in settings.items()))
        self.log_path = os.path.join(self.tmp, "zvmd.log")
        self.notify = None
        if notify:
            self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.notify_path = os.path.join(self.tmp, "notify")
            self.notify.bind(self.notify_path)
        self.prefix = list(prefix)
        if owner:
            for d, dirs, files in os.walk(self.tmp):
                for name in [d] + [os.path.join(d, x) for x in dirs + files]:
                    shutil.chown(name, owner, owner)
        self.owner = owner
        self.proc = None
        self.port = None

    def __enter__(self):
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        if self.notify:
            env["NOTIFY_SOCKET"] = self.notify_path
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.prefix + [ZVMD, "-c", self.conf],
                                     stdout=self.log, stderr=self.log,
                                     env=env)
        return self

    def wait_listening(self):
        wait_for(lambda: os.path.exists(self.port_file) or
                 self.proc.poll() is not None, "zvmd to listen")
        check(self.proc.poll() is None, "zvmd exited at start")
        self.port = int(open(self.port_file).read())

    def messages(self, timeout=30.0):
        """The next sd_notify datagram, as a set of lines."""
        self.notify.settimeout(timeout)
        try:
            data = self.notify.recv(4096).decode()
        except socket.timeout:
            raise Failure("no sd_notify message within %gs" % timeout)
        return set(data.splitlines())

    def request(self, method, url, body=None, headers=None, timeout=60):
        c = http.client.HTTPConnection("127.0.0.1", self.port,
                                       timeout=timeout)
        try:
            c.request(method, url, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, r.headers, r.read()
        finally:
            c.close()

    def job(self, prog="hello", headers=None, timeout=60):
        body = json.dumps([{"name": "hello",
                            "exec": {"path": "swift://~/bin/" + prog},
                            "devices": [{"name": "stdout"}]}])
        h = {"X-Zerovm-Execute": "1.0", "Content-Type": "application/json"}
        h.update(headers or {})
        return self.request("POST", "/v1/acct", body, h, timeout)

    def stop(self, signalled=False):
        """SIGTERM (unless already sent: a second one during the drain
        would find the default action) and wait for the exit status."""
        if not signalled and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Failure("zvmd did not stop on SIGTERM")
        return self.proc.returncode

    def log_text(self):
        with open(self.log_path) as f:
            return f.read()

    def __exit__(self, exc_type, exc, tb):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        if exc_type is not None:
            sys.stderr.write("--- zvmd log ---\n" + self.log_text()[-4000:])
        if self.notify:
            self.notify.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return False


def case_readiness():
    with Daemon(notify=True) as d:
        msgs = d.messages()
        check("READY=1" in msgs, "first notification %r" % msgs)
        # READY means the listener accepts: connect at once, no retry.
        d.port = int(open(d.port_file).read())
        status, _, body = d.request("GET", "/healthcheck")
        check(status == 200, "healthcheck after READY: %d %r" %
              (status, body))
        d.proc.send_signal(signal.SIGHUP)
        check("RELOADING=1" in d.messages(), "no RELOADING=1 on SIGHUP")
        check("READY=1" in d.messages(), "no READY=1 after the reload")
        status, _, body = d.job()
        check(status == 200 and body == b"hello, world\n",
              "job after reload: %d %r" % (status, body))
        d.proc.send_signal(signal.SIGTERM)
        check("STOPPING=1" in d.messages(), "no STOPPING=1 on SIGTERM")
        check(d.stop(signalled=True) == 0, "zvmd exited %d" % d.proc.returncode)
        log = d.log_text()
        check(re.search(r"level=error .*reload", log) is None, log)


def unit_capabilities():
    unit = open(os.path.join(BUILD, "deploy", "zvmd.service")).read()
    m = re.search(r"^CapabilityBoundingSet=(.*)$", unit, re.M)
    check(m, "the unit has no CapabilityBoundingSet")
    caps = [c.lower().replace("cap_", "") for c in m.group(1).split()]
    check(caps, "empty CapabilityBoundingSet")
    check(re.search(r"^NoNewPrivileges=yes$", unit, re.M), "NoNewPrivileges")
    return caps


def program_caps(zvmd_pid, spare=False):
    """{pid: capability sets} of zvmd's children that run as uid 65534
    (with spare, of its parked children instead, once their filter is on:
    they drop their capabilities just before). CapInh is left out:
    without file capabilities, and under no_new_privs, the inheritable set
    grants nothing at exec."""
    found = {}
    for pid in parked(zvmd_pid) if spare else descendants(zvmd_pid):
        try:
            with open("/proc/%d/status" % pid) as f:
                lines = dict(x.split(":", 1) for x in f.read().splitlines())
        except OSError:
            continue
        if spare and lines.get("Seccomp", "").strip() != "2":
            continue
        if lines.get("Uid", "").split()[:1] == ["65534"]:
            found[pid] = {k: lines[k].strip() for k in
                          ("CapPrm", "CapEff", "CapAmb")}
    return found


def case_capabilities():
    """As the unit runs it (the swift user, the unit's capabilities as
    ambient and bounding sets, no_new_privs) zvmd runs a job, and the
    program it starts holds no capability; one capability less and the
    sandbox cannot start a program."""
    caps = unit_capabilities()
    unit = open(os.path.join(BUILD, "deploy", "zvmd.service")).read()
    check(re.search(r"^User=swift$", unit, re.M), "the unit is not User=swift")
    m = re.search(r"^AmbientCapabilities=(.*)$", unit, re.M)
    check(m and sorted(c.lower().replace("cap_", "") for c in
                       m.group(1).split()) == sorted(caps),
          "AmbientCapabilities differ from CapabilityBoundingSet")
    sets = "-all," + ",".join("+" + c for c in caps)
    prefix = ["setpriv", "--reuid", "swift", "--regid", "swift",
              "--clear-groups", "--inh-caps", sets, "--ambient-caps", sets,
              "--bounding-set", sets, "--no-new-privs"]
    with Daemon(prefix=prefix, owner="swift",
                conf={"instance_timeout": "5"}) as d:
        d.wait_listening()
        status, h, body = d.job()
        check(status == 200 and body == b"hello, world\n",
              "job under the unit's user and capabilities: %d %r %r" %
              (status, body, dict(h)))
        spin = os.path.join(d.root, "acct", "bin", "spin")
        shutil.copy(os.environ["ZVMD_PROG_SPIN"], spin)
        shutil.chown(spin, "swift", "swift")
        t = threading.Thread(target=d.job, args=("spin",))
        t.start()
        try:
            wait_for(lambda: program_caps(d.proc.pid), "the program to run")
            for pid, capset in program_caps(d.proc.pid).items():
                check(all(v == "0000000000000000" for v in capset.values()),
                      "the program (pid %d) holds capabilities: %r" %
                      (pid, capset))
            # The child parked for the next instance (prewarm = yes)
            # holds none either, though it has not exec'd yet.
            wait_for(lambda: program_caps(d.proc.pid, spare=True),
                     "a parked child")
            for pid, capset in program_caps(d.proc.pid, spare=True).items():
                check(all(v == "0000000000000000" for v in capset.values()),
                      "the parked child (pid %d) holds capabilities: %r" %
                      (pid, capset))
        finally:
            t.join()
        check(d.stop() == 0, "zvmd exited %d" % d.proc.returncode)
    # One capability less and the sandbox cannot start a program: the
    # set is not larger than the test can tell.
    less = "-all," + ",".join("+" + c for c in caps if c != "sys_chroot")
    p = run(["setpriv", "--bounding-set", less, "--no-new-privs", ZVSH,
             os.environ["ZVMD_PROG_HELLO"]], ok=False, timeout=60)
    check(p.returncode != 0 and "setns" in p.stderr,
          "zvsh without CAP_SYS_CHROOT: %d %r" % (p.returncode, p.stderr))


def case_spawn_failure():
    """A program that cannot start (not an ELF file) is an answered job
    (an error status), not a request that never ends (zvmd used to
    leave the connection suspended for good)."""
    with Daemon() as d:
        d.wait_listening()
        with open(os.path.join(d.root, "acct", "bin", "junk"), "w") as f:
            f.write("not a program\n")
        try:
            status, _, body = d.job("junk", timeout=20)
        except socket.timeout:
            raise Failure("no answer within 20 s for a program that "
                          "cannot start")
        check(status in (400, 500), "status %d %r" % (status, body))
        check(d.stop() == 0, "zvmd exited %d" % d.proc.returncode)


SECRET_TOKEN = "SECRET-TOKEN-123"


def case_logs():
    with Daemon() as d:
        d.wait_listening()
        statuses = []
        for headers, prog in (({"X-Auth-Token": SECRET_TOKEN}, "hello"),
                              ({"X-Storage-Token": SECRET_TOKEN}, "nope"),
                              ({"X-Auth-Token": SECRET_TOKEN}, "hello")):
            statuses.append(d.job(prog, headers)[0])
        check(statuses == [200, 404, 200], "statuses %r" % statuses)
        d.request("GET", "/metrics")
        check(d.stop() == 0, "zvmd exited %d" % d.proc.returncode)
        log = d.log_text()
    check(SECRET_TOKEN not in log, "the token is in the log:\n" + log)
    jobs = [l for l in log.splitlines() if " msg=job " in l]
    check(len(jobs) == 3, "want one line per job:\n" + log)
    for l, s in zip(jobs, statuses):
        check(re.match(r"ts=\S+ level=info msg=job ", l) and
              " status=%d" % s in l, "job line %r" % l)
    check(all(l.startswith("ts=") for l in log.splitlines()),
          "a line that is not logfmt:\n" + log)

    # log_level = error keeps errors and drops the job lines.
    with Daemon(conf={"log_level": "error"}) as d:
        d.wait_listening()
        check(d.job()[0] == 200, "job at log_level=error")
        with open(d.conf, "a") as f:
            f.write("pool_size = zero\n")
        d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload failed" in d.log_text(), "the reload error")
        check(d.stop() == 0, "zvmd exited %d" % d.proc.returncode)
        log = d.log_text()
    check(" msg=job " not in log, "job logged at level error:\n" + log)
    check(re.search(r"level=error msg=\"reload failed.*:\d+: pool_size", log),
          "reload error without file:line: key:\n" + log)


def case_metrics_documented():
    """Every metric GET /metrics exports has a row in deploy/README.md."""
    with Daemon() as d:
        d.wait_listening()
        check(d.job()[0] == 200, "job")
        status, _, body = d.request("GET", "/metrics")
        check(status == 200, "GET /metrics: %d" % status)
        check(d.stop() == 0, "zvmd exited %d" % d.proc.returncode)
    names = re.findall(r"^# TYPE (\S+) ", body.decode(), re.M)
    check(len(names) >= 10, "too few metrics: %r" % names)
    doc = open(os.path.join(SRC, "deploy/README.md")).read()
    missing = [n for n in names if "`%s" % n not in doc]
    check(not missing, "metrics not in deploy/README.md: %s" % missing)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def case_cluster():
    """The filter as install-proxy-node.sh installs and configures it, in
    a real swift-proxy-server of the loopback cluster (tests/swift/
    cluster.py), in front of a real zvmd: a job through the proxy runs."""
    run([PY, os.path.join(SRC, "tests/swift/cluster.py"), "--", PY,
         os.path.abspath(__file__), "cluster_inner"], timeout=240)


def case_cluster_inner():
    tmp = tempfile.mkdtemp(prefix="zerovm-cluster-")
    proxy = None
    try:
        conf = os.path.join(tmp, "proxy.conf")
        text = open(os.path.join(os.environ["ZVM_SWIFT_DIR"],
                                 "proxy.conf")).read()
        port = free_port()
        text = re.sub(r"^bind_port = \d+$", "bind_port = %d" % port, text,
                      flags=re.M)
        with open(conf, "w") as f:
            f.write(text)
        # The harness's own [filter:zerovm] goes: ours replaces it.
        run([PY, os.path.join(SRC, "deploy/proxy_conf.py"), "revert", conf])
        with Daemon() as d:
            os.rename(os.path.join(d.root, "acct"),
                      os.path.join(d.root, "AUTH_test"))
            d.wait_listening()
            stage = os.path.join(tmp, "root")
            run(["bash", os.path.join(SRC, "deploy/install-proxy-node.sh"),
                 "--apply", conf, "--endpoints",
                 "http://127.0.0.1:%d" % d.port], env={"DESTDIR": stage})
            site = run([PY, "-c", "import site; "
                        "print(site.getsitepackages()[0])"]).stdout.strip()
            env = dict(os.environ, PYTHONPATH=stage + site)
            log = open(os.path.join(tmp, "proxy.log"), "w")
            proxy = subprocess.Popen(["swift-proxy-server", conf, "-v"],
                                     stdout=log, stderr=log, env=env)
            log.close()

            def up():
                check(proxy.poll() is None, "the proxy exited: " +
                      open(os.path.join(tmp, "proxy.log")).read()[-3000:])
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port,
                                                   timeout=5)
                    c.request("GET", "/auth/v1.0", headers={
                        "X-Auth-User": "test:tester",
                        "X-Auth-Key": "testing"})
                    r = c.getresponse()
                    r.read()
                    up.token = r.headers.get("X-Auth-Token")
                    return r.status == 200 and bool(up.token)
                except OSError:
                    return False
            wait_for(up, "the proxy with the installed filter", 60)
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            c.request("POST", "/v1/AUTH_test", json.dumps([
                {"name": "hello", "exec": {"path": "swift://~/bin/hello"},
                 "devices": [{"name": "stdout"}]}]), {
                "X-Auth-Token": up.token, "X-Zerovm-Execute": "1.0",
                "Content-Type": "application/json"})
            r = c.getresponse()
            body = r.read()
            check(r.status == 200 and body == b"hello, world\n",
                  "job through the proxy: %d %r" % (r.status, body))
            check(r.headers.get("X-Nexe-Status") == "ok",
                  "X-Nexe-Status %r" % r.headers.get("X-Nexe-Status"))
            check(d.stop() == 0, "zvmd exited %d" % d.proc.returncode)
            zlog = d.log_text()
            check(" msg=job " in zlog, "zvmd logged no job:\n" + zlog)
            check(up.token not in zlog, "the token is in zvmd's log")
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)


CASES = {
    "install": case_install,
    "proxy": case_proxy,
    "check_config": case_check_config,
    "readiness": case_readiness,
    "capabilities": case_capabilities,
    "logs": case_logs,
    "spawn_failure": case_spawn_failure,
    "metrics_documented": case_metrics_documented,
    "cluster": case_cluster,
    "cluster_inner": case_cluster_inner,
}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        sys.exit("usage: test_deploy.py {%s}" % "|".join(CASES))
    try:
        CASES[sys.argv[1]]()
    except Failure as e:
        print("FAIL %s: %s" % (sys.argv[1], e), file=sys.stderr)
        return 1
    print("ok", sys.argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
