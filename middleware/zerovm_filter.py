"""zerovm: the Swift proxy filter that hands job requests to a zvmd.

A job request is ``POST /v1/<account>[/<container>[/<object>]]`` with an
``X-Zerovm-Execute`` header. This filter, placed after the auth filter in
the proxy pipeline, checks the request the way ZeroCloud did, asks the auth
filter whether the user may act on the account (``env['swift.authorize']``),
then forwards the request - same path, body, the user's token - to one of
the coordinator zvmd daemons and streams the answer back unchanged (status,
``X-Nexe-*`` headers, body chunks). It runs no user code and no job logic:
planning, ACL checks on inputs and execution are the coordinator's work,
done with the user's token through this same proxy.

Every other request passes through untouched.

Configuration (``[filter:zerovm]`` in proxy-server.conf)::

    paste.filter_factory = zerovm_filter:filter_factory
    zvmd_endpoints = http://127.0.0.1:8181, http://10.0.0.2:8181
    conn_timeout = 2          # seconds to connect to one zvmd
    node_timeout = 600        # seconds without data from the zvmd
    max_request_size = 67108864   # bytes of job request body (413 above)
"""

import http.client
import itertools
import socket
import urllib.parse

from swift.common.constraints import check_utf8
from swift.common.swob import (
    HTTPBadRequest, HTTPNotImplemented, HTTPPreconditionFailed,
    HTTPRequestEntityTooLarge, HTTPServiceUnavailable, HTTPUnauthorized,
    Request, wsgi_to_str)
from swift.common.utils import (
    get_logger, register_swift_info, split_path)

EXECUTE_HEADER = 'X-Zerovm-Execute'
# ZeroCloud's engine version; it rewrote a bare header to "v1/1.0".
SUPPORTED_VERSIONS = ('1.0', 'v1/1.0')
# ZeroCloud answered these with 501 and any method it had no handler for
# with 412 "Bad HTTP method".
NOT_IMPLEMENTED_METHODS = ('GET', 'HEAD', 'PUT', 'DELETE')
HOP_BY_HOP = frozenset((
    'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization',
    'te', 'trailer', 'trailers', 'transfer-encoding', 'upgrade'))
CHUNK = 65536


class ZvmdUnreachable(Exception):
    """No configured coordinator accepted a connection."""


def parse_endpoints(value):
    """'http://h:p, http://h2:p2' -> [(host, port), ...]; ValueError names
    the bad entry."""
    endpoints = []
    for item in (value or '').split(','):
        item = item.strip()
        if not item:
            continue
        url = urllib.parse.urlsplit(item)
        if url.scheme != 'http' or not url.hostname or \
                url.path not in ('', '/') or url.query:
            raise ValueError('zvmd_endpoints: %r is not http://HOST:PORT'
                             % item)
        endpoints.append((url.hostname, url.port or 80))
    if not endpoints:
        raise ValueError('zvmd_endpoints: no coordinator configured')
    return endpoints


class ZvmdResponse(object):
    """The coordinator's body as a WSGI app_iter: read in chunks, close the
    connection when the proxy is done with it."""

    def __init__(self, conn, resp):
        self.conn = conn
        self.resp = resp

    def __iter__(self):
        while True:
            chunk = self.resp.read1(CHUNK)
            if not chunk:
                self.close()
                return
            yield chunk

    def close(self):
        self.resp.close()
        self.conn.close()


class ZerovmFilter(object):

    def __init__(self, app, conf, logger=None):
        self.app = app
        self.logger = logger or get_logger(conf, log_route='zerovm')
        self.endpoints = parse_endpoints(conf.get('zvmd_endpoints'))
        self.conn_timeout = float(conf.get('conn_timeout', 2))
        self.node_timeout = float(conf.get('node_timeout', 600))
        self.max_request_size = int(conf.get('max_request_size',
                                             64 * 1024 * 1024))
        # Spread jobs over the coordinators; a dead one is skipped.
        self._next = itertools.cycle(range(len(self.endpoints)))

    # ---- recognising and checking a job request ---------------------------

    @staticmethod
    def _job_path(req):
        """(account, container, obj) of a /v1/... job request, else None."""
        if EXECUTE_HEADER not in req.headers:
            return None
        try:
            version, account, container, obj = split_path(
                req.path, 2, 4, True)
        except ValueError:
            return None
        if version != 'v1' or not account:
            return None
        return account, container, obj

    def _check(self, req):
        """An error response for a request ZeroCloud would refuse, or None."""
        if req.method in NOT_IMPLEMENTED_METHODS:
            return HTTPNotImplemented(
                request=req, content_type='text/plain',
                body='zerovm: only POST runs a job (got %s)\n' % req.method)
        if req.method != 'POST':
            return HTTPPreconditionFailed(
                request=req, content_type='text/plain',
                body='zerovm: bad HTTP method %s for a job\n' % req.method)
        if not check_utf8(wsgi_to_str(req.path_info)):
            return HTTPPreconditionFailed(
                request=req, content_type='text/plain',
                body='zerovm: invalid UTF-8 in the path\n')
        version = req.headers[EXECUTE_HEADER].strip()
        if version not in SUPPORTED_VERSIONS:
            return HTTPPreconditionFailed(
                request=req, content_type='text/plain',
                body='zerovm: %s: %r is not supported (use 1.0)\n'
                     % (EXECUTE_HEADER, version))
        try:
            length = req.message_length()
        except ValueError as e:
            return HTTPBadRequest(request=req, content_type='text/plain',
                                  body='zerovm: %s\n' % e)
        except AttributeError as e:
            return HTTPNotImplemented(request=req, content_type='text/plain',
                                      body='zerovm: %s\n' % e)
        if length is not None and length > self.max_request_size:
            return HTTPRequestEntityTooLarge(
                request=req, content_type='text/plain',
                body='zerovm: job request of %d bytes is over the %d '
                     'byte limit\n' % (length, self.max_request_size))
        return None

    @staticmethod
    def _authorize(req):
        """None if the auth filter lets this user act on the account."""
        authorize = req.environ.get('swift.authorize')
        if authorize is None:
            # No auth filter claimed the request: never forward it.
            return HTTPUnauthorized(request=req, content_type='text/plain',
                                    body='zerovm: not authenticated\n')
        return authorize(req)

    # ---- talking to a coordinator -----------------------------------------

    def _connect(self):
        """An open connection to the first coordinator that answers."""
        first = next(self._next)
        order = self.endpoints[first:] + self.endpoints[:first]
        errors = []
        for host, port in order:
            conn = http.client.HTTPConnection(host, port,
                                              timeout=self.conn_timeout)
            try:
                conn.connect()
            except (OSError, socket.timeout) as e:
                conn.close()
                errors.append('%s:%d: %s' % (host, port, e))
                self.logger.warning('zerovm: coordinator %s:%d is down: %s',
                                    host, port, e)
                continue
            conn.sock.settimeout(self.node_timeout)
            return conn
        raise ZvmdUnreachable('; '.join(errors))

    @staticmethod
    def _forward_headers(req):
        headers = {}
        for name, value in req.headers.items():
            lname = name.lower()
            if lname.startswith('x-zerovm-') or lname in (
                    'content-type', 'content-length', 'x-auth-token',
                    'x-storage-token', 'accept', 'user-agent'):
                headers[name] = value
        if 'X-Storage-Token' in headers and 'X-Auth-Token' not in headers:
            headers['X-Auth-Token'] = headers['X-Storage-Token']
        headers.pop('X-Storage-Token', None)
        trans_id = req.environ.get('swift.trans_id')
        if trans_id:
            headers['X-Trans-Id'] = trans_id
        if req.remote_addr:
            headers['X-Forwarded-For'] = req.remote_addr
        return headers

    def _send_body(self, conn, req, chunked):
        """Stream the request body; False if it grew over the limit."""
        sent = 0
        reader = req.environ['wsgi.input']
        while True:
            chunk = reader.read(CHUNK)
            if not chunk:
                break
            sent += len(chunk)
            if sent > self.max_request_size:
                return False
            if chunked:
                conn.send(b'%x\r\n%s\r\n' % (len(chunk), chunk))
            else:
                conn.send(chunk)
        if chunked:
            conn.send(b'0\r\n\r\n')
        return True

    def _forward(self, req):
        conn = self._connect()
        try:
            headers = self._forward_headers(req)
            chunked = req.content_length is None
            # PATH_INFO is a WSGI string: the request's bytes as latin-1.
            path = req.environ.get('RAW_PATH_INFO') or urllib.parse.quote(
                req.environ['PATH_INFO'].encode('latin-1'))
            if req.query_string:
                path += '?' + req.query_string
            conn.putrequest('POST', path, skip_accept_encoding=True)
            if chunked:
                headers.pop('Content-Length', None)
                headers['Transfer-Encoding'] = 'chunked'
            for name, value in headers.items():
                conn.putheader(name, value)
            conn.endheaders()
            if not self._send_body(conn, req, chunked):
                conn.close()
                return HTTPRequestEntityTooLarge(
                    request=req, content_type='text/plain',
                    body='zerovm: job request is over the %d byte limit\n'
                         % self.max_request_size)
            resp = conn.getresponse()
        except Exception:
            conn.close()
            raise
        return resp, conn

    def __call__(self, env, start_response):
        req = Request(env)
        if self._job_path(req) is None:
            return self.app(env, start_response)
        error = self._check(req) or self._authorize(req)
        if error:
            return error(env, start_response)
        try:
            result = self._forward(req)
        except ZvmdUnreachable as e:
            self.logger.error('zerovm: no coordinator reachable: %s', e)
            return HTTPServiceUnavailable(
                request=req, content_type='text/plain',
                body='zerovm: no coordinator reachable\n')(env,
                                                           start_response)
        except (OSError, http.client.HTTPException) as e:
            self.logger.error('zerovm: coordinator failed: %s', e)
            return HTTPServiceUnavailable(
                request=req, content_type='text/plain',
                body='zerovm: coordinator failed: %s\n' % e)(
                    env, start_response)
        if not isinstance(result, tuple):
            return result(env, start_response)
        resp, conn = result
        headers = [(k, v) for k, v in resp.getheaders()
                   if k.lower() not in HOP_BY_HOP]
        start_response('%d %s' % (resp.status, resp.reason), headers)
        return ZvmdResponse(conn, resp)


def filter_factory(global_conf, **local_conf):
    conf = global_conf.copy()
    conf.update(local_conf)
    register_swift_info('zerovm', version=SUPPORTED_VERSIONS[0],
                        execute_header=EXECUTE_HEADER)

    def zerovm_filter(app):
        return ZerovmFilter(app, conf)
    return zerovm_filter
