#!/usr/bin/python3
"""Benchmark of zvmd (suite 'bench'): hello-job round trips on loopback.

  1. latency: 1000 sequential jobs on one keep-alive connection, p50/p99
  2. throughput: 32 concurrent clients, jobs/s, zvmd CPU and RSS
  3. reference: the same program run by `zvsh` from a shell loop
  4. idle RSS of zvmd

Prints a table; tests/bench/RESULTS.md ("Daemon") records a run.
Environment: ZVMD, ZVSH, ZVMD_PROG_HELLO; BENCH_JOBS (default 1000);
BENCH_PREWARM (yes or no: zvmd's prewarm key; default: zvmd's default).
"""
import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

ZVMD = os.environ["ZVMD"]
ZVSH = os.environ["ZVSH"]
HELLO = os.environ["ZVMD_PROG_HELLO"]
JOBS = int(os.environ.get("BENCH_JOBS", "1000"))
PREWARM = os.environ.get("BENCH_PREWARM")
CLIENTS = 32
JOB = json.dumps([{"name": "hello", "exec": {"path": "swift://~/bin/hello"},
                   "devices": [{"name": "stdout"}]}])
HEADERS = {"X-Zerovm-Execute": "1.0", "Content-Type": "application/json"}
TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def proc_rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def pct(sorted_ms, p):
    return sorted_ms[min(len(sorted_ms) - 1, int(len(sorted_ms) * p))]


def spawn_histogram(port):
    """zvmd_spawn_seconds from /metrics: ({le: cumulative}, sum, count)."""
    c = http.client.HTTPConnection("127.0.0.1", port)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    le, total, count = {}, 0.0, 0
    for line in text.splitlines():
        if line.startswith('zvmd_spawn_seconds_bucket{le="'):
            bound = line.split('"')[1]
            if bound != "+Inf":
                le[float(bound)] = int(line.split()[-1])
        elif line.startswith("zvmd_spawn_seconds_sum "):
            total = float(line.split()[-1])
        elif line.startswith("zvmd_spawn_seconds_count "):
            count = int(line.split()[-1])
    return le, total, count


def spawn_stats(before, after):
    """Mean and the p50 bucket's bound (µs) of the spawns in between."""
    n = after[2] - before[2]
    mean = (after[1] - before[1]) / max(n, 1) * 1e6
    for bound in sorted(after[0]):
        if after[0][bound] - before[0].get(bound, 0) >= n / 2:
            return mean, bound * 1e6
    return mean, float("inf")


def one_job(conn):
    conn.request("POST", "/v1/bench", JOB, HEADERS)
    r = conn.getresponse()
    body = r.read()
    if r.status != 200 or body != b"hello, world\n":
        raise SystemExit("bad answer: %d %r" % (r.status, body))


def main():
    tmp = tempfile.mkdtemp(prefix="zvmd-bench-")
    os.makedirs(os.path.join(tmp, "store/bench/bin"))
    os.makedirs(os.path.join(tmp, "spool"))
    shutil.copy(HELLO, os.path.join(tmp, "store/bench/bin/hello"))
    port_file = os.path.join(tmp, "port")
    proc = subprocess.Popen([ZVMD, "--listen", "127.0.0.1:0", "--root",
                             os.path.join(tmp, "store"), "--spool",
                             os.path.join(tmp, "spool"), "--port-file",
                             port_file, "--set", "pool_size=32",
                             "--set", "queue_length=256"] +
                            (["--set", "prewarm=" + PREWARM] if PREWARM
                             else []),
                            stderr=subprocess.DEVNULL)
    try:
        while not os.path.exists(port_file):
            time.sleep(0.01)
        port = int(open(port_file).read())
        time.sleep(0.2)
        idle_rss = proc_rss_mib(proc.pid)

        conn = http.client.HTTPConnection("127.0.0.1", port)
        for _ in range(20):
            one_job(conn)
        lat = []
        hist0 = spawn_histogram(port)
        cpu0 = proc_cpu(proc.pid)
        t0 = time.monotonic()
        for _ in range(JOBS):
            t = time.monotonic()
            one_job(conn)
            lat.append((time.monotonic() - t) * 1000)
        seq_wall = time.monotonic() - t0
        seq_cpu = proc_cpu(proc.pid) - cpu0
        spawn_mean, spawn_p50 = spawn_stats(hist0, spawn_histogram(port))
        conn.close()
        lat.sort()

        per_client = max(1, JOBS // CLIENTS)
        rss_peak = [proc_rss_mib(proc.pid)]

        def client():
            c = http.client.HTTPConnection("127.0.0.1", port)
            for _ in range(per_client):
                one_job(c)
            c.close()
        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        cpu0 = proc_cpu(proc.pid)
        t0 = time.monotonic()
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            rss_peak[0] = max(rss_peak[0], proc_rss_mib(proc.pid))
            time.sleep(0.05)
        for t in threads:
            t.join()
        par_wall = time.monotonic() - t0
        par_cpu = proc_cpu(proc.pid) - cpu0
        par_jobs = per_client * CLIENTS
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()

    n_ref = min(JOBS, 500)
    t0 = time.monotonic()
    # -N: zvmd runs programs nondeterministically (its spec leaves
    # determinism off), so the reference does too.
    subprocess.run(["/bin/sh", "-c",
                    'i=0; while [ $i -lt %d ]; do "$0" -N "$1" >/dev/null; '
                    'i=$((i+1)); done' % n_ref, ZVSH, HELLO], check=True)
    ref_ms = (time.monotonic() - t0) * 1000 / n_ref
    shutil.rmtree(tmp, ignore_errors=True)

    print("zvmd benchmark: hello job round trip on loopback (prewarm: %s)"
          % (PREWARM or "zvmd's default"))
    print("%-44s %12s %12s %8s" % ("measure", "zvmd", "zvsh loop", "ratio"))
    print("%-44s %12.3f %12.3f %8.2f" % (
        "sequential p50 ms (%d jobs; ref = mean)" % JOBS, pct(lat, 0.5),
        ref_ms, pct(lat, 0.5) / ref_ms))
    print("%-44s %12.3f %12s %8s" % ("sequential p99 ms", pct(lat, 0.99),
                                     "-", "-"))
    print("%-44s %12.0f %12s %8s" % ("zvmd spawn mean us, sequential",
                                     spawn_mean, "-", "-"))
    print("%-44s %12.0f %12s %8s" % ("zvmd spawn p50 us (bucket bound)",
                                     spawn_p50, "-", "-"))
    print("%-44s %12.0f %12.0f %8.2f" % (
        "jobs/s, sequential (ref: 1 shell loop)", JOBS / seq_wall,
        1000 / ref_ms, (JOBS / seq_wall) / (1000 / ref_ms)))
    print("%-44s %12.0f %12s %8s" % ("jobs/s, %d concurrent clients" %
                                     CLIENTS, par_jobs / par_wall, "-", "-"))
    print("%-44s %12.3f %12s %8s" % ("zvmd CPU ms per job, sequential",
                                     seq_cpu * 1000 / JOBS, "-", "-"))
    print("%-44s %12.3f %12s %8s" % ("zvmd CPU ms per job, concurrent",
                                     par_cpu * 1000 / par_jobs, "-", "-"))
    print("%-44s %12.1f %12s %8s" % ("zvmd RSS MiB, idle (goal <= 10)",
                                     idle_rss, "-", "-"))
    print("%-44s %12.1f %12s %8s" % ("zvmd RSS MiB, peak under load",
                                     rss_peak[0], "-", "-"))


if __name__ == "__main__":
    main()
