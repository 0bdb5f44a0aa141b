"""What the Python functional tests share: a failure type and polling.

Imported by tests/daemon/test_zvmd.py, tests/deploy/test_deploy.py and
tests/swift/cluster_client.py (they put tests/ on sys.path)."""
import collections
import os
import time


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def wait_for(pred, what, timeout=30.0):
    """Poll pred() until true; the timeout only bounds a hang."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.02)
    raise Failure("timed out waiting for " + what)


def nondeterminism(pinned=False):
    """The validation note a deterministic static program gets on this
    machine (sandbox/README.md, "The report": `cpuid` when it may run on
    several CPUs, unless pinned as memory-etag runs are; `rdrand` when the
    CPU has rdrand/rdseed), e.g. "0 nondeterministic: cpuid rdrand"."""
    words = []
    if not pinned and len(os.sched_getaffinity(0)) > 1:
        words.append("cpuid")
    with open("/proc/cpuinfo") as f:
        flags = next((line.split(":", 1)[1].split() for line in f
                      if line.startswith("flags")), [])
    if "rdrand" in flags or "rdseed" in flags:
        words.append("rdrand")
    return "0 nondeterministic: " + " ".join(words) if words else "0"


# The name a sandbox child parked for its daemon's next spawn has from its
# birth until it becomes a program (sandbox/sandbox.h SANDBOX_PARKED_NAME,
# spec.prewarm).
PARKED_NAME = "zvm-parked"
# What zvmd holds of each parked child: its pidfd and the spawn socket.
PARKED_FDS = 2


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _exe(pid):
    try:
        return os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return None


def parked(pid):
    """Pids of the children parked below daemon pid: named zvm-parked and
    still running the daemon's own binary (a program that calls itself
    zvm-parked has exec'd: it is not one)."""
    exe = _exe(pid)
    return [p for p in _tree(pid)
            if (_read("/proc/%d/comm" % p) or "").strip() == PARKED_NAME
            and exe is not None and _exe(p) == exe]


def descendants(pid, with_parked=False):
    """Pids of every process below pid (from /proc), without the parked
    children (an idle daemon's spare, not a leak; tests bound their number
    with parked()) unless with_parked."""
    out = _tree(pid)
    if with_parked:
        return out
    spare = set(parked(pid))
    return [p for p in out if p not in spare]


def fd_count(pid):
    """Open fds of pid, without those it holds for its parked children."""
    return (len(os.listdir("/proc/%d/fd" % pid)) -
            PARKED_FDS * len(parked(pid)))


def _tree(pid):
    kids = collections.defaultdict(list)
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids[ppid].append(int(p))
    out, todo = [], [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return sorted(out)


def group(name, prog, args=None, devices=None, **kw):
    """One job group running swift://~/bin/<prog>; stdout is immediate
    output unless devices say otherwise."""
    g = {"name": name, "exec": {"path": "swift://~/bin/" + prog}}
    if args is not None:
        g["exec"]["args"] = args
    g["devices"] = devices if devices is not None else [{"name": "stdout"}]
    g.update(kw)
    return g
