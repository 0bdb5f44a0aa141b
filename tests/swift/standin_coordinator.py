"""TEST SCAFFOLDING ONLY: a stand-in for a coordinator zvmd.

It plays the coordinator's side of the proxy filter's protocol so the
filter can be tested without zvmd: it records each request it gets (method,
path, headers, body, decoding chunked bodies) and answers with a canned job
response - X-Nexe-* headers and a body sent in several chunks. It runs no
job and checks nothing; the tests do the checking.
"""

import http.server
import threading

CANNED_BODY_CHUNKS = [b'hello from ', b'the stand-in ', b'coordinator\n']
CANNED_HEADERS = {
    'X-Nexe-System': 'map-1,map-2',
    'X-Nexe-Status': 'ok,ok',
    'X-Nexe-Retcode': '0,0',
    'X-Nexe-Etag': 'disabled,disabled',
    'X-Nexe-Validation': '0,0',
    'X-Nexe-Cdr-Line': '0.1, 0.05, 0 0 0 0 0 0 0 0 0 0',
    'Content-Type': 'text/plain',
}


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, fmt, *args):
        pass

    def _read_body(self):
        if self.headers.get('Transfer-Encoding', '').lower() == 'chunked':
            body = b''
            while True:
                line = self.rfile.readline()
                if not line:
                    return None  # the client gave up mid-body
                size = int(line.split(b';')[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get('Content-Length', 0)))

    def do_POST(self):
        body = self._read_body()
        if body is None:
            return
        self.server.requests.append({
            'method': 'POST', 'path': self.path,
            'headers': dict(self.headers.items()), 'body': body})
        self.send_response(200)
        for name, value in CANNED_HEADERS.items():
            self.send_header(name, value)
        self.send_header('Transfer-Encoding', 'chunked')
        self.end_headers()
        for chunk in CANNED_BODY_CHUNKS:
            self.wfile.write(b'%x\r\n%s\r\n' % (len(chunk), chunk))
            self.wfile.flush()
        self.wfile.write(b'0\r\n\r\n')


class StandinCoordinator(object):
    """Serve on (host, port) - port 0 picks a free one - in a thread."""

    def __init__(self, host='127.0.0.1', port=0):
        self.server = http.server.ThreadingHTTPServer((host, port), _Handler)
        self.server.daemon_threads = True
        self.server.requests = []
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       args=(0.05,), daemon=True)

    @property
    def port(self):
        return self.server.server_address[1]

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.port

    @property
    def requests(self):
        return self.server.requests

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
