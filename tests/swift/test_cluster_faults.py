#!/usr/bin/python3
"""Faults in cluster mode (issue #8) on the cluster of cluster.py with a
cluster-mode zvmd per node: a worker killed mid-job, a node's object server
stopped, a worker's spool full, the coordinator-worker stream cut, an edge
between workers cut, the client gone mid-response, the coordinator restarted during a job, and
overload. Each: a clear error (or completion on another replica), no
partial output object, no process / spool file / fd left, the next job
succeeds.

Its own cluster (pool_size 2, queue_length 2 per zvmd: overload is 30
jobs); every case skips while zvmd has no cluster mode; cases marked
pending run with ZVM_CLUSTER_PENDING=1.

Run: meson test swift-cluster-faults (or as test_zvmd_cluster.py says).
"""

import os
import signal
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_client import (  # noqa: E402
    ZvmdClusterCase, connections, cut_connections, descendants, group,
    pending, rss_kib, run_tests, wait_for)

POOL_SIZE = 2
QUEUE_LENGTH = 2
BUSY_MILLIONS = 200


def busy_answer(millions):
    """What `busy N` prints: the LCG of busy.c after N million steps,
    computed by composing the affine step with itself (log N steps)."""
    mask = (1 << 64) - 1
    a, c = 6364136223846793005, 1442695040888963407
    n = millions * 1000000
    ra, rc = 1, 0           # the identity map
    while n:
        if n & 1:
            ra, rc = (a * ra) & mask, (a * rc + c) & mask
        a, c = (a * a) & mask, (a * c + c) & mask
        n >>= 1
    return b'%d\n' % ((ra * 1 + rc) & mask)


class Faults(ZvmdClusterCase):

    def setUp(self):
        self.a.put('f', b'')
        self.a.put('out', b'')
        self.assert_next_job_ok()
        self.before = self.snapshot()

    def placed_on(self, name, data=b'input\n'):
        """PUT f/<name>; the IP of its first primary (where an instance
        reading it runs) and the URL of a zvmd elsewhere (a coordinator
        that is not that worker)."""
        self.a.put('f/' + name, data)
        worker = self.primaries('f/' + name)[0]
        return worker, self.zvmd_url(self.other_ip(worker))

    def wait_instance(self, ip, job):
        """Until the job runs an instance on ip; its processes."""
        return super().wait_instance(
            ip, self.before[self.zvmd_index(ip)]['procs'], job)

    def assert_failed(self, answer, *names):
        """The job failed with a message naming one of names (a
        connection cut by the failure counts as failed)."""
        if 'error' in answer:
            return
        status, h, body = answer['r']
        self.assertNotEqual(status, 200, body[:300])
        why = body.decode('utf-8', 'replace') + h.get('X-Nexe-Status', '')
        self.assertTrue(any(n in why for n in names), (names, why,
                                                        dict(h)))

    def spin_job(self, name, out):
        return [group('spin', 'spin', devices=[
            {'name': 'stdin', 'path': 'swift://~/f/' + name},
            {'name': 'stdout', 'path': 'swift://~/out/' + out}])]

    def test_worker_killed_mid_mapreduce(self):
        """Mappers on every node, reducers fed over edges; one worker (not
        the coordinator) SIGKILLed: the job fails naming it, the other
        workers end their instances, no output object."""
        for i in range(6):
            self.a.put('f/mr%d.txt' % i, b'some words %d\n' % i)
        worker = self.primaries('f/mr0.txt')[0]
        coordinator = self.zvmd_url(self.other_ip(worker))
        t, answer = job = self.start_job([
            group('map', 'spin', devices=[
                {'name': 'stdin', 'path': 'swift://~/f/mr*.txt'}],
                connect=['reduce']),
            group('reduce', 'wc_reduce', count=2, devices=[
                {'name': 'stdout', 'path': 'swift://~/out/mr-*'}])],
            base=coordinator)
        sandbox = self.wait_instance(worker, job)
        index = self.zvmd_index(worker)
        try:
            self.c.zvmd_stop(index, signal.SIGKILL)
            t.join(120)
            self.assert_failed(answer, worker)
            for r in ('1', '2'):
                self.assertEqual(self.a.head('out/mr-reduce-' + r), 404)
            self.assertEqual(self.a.call('GET', 'out', query='prefix=mr-')[2],
                             b'')
            self.assert_clean(self.before, sandbox)
        finally:
            self.c.zvmd_start(index)
        self.assert_next_job_ok()

    def test_object_server_stopped(self):
        """The first primary's object server is down, its zvmd up: the job
        still reads the object and writes its output (2 of 3 replicas).
        Three times: the fds a job leaves (kept-alive connections only,
        libcurl's cache bounded) must not pile up."""
        worker, _ = self.placed_on('os.txt', b'object server down\n')
        self.c.object_server_stop(worker)
        try:
            for attempt in range(3):
                status, h, body = self.a.job([group('up', 'upcase', devices=[
                    {'name': 'stdin', 'path': 'swift://~/f/os.txt'},
                    {'name': 'stdout', 'path': 'swift://~/out/os.up'}])])
                self.assertEqual(status, 200, (attempt, body, dict(h)))
                self.assertEqual(self.a.get('out/os.up')[2],
                                 b'OBJECT SERVER DOWN\n')
                self.assert_clean(self.before)
        finally:
            self.c.object_server_start(worker)
        self.assert_next_job_ok()

    def test_spool_full(self):
        """Every spool a 256 KiB tmpfs: 4 MiB of immediate output or of an
        output object fails saying which node's spool is full (the
        worker's, or the coordinator's as it spools the worker's output,
        whichever fills first); nothing is left; with the spools back,
        jobs run."""
        full = r'no space left on the spool of node 127\.0\.0\.\d+ \(/'
        for z in self.c.zvmds:
            self.c.zvmd_stop(z.index)
            subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=256k',
                            'zvm-spool', z.spool], check=True)
        try:
            for z in self.c.zvmds:
                self.c.zvmd_start(z.index)
            status, h, body = self.a.job([group('big', 'bigout',
                                                 str(4 << 20))])
            self.assertEqual(status, 500, h.get('X-Nexe-Status'))
            self.assertRegex(h.get('X-Nexe-Status', ''), full)
            status, h, body = self.a.job([group('big', 'bigout',
                                                 str(4 << 20), devices=[
                {'name': 'stdout', 'path': 'swift://~/out/full'}])])
            self.assertEqual(status, 500, h.get('X-Nexe-Status'))
            self.assertRegex(h.get('X-Nexe-Status', ''), full +
                             r'.*/dev/stdout')
            self.assertEqual(self.a.head('out/full'), 404)
            self.assert_clean(self.snapshot())
        finally:
            for z in self.c.zvmds:
                self.c.zvmd_stop(z.index)
                subprocess.run(['umount', z.spool])
                self.c.zvmd_start(z.index)
        self.assert_next_job_ok()

    def test_task_stream_cut(self):
        """The coordinator-worker connection is cut (ss -K) while the
        instance runs: the job fails naming the worker, the worker ends
        the instance, no output object."""
        worker, coordinator = self.placed_on('cut.txt')
        t, answer = job = self.start_job(self.spin_job('cut.txt', 'cut'),
                                         base=coordinator)
        sandbox = self.wait_instance(worker, job)
        cut_connections([worker], self.c.worker_port)
        t.join(120)
        self.assert_failed(answer, worker)
        self.assertEqual(self.a.head('out/cut'), 404)
        self.assert_clean(self.before, sandbox)
        self.assert_next_job_ok(coordinator)

    def test_edge_cut(self):
        """A mapper floods reducers that never read (their edges stay
        full); the edge connections are cut (ss -K): the readers' workers
        see it at once and the job fails saying which edge was cut (not by
        the session timeout), no output object, nothing left."""
        worker, coordinator = self.placed_on('edge.txt')
        t, answer = job = self.start_job([
            group('flood', 'flood', 'sink 64', devices=[
                {'name': 'stdin', 'path': 'swift://~/f/edge.txt'}],
                connect=['sink']),
            group('sink', 'spin', count=2, devices=[
                {'name': 'stdout', 'path': 'swift://~/out/edge-*'}])],
            base=coordinator)
        self.wait_instance(worker, job)
        ips = [z.ip for z in self.c.zvmds]
        wait_for(lambda: connections(ips, self.c.edge_port) or
                 not t.is_alive(), 'an edge connection between nodes')
        self.assertTrue(t.is_alive(), answer)
        cut_connections(ips, self.c.edge_port)
        t.join(120)
        self.assert_failed(answer, 'was cut')
        self.assertNotIn('timeout', str(answer))
        for r in ('1', '2'):
            self.assertEqual(self.a.head('out/edge-sink-' + r), 404)
        self.assert_clean(self.before)
        self.assert_next_job_ok()

    def test_client_gone(self):
        """The client of a streamed job (through the proxy) reads its first
        bytes and hangs up: the running instance is ended everywhere."""
        worker, _ = self.placed_on('gone.txt')
        body = ('[{"name": "spin", "exec": {"path": "swift://~/bin/spin"}, '
                '"devices": [{"name": "stdin", "path": '
                '"swift://~/f/gone.txt"}, {"name": "stdout"}]}]').encode()
        s = socket.create_connection(('127.0.0.1', self.c.proxy_port))
        s.sendall(b'POST /v1/AUTH_test HTTP/1.1\r\nHost: x\r\n'
                  b'X-Auth-Token: %s\r\nX-Zerovm-Execute: 1.0\r\n'
                  b'X-Zerovm-Stream: 1\r\nContent-Type: application/json\r\n'
                  b'Content-Length: %d\r\n\r\n%s' % (
                      self.a.token.encode(), len(body), body))
        got = b''
        try:
            while b'spinning' not in got:
                chunk = s.recv(4096)
                self.assertTrue(chunk, 'answer ended early: %r' % got)
                got += chunk
            idle = set(self.before[self.zvmd_index(worker)]['procs'])
            sandbox = set(self.sandboxes(
                self.c.zvmd_pid(self.zvmd_index(worker)))) - idle
        finally:
            s.close()
        self.assert_clean(self.before, sandbox)
        self.assert_next_job_ok()

    def test_coordinator_restarted(self):
        """The coordinator is SIGKILLed and started again while its
        instance runs on another node: the worker ends it, no output
        object, the new coordinator runs jobs."""
        worker, coordinator = self.placed_on('restart.txt')
        t, answer = job = self.start_job(
            self.spin_job('restart.txt', 'restart'), base=coordinator)
        sandbox = self.wait_instance(worker, job)
        index = self.zvmd_index(coordinator.split('//')[1].split(':')[0])
        self.c.zvmd_stop(index, signal.SIGKILL)
        self.c.zvmd_start(index)
        t.join(120)
        self.assert_failed(answer, 'coordinator')
        self.assertEqual(self.a.head('out/restart'), 404)
        self.assert_clean(self.before, sandbox)
        self.assert_next_job_ok(coordinator)

    def test_overload(self):
        """5x as many jobs at once as the cluster has slots (3 nodes x
        pool_size; a coordinator may move a job to another replica's
        node): the excess gets 503 with Retry-After, every accepted job is
        right, no more are accepted than the nodes' slots and queues hold,
        memory stays bounded."""
        self.placed_on('busy.txt')
        rss = {z.ip: rss_kib(self.c.zvmd_pid(z.index))
               for z in self.c.zvmds}
        n = 5 * POOL_SIZE * len(self.c.zvmds)
        gate = threading.Barrier(n)
        answers = [None] * n

        def run(i):
            gate.wait()
            answers[i] = self.a.job([group('busy', 'busy',
                                           str(BUSY_MILLIONS), devices=[
                {'name': 'stdin', 'path': 'swift://~/f/busy.txt'},
                {'name': 'stdout'}])])
        threads = [threading.Thread(target=run, args=(i,))
                   for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        want = busy_answer(BUSY_MILLIONS)
        codes = sorted(a[0] for a in answers)
        self.assertIn(200, codes)
        self.assertIn(503, codes)
        self.assertLessEqual(codes.count(200), len(self.c.zvmds) * (
            POOL_SIZE + QUEUE_LENGTH), codes)
        for status, h, body in answers:
            if status == 200:
                self.assertEqual(body, want)
            else:
                self.assertEqual(status, 503, body)
                self.assertTrue(h.get('Retry-After'), dict(h))
        for z in self.c.zvmds:
            grown = rss_kib(self.c.zvmd_pid(z.index)) - rss[z.ip]
            self.assertLess(grown, 64 << 10, '%s grew %d KiB' % (z.name,
                                                                 grown))
        self.assert_clean(self.before)


if __name__ == '__main__':
    sys.exit(run_tests(pool_size=POOL_SIZE, queue_length=QUEUE_LENGTH))
