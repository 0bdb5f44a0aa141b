"""What the tests against a Swift cluster with zvmds share: HTTP requests to
the proxy or a zvmd, tokens, jobs, where Swift puts an object (Swift's own
swift-get-nodes), and the process, fd and spool checks of the fault tests.
Run under /usr/bin/python3 (cluster.py)."""

import hashlib
import hmac
import http.client
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..'))
from harness import descendants, group, parked, wait_for  # noqa: E402,F401
sys.path.insert(0, HERE)
import cluster  # noqa: E402

JOB_HEADERS = {'X-Zerovm-Execute': '1.0',
               'Content-Type': 'application/json'}


def request(base, method, path, headers=None, body=None, query='',
            timeout=120):
    """(status, headers, body) of one request to base ('http://h:p')."""
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port,
                                      timeout=timeout)
    target = urllib.parse.quote(path) + ('?' + query if query else '')
    try:
        conn.request(method, target, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def token(base, user, key):
    status, headers, _ = request(base, 'GET', '/auth/v1.0', {
        'X-Auth-User': user, 'X-Auth-Key': key})
    if status != 200:
        raise RuntimeError('no token for %s: %d' % (user, status))
    return headers['X-Auth-Token']


def nexe(headers, name):
    """An X-Nexe-* header as its per-instance list."""
    return [v.strip() for v in headers.get('X-Nexe-' + name, '').split(',')]


def words(text):
    """The words wc_map counts."""
    return re.findall(rb'[a-z]+', text.lower())


class Account(object):
    """A tempauth user's view of the cluster: object calls through the
    proxy, jobs through the proxy or straight to one zvmd coordinator."""

    def __init__(self, proxy_url, user, key):
        self.proxy = proxy_url
        self.token = token(proxy_url, user, key)
        self.name = 'AUTH_' + user.split(':')[0]

    def call(self, method, path, headers=None, body=None, query='',
             expect=None):
        hdrs = {'X-Auth-Token': self.token}
        hdrs.update(headers or {})
        status, h, text = request(self.proxy, method,
                                  '/v1/%s/%s' % (self.name, path), hdrs,
                                  body, query)
        if expect is not None and status not in expect:
            raise AssertionError('%s %s: %d %r' % (method, path, status,
                                                   text[:300]))
        return status, h, text

    def put(self, path, body, headers=None):
        return self.call('PUT', path, headers, body, expect=(201, 202))

    def get(self, path):
        return self.call('GET', path)

    def head(self, path):
        return self.call('HEAD', path)[0]

    def job(self, job, base=None, headers=None, path=None, timeout=120):
        """POST a job (list or raw text) to the proxy, or to a zvmd at base
        the way the proxy filter forwards it."""
        body = job if isinstance(job, (bytes, str)) else json.dumps(job)
        hdrs = dict(JOB_HEADERS, **{'X-Auth-Token': self.token})
        hdrs.update(headers or {})
        return request(base or self.proxy, 'POST', path or '/v1/' + self.name,
                       hdrs, body, timeout=timeout)


def upload_programs(acct, programs):
    """PUT every {name: file} as <acct>/bin/<name>."""
    acct.put('bin', b'')
    for name, path in programs.items():
        with open(path, 'rb') as f:
            acct.put('bin/' + name, f.read(),
                     {'Content-Type': 'application/octet-stream'})


def swift_get_nodes(swift_dir, acct, cont, obj, ring='object.ring.gz'):
    """(partition, hash, [primary], [handoff]) from Swift's own tool; nodes
    as 'IP:PORT/DEVICE'."""
    out = subprocess.run(
        ['/usr/bin/python3', '/usr/bin/swift-get-nodes', '-a',
         os.path.join(swift_dir, ring), acct, cont, obj],
        check=True, capture_output=True, text=True).stdout
    part = hsh = None
    primaries, handoffs = [], []
    for line in out.splitlines():
        if line.startswith('Partition'):
            part = int(line.split()[1])
        elif line.startswith('Hash'):
            hsh = line.split()[1]
        elif line.startswith('Server:Port Device'):
            fields = line.split('\t')[1].split()
            node = '%s/%s' % (fields[0], fields[1])
            (handoffs if '[Handoff]' in line else primaries).append(node)
    return part, hsh, primaries, handoffs


def primary_ips(swift_dir, acct, cont, obj):
    """The IPs of an object's primary nodes, in ring order."""
    return [n.split(':')[0] for n in
            swift_get_nodes(swift_dir, acct, cont, obj)[2]]


def data_files(devices, part, hsh):
    """The .data files of one object hash on one node's devices dir."""
    found = []
    for dev in os.listdir(devices):
        d = os.path.join(devices, dev, 'objects', str(part), hsh[-3:], hsh)
        if os.path.isdir(d):
            found += [os.path.join(d, f) for f in os.listdir(d)
                      if f.endswith('.data')]
    return found


# ---- processes, fds and files, for the fault tests ------------------------

def alive(pids):
    """The pids of pids that still exist (zombies count: not reaped)."""
    return [p for p in pids if os.path.exists('/proc/%d' % p)]


TCP_STATES = {1: 'ESTABLISHED', 2: 'SYN_SENT', 3: 'SYN_RECV',
              4: 'FIN_WAIT1', 5: 'FIN_WAIT2', 6: 'TIME_WAIT', 7: 'CLOSE',
              8: 'CLOSE_WAIT', 9: 'LAST_ACK', 10: 'LISTEN', 11: 'CLOSING'}


def tcp_sockets(pid):
    """{inode: 'local -> remote STATE'} of the TCP sockets in pid's
    network namespace (/proc/PID/net/tcp)."""
    def addr(hexaddr):
        ip, port = hexaddr.split(':')
        return '%s:%d' % ('.'.join(str(int(ip[i:i + 2], 16))
                                   for i in (6, 4, 2, 0)), int(port, 16))
    found = {}
    with open('/proc/%d/net/tcp' % pid) as f:
        for line in f.readlines()[1:]:
            v = line.split()
            found[v[9]] = '%s -> %s %s' % (addr(v[1]), addr(v[2]),
                                           TCP_STATES.get(int(v[3], 16),
                                                          v[3]))
    return found


def unix_sockets(pid):
    """The inodes of the unix sockets in pid's namespace."""
    with open('/proc/%d/net/unix' % pid) as f:
        return {line.split()[6] for line in f.readlines()[1:]
                if len(line.split()) > 6}


# A socket in no table of /proc/PID/net: a TCP socket that was closed
# under its owner (reset, or destroyed by ss -K) and is not hashed any
# more, so its addresses are gone.
UNHASHED = '(closed, addresses gone)'


def fd_table(pid):
    """{fd: what it is} of a process: the readlink of /proc/PID/fd/N, a
    TCP socket with its addresses and state."""
    table, tcp = {}, None
    for fd in os.listdir('/proc/%d/fd' % pid):
        try:
            what = os.readlink('/proc/%d/fd/%s' % (pid, fd))
        except OSError:
            continue
        if what.startswith('socket:['):
            if tcp is None:
                tcp = tcp_sockets(pid)
                tcp.update({i: 'unix' for i in unix_sockets(pid)})
            what += ' ' + tcp.get(what[8:-1], UNHASHED)
        table[int(fd)] = what
    return table


def fds_added(before, after):
    """The fds of table after that are not in table before, one per line
    (fd number and what it is): for failure messages."""
    return '\n'.join('  fd %d: %s' % (fd, what)
                     for fd, what in sorted(after.items())
                     if before.get(fd) != what) or '  (none)'


def files_under(path):
    """Every file below path (a spool must be empty between jobs: its
    files are unnamed O_TMPFILEs)."""
    found = []
    for dirpath, _, files in os.walk(path):
        found += [os.path.join(dirpath, f) for f in files]
    return found


def cut_connections(ips, port):
    """Abort both ends of every TCP connection to one of ips at port
    (ss -K: the kernel resets them, as a network cut would). Other
    programs' sockets on the machine are never matched: both the address
    and the port must be ours."""
    dst = ' or '.join('dst %s' % ip for ip in ips)
    src = ' or '.join('src %s' % ip for ip in ips)
    for expr in ('( %s ) and dport = :%d' % (dst, port),
                 '( %s ) and sport = :%d' % (src, port)):
        # ss says "RTNETLINK answers: Invalid argument" for sockets it
        # lists but cannot destroy (not ours); its status tells failures.
        subprocess.run(['ss', '-K', expr], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def connections(ips, port):
    """Established TCP connections to one of ips at port."""
    dst = ' or '.join('dst %s' % ip for ip in ips)
    out = subprocess.run(['ss', '-Htn', 'state', 'established',
                          '( %s ) and dport = :%d' % (dst, port)],
                         capture_output=True, text=True, check=True).stdout
    return [ln for ln in out.splitlines() if ln.strip()]


def rss_kib(pid):
    with open('/proc/%d/status' % pid) as f:
        return int(re.search(r'VmRSS:\s+(\d+) kB', f.read()).group(1))


# ---- the internal API's signature (CLUSTER.md) ----------------------------

def sign(secret, method, path, body, expires=None, nonce=None):
    """The X-Zvm-* headers of a signed internal request."""
    expires = str(int(time.time()) + 60 if expires is None else expires)
    nonce = nonce or secrets.token_hex(16)
    msg = '\n'.join([method, path, expires, nonce,
                     hashlib.sha256(body).hexdigest()]).encode()
    return {'X-Zvm-Expires': expires, 'X-Zvm-Nonce': nonce,
            'X-Zvm-Signature': hmac.new(secret, msg,
                                        hashlib.sha256).hexdigest()}


def read_secret(path):
    """The cluster secret as zvmd uses it: the file's bytes without the
    trailing newline."""
    with open(path, 'rb') as f:
        return f.read().rstrip(b'\n')


# ---- running a test module against one cluster ----------------------------

CLUSTER = None        # the running cluster.Cluster while tests run
NOT_STARTED = None    # why run_tests started no cluster
PENDING_ENV = 'ZVM_CLUSTER_PENDING'


def pending(reason):
    """Mark a case written against CLUSTER.md that has not passed yet: it
    is skipped (with reason) unless ZVM_CLUSTER_PENDING=1 asks for it. Drop
    the mark once the case passes."""
    def mark(fn):
        if os.environ.get(PENDING_ENV) == '1':
            return fn
        return unittest.skip('pending: %s (run it with %s=1)'
                             % (reason, PENDING_ENV))(fn)
    return mark


def programs_from_env():
    """{name: path} of ZVM_PROG_<NAME> (static programs for the sandbox)."""
    return {k[len('ZVM_PROG_'):].lower(): v for k, v in os.environ.items()
            if k.startswith('ZVM_PROG_')}


def runnable_cases():
    """The cases of the __main__ module that are not skipped by a mark."""
    def cases(suite):
        for t in suite:
            if isinstance(t, unittest.TestSuite):
                yield from cases(t)
            else:
                yield t
    suite = unittest.defaultTestLoader.loadTestsFromModule(
        sys.modules['__main__'])
    return [t for t in cases(suite) if not getattr(
        getattr(t, t._testMethodName), '__unittest_skip__', False)]


def run_tests(**session_kw):
    """The main of a cluster test module: one cluster (with a zvmd per node)
    for every case of the module, stopped whatever happens; the programs
    are uploaded to both test accounts. Without zvmd cluster mode, or when
    every case is pending, no cluster is started and every case skips,
    saying why. Exits 77 (meson's SKIP) when no case ran."""
    global NOT_STARTED
    started = time.monotonic()
    if not runnable_cases():
        NOT_STARTED = 'every case is pending: no cluster started'
        result = unittest.main(exit=False, verbosity=2).result
    else:
        cluster.enter_namespace()
        result = run_with_cluster(session_kw)
    print('%s: %.1fs with the cluster start' % (
        os.path.basename(sys.argv[0]), time.monotonic() - started),
        file=sys.stderr)
    if not result.wasSuccessful():
        return 1
    skipped_cases = [t for t, _ in result.skipped
                     if isinstance(t, unittest.TestCase)]
    return 77 if result.testsRun == len(skipped_cases) else 0


def run_with_cluster(session_kw):
    global CLUSTER, NOT_STARTED
    with cluster.session(zvmd=os.environ['ZVMD'], zvmd_optional=True,
                         start_without_zvmd=False, **session_kw) as c:
        if c.zvmd_skip:
            NOT_STARTED = 'zvmd cluster mode is not built yet: ' + \
                c.zvmd_skip
        else:
            for user, key in (('test:tester', 'testing'),
                              ('test2:tester2', 'testing2')):
                upload_programs(Account(c.url, user, key),
                                programs_from_env())
            CLUSTER = c
        try:
            result = unittest.main(exit=False, verbosity=2).result
        finally:
            CLUSTER = None
        if c.zvmd_skip:
            return result
        if not result.wasSuccessful():
            sys.stderr.write(c.failure_logs())
        # A zvmd stopped by SIGTERM drains and exits 0 (under ASan: no
        # leak, no error report).
        for z in c.zvmds:
            status = c.zvmd_stop(z.index)
            if status != 0:
                result.errors.append((None, '%s exited with %s on SIGTERM:'
                                      '\n%s' % (z.name, status,
                                                c.zvmd_log(z.index))))
                sys.stderr.write(result.errors[-1][1])
    return result


# Connections libcurl keeps open for reuse in each zvmd: daemon/http.c
# bounds its cache with CURLMOPT_MAXCONNECTS (ZVMD_HTTP_MAX_CACHED).
CURL_CACHE = 4


class ZvmdClusterCase(unittest.TestCase):
    """A case against the running cluster: self.c (cluster.Cluster), self.a
    (test:tester, AUTH_test) and self.b (test2:tester2, AUTH_test2)."""

    @classmethod
    def setUpClass(cls):
        if NOT_STARTED:
            raise unittest.SkipTest(NOT_STARTED)
        if CLUSTER is None:
            raise unittest.SkipTest('run the module as a script: it starts '
                                    'the cluster')
        cls.c = CLUSTER
        cls.a = Account(CLUSTER.url, 'test:tester', 'testing')
        cls.b = Account(CLUSTER.url, 'test2:tester2', 'testing2')

    # ---- where things are --------------------------------------------------

    def primaries(self, path, acct=None):
        """IPs of the primary nodes of <acct>/<path>, in ring order."""
        cont, obj = path.split('/', 1)
        return primary_ips(self.c.etc, (acct or self.a).name, cont, obj)

    def zvmd_index(self, ip):
        return [z.ip for z in self.c.zvmds].index(ip)

    def zvmd_url(self, ip):
        return self.c.zvmds[self.zvmd_index(ip)].url

    def other_ip(self, *ips):
        """A node IP that is none of ips."""
        return [z.ip for z in self.c.zvmds if z.ip not in ips][0]

    # ---- jobs that run while something happens -----------------------------

    def start_job(self, job, base=None, headers=None):
        """Run a job in a thread; returns (thread, answer dict): answer
        gets 'r' (status, headers, body) or 'error' (the exception)."""
        answer = {}

        def run():
            try:
                answer['r'] = self.a.job(job, base=base, headers=headers)
            except (OSError, http.client.HTTPException) as e:
                answer['error'] = e
        t = threading.Thread(target=run)
        t.start()
        return t, answer

    @staticmethod
    def sandboxes(pid):
        """Processes below zvmd pid that are not zvmd's own forks: its
        namespace holder is a fork made at its first spawn and stays, so
        it is not a leak."""
        exe = os.readlink('/proc/%d/exe' % pid)
        found = []
        for p in descendants(pid):
            try:
                if os.readlink('/proc/%d/exe' % p) != exe:
                    found.append(p)
            except OSError:
                pass
        return found

    def wait_instance(self, ip, idle, job):
        """Until a process not in idle runs below the zvmd of ip, while the
        job (start_job's thread, answer) runs; those processes."""
        t, answer = job
        pid = self.c.zvmd_pid(self.zvmd_index(ip))
        wait_for(lambda: set(self.sandboxes(pid)) - set(idle) or
                 not t.is_alive(), 'an instance to start on ' + ip)
        if not t.is_alive():
            self.fail('the job ended before its instance ran on %s: %r'
                      % (ip, answer))
        return set(self.sandboxes(pid)) - set(idle)

    # ---- after a fault -----------------------------------------------------

    def snapshot(self):
        """Per zvmd: its pid, processes below it and open fds, when idle."""
        return [{'pid': self.c.zvmd_pid(z.index),
                 'procs': self.sandboxes(self.c.zvmd_pid(z.index)),
                 'fds': fd_table(self.c.zvmd_pid(z.index))}
                for z in self.c.zvmds]

    def assert_clean(self, before, gone=()):
        """Nothing the faulted job started is left: every process in gone
        has exited, each zvmd alive since `before` is back to its idle
        processes and (nearly: libcurl keeps a few connections) its fds,
        and no spool holds a file."""
        wait_for(lambda: not alive(gone), 'processes %s to exit' % (
            sorted(gone),))
        for z, snap in zip(self.c.zvmds, before):
            pid = self.c.zvmd_pid(z.index)
            if pid != snap['pid'] or self.c.procs[z.name].poll() is not None:
                continue
            wait_for(lambda: set(self.sandboxes(pid)) <= set(snap['procs']),
                     '%s to end the job\'s processes (left: %s)' % (
                         z.name, sorted(set(self.sandboxes(pid)) -
                                        set(snap['procs']))))
            self.assert_fds_back(z.name, pid, snap['fds'])
            self.assertEqual(files_under(z.spool), [], z.name)

    def kept_alive(self, what):
        """'in', 'out' or None: whether a /proc fd (fd_table's text) is a
        kept-alive HTTP connection: one another zvmd or the proxy keeps to
        this zvmd's listener ('in', while open at its end), or one of this
        zvmd's libcurl cache to a zvmd or the proxy ('out'; curl notices a
        close by the server only when it next looks, so CLOSE_WAIT too, and
        a cached connection that a fault reset or destroyed)."""
        if what.endswith(' ' + UNHASHED):
            return 'out'
        m = re.match(r'socket:\[\d+\] \S+:(\d+) -> \S+:(\d+) (\w+)$',
                     what)
        if not m:
            return None
        local, remote, state = int(m.group(1)), int(m.group(2)), m.group(3)
        if local == self.c.worker_port and state == 'ESTABLISHED':
            return 'in'
        if (remote in (self.c.worker_port, self.c.proxy_port) and
                state in ('ESTABLISHED', 'CLOSE_WAIT')):
            return 'out'
        return None

    @staticmethod
    def holder_fds(pid):
        """What zvmd pid holds of its own forks (its namespace holder, made
        at its first spawn and kept, and the child it parks for its next
        spawn): their pidfds and the pipes and sockets it shares with
        them, as fd_table texts."""
        exe = os.readlink('/proc/%d/exe' % pid)
        forks, shared = set(), set()
        for p in descendants(pid, with_parked=True):
            try:
                if os.readlink('/proc/%d/exe' % p) == exe:
                    forks.add(p)
                    shared.update(fd_table(p).values())
            except OSError:
                pass
        held = set()
        for fd, what in fd_table(pid).items():
            if what == 'anon_inode:[pidfd]':
                try:
                    with open('/proc/%d/fdinfo/%d' % (pid, fd)) as f:
                        m = re.search(r'^Pid:\s+(\d+)', f.read(), re.M)
                except OSError:
                    continue
                if m and int(m.group(1)) in forks:
                    held.add((fd, what))
            elif what in shared:
                held.add((fd, what))
        return held

    def leaked_fds(self, pid, idle):
        """The fds of zvmd pid that are not in its idle table, not a
        kept-alive connection and not shared with its namespace holder,
        plus its cached outgoing connections beyond CURL_CACHE:
        {fd: what}."""
        now = fd_table(pid)
        added = {fd: what for fd, what in now.items()
                 if idle.get(fd) != what}
        out = [fd for fd, what in now.items()
               if self.kept_alive(what) == 'out']
        leaked = {fd: what for fd, what in added.items()
                  if not self.kept_alive(what)}
        if leaked:
            held = self.holder_fds(pid)
            leaked = {fd: what for fd, what in leaked.items()
                      if (fd, what) not in held}
        # zvmd's end of a parked child's spawn socket (its inode is not
        # the child's end's): one unix socket per parked child.
        spare = len(parked(pid))
        for fd in sorted(leaked):
            if spare and leaked[fd].endswith(' unix'):
                del leaked[fd]
                spare -= 1
        if len(out) > CURL_CACHE:
            leaked.update({fd: now[fd] + ' (one of %d cached, more than %d)'
                           % (len(out), CURL_CACHE) for fd in out})
        return leaked

    def assert_fds_back(self, name, pid, idle):
        """zvmd pid closes what a job opened: every fd that is not in its
        idle table is a kept-alive HTTP connection, and its libcurl cache
        holds at most CURL_CACHE; the failure names every other fd."""
        try:
            wait_for(lambda: not self.leaked_fds(pid, idle),
                     '%s to close the job\'s fds' % name)
        except Exception:
            leaked = self.leaked_fds(pid, idle)
            self.fail('%s holds %d fds that are not idle and not kept-alive '
                      'connections:\n%s\n(all fds not idle:\n%s)' % (
                          name, len(leaked), fds_added({}, leaked),
                          fds_added(idle, fd_table(pid))))

    def assert_next_job_ok(self, base=None):
        status, h, body = self.a.job([group('hello', 'hello')], base=base)
        self.assertEqual((status, body), (200, b'hello, world\n'),
                         dict(h))
