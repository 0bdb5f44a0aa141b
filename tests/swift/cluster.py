#!/usr/bin/python3
"""A real Swift cluster on loopback for functional tests.

    /usr/bin/python3 tests/swift/cluster.py [--zerovm] [--keep]
        [--zvmd PATH [--zvmd-optional]] -- CMD [ARGS]

starts, in a private mount namespace (the host's /etc/swift is never
touched: a fresh directory is bind-mounted over it):

  * memcached on 127.0.0.1:<free port>
  * a proxy with tempauth on 127.0.0.1:<free port>:
      test:tester   / testing   (.admin of AUTH_test)
      test2:tester2 / testing2  (.admin of AUTH_test2)
    with --zerovm, the zerovm filter (middleware/zerovm_filter.py) after
    auth, pointing at a coordinator on 127.0.0.1:<free port> that CMD is
    expected to serve - or, with --zvmd, at the three zvmds below;
  * three storage nodes on 127.0.0.2, .3, .4, each an object server over its
    own devices dir (device d1, d2, d3), all at free ports; node 1 also runs
    the account and container servers (1 replica each);
  * with --zvmd PATH, each storage node also runs a zvmd in cluster mode
    (../../CLUSTER.md): listen <node ip>:<worker port>, the same worker and
    edge ports on all nodes, its own spool and devices dir, the cluster's
    swift dir and a fresh cluster secret. Before starting them their config
    is checked (zvmd --check-config); with --zvmd-optional a zvmd that
    refuses it (cluster mode not built yet) is not started and the reason
    is passed on in ZVM_ZVMD_SKIP;
  * rings: object rings for two replication policies, "gold" (0, default)
    and "silver" (1, object-1.ring.gz), 3 replicas each (one per node),
    and an erasure-coded one, "ec" (2, object-2.ring.gz:
    liberasurecode_rs_vand, 2 data + 1 parity fragments, one per node,
    64 KiB segments), part power 8;
  * the proxy's pipeline has symlink, and keymaster + encryption with
    encryption disabled: objects are stored as they are (the workers read
    them from disk), yet the proxy decrypts what another proxy of the
    cluster encrypted. With crypto_proxies (library use), two more proxies
    without the zerovm filter: "encrypting" (the same root secret,
    encryption on: it stores ciphertext) and "plain" (no keymaster: it
    serves such objects as ciphertext);

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
  ZVM_COORDINATOR_PORT   (--zerovm without zvmds) the port the filter
                         forwards jobs to
  ZVM_ZVMD_NODES         (--zvmd) "IP:PORT ..." of the zvmds
  ZVM_ZVMD_SKIP          (--zvmd-optional) why the zvmds were not started

Tests that need to stop, kill or restart single servers use the Cluster
class directly (see session() and enter_namespace()).

All ports are picked free at start, so several clusters can run at once.
"""

import argparse
import base64
import contextlib
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


def write(path, text, mode=0o644):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with open(fd, 'w') as f:
        f.write(text)


def free_port_on_all(ips, taken=()):
    """A port nothing listens on at any of ips (and not in taken): the
    cluster contract has one worker port and one edge port for all nodes."""
    for _ in range(100):
        port = free_port(ips[0])
        if port in taken:
            continue
        try:
            for ip in ips[1:]:
                s = socket.socket()
                try:
                    s.bind((ip, port))
                finally:
                    s.close()
        except OSError:
            continue
        return port
    raise RuntimeError('no port free on all of %s' % ', '.join(ips))


def tail(path, size=3000):
    """The end of a log file, for failure messages."""
    try:
        with open(path, errors='replace') as f:
            f.seek(max(0, os.path.getsize(path) - size))
            return f.read()
    except OSError as e:
        return '(no log: %s)' % e


ZVMD_CONF = """[zvmd]
listen = {ip}:{worker_port}
root = {root}
spool = {spool}
pool_size = {pool_size}
queue_length = {queue_length}
instance_timeout = 30
job_timeout = 60
drain_grace = 5
log_level = info

[cluster]
role = cluster
proxy_url = {proxy_url}
swift_dir = {swift_dir}
devices = {devices}
node_ip = {ip}
worker_port = {worker_port}
edge_port = {edge_port}
secret_file = {secret_file}
"""

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
log_name = {name}

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache \
listing_formats tempauth {zerovm} copy dlo slo symlink {crypto} \
proxy-logging proxy-server

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
# The default pool (2 connections, 1 s wait) is too small for one proxy
# process serving dozens of jobs' planning at once: a token lookup that
# waits longer fails and tempauth answers 401.
memcache_max_connections = 16
pool_timeout = 5.0

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

[filter:symlink]
use = egg:swift#symlink

# One root secret for every proxy of the cluster: any of them decrypts
# what another encrypted.
[filter:keymaster]
use = egg:swift#keymaster
encryption_root_secret = {root_secret}

[filter:encryption]
use = egg:swift#encryption
disable_encryption = {disable_encryption}

[filter:zerovm]
paste.filter_factory = zerovm_filter:filter_factory
zvmd_endpoints = {endpoints}
conn_timeout = 2
node_timeout = 60
"""


def rotate_replicas(builder):
    """Vary which node is an object's first primary. With one device per
    node and as many replicas as nodes, RingBuilder puts the same device
    in every partition of a replica row, so one node would be the first
    primary of every object and placement by "first live primary" could
    not be told from "always node 1". Rotating each partition's devices
    across the rows keeps every partition on the same three devices (a
    valid ring: Swift reads the rows as an unordered set of primaries)."""
    rows = builder._replica2part2dev
    for part in range(builder.parts):
        devs = [row[part] for row in rows]
        shift = part % len(rows)
        for r, row in enumerate(rows):
            row[part] = devs[(r + shift) % len(devs)]


class Zvmd(object):
    """One storage node's zvmd: its config, and the running process."""

    def __init__(self, index, ip, devices, node_dir):
        self.index = index
        self.ip = ip
        self.devices = devices
        self.spool = os.path.join(node_dir, 'spool')
        self.root = os.path.join(node_dir, 'zvmd-root')
        self.conf = os.path.join(node_dir, 'zvmd.conf')
        self.name = 'zvmd-' + ip
        self.port = None

    @property
    def addr(self):
        return '%s:%d' % (self.ip, self.port)

    @property
    def url(self):
        return 'http://' + self.addr


class Cluster(object):

    def __init__(self, root, zerovm, zvmd=None, zvmd_optional=False,
                 pool_size=4, queue_length=16, sysimages=None,
                 node_sysimages=None, listing_limit=None,
                 crypto_proxies=False):
        self.root = root
        self.etc = os.path.join(root, 'etc')
        self.logs = os.path.join(root, 'logs')
        self.zerovm = zerovm
        self.zvmd_bin = zvmd
        self.zvmd_optional = zvmd_optional
        self.pool_size = pool_size
        self.queue_length = queue_length
        # [sysimages] of every zvmd ({name: tar}), and more for some nodes
        # only ({zvmd index: {name: tar}}).
        self.sysimages = dict(sysimages or {})
        self.node_sysimages = dict(node_sysimages or {})
        # Names per page of a container listing (Swift's default: 10000).
        self.listing_limit = listing_limit
        # The extra proxies (name -> port) of crypto_proxies.
        self.proxy_ports = {}
        self.crypto_proxies = crypto_proxies
        self.procs = {}       # name -> Popen, in start order
        self.nodes = []       # (ip, object port, devices dir, device)
        self.zvmds = []       # Zvmd per node, when zvmd is given
        self.zvmd_skip = None  # why the zvmds were not started

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.proxy_port

    def proxy_url(self, name):
        """The URL of an extra proxy ("encrypting", "plain")."""
        return 'http://127.0.0.1:%d' % self.proxy_ports[name]

    # ---- configuration ------------------------------------------------------

    def configure(self):
        os.makedirs(self.etc)
        os.makedirs(self.logs)
        write(os.path.join(self.etc, 'swift.conf'),
              '[swift-hash]\nswift_hash_path_prefix = %s\n'
              'swift_hash_path_suffix = %s\n\n'
              '[storage-policy:0]\nname = gold\ndefault = yes\n\n'
              '[storage-policy:1]\nname = silver\n\n'
              '[storage-policy:2]\nname = ec\n'
              'policy_type = erasure_coding\n'
              'ec_type = liberasurecode_rs_vand\n'
              'ec_num_data_fragments = 2\n'
              'ec_num_parity_fragments = 1\n'
              'ec_object_segment_size = 65536\n'
              % (secrets.token_hex(8), secrets.token_hex(8)) +
              ('\n[swift-constraints]\ncontainer_listing_limit = %d\n'
               % self.listing_limit if self.listing_limit else ''))
        for i, ip in enumerate(NODE_IPS, 1):
            node_dir = os.path.join(self.root, 'node%d' % i)
            devices = os.path.join(node_dir, 'devices')
            os.makedirs(os.path.join(devices, 'd%d' % i))
            self.nodes.append((ip, free_port(ip), devices, 'd%d' % i))
            if self.zvmd_bin:
                self.zvmds.append(Zvmd(i - 1, ip, devices, node_dir))
        self.account_port = free_port(NODE_IPS[0])
        self.container_port = free_port(NODE_IPS[0])
        self.memcached_port = free_port('127.0.0.1')
        self.proxy_port = free_port('127.0.0.1')
        self.coordinator_port = free_port('127.0.0.1')
        if self.crypto_proxies:
            for name in ('encrypting', 'plain'):
                self.proxy_ports[name] = free_port('127.0.0.1')
        self._rings()
        self._server_confs()
        if self.zvmd_bin:
            self._zvmd_confs()
            self._zvmd_check()
        self._proxy_conf()

    def _rings(self):
        # Swift's RingBuilder: what swift-ring-builder create/add/rebalance
        # runs, in one process instead of a dozen.
        from swift.common.ring import RingBuilder
        # 3 devices: 3 replicas, or the 2 + 1 fragments of policy 2.
        for name, seed in (('object', 1), ('object-1', 2), ('object-2', 3)):
            b = RingBuilder(8, 3, 1)
            for zone, (ip, port, _, device) in enumerate(self.nodes, 1):
                b.add_dev({'region': 1, 'zone': zone, 'ip': ip,
                           'port': port, 'device': device, 'weight': 100})
            b.rebalance(seed=seed)
            rotate_replicas(b)
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

    def _proxy_conf(self):
        if self.zvmds and not self.zvmd_skip:
            endpoints = ', '.join(z.url for z in self.zvmds)
        else:
            endpoints = 'http://127.0.0.1:%d' % self.coordinator_port
        secret = base64.b64encode(secrets.token_bytes(32)).decode()
        # name: (port, zerovm filter, crypto filters, encryption disabled)
        proxies = {'proxy': (self.proxy_port, self.zerovm, True, True)}
        if self.crypto_proxies:
            proxies['proxy-encrypting'] = (self.proxy_ports['encrypting'],
                                           False, True, False)
            proxies['proxy-plain'] = (self.proxy_ports['plain'], False,
                                      False, True)
        for name, (port, zerovm, crypto, disabled) in proxies.items():
            write(os.path.join(self.etc, name + '.conf'), PROXY_CONF.format(
                name=name, port=port, memcached=self.memcached_port,
                endpoints=endpoints, zerovm='zerovm' if zerovm else '',
                crypto='keymaster encryption' if crypto else '',
                root_secret=secret,
                disable_encryption='true' if disabled else 'false'))

    def _zvmd_confs(self):
        self.secret_file = os.path.join(self.etc, 'cluster.secret')
        write(self.secret_file, secrets.token_hex(32) + '\n', 0o600)
        self.worker_port = free_port_on_all(NODE_IPS)
        self.edge_port = free_port_on_all(NODE_IPS, (self.worker_port,))
        for z in self.zvmds:
            z.port = self.worker_port
            z.edge_port = self.edge_port
            os.makedirs(z.spool)
            os.makedirs(z.root)
            self.zvmd_configure(z.index)

    def zvmd_configure(self, index, proxy_url=None):
        """(Re)write one zvmd's config, with proxy_url (default: the main
        proxy's). A running zvmd reads it on zvmd_reload or restart."""
        z = self.zvmds[index]
        write(z.conf, ZVMD_CONF.format(
            ip=z.ip, worker_port=self.worker_port,
            edge_port=self.edge_port, root=z.root, spool=z.spool,
            pool_size=self.pool_size, queue_length=self.queue_length,
            proxy_url=proxy_url or self.url, swift_dir=self.etc,
            devices=z.devices, secret_file=self.secret_file) +
            self._sysimages_conf(z))

    def _sysimages_conf(self, z):
        images = dict(self.sysimages, **self.node_sysimages.get(z.index, {}))
        if not images:
            return ''
        return '\n[sysimages]\n' + ''.join(
            '%s = %s\n' % kv for kv in sorted(images.items()))

    def _zvmd_check(self):
        """zvmd --check-config on every node's config: a zvmd built without
        cluster mode refuses the [cluster] section."""
        for z in self.zvmds:
            res = subprocess.run([self.zvmd_bin, '-c', z.conf,
                                  '--check-config'],
                                 capture_output=True, text=True)
            if res.returncode == 0:
                continue
            why = '%s --check-config refuses %s: %s' % (
                self.zvmd_bin, z.conf, (res.stderr or res.stdout).strip())
            if not self.zvmd_optional:
                raise RuntimeError(why)
            self.zvmd_skip = why
            return

    # ---- processes ----------------------------------------------------------

    def log_path(self, name):
        return os.path.join(self.logs, name + '.log')

    def _spawn(self, name, argv, env=None):
        # Append: a restarted server keeps its earlier log lines.
        log = open(self.log_path(name), 'ab')
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env,
                                preexec_fn=die_with_parent)
        log.close()
        self.procs.pop(name, None)
        self.procs[name] = proc
        return proc

    def start(self):
        self._spawn('memcached', ['memcached', '-u', 'root', '-U', '0',
                                  '-l', '127.0.0.1', '-m', '16',
                                  '-p', str(self.memcached_port)])
        for ip, _, _, _ in self.nodes:
            self.object_server_start(ip, wait=False)
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
        for name in self.proxy_ports:
            self._spawn('proxy-' + name, [
                'swift-proxy-server',
                os.path.join(self.etc, 'proxy-%s.conf' % name), '-v'])
        self._wait_ready()
        if not self.zvmd_skip:
            # After the proxy: a coordinator plans through it.
            for z in self.zvmds:
                self.zvmd_start(z.index, wait=False)
            for z in self.zvmds:
                self.zvmd_wait(z.index)

    def object_server_start(self, ip, wait=True):
        self._spawn('object-' + ip, [
            'swift-object-server',
            os.path.join(self.etc, 'object-%s.conf' % ip), '-v'])
        if wait:
            port = [n[1] for n in self.nodes if n[0] == ip][0]
            self._wait_listening(ip, port, time.time() + START_TIMEOUT)

    def object_server_stop(self, ip):
        self.stop_process('object-' + ip)

    def zvmd_start(self, index, wait=True):
        z = self.zvmds[index]
        self._spawn(z.name, [self.zvmd_bin, '-c', z.conf])
        if wait:
            self.zvmd_wait(index)

    def zvmd_wait(self, index):
        """Until the zvmd answers GET /healthcheck with 200."""
        z = self.zvmds[index]
        deadline = time.time() + START_TIMEOUT
        while True:
            proc = self.procs[z.name]
            if proc.poll() is not None:
                raise RuntimeError('%s exited with %s at start:\n%s' % (
                    z.name, proc.returncode, tail(self.log_path(z.name))))
            try:
                with urllib.request.urlopen(z.url + '/healthcheck',
                                            timeout=2) as r:
                    if r.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            if time.time() > deadline:
                raise RuntimeError('%s not healthy after %ds:\n%s' % (
                    z.name, START_TIMEOUT, tail(self.log_path(z.name))))
            time.sleep(0.05)

    def zvmd_reload(self, index):
        """SIGHUP to one zvmd (it re-reads its config); returns once it
        logged the reload."""
        z = self.zvmds[index]

        def reloads():
            with open(self.log_path(z.name), errors='replace') as f:
                return f.read().count('msg=reloaded ')
        before = reloads()
        self.procs[z.name].send_signal(signal.SIGHUP)
        deadline = time.time() + START_TIMEOUT
        while reloads() == before:
            if time.time() > deadline:
                raise RuntimeError('%s did not reload after %ds:\n%s' % (
                    z.name, START_TIMEOUT, tail(self.log_path(z.name))))
            time.sleep(0.05)

    def zvmd_pid(self, index):
        return self.procs[self.zvmds[index].name].pid

    def zvmd_stop(self, index, sig=signal.SIGTERM):
        """Stop one zvmd with sig and reap it; its exit status."""
        return self.stop_process(self.zvmds[index].name, sig)

    def zvmd_log(self, index):
        return tail(self.log_path(self.zvmds[index].name))

    def stop_process(self, name, sig=signal.SIGTERM):
        proc = self.procs[name]
        if proc.poll() is None:
            proc.send_signal(sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return proc.returncode

    def _check_alive(self):
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError('%s exited with %s during startup; see %s'
                                   % (name, proc.returncode,
                                      self.log_path(name)))

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
        for port in self.proxy_ports.values():
            self._wait_listening('127.0.0.1', port, deadline)
        while True:
            self._check_alive()
            try:
                with urllib.request.urlopen(self.url + '/healthcheck',
                                            timeout=5) as r:
                    r.read()
                req = urllib.request.Request(self.url + '/auth/v1.0',
                                             headers={
                                                 'X-Auth-User': 'test:tester',
                                                 'X-Auth-Key': 'testing'})
                with urllib.request.urlopen(req, timeout=5) as r:
                    if r.headers.get('X-Auth-Token') and \
                            self._extra_proxies_healthy():
                        return
            except (OSError, urllib.error.URLError):
                pass
            if time.time() > deadline:
                raise RuntimeError('proxy not ready after %ds; see %s'
                                   % (START_TIMEOUT, self.logs))
            time.sleep(0.2)

    def _extra_proxies_healthy(self):
        for name in self.proxy_ports:
            with urllib.request.urlopen(self.proxy_url(name) +
                                        '/healthcheck', timeout=5) as r:
                r.read()
        return True

    def stop(self):
        """Stop every process, zvmds first (they may still talk to the
        proxy). A zvmd that does not exit on SIGTERM is killed."""
        names = [z.name for z in self.zvmds if z.name in self.procs]
        names += [n for n in self.procs if n not in names]
        for name in names:
            if self.procs[name].poll() is None:
                self.procs[name].terminate()
        for name in names:
            try:
                self.procs[name].wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.procs[name].kill()
                self.procs[name].wait()
        self.procs = {}

    def failure_logs(self):
        """The end of every server's log, for a failure message."""
        return ''.join('--- %s (last lines)\n%s\n' % (
            name, tail(self.log_path(name), 2000)) for name in self.procs)

    def environ(self):
        env = dict(os.environ)
        env.pop(NS_MARK, None)
        env['ZVM_SWIFT_URL'] = self.url
        env['ZVM_SWIFT_DIR'] = self.etc
        env['ZVM_SWIFT_LOGS'] = self.logs
        env['ZVM_SWIFT_NODES'] = ' '.join(
            '%s:%d=%s' % (ip, port, devices)
            for ip, port, devices, _ in self.nodes)
        if self.zvmds and not self.zvmd_skip:
            env['ZVM_ZVMD_NODES'] = ' '.join(z.addr for z in self.zvmds)
        elif self.zerovm:
            env['ZVM_COORDINATOR_PORT'] = str(self.coordinator_port)
        if self.zvmd_skip:
            env['ZVM_ZVMD_SKIP'] = self.zvmd_skip
        return env


def enter_namespace(argv=None):
    """Re-run the calling script (argv, default sys.argv) in a private mount
    namespace (unshare -m); returns at once when already inside one."""
    if os.environ.get(NS_MARK) == '1':
        return
    if not os.path.isdir('/etc/swift'):
        sys.exit('cluster.py: /etc/swift must exist (install the swift '
                 'package) to be covered by a private bind mount')
    argv = argv or sys.argv
    os.environ[NS_MARK] = '1'
    os.execvp('unshare', ['unshare', '--mount', '--propagation', 'private',
                          sys.executable, os.path.abspath(argv[0])] +
              argv[1:])


def on_signal(signum, frame):
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def session(zerovm=True, zvmd=None, zvmd_optional=False, keep=False,
            start_without_zvmd=True, **kw):
    """A configured and started Cluster for a with-block, inside the mount
    namespace (call enter_namespace() first); stopped and removed after,
    whatever happens. With zvmd_optional and start_without_zvmd=False, a
    cluster whose zvmds refuse their config is configured but not started
    (cluster.zvmd_skip says why). SIGTERM/SIGINT also stop it."""
    if os.environ.get(NS_MARK) != '1':
        raise RuntimeError('cluster.session() outside the private mount '
                           'namespace: call enter_namespace() first')
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    root = tempfile.mkdtemp(prefix='zvm-swift-cluster-')
    cluster = Cluster(root, zerovm, zvmd, zvmd_optional, **kw)
    try:
        cluster.configure()
        subprocess.run(['mount', '--bind', cluster.etc, '/etc/swift'],
                       check=True)
        if start_without_zvmd or not cluster.zvmd_skip:
            try:
                cluster.start()
            except (RuntimeError, OSError) as e:
                raise RuntimeError('%s\n%s' % (e, cluster.failure_logs()))
        yield cluster
    finally:
        cluster.stop()
        subprocess.run(['umount', '/etc/swift'], stderr=subprocess.DEVNULL)
        if keep:
            print('cluster.py: kept %s' % root, file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--zerovm', action='store_true',
                        help='add the zerovm filter to the proxy pipeline')
    parser.add_argument('--zvmd', metavar='PATH',
                        help='run this zvmd in cluster mode on every node')
    parser.add_argument('--zvmd-optional', action='store_true',
                        help='start without the zvmds if they refuse '
                        'their config (ZVM_ZVMD_SKIP says why)')
    parser.add_argument('--keep', action='store_true',
                        help='keep the cluster directory (logs) afterwards')
    parser.add_argument('cmd', nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.cmd[:1] == ['--']:
        args.cmd = args.cmd[1:]
    if not args.cmd:
        parser.error('a command to run is required')
    enter_namespace()
    status = 1
    try:
        with session(args.zerovm, args.zvmd, args.zvmd_optional,
                     args.keep) as cluster:
            status = subprocess.run(args.cmd, env=cluster.environ(),
                                    preexec_fn=die_with_parent).returncode
    except (RuntimeError, subprocess.CalledProcessError, OSError) as e:
        print('cluster.py: %s' % e, file=sys.stderr)
    return status


if __name__ == '__main__':
    sys.exit(main())
