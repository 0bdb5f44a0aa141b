"""A small HTTP/1.1 server for the http client's unit tests.

Run with Debian's /usr/bin/python3: binds 127.0.0.1 on a free port, prints
the port on stdout, serves until killed. Bodies follow a known pattern
(byte i = i % 251) so that the client can check every byte it gets; the
echo answer carries the FNV-1a hash of what was received.

  GET  /bytes/N[?chunked=1]  N pattern bytes (+ X-Test-Header)
  GET  /stall                headers and 5 bytes of 1000, then silence
  GET  /status/N             status N, short body
  GET  /headers              the request's X-* headers, one per line
  PUT|POST /echo             "method=M len=N fnv=H chunked=0|1"; a PUT
                             without a length gets 411, like Swift
"""
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def pattern(start, n):
    return bytes((i % 251) for i in range(start, start + n))


BLOCK = pattern(0, 251 * 256)  # a whole number of periods


def fnv1a(data, h=0x811C9DC5):
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_text(self, status, text, extra=()):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_pattern(self, n, chunked):
        self.send_response(200)
        self.send_header("X-Test-Header", "Hello World")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(n))
        self.end_headers()
        if self.command == "HEAD":
            return
        sent = 0
        try:
            while sent < n:
                part = BLOCK[: min(len(BLOCK), n - sent)]
                if chunked:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                else:
                    self.wfile.write(part)
                sent += len(part)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_GET(self):
        path, _, query = self.path.partition("?")
        if path.startswith("/bytes/"):
            self.send_pattern(int(path[7:]), "chunked=1" in query)
        elif path == "/stall":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(pattern(0, 5))
            self.wfile.flush()
            time.sleep(30)
        elif path.startswith("/together/"):
            # Answers 200 only once N requests wait here at the same time
            # (a client that sends them one by one gets 504s).
            try:
                self.server.barrier(int(path[10:])).wait(timeout=20)
                self.send_text(200, "together\n")
            except threading.BrokenBarrierError:
                self.send_text(504, "alone\n")
        elif path.startswith("/status/"):
            status = int(path[8:])
            self.send_text(status, "status %d\n" % status)
        elif path == "/headers":
            lines = ["%s: %s" % (k.lower(), v) for k, v in self.headers.items()
                     if k.lower().startswith("x-")]
            self.send_text(200, "\n".join(sorted(lines)) + "\n")
        else:
            self.send_text(404, "no such path\n")

    do_HEAD = do_GET

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data), True
                data += self.rfile.read(size)
                self.rfile.readline()
        length = self.headers.get("Content-Length")
        if length is None:
            return None, False
        return self.rfile.read(int(length)), False

    def do_echo(self):
        if self.path != "/echo":
            self.send_text(404, "no such path\n")
            return
        body, chunked = self.read_body()
        if body is None:
            status = 411 if self.command == "PUT" else 200
            self.send_text(status, "method=%s nobody\n" % self.command)
            return
        self.send_text(201, "method=%s len=%d fnv=%08x chunked=%d\n" % (
            self.command, len(body), fnv1a(body), chunked),
            [("X-Got-Len", str(len(body)))])

    do_PUT = do_echo
    do_POST = do_echo


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, *args):
        super().__init__(*args)
        self.lock = threading.Lock()
        self.barriers = {}

    def barrier(self, n):
        with self.lock:
            return self.barriers.setdefault(n, threading.Barrier(n))


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    sys.stdout.write("%d\n" % srv.server_address[1])
    sys.stdout.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
