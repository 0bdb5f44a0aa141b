"""Unit tests of middleware/zerovm_filter.py with Swift's swob requests, a
fake next app and the stand-in coordinator (a real HTTP server in a thread).

Run: /usr/bin/python3 -m unittest tests/swift/test_zerovm_filter.py
"""

import io
import os
import socket
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'middleware'))
sys.path.insert(0, HERE)

from swift.common import utils  # noqa: E402
from swift.common.swob import HTTPForbidden, Request, Response  # noqa: E402

import zerovm_filter  # noqa: E402
from standin_coordinator import (  # noqa: E402
    CANNED_BODY_CHUNKS, CANNED_HEADERS, StandinCoordinator)

JOB = b'[{"name": "hello", "exec": {"path": "swift://~/bin/hello"}}]'


class FakeApp(object):
    """The rest of the proxy pipeline: records what reaches it."""

    def __init__(self):
        self.calls = []

    def __call__(self, env, start_response):
        self.calls.append(env['PATH_INFO'])
        return Response(body=b'from the app')(env, start_response)


def closed_port():
    """A port nothing listens on (bound, then closed)."""
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def allow(req):
    return None


def deny(req):
    return HTTPForbidden(request=req)


def job_request(method='POST', path='/v1/AUTH_test', authorize=allow,
                body=JOB, headers=None, chunked=False):
    hdrs = {'X-Zerovm-Execute': '1.0', 'Content-Type': 'application/json',
            'X-Auth-Token': 'AUTH_tk123'}
    hdrs.update(headers or {})
    env = {'REQUEST_METHOD': method}
    if authorize is not None:
        env['swift.authorize'] = authorize
    req = Request.blank(path, environ=env, headers=hdrs, body=body)
    if chunked:
        del req.environ['CONTENT_LENGTH']
        req.environ['HTTP_TRANSFER_ENCODING'] = 'chunked'
        req.environ['wsgi.input'] = io.BytesIO(body)
    return req


class FilterTest(unittest.TestCase):

    def setUp(self):
        self.coord = StandinCoordinator().__enter__()
        self.app = FakeApp()

    def tearDown(self):
        self.coord.__exit__(None, None, None)

    def make(self, endpoints=None, **conf):
        conf.setdefault('zvmd_endpoints', endpoints or self.coord.url)
        return zerovm_filter.filter_factory({}, **conf)(self.app)

    def test_other_requests_pass_through(self):
        f = self.make()
        for req in (Request.blank('/v1/AUTH_test/c/o'),
                    Request.blank('/info', headers={
                        'X-Zerovm-Execute': '1.0'}),
                    Request.blank('/auth/v1.0')):
            resp = req.get_response(f)
            self.assertEqual(resp.body, b'from the app')
        self.assertEqual(len(self.app.calls), 3)
        self.assertEqual(self.coord.requests, [])

    def test_forwards_job_and_streams_answer(self):
        f = self.make()
        req = job_request(path='/v1/AUTH_test/c/o%20x',
                          headers={'X-Zerovm-Timeout': '5'})
        req.environ['swift.trans_id'] = 'tx123'
        resp = req.get_response(f)
        self.assertEqual(resp.status_int, 200)
        self.assertEqual(resp.body, b''.join(CANNED_BODY_CHUNKS))
        for name, value in CANNED_HEADERS.items():
            self.assertEqual(resp.headers[name], value)
        self.assertNotIn('Transfer-Encoding', resp.headers)
        self.assertEqual(self.app.calls, [])
        [got] = self.coord.requests
        self.assertEqual(got['path'], '/v1/AUTH_test/c/o%20x')
        self.assertEqual(got['body'], JOB)
        self.assertEqual(got['headers']['X-Auth-Token'], 'AUTH_tk123')
        self.assertEqual(got['headers']['X-Zerovm-Execute'], '1.0')
        self.assertEqual(got['headers']['X-Zerovm-Timeout'], '5')
        self.assertEqual(got['headers']['Content-Type'], 'application/json')
        self.assertEqual(got['headers']['X-Trans-Id'], 'tx123')

    def test_non_ascii_path(self):
        f = self.make()
        req = job_request(path='/v1/AUTH_test/c/%C3%A9t%C3%A9')
        resp = req.get_response(f)
        self.assertEqual(resp.status_int, 200)
        self.assertEqual(self.coord.requests[0]['path'],
                         '/v1/AUTH_test/c/%C3%A9t%C3%A9')

    def test_chunked_request_body(self):
        f = self.make()
        resp = job_request(chunked=True).get_response(f)
        self.assertEqual(resp.status_int, 200)
        self.assertEqual(self.coord.requests[0]['body'], JOB)

    def test_storage_token_becomes_auth_token(self):
        f = self.make()
        req = job_request()
        del req.headers['X-Auth-Token']
        req.headers['X-Storage-Token'] = 'AUTH_tk9'
        req.get_response(f)
        self.assertEqual(self.coord.requests[0]['headers']['X-Auth-Token'],
                         'AUTH_tk9')

    def test_wrong_methods_like_zerocloud(self):
        f = self.make()
        for method in ('GET', 'HEAD', 'PUT', 'DELETE'):
            resp = job_request(method=method).get_response(f)
            self.assertEqual(resp.status_int, 501, method)
        resp = job_request(method='COPY').get_response(f)
        self.assertEqual(resp.status_int, 412)
        self.assertEqual(self.coord.requests, [])

    def test_unsupported_version(self):
        f = self.make()
        resp = job_request(headers={'X-Zerovm-Execute': '2.0'}) \
            .get_response(f)
        self.assertEqual(resp.status_int, 412)
        self.assertIn(b'2.0', resp.body)
        resp = job_request(headers={'X-Zerovm-Execute': 'v1/1.0'}) \
            .get_response(f)
        self.assertEqual(resp.status_int, 200)

    def test_bad_utf8_path(self):
        f = self.make()
        resp = job_request(path='/v1/AUTH_test/c/%ff').get_response(f)
        self.assertEqual(resp.status_int, 412)
        self.assertIn(b'UTF-8', resp.body)

    def test_authorization(self):
        f = self.make()
        self.assertEqual(job_request(authorize=None).get_response(f)
                         .status_int, 401)
        self.assertEqual(job_request(authorize=deny).get_response(f)
                         .status_int, 403)
        self.assertEqual(self.coord.requests, [])

    def test_too_large(self):
        f = self.make(max_request_size='10')
        self.assertEqual(job_request().get_response(f).status_int, 413)
        self.assertEqual(job_request(chunked=True).get_response(f)
                         .status_int, 413)
        self.assertEqual(self.coord.requests, [])

    def test_next_endpoint_when_one_is_down(self):
        down = 'http://127.0.0.1:%d' % closed_port()
        f = self.make(endpoints='%s, %s' % (down, self.coord.url))
        for _ in range(3):  # whichever endpoint the rotation starts at
            self.assertEqual(job_request().get_response(f).status_int, 200)
        self.assertEqual(len(self.coord.requests), 3)

    def test_all_endpoints_down(self):
        down = 'http://127.0.0.1:%d' % closed_port()
        f = self.make(endpoints=down)
        resp = job_request().get_response(f)
        self.assertEqual(resp.status_int, 503)

    def test_bad_config(self):
        for bad in ('', 'https://x:1', 'http://x:1/path', 'nonsense'):
            with self.assertRaises(ValueError):
                zerovm_filter.filter_factory({}, zvmd_endpoints=bad)(
                    self.app)
        self.assertEqual(zerovm_filter.parse_endpoints(
            'http://a:1, http://b'), [('a', 1), ('b', 80)])

    def test_registers_in_info(self):
        self.make()
        info = utils.get_swift_info()
        self.assertEqual(info['zerovm']['version'], '1.0')


if __name__ == '__main__':
    unittest.main()
