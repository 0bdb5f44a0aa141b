#!/usr/bin/python3
"""Cluster mode end to end (issue #6, "Cases"): a real 3-node Swift cluster
with a cluster-mode zvmd on every storage node and the zerovm filter in the
proxy (cluster.py); jobs are POSTed to the proxy with tempauth tokens, as a
user would.

One cluster for the whole module (started by run_tests). Without zvmd
cluster mode (zvmd --check-config refuses the [cluster] section) every case
skips and says so. Cases marked pending have not passed yet: they run with
ZVM_CLUSTER_PENDING=1.

Where an instance ran: the coordinator answers X-Nexe-Node, the worker
address ("IP:PORT") of every instance in X-Nexe-System order (proposed by
the harness helper; see the report). Independently of it, test_locality
reads the per-node /metrics counters.

Run: ZVMD=build/daemon/zvmd ZVM_PROG_HELLO=... /usr/bin/python3 \\
         tests/swift/test_zvmd_cluster.py      (meson test swift-zvmd-cluster)
"""

import collections
import glob
import json
import os
import random
import re
import signal
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_client import (  # noqa: E402
    Account, ZvmdClusterCase, data_files, descendants, group, nexe,
    read_secret, request, run_tests, sign, swift_get_nodes, wait_for, words)
from harness import nondeterminism  # noqa: E402  (cluster_client's path)


def cat_job(name):
    """cat of one object to the answer: placed by that object."""
    return [group('cat', 'cat', devices=[
        {'name': 'stdin', 'path': 'swift://~/' + name}, {'name': 'stdout'}])]

VOCABULARY = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot',
              'golf', 'hotel', 'india', 'juliett', 'kilo', 'lima', 'mike',
              'november', 'oscar', 'papa', 'quebec', 'romeo', 'sierra',
              'tango', 'uniform', 'victor', 'whiskey', 'xray', 'yankee',
              'zulu']


def text(seed, nwords):
    """Deterministic text: nwords words (vocabulary words with a numbered
    suffix spelled in letters, so there are thousands of distinct ones)."""
    rnd = random.Random(seed)
    out = []
    for i in range(nwords):
        w = rnd.choice(VOCABULARY) + 'abcdefghij'[rnd.randrange(10)] * \
            rnd.randrange(1, 4)
        out.append(w.upper() if i % 7 == 0 else w)
        out.append('\n' if i % 12 == 11 else ' ')
    return ''.join(out).encode()


def node_of(headers, i):
    """The IP of the node instance i ran on, from X-Nexe-Node."""
    nodes = nexe(headers, 'Node')
    return nodes[i].split(':')[0] if i < len(nodes) else None


class Case(ZvmdClusterCase):

    def instances_run(self):
        """zvmd_instances_total of every running zvmd, by IP."""
        out = {}
        for z in self.c.zvmds:
            if self.c.procs[z.name].poll() is not None:
                continue
            status, _, body = request(z.url, 'GET', '/metrics')
            self.assertEqual(status, 200)
            for line in body.decode().splitlines():
                if line.startswith('zvmd_instances_total '):
                    out[z.ip] = float(line.split()[1])
        return out

    def count_instances(self, job, base):
        """Run job at base; (status, body, [IPs whose instance counter
        moved])."""
        before = self.instances_run()
        status, _, body = self.a.job(job, base=base)
        after = self.instances_run()
        return status, body, [ip for ip in after if after[ip] != before[ip]]


class Jobs(Case):

    def test_hello(self):
        status, h, body = self.a.job([group('hello', 'hello')])
        self.assertEqual(status, 200, body)
        self.assertEqual(body, b'hello, world\n')
        self.assertEqual(nexe(h, 'System'), ['hello'])
        self.assertEqual(nexe(h, 'Status'), ['ok'])
        self.assertEqual(nexe(h, 'Retcode'), ['0'])
        # The worker's validation note, passed on by the coordinator.
        self.assertEqual(nexe(h, 'Validation'), [nondeterminism()])

    def test_memory_etag(self):
        """exec.memory_etag travels in the task: the worker reports ZeroVM's
        /dev/memory etag, the same for the same job, another for another
        input; the run is pinned to one CPU."""
        self.a.put('mem', b'')
        self.a.put('mem/a.txt', b'the same input\n')
        self.a.put('mem/b.txt', b'another input\n')

        def run(name):
            job = cat_job('mem/' + name)
            job[0]['exec']['memory_etag'] = True
            status, h, body = self.a.job(job)
            self.assertEqual(status, 200, body)
            self.assertEqual(nexe(h, 'Validation'),
                             [nondeterminism(pinned=True)])
            return h.get('X-Nexe-Etag', '')
        etag = run('a.txt')
        self.assertRegex(etag, r'^/dev/memory [0-9a-f]{32}$')
        self.assertEqual(run('a.txt'), etag)
        self.assertNotEqual(run('b.txt'), etag)

    def wordcount(self):
        """24 objects, 3 reducers; the answer's headers after checking the
        counts against Python's; the object names in instance order."""
        self.a.put('wc', b'')
        texts = {}
        for i in range(24):
            name = 'book%02d.txt' % i
            texts[name] = text(i, 1500)
            self.a.put('wc/' + name, texts[name])
        status, h, body = self.a.job([
            group('map', 'wc_map', 'reduce', devices=[
                {'name': 'stdin', 'path': 'swift://~/wc/*.txt'}],
                connect=['reduce']),
            group('reduce', 'wc_reduce', count=3)])
        self.assertEqual(status, 200, (body[:300], dict(h)))
        names = sorted(texts)
        self.assertEqual(nexe(h, 'System'),
                         ['map-%d' % (i + 1) for i in range(len(names))] +
                         ['reduce-1', 'reduce-2', 'reduce-3'])
        got = collections.Counter()
        for line in body.splitlines():
            w, n = line.split()
            self.assertNotIn(w, got, 'a word counted by two reducers')
            got[w] = int(n)
        want = collections.Counter()
        for t in texts.values():
            want.update(words(t))
        self.assertEqual(got, want)
        return h, names

    def test_wordcount(self):
        """The counts, and every mapper ran on the first primary of its
        object (all zvmds are up), as the answer's X-Nexe-Node says."""
        h, names = self.wordcount()
        self.assertIn('X-Nexe-Node', h, 'the coordinator does not say '
                      'where each instance ran')
        for i, name in enumerate(names):
            self.assertEqual(node_of(h, i), self.primaries('wc/' + name)[0],
                             'map-%d (wc/%s)' % (i + 1, name))

    def test_locality(self):
        """Independently of X-Nexe-Node: a one-instance job over an object
        runs on the zvmd of the object's first primary - its instance
        counter moves, no other does. The job goes to that zvmd as
        coordinator, so the check holds whether or not a coordinator
        counts the instances it dispatches."""
        self.a.put('loc', b'')
        for i in range(4):
            name = 'loc/o%d' % i
            self.a.put(name, b'object %d\n' % i)
            first = self.primaries(name)[0]
            status, body, moved = self.count_instances(
                cat_job(name), self.zvmd_url(first))
            self.assertEqual((status, body), (200, b'object %d\n' % i))
            self.assertEqual(moved, [first], name)

    def test_output_objects(self):
        """swift:// outputs appear with their content type and metadata."""
        self.a.put('in', b'')
        self.a.put('out', b'')
        for n in ('x', 'y', 'z'):
            self.a.put('in/%s.txt' % n, b'content of %s\n' % n.encode())
        status, h, body = self.a.job([group('up', 'upcase', devices=[
            {'name': 'stdin', 'path': 'swift://~/in/*.txt'},
            {'name': 'stdout', 'path': 'swift://~/out/*.up',
             'content_type': 'text/x-upper', 'meta': {'color': 'blue'}}])])
        self.assertEqual(status, 200, body)
        for n in ('x', 'y', 'z'):
            status, oh, data = self.a.get('out/%s.up' % n)
            self.assertEqual(status, 200, n)
            self.assertEqual(data, b'CONTENT OF %s\n' % n.upper().encode())
            self.assertEqual(oh['Content-Type'], 'text/x-upper')
            self.assertEqual(oh['X-Object-Meta-Color'], 'blue')

    def test_acl(self):
        """Another account's private object: 403 and nothing runs (no
        output); after X-Container-Read for test:tester it works."""
        self.b.put('private', b'')
        self.b.put('private/doc.txt', b'secret words\n')
        self.a.put('out', b'')
        job = [group('up', 'upcase', devices=[
            {'name': 'stdin', 'path': 'swift://AUTH_test2/private/doc.txt'},
            {'name': 'stdout', 'path': 'swift://~/out/acl.up'}])]
        status, _, body = self.a.job(job)
        self.assertEqual(status, 403, body)
        self.assertIn(b'private/doc.txt', body)
        self.assertEqual(self.a.head('out/acl.up'), 404)
        self.b.call('POST', 'private', {'X-Container-Read': 'test:tester'},
                    expect=(204,))
        status, _, body = self.a.job(job)
        self.assertEqual(status, 200, body)
        self.assertEqual(self.a.get('out/acl.up')[2], b'SECRET WORDS\n')

    def test_bad_job(self):
        status, _, body = self.a.job([{'name': 'g'}])
        self.assertEqual(status, 400, body)
        self.assertIn(b'exec', body)
        status, _, body = self.a.job('this is not json')
        self.assertEqual(status, 422, body)
        self.assertTrue(body.strip())


class Faults(Case):

    def setUp(self):
        self.a.put('f', b'')
        self.a.put('out', b'')

    def test_worker_stopped(self):
        """The first primary's zvmd is down: the job runs on the second
        primary (its instance counter moves; it is the coordinator too)."""
        name = 'f/stopped.txt'
        self.a.put(name, b'on every replica\n')
        first, second = self.primaries(name)[:2]
        index = self.zvmd_index(first)
        self.c.zvmd_stop(index)
        try:
            status, body, moved = self.count_instances(
                cat_job(name), self.zvmd_url(second))
            self.assertEqual((status, body), (200, b'on every replica\n'))
            self.assertEqual(moved, [second])
        finally:
            self.c.zvmd_start(index)

    def test_worker_killed(self):
        """SIGKILL to the worker of a running instance: a clear error
        naming the worker, no output object, its sandbox gone."""
        name = 'f/killed.txt'
        self.a.put(name, b'input\n')
        worker = self.primaries(name)[0]
        index = self.zvmd_index(worker)
        coordinator = self.zvmd_url(self.other_ip(worker))
        idle = descendants(self.c.zvmd_pid(index))
        t, answer = job = self.start_job([group('spin', 'spin', devices=[
            {'name': 'stdin', 'path': 'swift://~/' + name},
            {'name': 'stdout', 'path': 'swift://~/out/killed'}])],
            base=coordinator)
        sandbox = self.wait_instance(worker, idle, job)
        try:
            self.c.zvmd_stop(index, signal.SIGKILL)
            t.join(120)
            self.assertNotIn('error', answer)
            status, h, body = answer['r']
            self.assertNotEqual(status, 200)
            self.assertIn(worker, (body.decode('utf-8', 'replace') +
                                   h.get('X-Nexe-Status', '')))
            self.assertEqual(self.a.head('out/killed'), 404)
            wait_for(lambda: not [p for p in sandbox
                                  if os.path.exists('/proc/%d' % p)],
                     'the killed worker\'s sandbox to exit')
        finally:
            self.c.zvmd_start(index)
        self.assert_next_job_ok()

    def test_stale_replica(self):
        """One replica holds an old version (its object server was down
        during the overwrite): a job placed there reads the new bytes."""
        name = 'f/stale.txt'
        self.a.put(name, b'old version\n')
        first = self.primaries(name)[0]
        self.c.object_server_stop(first)
        try:
            self.a.put(name, b'new version\n')
        finally:
            self.c.object_server_start(first)
        part, hsh, _, _ = swift_get_nodes(self.c.etc, self.a.name, 'f',
                                          'stale.txt')
        devices = [n[2] for n in self.c.nodes if n[0] == first][0]
        [old] = data_files(devices, part, hsh)
        with open(old, 'rb') as f:
            self.assertEqual(f.read(), b'old version\n',
                             'the first primary must hold the old version')
        status, h, body = self.a.job(cat_job(name))
        self.assertEqual((status, body), (200, b'new version\n'), dict(h))
        # Found by a wildcard: the listing (not a HEAD) said the new
        # version, the stale copy on the first primary is not used.
        status, h, body = self.a.job(cat_job('f/stale*.txt'))
        self.assertEqual((status, body), (200, b'new version\n'), dict(h))
        self.assertEqual(node_of(h, 0), first)

    def test_large_objects(self):
        """A static and a dynamic large object manifest: the worker finds
        the manifest, not the bytes, on its disk and reads the object
        through Swift; the program sees the whole object."""
        parts = [text(i, 300) for i in range(3)]
        self.a.put('seg', b'')
        for i, part in enumerate(parts):
            self.a.put('seg/s%d' % i, part)
        manifest = [{'path': '/seg/s%d' % i} for i in range(len(parts))]
        self.a.call('PUT', 'f/slo.txt', body=json.dumps(manifest).encode(),
                    query='multipart-manifest=put', expect=(201,))
        self.a.put('f/dlo.txt', b'', {'X-Object-Manifest': 'seg/s'})
        whole = b''.join(parts)
        for name in ('f/slo.txt', 'f/dlo.txt'):
            status, h, body = self.a.job(cat_job(name))
            self.assertEqual(status, 200, (name, body[:300], dict(h)))
            self.assertEqual(body, whole, name)

    def test_overwrite_race(self):
        """Jobs while the object is overwritten again and again: each
        answer is one whole version (or a clear error), never a mix."""
        name = 'f/race.txt'
        versions = [(b'%d' % v) * 200000 for v in range(4)]
        self.a.put(name, versions[0])
        stop = threading.Event()

        def overwrite():
            v = 0
            while not stop.is_set():
                v = (v + 1) % len(versions)
                self.a.put(name, versions[v])
        t = threading.Thread(target=overwrite)
        t.start()
        try:
            for _ in range(8):
                status, h, body = self.a.job(cat_job(name))
                if status == 200:
                    self.assertIn(body, versions)
                else:
                    self.assertIn(b'changed', body.lower() +
                                  h.get('X-Nexe-Status', '').encode())
        finally:
            stop.set()
            t.join()


INPUT_LOG = re.compile(r'msg=input job=\S+ inst=\S+ object="([^"]*)" '
                       r'source=(\w+)(?: reason="([^"]*)")?')


class StoredKinds(Case):
    """Objects that are not their bytes in one .data file: erasure-coded,
    encrypted, symlinks. The worker of the object's node reads them
    through Swift (its log says why) and the program sees the object's
    bytes. The cluster (crypto_proxies) has an "encrypting" proxy whose
    objects are ciphertext on disk, and a "plain" proxy that cannot
    decrypt them; the main proxy decrypts but stores plaintext."""

    def input_source(self, ip, path):
        """(source, reason) of the last input line of the zvmd at ip for
        <AUTH_test>/path: "local" or "proxy" and why."""
        found = None
        with open(self.c.log_path('zvmd-' + ip), errors='replace') as f:
            for line in f:
                m = INPUT_LOG.search(line)
                if m and m.group(1) == '%s/%s' % (self.a.name, path):
                    found = (m.group(2), m.group(3))
        self.assertIsNotNone(found, 'no input line for %s in the log of '
                             'zvmd-%s' % (path, ip))
        return found

    def assert_job_reads(self, path, want, source, reason=None):
        """A cat job over path answers want (what a GET answers), and the
        worker read it from source ("local" or "proxy", for reason)."""
        status, _, got = self.a.get(path)
        self.assertEqual((status, got), (200, want), 'GET ' + path)
        status, h, body = self.a.job(cat_job(path))
        self.assertEqual(status, 200, (path, body[:300], dict(h)))
        self.assertEqual(body, want, path)
        how = self.input_source(node_of(h, 0), path)
        self.assertEqual(how[0], source, (path, how))
        if reason:
            self.assertIn(reason, how[1] or '', path)
        return node_of(h, 0)

    def test_erasure_coded(self):
        """An object of the EC policy (2 + 1 fragments, several 64 KiB
        segments): the job runs on a node holding one of its fragments
        and reads the object through Swift, not the fragment."""
        self.a.put('ec', b'', {'X-Storage-Policy': 'ec'})
        data = text(7, 40000)
        self.assertGreater(len(data), 3 * 65536)
        self.a.put('ec/big.txt', data)
        worker = self.assert_job_reads('ec/big.txt', data, 'proxy',
                                       'erasure-coded')
        status, h, body = self.a.job(cat_job('ec/big*.txt'))
        self.assertEqual((status, body), (200, data), dict(h))
        part, hsh, nodes, _ = swift_get_nodes(
            self.c.etc, self.a.name, 'ec', 'big.txt', 'object-2.ring.gz')
        self.assertEqual(worker, nodes[0].split(':')[0])
        devices = [n[2] for n in self.c.nodes if n[0] == worker][0]
        frags = [f for d in os.listdir(devices) for f in glob.glob(
            os.path.join(devices, d, 'objects-2', str(part), hsh[-3:], hsh,
                         '*#*.data'))]
        self.assertEqual(len(frags), 1, frags)
        self.assertLess(os.path.getsize(frags[0]), len(data))

    def test_encrypted(self):
        """An object PUT through the encrypting proxy is ciphertext on
        disk; a job through the main proxy (which decrypts) returns its
        plaintext, read through Swift. An object PUT through the main
        proxy stays plaintext and is read from the disk."""
        enc = Account(self.c.proxy_url('encrypting'), 'test:tester',
                      'testing')
        self.a.put('enc', b'')
        secret = b'the plaintext of an encrypted object\n' * 50
        enc.put('enc/secret.txt', secret)
        for f in self.data_files('enc/secret.txt'):
            with open(f, 'rb') as fh:
                self.assertNotEqual(fh.read(), secret, f)
        self.assert_job_reads('enc/secret.txt', secret, 'proxy',
                              'encrypted')
        # Found by a wildcard: the listing's (decrypted) etag stands for
        # the HEAD's.
        status, h, body = self.a.job(cat_job('enc/secret*.txt'))
        self.assertEqual((status, body), (200, secret), dict(h))
        self.a.put('enc/plain.txt', b'stored as it is\n')
        self.assert_job_reads('enc/plain.txt', b'stored as it is\n',
                              'local')

    def test_encrypted_proxy_cannot_decrypt(self):
        """A zvmd whose proxy_url cannot decrypt (no keymaster): a job over
        an encrypted object on its node fails (500) naming the object and
        the cause, whether that zvmd planned the job (its proxy answered the
        ciphertext's etag) or only ran it (its GET returned ciphertext);
        never the ciphertext as the object's bytes."""
        enc = Account(self.c.proxy_url('encrypting'), 'test:tester',
                      'testing')
        self.a.put('enc', b'')
        worker = self.c.zvmds[1].ip
        name = next(n for n in ('enc/nokey%d' % i for i in range(100))
                    if self.primaries(n)[0] == worker)
        enc.put(name, b'only a decrypting proxy may read this\n')
        index = self.zvmd_index(worker)
        self.c.zvmd_configure(index, self.c.proxy_url('plain'))
        try:
            self.c.zvmd_reload(index)
            # The last: a wildcard, planned from the plain proxy's
            # listing of the container.
            for coordinator, path in ((worker, name),
                                      (self.other_ip(worker), name),
                                      (worker, name + '*')):
                status, h, body = self.a.job(
                    cat_job(path), base=self.zvmd_url(coordinator))
                said = body.decode('utf-8', 'replace') + \
                    h.get('X-Nexe-Status', '')
                self.assertEqual(status, 500, (coordinator, path, said))
                self.assertIn('swift://%s/%s is encrypted' % (
                    self.a.name, name), said, (coordinator, path))
                self.assertIn('no keymaster', said, (coordinator, path))
        finally:
            self.c.zvmd_configure(index)
            self.c.zvmd_reload(index)
        self.assert_next_job_ok()

    def data_files(self, path):
        """The .data files of <AUTH_test>/path (policy 0) on every node."""
        cont, obj = path.split('/', 1)
        part, hsh, _, _ = swift_get_nodes(self.c.etc, self.a.name, cont, obj)
        found = [f for n in self.c.nodes for f in data_files(n[2], part, hsh)]
        self.assertTrue(found, path)
        return found

    def test_symlink(self):
        """A symlink (to an object in another container): the job reads
        the target's bytes through Swift. A dangling symlink: 404 naming
        the symlink, nothing runs."""
        self.a.put('lnk', b'')
        self.a.put('lnk-target', b'')
        self.a.put('lnk-target/t.txt', b'the target\'s bytes\n')
        self.a.put('lnk/link.txt', b'',
                   {'X-Symlink-Target': 'lnk-target/t.txt'})
        self.assert_job_reads('lnk/link.txt', b'the target\'s bytes\n',
                              'proxy', 'symlink')
        self.a.put('lnk/dangling.txt', b'',
                   {'X-Symlink-Target': 'lnk-target/none.txt'})
        status, _, body = self.a.job(cat_job('lnk/dangling.txt'))
        self.assertEqual(status, 404, body)
        self.assertIn(b'lnk/dangling.txt', body)

    def test_symlink_listed(self):
        """Symlinks found by a wildcard are HEADed, not taken from the
        listing (which says nothing of the target's permissions): one to
        another account's private object fails the job with 403 naming
        it, and no instance runs anywhere, not even the plain object's;
        a good one reads its target."""
        self.b.put('lpriv', b'')
        self.b.put('lpriv/x.txt', b'private bytes\n')
        self.a.put('lsym', b'')
        self.a.put('lsym/a-plain.txt', b'plain\n')
        self.a.put('lsym/b-link.txt', b'', {
            'X-Symlink-Target': 'lpriv/x.txt',
            'X-Symlink-Target-Account': 'AUTH_test2'})
        status, body, moved = self.count_instances(
            cat_job('lsym/*.txt'), None)
        self.assertEqual(status, 403, body)
        self.assertIn(b'lsym/b-link.txt', body)
        self.assertEqual(moved, [])
        self.a.put('lsym/b-link.txt', b'', {'X-Symlink-Target': 'lsym/t'})
        self.a.put('lsym/t', b'the target\n')
        status, h, body = self.a.job(cat_job('lsym/*.txt'))
        self.assertEqual((status, body), (200, b'plain\nthe target\n'),
                         dict(h))


# A word count in Python, run by the python3 system image's interpreter.
WORDCOUNT_PY = b"""
import collections, re, sys
words = collections.Counter()
for line in sys.stdin:
    words.update(re.findall(r"[a-z]+", line.lower()))
for word, n in sorted(words.items()):
    print(word, n)
"""


def image_job(name, image, prog, args, devices, exec_name=None):
    """A group running prog of a system image (argv[0] exec_name: busybox
    picks its applet from it)."""
    g = {'name': name,
         'exec': {'path': 'file://%s:%s' % (image, prog), 'args': args},
         'devices': [{'name': image}] + devices}
    if exec_name:
        g['exec']['name'] = exec_name
    return [g]


class Images(Case):
    """System images on the workers (every node's [sysimages] names the
    python3 and busybox tars of tests/image; zvmd-0 alone also has
    "partial"): programs in them run next to their input objects."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.environ.get('IMAGE_PYTHON3'):
            raise unittest.SkipTest('IMAGE_PYTHON3 and IMAGE_BUSYBOX are '
                                    'not set (meson sets them)')
        cls.a.put('py', b'')
        cls.texts = {}
        for i in range(3):
            name = 'in%d.txt' % i
            cls.texts[name] = text(100 + i, 400)
            cls.a.put('py/' + name, cls.texts[name])

    def test_python_wordcount(self):
        """A Python script stored in Swift (the `script` device) counts
        the words of each of 3 objects, each on its object's node."""
        self.a.put('scripts', b'')
        self.a.put('scripts/wc.py', WORDCOUNT_PY)
        status, h, body = self.a.job(image_job(
            'wc', 'python3', 'python3', '/dev/script', [
                {'name': 'script', 'path': 'swift://~/scripts/wc.py'},
                {'name': 'stdin', 'path': 'swift://~/py/*.txt'},
                {'name': 'stdout'}]))
        self.assertEqual(status, 200, (body[-2000:], dict(h)))
        names = sorted(self.texts)
        want = b''.join(
            b''.join(b'%s %d\n' % kv for kv in sorted(
                collections.Counter(words(self.texts[n])).items()))
            for n in names)
        self.assertEqual(body, want)
        self.assertEqual(nexe(h, 'Status'), ['ok'] * 3)
        for i, name in enumerate(names):
            self.assertEqual(node_of(h, i), self.primaries('py/' + name)[0],
                             'wc-%d (py/%s)' % (i + 1, name))

    def test_busybox(self):
        """A busybox one-liner over each object, output to objects."""
        self.a.put('bbout', b'')
        status, h, body = self.a.job(image_job(
            'bb', 'busybox', 'bin/busybox', 'wc -w', [
                {'name': 'stdin', 'path': 'swift://~/py/*.txt'},
                {'name': 'stdout', 'path': 'swift://~/bbout/*.n',
                 'content_type': 'text/plain'}], 'busybox'))
        self.assertEqual(status, 200, (body, dict(h)))
        for name, data in self.texts.items():
            status, oh, out = self.a.get('bbout/%s.n' % name[:-4])
            self.assertEqual(status, 200, name)
            self.assertEqual(out.split(), [b'%d' % len(data.split())], name)

    def test_job_image(self):
        """The job's own image: a tar stored in Swift as the `image`
        device, its program named file://<path>."""
        self.a.put('images', b'')
        with open(os.environ['IMAGE_BUSYBOX'], 'rb') as f:
            self.a.put('images/bb.tar', f.read())
        status, h, body = self.a.job([{
            'name': 'bb',
            'exec': {'path': 'file://bin/busybox', 'name': 'busybox',
                     'args': 'tr a-z A-Z'},
            'devices': [{'name': 'image', 'path': 'swift://~/images/bb.tar'},
                        {'name': 'stdin', 'path': 'swift://~/py/in0.txt'},
                        {'name': 'stdout'}]}])
        self.assertEqual(status, 200, (body[-500:], dict(h)))
        self.assertEqual(body, self.texts['in0.txt'].upper())

    def test_unknown_image(self):
        """An image no node has: 400 naming it, nothing runs."""
        status, _, body = self.a.job([
            {'name': 'x', 'exec': {'path': 'file://nope:python3'}}])
        self.assertEqual(status, 400, body)
        self.assertIn(b'no system image named "nope"', body)
        status, _, body = self.a.job([group('hello', 'hello', devices=[
            {'name': 'nope'}, {'name': 'stdout'}])])
        self.assertEqual(status, 400, body)
        self.assertIn(b'unknown device "nope"', body)

    def test_program_missing_in_image(self):
        """A program the image does not hold: the instance fails on its
        worker (after it answered the coordinator), naming the program."""
        status, h, body = self.a.job(image_job(
            'x', 'busybox', 'bin/nope', '', [{'name': 'stdout'}]))
        self.assertEqual(status, 500, body)
        self.assertIn('program bin/nope: No such file',
                      h.get('X-Nexe-Status', ''))

    def test_image_missing_on_worker(self):
        """The coordinator (zvmd-0) has "partial", the worker of the
        input's node does not: the job fails with 400 naming the image
        and that node, and the next job runs."""
        first = self.c.zvmds[0].ip
        name = next(n for n in ('py/partial%d' % i for i in range(100))
                    if self.primaries(n)[0] != first)
        self.a.put(name, b'a b c\n')
        worker = self.primaries(name)[0]
        status, h, body = self.a.job(image_job(
            'bb', 'partial', 'bin/busybox', 'wc -w', [
                {'name': 'stdin', 'path': 'swift://~/' + name},
                {'name': 'stdout'}], 'busybox'), base=self.c.zvmds[0].url)
        text = body.decode('utf-8', 'replace') + h.get('X-Nexe-Status', '')
        self.assertEqual(status, 400, text)
        self.assertIn('no system image named "partial"', text)
        self.assertIn('node %s' % worker, text)
        self.assert_next_job_ok()


class Listings(Case):
    """A container as an input device reads its listing, one name a line,
    through the proxy with the user's token (this cluster's listing pages
    hold 10 names: the worker follows the markers)."""

    def test_container_listing(self):
        names = ['obj%02d' % i for i in range(23)] + [
            'with space', 'caf\u00e9/\u00fcber', 'z%2F?&#']
        self.a.put('lst', b'')
        for n in names:
            self.a.put('lst/' + n, b'x')
        status, h, body = self.a.job([group('cat', 'cat', devices=[
            {'name': 'stdin', 'path': 'swift://~/lst'}, {'name': 'stdout'}])])
        self.assertEqual(status, 200, (body, dict(h)))
        want = sorted(n.encode() for n in names)
        self.assertEqual(body, b''.join(n + b'\n' for n in want))

    def test_listing_refused(self):
        """Another account's container: 403 before anything runs."""
        self.b.put('hidden', b'')
        self.b.put('hidden/x', b'x')
        status, _, body = self.a.job([group('cat', 'cat', devices=[
            {'name': 'stdin', 'path': 'swift://AUTH_test2/hidden'},
            {'name': 'stdout'}])])
        self.assertEqual(status, 403, body)
        self.assertIn(b'hidden', body)



class Listed(Case):
    """Objects found by a wildcard: their container's listing, read with
    the user's token, stands for a HEAD of each (daemon/README.md,
    "Planning") when the entry is plainly an object's own bytes; the
    worker still checks what it opens against it."""

    def proxy_heads(self, prefix):
        """HEAD requests for objects under prefix in the proxy's log."""
        with open(self.c.log_path('proxy'), 'rb') as f:
            return f.read().count(b' HEAD /v1/%s/%s' % (
                self.a.name.encode(), prefix.encode()))

    def test_no_head_per_object(self):
        """A job over 12 listed objects (two listing pages) reads them
        all, and the coordinator asked the proxy for none of them."""
        self.a.put('ls', b'')
        for i in range(12):
            self.a.put('ls/o%02d.txt' % i, b'object %d\n' % i)
        before = self.proxy_heads('ls/')
        status, h, body = self.a.job([group('cat', 'cat', devices=[
            {'name': 'stdin', 'path': 'swift://~/ls/*.txt'},
            {'name': 'stdout'}])])
        self.assertEqual(status, 200, (body[:300], dict(h)))
        self.assertEqual(body, b''.join(b'object %d\n' % i
                                        for i in range(12)))
        self.assertEqual(self.proxy_heads('ls/'), before)

    def test_expired_object_still_listed(self):
        """An object past its X-Delete-At stays in the listing until the
        expirer runs, but Swift answers 404 for it: so does the job,
        naming it, and its bytes are never read."""
        self.a.put('exp', b'')
        self.a.put('exp/a.txt', b'lives on\n')
        self.a.put('exp/b.txt', b'expired bytes\n', {'X-Delete-After': '1'})
        wait_for(lambda: self.a.head('exp/b.txt') == 404,
                 'exp/b.txt to expire')
        status, _, listing = self.a.call('GET', 'exp', query='format=json')
        self.assertIn('b.txt', [e['name'] for e in json.loads(listing)])
        status, h, body = self.a.job([group('cat', 'cat', devices=[
            {'name': 'stdin', 'path': 'swift://~/exp/*.txt'},
            {'name': 'stdout'}])])
        self.assertEqual(status, 404, (body[:300], dict(h)))
        self.assertIn(b'exp/b.txt', body + h.get('X-Nexe-Status',
                                                 '').encode())
        self.assertNotIn(b'expired bytes', body)

    def test_acl(self):
        """Another account's private container under a wildcard: 403 and
        no instance runs anywhere; after X-Container-Read for
        test:tester its listing proves the reads and the job works."""
        self.b.put('priv', b'')
        self.b.put('priv/d1.txt', b'first secret\n')
        self.b.put('priv/d2.txt', b'second secret\n')
        job = [group('cat', 'cat', devices=[
            {'name': 'stdin', 'path': 'swift://AUTH_test2/priv/*.txt'},
            {'name': 'stdout'}])]
        status, body, moved = self.count_instances(job, None)
        self.assertEqual(status, 403, body)
        self.assertIn(b'AUTH_test2/priv', body)
        self.assertEqual(moved, [])
        self.b.call('POST', 'priv', {'X-Container-Read': 'test:tester'},
                    expect=(204,))
        status, body, moved = self.count_instances(job, None)
        self.assertEqual((status, body),
                         (200, b'first secret\nsecond secret\n'))

    def test_large_objects(self):
        """Manifests under a wildcard are HEADed (an SLO's entry has its
        slo_etag, an empty DLO manifest 0 bytes): the whole objects are
        read through Swift. A DLO manifest with a body of its own looks
        like a plain object in the listing: the worker finds the
        manifest on disk, reads through Swift, and the bytes differ
        from the listing's: 409, never the manifest's body as data."""
        parts = [text(10 + i, 200) for i in range(2)]
        self.a.put('lseg', b'')
        for i, part in enumerate(parts):
            self.a.put('lseg/s%d' % i, part)
        manifest = [{'path': '/lseg/s%d' % i} for i in range(len(parts))]
        self.a.put('lo', b'')
        self.a.call('PUT', 'lo/slo.txt', body=json.dumps(manifest).encode(),
                    query='multipart-manifest=put', expect=(201,))
        self.a.put('lo/dlo.txt', b'', {'X-Object-Manifest': 'lseg/s'})
        whole = b''.join(parts)
        status, h, body = self.a.job([group('cat', 'cat', devices=[
            {'name': 'stdin', 'path': 'swift://~/lo/*.txt'},
            {'name': 'stdout'}])])
        self.assertEqual(status, 200, (body[:300], dict(h)))
        self.assertEqual(body, whole + whole)
        self.a.put('lo2', b'')
        self.a.put('lo2/dlo.txt', b'manifest body\n',
                   {'X-Object-Manifest': 'lseg/s'})
        status, h, body = self.a.job([group('cat', 'cat', devices=[
            {'name': 'stdin', 'path': 'swift://~/lo2/*.txt'},
            {'name': 'stdout'}])])
        self.assertEqual(status, 409, (body[:300], dict(h)))
        self.assertNotIn(b'manifest body', body)
        self.assertIn(b'changed', body.lower() +
                      h.get('X-Nexe-Status', '').encode())

class Internal(ZvmdClusterCase):
    """The worker's internal API refuses what the coordinator did not
    sign."""

    PATH = '/internal/v1/task'

    def post(self, headers, body=b'{}'):
        return request(self.c.zvmds[0].url, 'POST', self.PATH,
                       dict(headers, **{'Content-Type': 'application/json'}),
                       body)

    def test_unsigned_and_replayed(self):
        status, _, body = self.post({})
        self.assertEqual(status, 401, body)
        secret = read_secret(self.c.secret_file)
        bad = sign(b'not the secret' * 3, 'POST', self.PATH, b'{}')
        status, _, body = self.post(bad)
        self.assertEqual(status, 403, body)
        expired = sign(secret, 'POST', self.PATH, b'{}', expires=1000)
        status, _, body = self.post(expired)
        self.assertEqual(status, 403, body)
        signed = sign(secret, 'POST', self.PATH, b'{}')
        status, _, body = self.post(signed)
        self.assertNotIn(status, (401, 403), body)
        status, _, body = self.post(signed)
        self.assertEqual(status, 403, body)
        self.assertIn(b'replay', body.lower())
        # A signature covers the body: the same headers over another body.
        other = sign(secret, 'POST', self.PATH, b'{}')
        status, _, body = self.post(other, b'{"version": 1}')
        self.assertEqual(status, 403, body)


def images_from_env():
    """[sysimages] of every node, and of zvmd-0 alone."""
    python3, busybox = (os.environ.get('IMAGE_PYTHON3'),
                        os.environ.get('IMAGE_BUSYBOX'))
    if not python3 or not busybox:
        return {}, {}
    return ({'python3': python3, 'busybox': busybox},
            {0: {'partial': busybox}})


if __name__ == '__main__':
    every, some = images_from_env()
    sys.exit(run_tests(sysimages=every, node_sysimages=some,
                       listing_limit=10, crypto_proxies=True))
