#!/usr/bin/env python3
"""HTTP(S) server for the CurlHTTP tests: a thread per connection, keep-alive HTTP/1.1.

Prints the bound port on the first stdout line. Appends one line per event to --log so tests can
assert what the server saw (connections, SNI, requests, headers, how far a big body got).
Exits when stdin closes (the test process died) or after --max-lifetime seconds.

Routes:
  /ok                       200 "hello"
  /echo-auth                200, body = the Authorization header as received ("" when absent)
  /redirect?to=URL          302 with Location: URL
  /big?bytes=N              200, N bytes streamed in 64 KiB chunks with Content-Length
  /big-chunked?bytes=N      same without Content-Length (chunked)
  /hang                     reads the request, never answers (until --max-lifetime)
  /gzip                     200, gzip-encoded "hello gzip world" * 100
  /gzip-bomb?bytes=N        200, N zero bytes gzip-encoded on the fly (small on the wire)
  POST /echo-post           200, body = the request body as received; logs its length and Expect
"""

import argparse
import gzip
import http.server
import os
import signal
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import warnings
import zlib
from urllib.parse import parse_qs, urlparse

LOG_LOCK = threading.Lock()
ARGS = None


def log(line):
    if ARGS.log:
        with LOG_LOCK:
            with open(ARGS.log, "a") as f:
                f.write(line + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, delayed ACKs add ~40 ms per request.
    disable_nagle_algorithm = True

    def setup(self):
        log("CONNECT %s" % (self.client_address[0],))
        self.requests_on_connection = 0
        if isinstance(self.request, ssl.SSLSocket):
            try:
                self.request.do_handshake()
            except (ssl.SSLError, OSError) as error:
                log("HANDSHAKE_FAILED %s" % type(error).__name__)
                raise
            cert = self.request.getpeercert()
            if cert:
                subject = dict(item[0] for item in cert.get("subject", ()))
                log("CLIENT_CERT %s" % subject.get("commonName", ""))
        super().setup()

    def log_message(self, format, *args):
        pass

    def send_body(self, status, body, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        log("REQUEST %s" % self.path)
        self.requests_on_connection += 1
        log("AUTHORIZATION %s" % self.headers.get("Authorization", "<none>"))
        log("ACCEPT_ENCODING %s" % self.headers.get("Accept-Encoding", "<none>"))
        if url.path == "/ok":
            self.send_body(200, b"hello", [("Content-Type", "text/plain")])
        elif url.path == "/reset-when-reused":
            # Answers on a new connection; on a kept-alive one it resets the connection after
            # reading the request, as a server that closed an idle connection meanwhile would.
            if self.requests_on_connection > 1:
                log("RESET")
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
                return
            self.send_body(200, b"fresh", [("Content-Type", "text/plain")])
        elif url.path == "/echo-auth":
            self.send_body(200, self.headers.get("Authorization", "").encode())
        elif url.path == "/redirect":
            self.send_body(302, b"moved", [("Location", query["to"][0])])
        elif url.path in ("/big", "/big-chunked"):
            self.stream_big(int(query["bytes"][0]), chunked=url.path == "/big-chunked")
        elif url.path == "/hang":
            time.sleep(ARGS.max_lifetime)
        elif url.path == "/gzip":
            body = gzip.compress(b"hello gzip world\n" * 100)
            self.send_body(200, body, [("Content-Encoding", "gzip")])
        elif url.path == "/gzip-bomb":
            self.stream_gzip_bomb(int(query["bytes"][0]))
        else:
            self.send_body(404, b"not found")

    def do_POST(self):
        log("REQUEST POST %s" % self.path)
        log("EXPECT %s" % self.headers.get("Expect", "<none>"))
        log("CONTENT_TYPE %s" % self.headers.get("Content-Type", "<none>"))
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        log("POST_BODY_BYTES %d" % len(body))
        if urlparse(self.path).path == "/echo-post":
            self.send_body(200, body, [("Content-Type", "application/octet-stream")])
        else:
            self.send_body(404, b"not found")

    def stream_big(self, total, chunked):
        self.send_response(200)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(total))
        self.end_headers()
        chunk = b"x" * 65536
        sent = 0
        try:
            while sent < total:
                piece = chunk[: min(len(chunk), total - sent)]
                if chunked:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                else:
                    self.wfile.write(piece)
                sent += len(piece)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            log("BIG_DONE %d" % sent)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            log("BIG_ABORTED %d" % sent)
            self.close_connection = True

    def stream_gzip_bomb(self, total):
        self.send_response(200)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
        zeros = b"\0" * (1 << 20)
        produced = 0
        wire = 0
        try:
            while produced < total:
                data = compressor.compress(zeros[: min(len(zeros), total - produced)])
                produced += min(len(zeros), total - produced)
                if data:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    wire += len(data)
            data = compressor.flush()
            self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data))
            wire += len(data)
            self.wfile.flush()
            log("BOMB_DONE decoded=%d wire=%d" % (produced, wire))
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            log("BOMB_ABORTED decoded=%d" % produced)
            self.close_connection = True


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    tls_context = None

    def get_request(self):
        sock, address = self.socket.accept()
        if self.tls_context is not None:
            # The handshake runs in the connection's own thread (Handler.setup), so a client that
            # never completes it cannot stall accept().
            sock = self.tls_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request, client_address):
        pass


def exit_when_parent_goes():
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


def main():
    global ARGS
    # A child spawned from a Swift concurrency thread inherits that thread's blocked signal mask;
    # unblock so SIGTERM/SIGINT work as usual.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    parser = argparse.ArgumentParser()
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--client-ca", help="require a client certificate signed by this CA")
    parser.add_argument("--tls12-only", action="store_true", help="cap the protocol at TLS 1.2")
    parser.add_argument("--accept-tls10", action="store_true",
                        help="accept TLS 1.0 and 1.1 too (as kube-scheduler --tls-min-version=VersionTLS10)")
    parser.add_argument("--log")
    parser.add_argument("--max-lifetime", type=float, default=600.0)
    ARGS = parser.parse_args()

    server = Server((ARGS.bind, 0), Handler)
    if ARGS.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(ARGS.cert, ARGS.key)
        if ARGS.tls12_only:
            context.maximum_version = ssl.TLSVersion.TLSv1_2
        if ARGS.accept_tls10:
            # Python deprecates the constant, not the protocol; the warning would only clutter stderr.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                context.minimum_version = ssl.TLSVersion.TLSv1
            # OpenSSL 3 negotiates TLS < 1.2 only at security level 0.
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
        context.set_alpn_protocols(["http/1.1"])
        if ARGS.client_ca:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(ARGS.client_ca)

        def record_sni(sock, name, ctx):
            log("SNI %s" % (name or "<none>"))

        context.sni_callback = record_sni
        server.tls_context = context

    threading.Thread(target=exit_when_parent_goes, daemon=True).start()
    threading.Timer(ARGS.max_lifetime, lambda: os._exit(0)).start()
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
