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


def descendants(pid):
    """Pids of every process below pid (from /proc)."""
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
