"""Functional tests against a real Swift cluster (run by cluster.py):

  * an object PUT through the proxy is found by daemon/swift alone
    (swift-locate): same partition, hash and nodes as Swift's own
    swift-get-nodes, and the .data on disk has the uploaded bytes and ETag;
    after a DELETE the tombstone hides it;
  * the zerovm filter in the real proxy forwards an authorised job to the
    coordinator (here the stand-in) and streams its answer back; refuses
    GET (501), no token (401) and another account's token (403).

Run: /usr/bin/python3 tests/swift/cluster.py --zerovm -- \\
         /usr/bin/python3 tests/swift/test_cluster.py   (SWIFT_LOCATE=path)
"""

import hashlib
import http.client
import json
import os
import subprocess
import sys
import tempfile
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cluster_client  # noqa: E402
from standin_coordinator import (  # noqa: E402
    CANNED_BODY_CHUNKS, CANNED_HEADERS, StandinCoordinator)

URL = urllib.parse.urlsplit(os.environ.get('ZVM_SWIFT_URL', ''))
SWIFT_DIR = os.environ.get('ZVM_SWIFT_DIR', '')
NODES = os.environ.get('ZVM_SWIFT_NODES', '').split()
SWIFT_LOCATE = os.environ.get('SWIFT_LOCATE', '')


def request(method, path, headers=None, body=None, query=''):
    conn = http.client.HTTPConnection(URL.hostname, URL.port, timeout=60)
    target = urllib.parse.quote(path) + ('?' + query if query else '')
    try:
        conn.request(method, target, body=body,
                     headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def token(user, key):
    status, headers, _ = request('GET', '/auth/v1.0', {
        'X-Auth-User': user, 'X-Auth-Key': key})
    assert status == 200, status
    return headers['X-Auth-Token']


def swift_get_nodes(acct, cont, obj, ring='object.ring.gz'):
    return cluster_client.swift_get_nodes(SWIFT_DIR, acct, cont, obj, ring)


def swift_locate(name, out_path, ring='object.ring.gz'):
    """swift-locate's answer: part, hash, primary and handoff lists, and per
    node what it found: {'object': line, 'data': path, 'metafile': path,
    'meta': [lines], 'missing': reason}."""
    argv = [SWIFT_LOCATE, '-h', '10', '-o', out_path]
    for node in NODES:
        argv += ['-d', node]
    argv += [os.path.join(SWIFT_DIR, 'swift.conf'),
             os.path.join(SWIFT_DIR, ring), name]
    res = subprocess.run(argv, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    got = {'primary': [], 'handoff': [], 'nodes': {}}
    for line in res.stdout.splitlines():
        kind, _, rest = line.partition(' ')
        if kind in ('part', 'hash'):
            got[kind] = rest
        elif kind in ('primary', 'handoff'):
            got[kind].append(rest)
        else:
            node, _, rest = rest.partition(' ')
            found = got['nodes'].setdefault(node, {'meta': []})
            if kind == 'meta':
                found['meta'].append(rest)
            else:
                found[kind] = rest
    return got


def nodes_where(got, test):
    """The nodes whose findings pass test. Swift answers a PUT, POST or
    DELETE once 2 of 3 object servers did it; the third may lag."""
    return [n for n, found in got['nodes'].items() if test(found)]


class ClusterTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not (URL.port and SWIFT_DIR and SWIFT_LOCATE):
            raise unittest.SkipTest('run me through cluster.py with '
                                    'SWIFT_LOCATE set')
        cls.token = token('test:tester', 'testing')
        cls.token2 = token('test2:tester2', 'testing2')

    def put(self, path, body, headers=None, query=''):
        hdrs = {'X-Auth-Token': self.token}
        hdrs.update(headers or {})
        status, headers, text = request('PUT', path, hdrs, body, query)
        self.assertIn(status, (201, 202), (path, text))
        return headers

    def locate_and_check(self, container, name, body, ring='object.ring.gz'):
        """Locate with swift-locate, compare with swift-get-nodes and the
        copied .data with what was uploaded; returns swift-locate's answer.
        """
        with tempfile.TemporaryDirectory() as tmp:
            copy = os.path.join(tmp, 'data')
            got = swift_locate('AUTH_test/%s/%s' % (container, name), copy,
                               ring)
            with open(copy, 'rb') as f:
                self.assertEqual(f.read(), body)
        part, hsh, primaries, handoffs = swift_get_nodes(
            'AUTH_test', container, name, ring)
        self.assertEqual(int(got['part']), part)
        self.assertEqual(got['hash'], hsh)
        self.assertEqual(got['primary'], primaries)
        self.assertEqual(got['handoff'], handoffs)
        self.assertEqual(len(primaries), 3)
        return got

    def current(self, got, container, name, body, content_type='text/x-test',
                meta=(), flags=0):
        """Assert that at least 2 nodes hold exactly this state."""
        want = ' etag=%s length=%d flags=%d type=%s name=/AUTH_test/%s/%s' % (
            hashlib.md5(body).hexdigest(), len(body), flags, content_type,
            container, name)
        nodes = nodes_where(got, lambda f: f.get('object') == want.lstrip()
                            and f['meta'] == list(meta))
        self.assertGreaterEqual(len(nodes), 2, (want, got))
        return nodes

    def test_locate_object_on_disk(self):
        name = 'dir/\u00e9t\u00e9 and spaces.txt'
        body = os.urandom(100000) + b'end'
        self.put('/v1/AUTH_test/books', b'')
        etag = self.put('/v1/AUTH_test/books/' + name, body,
                        {'Content-Type': 'text/x-test',
                         'X-Object-Meta-Color': 'blue'})['Etag']
        self.assertEqual(etag, hashlib.md5(body).hexdigest())
        got = self.locate_and_check('books', name, body)
        for n in self.current(got, 'books', name, body,
                              meta=['X-Object-Meta-Color: blue']):
            self.assertIn('/objects/', got['nodes'][n]['data'])
            self.assertNotIn('metafile', got['nodes'][n])

        # A POST writes a .meta: new user metadata and content type, the
        # same bytes and ETag.
        status, _, _ = request('POST', '/v1/AUTH_test/books/' + name, {
            'X-Auth-Token': self.token, 'X-Object-Meta-Shape': 'round',
            'Content-Type': 'text/x-posted'})
        self.assertEqual(status, 202)
        got = self.locate_and_check('books', name, body)
        for n in self.current(got, 'books', name, body, 'text/x-posted',
                              meta=['X-Object-Meta-Shape: round']):
            self.assertTrue(got['nodes'][n]['metafile'].endswith('.meta'))

        status, _, _ = request('DELETE', '/v1/AUTH_test/books/' + name,
                               {'X-Auth-Token': self.token})
        self.assertEqual(status, 204)
        with tempfile.TemporaryDirectory() as tmp:
            got = swift_locate('AUTH_test/books/' + name,
                               os.path.join(tmp, 'data'))
        deleted = nodes_where(got, lambda f: 'deleted' in f.get(
            'missing', ''))
        self.assertGreaterEqual(len(deleted), 2, got)

    def test_second_policy(self):
        self.put('/v1/AUTH_test/silver', b'',
                 {'X-Storage-Policy': 'silver'})
        body = b'stored under objects-1\n'
        self.put('/v1/AUTH_test/silver/obj', body,
                 {'Content-Type': 'text/x-test'})
        got = self.locate_and_check('silver', 'obj', body,
                                    ring='object-1.ring.gz')
        for n in self.current(got, 'silver', 'obj', body):
            self.assertIn('/objects-1/', got['nodes'][n]['data'])

    def test_slo_manifest_is_flagged(self):
        self.put('/v1/AUTH_test/segs', b'')
        seg = b'x' * 10
        etag = self.put('/v1/AUTH_test/segs/s1', seg)['Etag']
        manifest = json.dumps([{'path': '/segs/s1', 'etag': etag,
                                'size_bytes': len(seg)}]).encode()
        self.put('/v1/AUTH_test/segs/big', manifest,
                 query='multipart-manifest=put')
        with tempfile.TemporaryDirectory() as tmp:
            got = swift_locate('AUTH_test/segs/big',
                               os.path.join(tmp, 'data'))
        slo = nodes_where(got, lambda f: ' flags=1 ' in f.get('object', ''))
        self.assertGreaterEqual(len(slo), 2, got)    # SWIFT_OBJ_SLO

    def test_zerovm_filter(self):
        status, _, body = request('GET', '/info')
        self.assertEqual(status, 200)
        self.assertIn('zerovm', json.loads(body))
        port = int(os.environ['ZVM_COORDINATOR_PORT'])
        job = json.dumps([{'name': 'hello', 'exec': {
            'path': 'swift://~/bin/hello'}}]).encode()
        job_headers = {'X-Zerovm-Execute': '1.0',
                       'Content-Type': 'application/json'}
        with StandinCoordinator(port=port) as coord:
            status, headers, body = request(
                'POST', '/v1/AUTH_test', dict(job_headers,
                                              **{'X-Auth-Token': self.token}),
                job)
            self.assertEqual(status, 200, body)
            self.assertEqual(body, b''.join(CANNED_BODY_CHUNKS))
            for name, value in CANNED_HEADERS.items():
                self.assertEqual(headers[name], value, name)
            [got] = coord.requests
            self.assertEqual(got['path'], '/v1/AUTH_test')
            self.assertEqual(got['body'], job)
            self.assertEqual(got['headers']['X-Auth-Token'], self.token)

            status, _, _ = request(
                'POST', '/v1/AUTH_test/c\u00e9/o', dict(
                    job_headers, **{'X-Auth-Token': self.token}), job)
            self.assertEqual(status, 200)
            self.assertEqual(coord.requests[1]['path'],
                             '/v1/AUTH_test/c%C3%A9/o')

            status, _, _ = request('GET', '/v1/AUTH_test', dict(
                job_headers, **{'X-Auth-Token': self.token}))
            self.assertEqual(status, 501)
            status, _, _ = request('POST', '/v1/AUTH_test', job_headers, job)
            self.assertEqual(status, 401)
            status, _, _ = request('POST', '/v1/AUTH_test', dict(
                job_headers, **{'X-Auth-Token': self.token2}), job)
            self.assertEqual(status, 403)
            self.assertEqual(len(coord.requests), 2)


if __name__ == '__main__':
    unittest.main(verbosity=2)
