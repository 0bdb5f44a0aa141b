#!/usr/bin/python3
"""A real Swift cluster on loopback for functional tests.

    /usr/bin/python3 tests/swift/cluster.py [--zerovm] [--keep] -- CMD [ARGS]

starts, in a private mount namespace (the host's /etc/swift is never
touched: a fresh directory is bind-mounted over it):

  * memcached on 127.0.0.1:<free port>
  * a proxy with tempauth on 127.0.0.1:<free port>:
      test:tester   / testing   (.admin of AUTH_test)
      test2:tester2 / testing2  (.admin of AUTH_test2)
    with --zerovm, the zerovm filter (middleware/zerovm_filter.py) after
    auth, pointing at a coordinator on 127.0.0.1:<free port> that CMD is
    expected to serve;
  * three storage nodes on 127.0.0.2, .3, .4, each an object server over its
    own devices dir (device d1, d2, d3), all at free ports; node 1 also runs
    the account and container servers (1 replica each);
  * rings: object rings for two replication policies, "gold" (0, default)
    and "silver" (1, object-1.ring.gz), 3 replicas each (one per node),
    part power 8;

waits until the proxy answers /healthcheck and tempauth hands out a token,
runs CMD with the cluster described in the environment, then stops every
process it started (by pid), even when CMD or startup fails, and removes
its directory (unless --keep). Exits with CMD's status.

Environment given to CMD:
  ZVM_SWIFT_URL          http://127.0.0.1:PORT (the proxy)
  ZVM_SWIFT_DIR          the directory mounted on /etc/swift (swift.conf,
                         *.ring.gz)
  ZVM_SWIFT_NODES        "IP:PORT=DEVICES_DIR ..." for the object servers
  ZVM_SWIFT_LOGS         directory of the servers' logs
  ZVM_COORDINATOR_PORT   (--zerovm) the port the filter forwards jobs to

All ports are picked free at start, so several clusters can run at once.
"""

import argparse
import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
MIDDLEWARE_DIR = os.path.join(HERE, '..', '..', 'middleware')
NS_MARK = 'ZVM_CLUSTER_IN_NAMESPACE'
NODE_IPS = ('127.0.0.2', '127.0.0.3', '127.0.0.4')
START_TIMEOUT = 120


def free_port(ip):
    s = socket.socket()
    s.bind((ip, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def die_with_parent():
    """In a child before exec: get SIGTERM if cluster.py dies, even by
    SIGKILL, so no server outlives the harness."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG,
                                            signal.SIGTERM)


def write(path, text):
    with open(path, 'w') as f:
        f.write(text)


SERVER_CONF = """[DEFAULT]
devices = {devices}
mount_check = false
bind_ip = {ip}
bind_port = {port}
workers = 0
user = root
swift_dir = /etc/swift
log_name = {kind}-{ip}

[pipeline:main]
pipeline = {kind}-server

[app:{kind}-server]
use = egg:swift#{kind}
"""

PROXY_CONF = """[DEFAULT]
bind_ip = 127.0.0.1
bind_port = {port}
workers = 0
user = root
swift_dir = /etc/swift
log_name = proxy

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache \
listing_formats tempauth {zerovm} copy dlo slo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
user_test2_tester2 = testing2 .admin

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:{memcached}

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:copy]
use = egg:swift#copy

[filter:dlo]
use = egg:swift#dlo

[filter:slo]
use = egg:swift#slo

[filter:zerovm]
paste.filter_factory = zerovm_filter:filter_factory
zvmd_endpoints = http://127.0.0.1:{coordinator}
conn_timeout = 2
node_timeout = 60
"""


class Cluster(object):

    def __init__(self, root, zerovm):
        self.root = root
        self.etc = os.path.join(root, 'etc')
        self.logs = os.path.join(root, 'logs')
        self.zerovm = zerovm
        self.procs = []       # (name, Popen)
        self.nodes = []       # (ip, object port, devices dir, device)

    # ---- configuration ------------------------------------------------------

    def configure(self):
        os.makedirs(self.etc)
        os.makedirs(self.logs)
        write(os.path.join(self.etc, 'swift.conf'),
              '[swift-hash]\nswift_hash_path_prefix = %s\n'
              'swift_hash_path_suffix = %s\n\n'
              '[storage-policy:0]\nname = gold\ndefault = yes\n\n'
              '[storage-policy:1]\nname = silver\n'
              % (secrets.token_hex(8), secrets.token_hex(8)))
        for i, ip in enumerate(NODE_IPS, 1):
            devices = os.path.join(self.root, 'node%d' % i)
            os.makedirs(os.path.join(devices, 'd%d' % i))
            self.nodes.append((ip, free_port(ip), devices, 'd%d' % i))
        self.account_port = free_port(NODE_IPS[0])
        self.container_port = free_port(NODE_IPS[0])
        self.memcached_port = free_port('127.0.0.1')
        self.proxy_port = free_port('127.0.0.1')
        self.coordinator_port = free_port('127.0.0.1')
        self._rings()
        self._server_confs()

    def _rings(self):
        # Swift's RingBuilder: what swift-ring-builder create/add/rebalance
        # runs, in one process instead of a dozen.
        from swift.common.ring import RingBuilder
        for name, seed in (('object', 1), ('object-1', 2)):
            b = RingBuilder(8, 3, 1)
            for zone, (ip, port, _, device) in enumerate(self.nodes, 1):
                b.add_dev({'region': 1, 'zone': zone, 'ip': ip,
                           'port': port, 'device': device, 'weight': 100})
            b.rebalance(seed=seed)
            b.get_ring().save(os.path.join(self.etc, name + '.ring.gz'))
        ip, _, _, device = self.nodes[0]
        for kind, port in (('account', self.account_port),
                           ('container', self.container_port)):
            b = RingBuilder(6, 1, 1)
            b.add_dev({'region': 1, 'zone': 1, 'ip': ip, 'port': port,
                       'device': device, 'weight': 100})
            b.rebalance(seed=1)
            b.get_ring().save(os.path.join(self.etc, '%s.ring.gz' % kind))

    def _server_confs(self):
        for ip, port, devices, _ in self.nodes:
            write(os.path.join(self.etc, 'object-%s.conf' % ip),
                  SERVER_CONF.format(devices=devices, ip=ip, port=port,
                                     kind='object'))
        ip, _, devices, _ = self.nodes[0]
        for kind, port in (('account', self.account_port),
                           ('container', self.container_port)):
            write(os.path.join(self.etc, '%s.conf' % kind),
                  SERVER_CONF.format(devices=devices, ip=ip, port=port,
                                     kind=kind))
        write(os.path.join(self.etc, 'proxy.conf'), PROXY_CONF.format(
            port=self.proxy_port, memcached=self.memcached_port,
            coordinator=self.coordinator_port,
            zerovm='zerovm' if self.zerovm else ''))

    # ---- processes ----------------------------------------------------------

    def _spawn(self, name, argv, env=None):
        log = open(os.path.join(self.logs, name + '.log'), 'wb')
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env,
                                preexec_fn=die_with_parent)
        log.close()
        self.procs.append((name, proc))

    def start(self):
        self._spawn('memcached', ['memcached', '-u', 'root', '-U', '0',
                                  '-l', '127.0.0.1', '-m', '16',
                                  '-p', str(self.memcached_port)])
        for ip, _, _, _ in self.nodes:
            self._spawn('object-' + ip, [
                'swift-object-server',
                os.path.join(self.etc, 'object-%s.conf' % ip), '-v'])
        for kind in ('account', 'container'):
            self._spawn(kind, ['swift-%s-server' % kind,
                               os.path.join(self.etc, kind + '.conf'), '-v'])
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(
            [os.path.abspath(MIDDLEWARE_DIR)] +
            ([env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
        self._spawn('proxy', ['swift-proxy-server',
                              os.path.join(self.etc, 'proxy.conf'), '-v'],
                    env=env)
        self._wait_ready()

    def _check_alive(self):
        for name, proc in self.procs:
            if proc.poll() is not None:
                raise RuntimeError('%s exited with %s during startup; see %s'
                                   % (name, proc.returncode, os.path.join(
                                       self.logs, name + '.log')))

    def _wait_listening(self, ip, port, deadline):
        while time.time() < deadline:
            self._check_alive()
            try:
                socket.create_connection((ip, port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError('nothing listens on %s:%d after %ds'
                           % (ip, port, START_TIMEOUT))

    def _wait_ready(self):
        deadline = time.time() + START_TIMEOUT
        for ip, port, _, _ in self.nodes:
            self._wait_listening(ip, port, deadline)
        self._wait_listening(NODE_IPS[0], self.account_port, deadline)
        self._wait_listening(NODE_IPS[0], self.container_port, deadline)
        self._wait_listening('127.0.0.1', self.memcached_port, deadline)
        self._wait_listening('127.0.0.1', self.proxy_port, deadline)
        url = 'http://127.0.0.1:%d' % self.proxy_port
        while True:
            self._check_alive()
            try:
                with urllib.request.urlopen(url + '/healthcheck',
                                            timeout=5) as r:
                    r.read()
                req = urllib.request.Request(url + '/auth/v1.0', headers={
                    'X-Auth-User': 'test:tester', 'X-Auth-Key': 'testing'})
                with urllib.request.urlopen(req, timeout=5) as r:
                    if r.headers.get('X-Auth-Token'):
                        return
            except (OSError, urllib.error.URLError):
                pass
            if time.time() > deadline:
                raise RuntimeError('proxy not ready after %ds; see %s'
                                   % (START_TIMEOUT, self.logs))
            time.sleep(0.2)

    def stop(self):
        for _, proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for name, proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs = []

    def environ(self):
        env = dict(os.environ)
        env.pop(NS_MARK, None)
        env['ZVM_SWIFT_URL'] = 'http://127.0.0.1:%d' % self.proxy_port
        env['ZVM_SWIFT_DIR'] = self.etc
        env['ZVM_SWIFT_LOGS'] = self.logs
        env['ZVM_SWIFT_NODES'] = ' '.join(
            '%s:%d=%s' % (ip, port, devices)
            for ip, port, devices, _ in self.nodes)
        if self.zerovm:
            env['ZVM_COORDINATOR_PORT'] = str(self.coordinator_port)
        return env


def enter_namespace():
    """Re-run this script in a private mount namespace (unshare -m)."""
    if os.environ.get(NS_MARK) == '1':
        return
    if not os.path.isdir('/etc/swift'):
        sys.exit('cluster.py: /etc/swift must exist (install the swift '
                 'package) to be covered by a private bind mount')
    os.environ[NS_MARK] = '1'
    os.execvp('unshare', ['unshare', '--mount', '--propagation', 'private',
                          sys.executable, os.path.abspath(__file__)] +
              sys.argv[1:])


def on_signal(signum, frame):
    raise SystemExit(128 + signum)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--zerovm', action='store_true',
                        help='add the zerovm filter to the proxy pipeline')
    parser.add_argument('--keep', action='store_true',
                        help='keep the cluster directory (logs) afterwards')
    parser.add_argument('cmd', nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.cmd[:1] == ['--']:
        args.cmd = args.cmd[1:]
    if not args.cmd:
        parser.error('a command to run is required')
    enter_namespace()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    root = tempfile.mkdtemp(prefix='zvm-swift-cluster-')
    cluster = Cluster(root, args.zerovm)
    status = 1
    try:
        cluster.configure()
        subprocess.run(['mount', '--bind', cluster.etc, '/etc/swift'],
                       check=True)
        cluster.start()
        status = subprocess.run(args.cmd, env=cluster.environ(),
                                preexec_fn=die_with_parent).returncode
    except (RuntimeError, subprocess.CalledProcessError, OSError) as e:
        print('cluster.py: %s' % e, file=sys.stderr)
        for name, _ in cluster.procs:
            log = os.path.join(cluster.logs, name + '.log')
            if os.path.exists(log):
                with open(log, errors='replace') as f:
                    tail = f.read()[-2000:]
                print('--- %s (last lines)\n%s' % (name, tail),
                      file=sys.stderr)
    finally:
        cluster.stop()
        if args.keep:
            print('cluster.py: kept %s' % root, file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    return status


if __name__ == '__main__':
    sys.exit(main())
