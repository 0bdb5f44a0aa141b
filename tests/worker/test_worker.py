"""The worker side of cluster mode against a real Swift (run by cluster.py):
POST /internal/v1/task signed like a coordinator signs it, to a
cluster-mode zvmd on each storage node.

  * unsigned -> 401, bad signature -> 403, replayed nonce -> 403, and
    nothing runs;
  * an input whose .data is on the node is read from disk (the log says
    source=local); with the node's copy gone it is read through the proxy
    (source=proxy), same bytes;
  * an object overwritten after the coordinator's HEAD is never read
    stale: the task fails with 409 naming it;
  * outputs are PUT through the proxy with content type and metadata only
    after the instance succeeded; a failed instance leaves none;
  * an edge: a writer on one node streams to a reader on another; an edge
    reset under a reader fails the reader's task at once with an error
    frame naming the edge; a writer that fails resets its edge (its
    reader sees an error, not the end of a stream), one that succeeds
    ends it cleanly;
  * a worker whose slots and queue are taken refuses a task with 503 and
    Retry-After.

Run: /usr/bin/python3 tests/swift/cluster.py -- /usr/bin/python3 \\
         tests/worker/test_worker.py   (env: ZVMD, PLAN_JSON, ZVMD_PROG_*)
"""

import hashlib
import hmac
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

URL = urllib.parse.urlsplit(os.environ.get('ZVM_SWIFT_URL', ''))
SWIFT_DIR = os.environ.get('ZVM_SWIFT_DIR', '')
NODES = [n.split('=', 1) for n in os.environ.get('ZVM_SWIFT_NODES', '').split()]
ZVMD = os.environ.get('ZVMD', '')
PLAN_JSON = os.environ.get('PLAN_JSON', '')
PROGS = {p: os.environ.get('ZVMD_PROG_' + p.upper(), '')
         for p in ('cat', 'upcase', 'exitcode', 'spin')}
ACCOUNT = 'AUTH_test'


def request(host, port, method, path, headers=None, body=None):
    conn = http.client.HTTPConnection(host, port, timeout=120)
    try:
        conn.request(method, urllib.parse.quote(path), body=body,
                     headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def proxy(method, path, headers=None, body=None):
    return request(URL.hostname, URL.port, method, path, headers, body)


def free_port_on_all(ips):
    while True:
        s = socket.socket()
        s.bind((ips[0], 0))
        port = s.getsockname()[1]
        s.close()
        try:
            for ip in ips[1:]:
                t = socket.socket()
                t.bind((ip, port))
                t.close()
            return port
        except OSError:
            continue


class Workers:
    """A cluster-mode zvmd on every storage node (same ports, own IPs)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix='zvmd-workers-')
        self.secret = secrets.token_hex(32).encode()
        self.secret_file = os.path.join(self.dir, 'secret')
        with open(self.secret_file, 'wb') as f:
            f.write(self.secret)
        os.chmod(self.secret_file, 0o600)
        self.ips = [n[0].split(':')[0] for n in NODES]
        self.port = free_port_on_all(self.ips)
        self.edge_port = free_port_on_all(self.ips)
        self.procs, self.logs = [], []
        for i, (addr, devices) in enumerate(NODES):
            ip = addr.split(':')[0]
            # The last node is small: test_busy_worker fills it.
            small = 'pool_size = 1\nqueue_length = 1\n' \
                if i == len(NODES) - 1 else ''
            d = os.path.join(self.dir, 'n%d' % i)
            for sub in ('store', 'spool'):
                os.makedirs(os.path.join(d, sub))
            conf = os.path.join(d, 'zvmd.conf')
            with open(conf, 'w') as f:
                f.write('[zvmd]\nlisten = %s:%d\nroot = %s/store\n'
                        'spool = %s/spool\nlog_level = debug\n'
                        'job_timeout = 30\ninstance_timeout = 20\n%s'
                        '[cluster]\nrole = cluster\nproxy_url = %s://%s\n'
                        'swift_dir = %s\ndevices = %s\nworker_port = %d\n'
                        'edge_port = %d\nsecret_file = %s\n'
                        % (ip, self.port, d, d, small, URL.scheme,
                           URL.netloc,
                           SWIFT_DIR, devices, self.port, self.edge_port,
                           self.secret_file))
            log = open(os.path.join(d, 'log'), 'w+')
            self.logs.append(log)
            self.procs.append(subprocess.Popen([ZVMD, '-c', conf],
                                               stdout=log, stderr=log))
        for ip in self.ips:
            self.wait(ip)

    def wait(self, ip):
        for _ in range(200):
            try:
                if request(ip, self.port, 'GET', '/healthcheck')[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError('zvmd on %s did not start: %s' %
                           (ip, self.log(self.ips.index(ip))))

    def log(self, i):
        self.logs[i].flush()
        with open(self.logs[i].name) as f:
            return f.read()

    def stop(self):
        """SIGTERM every zvmd; the codes they exit with (0 = clean drain,
        and under ASan no leak)."""
        codes = []
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                codes.append(p.wait(timeout=30))
            except subprocess.TimeoutExpired:
                p.kill()
                codes.append(p.wait())
        return codes

    def nodes(self):
        return [{'http': '%s:%d' % (ip, self.port),
                 'edge': '%s:%d' % (ip, self.edge_port)} for ip in self.ips]

    def sign(self, body, nonce=None, expires=None):
        expires = expires or int(time.time()) + 60
        nonce = nonce or secrets.token_hex(16)
        msg = 'POST\n/internal/v1/task\n%d\n%s\n%s' % (
            expires, nonce, hashlib.sha256(body).hexdigest())
        sig = hmac.new(self.secret, msg.encode(), hashlib.sha256).hexdigest()
        return {'X-Zvm-Expires': str(expires), 'X-Zvm-Nonce': nonce,
                'X-Zvm-Signature': sig}

    def post(self, node, body, headers):
        return request(self.ips[node], self.port, 'POST',
                       '/internal/v1/task', headers, body)

    def open_task(self, node, body, until):
        """POST a signed task on a socket left open (the coordinator's
        connection: closing it cancels the task); read until `until`."""
        s = socket.create_connection((self.ips[node], self.port), timeout=60)
        head = ''.join('%s: %s\r\n' % kv for kv in self.sign(body).items())
        s.sendall(b'POST /internal/v1/task HTTP/1.1\r\nHost: x\r\n'
                  b'Content-Length: %d\r\n%s\r\n' % (len(body),
                                                       head.encode()) + body)
        got = b''
        while until not in got:
            chunk = s.recv(4096)
            if not chunk:
                s.close()
                raise AssertionError('answer ended early: %r' % got)
            got += chunk
        return s, got


def frames(body):
    """[(type, dict, payload)] of a frames body."""
    out, pos = [], 0
    while pos < len(body):
        nl = body.index(b'\n', pos)
        f = json.loads(body[pos:nl])
        pos = nl + 1
        payload = b''
        if f['type'] == 'output':
            payload = body[pos:pos + f['len']]
            pos += f['len']
        out.append((f['type'], f, payload))
    return out


class WorkerTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        _, h, _ = proxy('GET', '/auth/v1.0', {'X-Auth-User': 'test:tester',
                                              'X-Auth-Key': 'testing'})
        cls.token = h['X-Auth-Token']
        cls.auth = {'X-Auth-Token': cls.token}
        for c in ('bin', 'in', 'out'):
            st, _, _ = proxy('PUT', '/v1/%s/%s' % (ACCOUNT, c), cls.auth)
            assert st in (201, 202), st
        for name, path in PROGS.items():
            with open(path, 'rb') as f:
                cls.put('bin/' + name, f.read())
        cls.w = Workers()

    @classmethod
    def tearDownClass(cls):
        codes = cls.w.stop()
        logs = [cls.w.log(i) for i in range(len(codes))]
        shutil.rmtree(cls.w.dir, ignore_errors=True)
        for code, log in zip(codes, logs):
            if code != 0:
                raise AssertionError('zvmd exited %d:\n%s' % (code,
                                                               log[-4000:]))

    @classmethod
    def put(cls, name, data, headers=None):
        h = dict(cls.auth)
        h.update(headers or {})
        st, _, _ = proxy('PUT', '/v1/%s/%s' % (ACCOUNT, name), h, data)
        assert st == 201, (name, st)

    def head(self, name):
        st, h, _ = proxy('HEAD', '/v1/%s/%s' % (ACCOUNT, name), self.auth)
        self.assertEqual(st, 200, name)
        return {'etag': h['Etag'].strip('"'),
                'size': int(h['Content-Length']),
                'timestamp': h['X-Timestamp'], 'policy': 0}

    def plan(self, job):
        out = subprocess.run([PLAN_JSON, ACCOUNT], input=json.dumps(job),
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout)

    def task(self, job, placement, self_node, objects, jobid=None):
        plan = self.plan(job)
        seen = {n: self.head(n) for n in objects}
        return json.dumps({
            'version': 1, 'job': jobid or 'w-%s' % secrets.token_hex(4),
            'account': ACCOUNT, 'token': self.token, 'self': self_node,
            'nodes': self.w.nodes(), 'placement': placement,
            'objects': {'%s/%s' % (ACCOUNT, n): v for n, v in seen.items()},
            'plan': plan}).encode()

    def run_task(self, node, body):
        return self.w.post(node, body, self.w.sign(body))

    def cat_job(self, name, extra=None):
        return [{'name': 'cat', 'exec': {'path': 'swift://~/bin/cat'},
                 'devices': [{'name': 'stdin', 'path': 'swift://~/' + name},
                             {'name': 'stdout'}] + (extra or [])}]

    # ----------------------------------------------------------- auth

    def test_unsigned_bad_and_replayed_are_refused(self):
        self.put('in/auth.txt', b'secret words\n')
        body = self.task(self.cat_job('in/auth.txt'), [0], 0,
                         ['in/auth.txt', 'bin/cat'])
        st, _, text = self.w.post(0, body, {})
        self.assertEqual(st, 401, text)
        h = self.w.sign(body)
        h['X-Zvm-Signature'] = '0' * 64
        st, _, text = self.w.post(0, body, h)
        self.assertEqual(st, 403, text)
        h = self.w.sign(body)
        st, _, text = self.w.post(0, body, h)
        self.assertEqual(st, 200, text)
        st, _, text = self.w.post(0, body, h)
        self.assertEqual(st, 403, text)
        self.assertIn(b'replay', text.lower())
        st, _, text = self.w.post(0, body, self.w.sign(
            body, expires=int(time.time()) - 10))
        self.assertEqual(st, 403, text)

    # ---------------------------------------------------------- inputs

    def test_local_data_then_proxy_without_the_local_copy(self):
        data = b''.join(b'line %d\n' % i for i in range(3000))
        self.put('in/local.txt', data)
        body = self.task(self.cat_job('in/local.txt'), [1], 1,
                         ['in/local.txt', 'bin/cat'])
        st, _, out = self.run_task(1, body)
        self.assertEqual(st, 200, out)
        fr = frames(out)
        self.assertEqual(b''.join(p for t, _, p in fr if t == 'output'), data)
        report = [f for t, f, _ in fr if t == 'report'][0]
        self.assertEqual((report['system'], report['status'],
                          report['retcode']), ('cat', 'ok', 0))
        self.assertEqual(fr[-1][0], 'done')
        log = self.w.log(1)
        self.assertIn('object="%s/in/local.txt" source=local' % ACCOUNT, log)
        # Remove node 1's copy: the worker reads through the proxy.
        devices = NODES[1][1]
        found = subprocess.run(['find', devices, '-name', '*.data'],
                               capture_output=True, text=True).stdout.split()
        removed = 0
        for path in found:
            with open(path, 'rb') as f:
                if f.read() == data:
                    os.unlink(path)
                    removed += 1
        self.assertEqual(removed, 1)
        body = self.task(self.cat_job('in/local.txt'), [1], 1,
                         ['in/local.txt', 'bin/cat'])
        st, _, out = self.run_task(1, body)
        self.assertEqual(st, 200, out)
        self.assertEqual(b''.join(p for t, _, p in frames(out)
                                  if t == 'output'), data)
        self.assertIn('object="%s/in/local.txt" source=proxy' % ACCOUNT,
                      self.w.log(1))

    def test_overwritten_after_head_is_never_read_stale(self):
        self.put('in/changing.txt', b'old contents\n')
        body = self.task(self.cat_job('in/changing.txt'), [2], 2,
                         ['in/changing.txt', 'bin/cat'])
        self.put('in/changing.txt', b'new contents!\n')
        st, _, out = self.run_task(2, body)
        self.assertEqual(st, 409, out)
        self.assertIn(b'in/changing.txt', out)
        self.assertNotIn(b'contents', out)

    def test_object_not_in_the_task_is_refused(self):
        self.put('in/other.txt', b'x\n')
        body = self.task(self.cat_job('in/other.txt'), [0], 0, ['bin/cat'])
        st, _, out = self.run_task(0, body)
        self.assertEqual(st, 403, out)
        self.assertIn(b'in/other.txt', out)

    # --------------------------------------------------------- outputs

    def test_outputs_only_after_success(self):
        self.put('in/up.txt', b'make me loud\n')
        job = [{'name': 'up', 'exec': {'path': 'swift://~/bin/upcase'},
                'devices': [{'name': 'stdin', 'path': 'swift://~/in/up.txt'},
                            {'name': 'stdout', 'path': 'swift://~/out/up.txt',
                             'content_type': 'text/x-loud',
                             'meta': {'color': 'red'}}]}]
        body = self.task(job, [0], 0, ['in/up.txt', 'bin/upcase'])
        st, _, out = self.run_task(0, body)
        self.assertEqual(st, 200, out)
        report = [f for t, f, _ in frames(out) if t == 'report'][0]
        self.assertEqual(report['status'], 'ok', report)
        st, h, data = proxy('GET', '/v1/%s/out/up.txt' % ACCOUNT, self.auth)
        self.assertEqual((st, data), (200, b'MAKE ME LOUD\n'))
        self.assertEqual(h['Content-Type'], 'text/x-loud')
        self.assertEqual(h['X-Object-Meta-Color'], 'red')
        job = [{'name': 'bad', 'exec': {'path': 'swift://~/bin/exitcode',
                                        'args': '1 partial'},
                'devices': [{'name': 'stdout',
                             'path': 'swift://~/out/bad.txt'}]}]
        body = self.task(job, [0], 0, ['bin/exitcode'])
        st, _, out = self.run_task(0, body)
        self.assertEqual(st, 200, out)
        report = [f for t, f, _ in frames(out) if t == 'report'][0]
        self.assertEqual(report['retcode'], 1, report)
        st, _, _ = proxy('HEAD', '/v1/%s/out/bad.txt' % ACCOUNT, self.auth)
        self.assertEqual(st, 404)

    # ----------------------------------------------------------- edges

    def test_edge_between_two_nodes(self):
        data = b''.join(b'edge line %d\n' % i for i in range(20000))
        self.put('in/edge.txt', data)
        job = [{'name': 'src', 'exec': {'path': 'swift://~/bin/cat'},
                'devices': [{'name': 'stdin', 'path': 'swift://~/in/edge.txt'},
                            {'name': 'stdout',
                             'path': 'zvm://dst:/dev/stdin'}]},
               {'name': 'dst', 'exec': {'path': 'swift://~/bin/upcase'},
                'devices': [{'name': 'stdout'}]}]
        plan = self.plan(job)
        names = [i['name'] for i in plan['inst']]
        src = names.index('src')
        placement = [0 if n == 'src' else 2 for n in names]
        jobid = 'e-%s' % secrets.token_hex(4)
        results = {}

        def one(node):
            body = self.task(job, placement, node,
                             ['in/edge.txt', 'bin/cat', 'bin/upcase'], jobid)
            results[node] = self.run_task(node, body)

        ts = [threading.Thread(target=one, args=(n,)) for n in (2, 0)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        st, _, out = results[2]
        self.assertEqual(st, 200, out)
        fr = frames(out)
        self.assertEqual(b''.join(p for t, _, p in fr if t == 'output'),
                         data.upper())
        st, _, out = results[0]
        self.assertEqual(st, 200, out)
        report = [f for t, f, _ in frames(out) if t == 'report'][0]
        self.assertEqual((report['inst'], report['status']), (src, 'ok'))

    def edge_job(self, writer_exec, reader_exec):
        """src (writer_exec) streams its stdout to dst (reader_exec):
        (job, plan, index of src, index of dst, src's channel of the
        edge)."""
        job = [{'name': 'src', 'exec': writer_exec,
                'devices': [{'name': 'stdout',
                             'path': 'zvm://dst:/dev/stdin'}]},
               {'name': 'dst', 'exec': reader_exec,
                'devices': [{'name': 'stdout'}]}]
        plan = self.plan(job)
        names = [i['name'] for i in plan['inst']]
        src, dst = names.index('src'), names.index('dst')
        wchan = [k for k, c in enumerate(plan['inst'][src]['channels'])
                 if c['kind'] == 'pipe_out'][0]
        return job, plan, src, dst, wchan

    def test_edge_reset_under_a_reader_fails_its_task(self):
        """This test is the writer of an edge to a reader on node 2 that
        never reads (spin): the edge is reset; the task ends with an error
        frame naming the edge, not by the instance timeout."""
        job, plan, src, dst, wchan = self.edge_job(
            {'path': 'swift://~/bin/cat'}, {'path': 'swift://~/bin/spin'})
        placement = [0 if i == src else 2 for i in range(len(plan['inst']))]
        jobid = 'cut-%s' % secrets.token_hex(4)
        body = self.task(job, placement, 2, ['bin/cat', 'bin/spin'], jobid)
        result = {}
        t = threading.Thread(target=lambda: result.update(
            r=self.run_task(2, body)))
        t.start()
        expires = int(time.time()) + 60
        line = 'ZVMEDGE/1 %s %d %d %d %s' % (jobid, src, wchan, expires,
                                            secrets.token_hex(16))
        mac = hmac.new(self.w.secret, line.encode(),
                       hashlib.sha256).hexdigest()
        s = socket.create_connection((self.w.ips[2], self.w.edge_port))
        s.sendall(('%s %s\n' % (line, mac)).encode())
        self.assertEqual(s.recv(3), b'OK\n')
        s.sendall(b'some bytes\n')
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack('ii', 1, 0))
        s.close()
        t.join(120)
        st, _, out = result['r']
        self.assertEqual(st, 200, out)
        fr = frames(out)
        self.assertEqual(fr[-1][0], 'error', fr)
        msg = fr[-1][1]['message']
        self.assertIn('edge src /dev/stdout -> dst /dev/stdin', msg)
        self.assertIn('was cut', msg)
        self.assertIn(self.w.ips[2], msg)
        report = [f for t_, f, _ in fr if t_ == 'report'][0]
        self.assertNotEqual(report['status'], 'ok', report)
        self.assertNotIn('timeout', report['status'])

    def fake_reader(self, job, plan, src):
        """Run src's task on node 0 with this test as the reader of its
        edge: the bytes received and how the stream ended ('eof' or the
        error)."""
        lsock = socket.socket()
        lsock.bind(('127.0.0.1', 0))
        lsock.listen(1)
        lsock.settimeout(60)
        nodes = self.w.nodes()
        nodes[2]['edge'] = '127.0.0.1:%d' % lsock.getsockname()[1]
        placement = [0 if i == src else 2 for i in range(len(plan['inst']))]
        body = json.loads(self.task(job, placement, 0,
                                    ['bin/exitcode', 'bin/cat']))
        body['nodes'] = nodes
        body = json.dumps(body).encode()
        result = {}
        t = threading.Thread(target=lambda: result.update(
            r=self.run_task(0, body)))
        t.start()
        try:
            conn, _ = lsock.accept()
        finally:
            lsock.close()
        conn.settimeout(60)
        got, end = b'', None
        with conn:
            while b'\n' not in got:
                got += conn.recv(1000)
            conn.sendall(b'OK\n')
            got = b''
            while end is None:
                try:
                    chunk = conn.recv(65536)
                except ConnectionResetError as e:
                    end = e
                    continue
                got += chunk
                end = None if chunk else 'eof'
        t.join(120)
        self.assertEqual(result['r'][0], 200, result['r'])
        return got, end

    def test_failed_writer_resets_its_edge(self):
        job, plan, src, _, _ = self.edge_job(
            {'path': 'swift://~/bin/exitcode', 'args': '3 partial'},
            {'path': 'swift://~/bin/cat'})
        got, end = self.fake_reader(job, plan, src)
        self.assertIsInstance(end, ConnectionResetError, (got, end))

    def test_writer_that_succeeds_ends_its_edge_cleanly(self):
        job, plan, src, _, _ = self.edge_job(
            {'path': 'swift://~/bin/exitcode', 'args': '0 all'},
            {'path': 'swift://~/bin/cat'})
        got, end = self.fake_reader(job, plan, src)
        self.assertEqual((got, end), (b'all\n', 'eof'))


    # ------------------------------------------------------- admission

    def test_busy_worker_refuses_with_retry_after(self):
        """The last node has pool_size 1 and queue_length 1: a spinning
        task runs, a second waits (200, no output yet), a third is
        refused at once with 503 and Retry-After; once the first two
        coordinators hang up, the node runs tasks again."""
        last = len(NODES) - 1
        self.put('in/busy.txt', b'busy\n')
        spin = [{'name': 'spin', 'exec': {'path': 'swift://~/bin/spin'},
                 'devices': [{'name': 'stdin',
                              'path': 'swift://~/in/busy.txt'},
                             {'name': 'stdout'}]}]
        objs = ['in/busy.txt', 'bin/spin']
        cat = self.task(self.cat_job('in/busy.txt'), [last], last,
                        ['in/busy.txt', 'bin/cat'])
        held = []
        try:
            for until in (b'spinning', b'\r\n\r\n'):
                s, got = self.w.open_task(last, self.task(spin, [last],
                                                          last, objs), until)
                held.append(s)
                self.assertTrue(got.startswith(b'HTTP/1.1 200'), got)
            st, h, text = self.run_task(last, cat)
            self.assertEqual(st, 503, text)
            self.assertEqual(h['Retry-After'], '1', dict(h))
            self.assertIn(b'busy: 1 of 1 instance slots in use, 1 tasks '
                          b'waiting (queue_length 1)', text)
        finally:
            for s in held:
                s.close()
        for _ in range(600):
            st, _, out = self.run_task(last, self.task(
                self.cat_job('in/busy.txt'), [last], last,
                ['in/busy.txt', 'bin/cat']))
            if st != 503:
                break
            time.sleep(0.05)
        self.assertEqual(st, 200, out)
        self.assertEqual(b''.join(p for t, _, p in frames(out)
                                  if t == 'output'), b'busy\n')


if __name__ == '__main__':
    unittest.main(verbosity=2)
