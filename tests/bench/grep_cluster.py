#!/usr/bin/python3
"""Grep over 1 GiB in the loopback Swift cluster (issue #6, Performance).

    meson test -C build --benchmark grep-cluster -v
    (or: ZVMD=... ZVM_PROG_GREP=... ZVM_PROG_HELLO=... /usr/bin/python3
         tests/bench/grep_cluster.py [--objects 64] [--mib 16] [--runs 3])

Starts the cluster of tests/swift/cluster.py with a cluster-mode zvmd per
storage node, uploads OBJECTS objects of MIB MiB of deterministic text
(parallel PUTs through the proxy, 3 replicas), then, side by side:

  job        POST one job to the proxy: a grep instance per object (each
             on a node holding its object, reading the local .data), the
             per-object counts as immediate output;
  curl+grep  the reference: each object downloaded through the proxy with
             curl and piped into GNU grep -c -F, 8 at a time (xargs -P 8).

Both must find the same count (checked against Python's). Both read warm
objects: before timing, every replica's .data file is read once (the
page cache holds them all), then each side runs once untimed; the timed
runs alternate (reference, job, reference, job, ...) so that both share
the machine's load. The job's time is split with what it reports: its
X-Nexe-Cdr-Line total is the coordinator's time from the end of planning
to the last report (dispatch + run), the rest is planning (the listing,
which answers for every object in it, the program's HEAD, placement) and
the proxy's forwarding;
each instance's elapsed time is spawn to exit on its worker.

Then the per-instance dispatch overhead: a job of OBJECTS trivial
instances (hello) vs. one. Prints a table with the load average; record
it in tests/bench/RESULTS.md.
"""

import argparse
import datetime
import os
import pickle
import resource
import random
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'swift'))
import cluster  # noqa: E402
from cluster_client import Account, group, nexe, upload_programs  # noqa: E402

WORD = 'zerovmneedle'
BLOCK = 1 << 20
VOCABULARY = ('the of and to in is was that for it with as his on be at by '
              'had are but from or have an they which one you were her all '
              'she there would their we him been has when who will more no '
              'if out so said what up its about into than them can only '
              'other new some could time these two may then do first any '
              'my now such like our over man me even most made after also '
              'swift object ring proxy node sandbox channel zerovm').split()


def make_blocks(count):
    """count distinct 1 MiB blocks of text lines (each ends in a newline);
    block b holds WORD on b + 1 of its lines. Returns [(bytes, hits)]."""
    blocks = []
    for b in range(count):
        rnd = random.Random(b)
        lines, size = [], 0
        while size < BLOCK - 200 - 14 * (b + 1):
            line = ' '.join(rnd.choice(VOCABULARY)
                            for _ in range(rnd.randrange(6, 14))) + '\n'
            lines.append(line)
            size += len(line)
        for k in range(b + 1):
            i = rnd.randrange(len(lines))
            lines[i] = lines[i].rstrip('\n') + ' ' + WORD + '\n'
        data = ''.join(lines).encode()
        data += b'.' * (BLOCK - 1 - len(data)) + b'\n'
        blocks.append((data, sum(1 for ln in data.split(b'\n')
                                 if WORD.encode() in ln)))
    return blocks


def object_blocks(i, nblocks, mib):
    """Which blocks make object i (deterministic, different per object)."""
    return [(i * 7 + k * 3) % nblocks for k in range(mib)]


def upload(acct, objects, mib, blocks):
    """PUT the objects, 8 at a time; the expected count of WORD lines."""
    acct.put('big', b'')
    todo = list(range(objects))
    lock = threading.Lock()
    errors = []

    def worker():
        while True:
            with lock:
                if not todo or errors:
                    return
                i = todo.pop()
            body = b''.join(blocks[b][0] for b in
                            object_blocks(i, len(blocks), mib))
            try:
                acct.put('big/part%03d.txt' % i, body,
                         {'Content-Type': 'text/plain'})
            except AssertionError as e:
                errors.append(e)
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return sum(blocks[b][1] for i in range(objects)
               for b in object_blocks(i, len(blocks), mib))


def timed(fn, runs):
    """(median seconds, last result) of runs calls of fn."""
    times, result = [], None
    for _ in range(runs):
        start = time.monotonic()
        result = fn()
        times.append(time.monotonic() - start)
    return statistics.median(times), result


def warm(cluster):
    """Read every object file of every node once: all replicas in the page
    cache, whichever one a side reads. (files, bytes)"""
    files, size = 0, 0
    for _, _, devices, _ in cluster.nodes:
        for top, _, names in os.walk(devices):
            for name in names:
                if name.endswith('.data'):
                    with open(os.path.join(top, name), 'rb') as f:
                        while True:
                            block = f.read(1 << 20)
                            if not block:
                                break
                            size += len(block)
                    files += 1
    return files, size


def data_files(cluster, objects):
    """One .data file (replica) of each big/partNNN.txt, by its metadata."""
    found = {}
    for _, _, devices, _ in cluster.nodes:
        for top, _, names in os.walk(devices):
            for name in names:
                if not name.endswith('.data'):
                    continue
                path = os.path.join(top, name)
                meta = pickle.loads(os.getxattr(path, 'user.swift.metadata'))
                # Swift on Python 3 pickles its keys and values as bytes.
                found.setdefault(meta[b'name'].decode(), path)
    return [found['/AUTH_test/big/part%03d.txt' % i] for i in range(objects)]


def local_grep(argv, files, runs):
    """Every file into its own argv process, all at once, outside any
    sandbox: the floor of the job's run. (median wall seconds, CPU
    seconds of the processes per run, lines found)"""
    def once():
        procs = []
        for path in files:
            with open(path, 'rb') as f:
                procs.append(subprocess.Popen(argv, stdin=f,
                                              stdout=subprocess.PIPE))
        return sum(int(p.communicate()[0] or 0) for p in procs)

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, lines = timed(once, runs)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime -
           before.ru_stime) / runs
    return wall, cpu, lines


def grep_job(acct):
    """(lines found, seconds, the job's own split of them)."""
    start = time.monotonic()
    status, h, body = acct.job([group('grep', 'grep', WORD, devices=[
        {'name': 'stdin', 'path': 'swift://~/big/*.txt'},
        {'name': 'stdout'}])], timeout=600)
    wall = time.monotonic() - start
    if status != 200:
        raise RuntimeError('grep job: %d %r %r' % (
            status, body[:300], h.get('X-Nexe-Status')))
    # X-Nexe-Cdr-Line: the job's total, then per instance "elapsed,
    # accounting" (each a comma-joined field of its own).
    cdr = nexe(h, 'Cdr-Line')
    elapsed = [float(v) for v in cdr[1::2]]
    split = {'run': float(cdr[0]), 'plan': wall - float(cdr[0]),
             'inst_median': statistics.median(elapsed),
             'inst_max': max(elapsed)}
    return sum(int(n) for n in body.split()), wall, split


def curl_grep(acct, objects):
    urls = '\n'.join('%s/v1/%s/big/part%03d.txt' % (acct.proxy, acct.name, i)
                     for i in range(objects))
    script = ('curl -sf -H "X-Auth-Token: %s" "$0" | grep -c -F %s || true'
              % (acct.token, WORD))
    out = subprocess.run(['xargs', '-P', '8', '-n', '1', 'sh', '-c',
                          script], input=urls, capture_output=True,
                         text=True, check=True).stdout
    return sum(int(n) for n in out.split())


def hello_job(acct, count):
    status, _, body = acct.job([group('hello', 'hello', count=count)],
                               timeout=600)
    if status != 200 or body != b'hello, world\n' * count:
        raise RuntimeError('hello x%d: %d %r' % (count, status, body[:200]))


def loadavg():
    with open('/proc/loadavg') as f:
        return f.read().split()[0]


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--objects', type=int, default=64)
    p.add_argument('--mib', type=int, default=16, help='MiB per object')
    p.add_argument('--runs', type=int, default=3)
    args = p.parse_args()
    cluster.enter_namespace()
    blocks = make_blocks(16)
    with cluster.session(zvmd=os.environ['ZVMD'],
                         pool_size=args.objects) as c:
        acct = Account(c.url, 'test:tester', 'testing')
        upload_programs(acct, {'grep': os.environ['ZVM_PROG_GREP'],
                               'hello': os.environ['ZVM_PROG_HELLO']})
        start = time.monotonic()
        want = upload(acct, args.objects, args.mib, blocks)
        put_s = time.monotonic() - start
        total = args.objects * args.mib
        print('uploaded %d objects, %d MiB, in %.1f s (%.0f MiB/s); '
              '%d lines hold %r' % (args.objects, total, put_s,
                                    total / put_s, want, WORD), flush=True)
        files, size = warm(c)
        curl_grep(acct, args.objects)
        grep_job(acct)
        print('warm: %d .data files (%d MiB) read, one untimed run of '
              'each side' % (files, size >> 20), flush=True)
        began = datetime.datetime.now(datetime.timezone.utc)
        loads = [loadavg()]
        files = data_files(c, args.objects)
        floor_s, floor_cpu, floor_n = local_grep(
            [os.environ['ZVM_PROG_GREP'], WORD], files, args.runs)
        gnu_s, gnu_cpu, gnu_n = local_grep(['grep', '-c', '-F', WORD],
                                           files, args.runs)
        print('outside any sandbox, %d processes at once on the .data '
              'files: grep-prog %.2f s (%.2f s CPU), GNU grep -c -F %.2f '
              's (%.2f s CPU)' % (len(files), floor_s, floor_cpu, gnu_s,
                                  gnu_cpu), flush=True)
        if (floor_n, gnu_n) != (want, want):
            raise RuntimeError('counts differ: want %d, grep-prog %d, '
                               'GNU grep %d' % (want, floor_n, gnu_n))
        refs, jobs, splits = [], [], []
        for r in range(args.runs):
            start = time.monotonic()
            ref_n = curl_grep(acct, args.objects)
            refs.append(time.monotonic() - start)
            job_n, job_wall, split = grep_job(acct)
            jobs.append(job_wall)
            splits.append(split)
            loads.append(loadavg())
            print('run %d: curl+grep %.2f s, job %.2f s (planning %.2f, '
                  'dispatch+run %.2f; instances median %.2f, max %.2f), '
                  'load %s' % (r + 1, refs[-1], job_wall, split['plan'],
                               split['run'], split['inst_median'],
                               split['inst_max'], loads[-1]), flush=True)
            if (ref_n, job_n) != (want, want):
                raise RuntimeError('counts differ: want %d, curl+grep %d, '
                                   'job %d' % (want, ref_n, job_n))
        one_s, _ = timed(lambda: hello_job(acct, 1), 5)
        many_s, _ = timed(lambda: hello_job(acct, args.objects), 5)
        loads.append(loadavg())
    ref_s, job_s = statistics.median(refs), statistics.median(jobs)
    mid = splits[jobs.index(sorted(jobs)[len(jobs) // 2])]
    print()
    print('%s UTC, load average (1 min) %s' % (
        began.strftime('%Y-%m-%d %H:%M'), ' '.join(loads)))
    print()
    print('| measure (median of %d) | zvmd job | curl+grep | ratio |'
          % args.runs)
    print('|---|---|---|---|')
    print('| grep %d MiB in %d objects, s | %.2f | %.2f | %.1fx |' % (
        total, args.objects, job_s, ref_s, ref_s / job_s))
    print('| MiB/s | %.0f | %.0f | |' % (total / job_s, total / ref_s))
    print('| job: planning (listings, checks, placement) + proxy, s | %.2f '
          '| | |' % mid['plan'])
    print('| job: dispatch + run (coordinator), s | %.2f | | |'
          % mid['run'])
    print('| job: one instance spawn to exit, median / max, s | %.2f / '
          '%.2f | | |' % (mid['inst_median'], mid['inst_max']))
    print('| the greps alone, no sandbox, all at once on the .data files '
          '(started from Python), s | %.2f (grep-prog) | %.2f (GNU grep) '
          '| |' % (floor_s, gnu_s))
    print('| ... their CPU, s | %.2f | %.2f | |' % (floor_cpu, gnu_cpu))
    print()
    print('| dispatch (median of 5) | ms |')
    print('|---|---|')
    print('| job of 1 hello instance | %.1f |' % (one_s * 1e3))
    print('| job of %d hello instances | %.1f |' % (args.objects,
                                                   many_s * 1e3))
    print('| per extra instance | %.2f |' % (
        (many_s - one_s) * 1e3 / (args.objects - 1)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
