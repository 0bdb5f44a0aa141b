"""What the Python functional tests share: a failure type and polling.

Imported by tests/daemon/test_zvmd.py and tests/deploy/test_deploy.py
(they put tests/ on sys.path)."""
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
