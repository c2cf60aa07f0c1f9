#!/usr/bin/env python3
"""A hostile kube-scheduler stand-in for the fault-injection tests (Python 3 stdlib only).

Prints the bound port on the first stdout line. Appends one JSON line per request to --log
({"path", "authorization", "accept_encoding"}) so tests can assert what reached it. Exits when
stdin closes (the test process died) or after --max-lifetime seconds. Every path behaves the same
unless the mode says otherwise: a hostile target does not care which endpoint is asked.

Modes:
  hang         accept TCP connections and never send a byte (no TLS even with --cert)
  slowloris    200 with Content-Length 1 MB, then the body at --byte-interval seconds per byte
  big          200 with Content-Length --bytes, streamed in 64 KiB chunks (never held in memory)
  big-chunked  the same without Content-Length (chunked), so only the reader's limit stops it
  gzip-bomb    200, --bytes zero bytes gzip-encoded (about 1 KiB per MiB on the wire; up to 64 MiB
               compressed once at start-up, larger ones on the fly)
  body         --status with --body-file (or "ok") and --content-type
  redirect     --status with Location: --location
  reset        200 with Content-Length 1 MiB, 64 KiB of it, then a TCP RST
  echo-token   200 with a malformed line quoting the bearer token it was sent
  flap         /metrics with a credential alternates between --body-file (200) and 503 (without one: 401);
               other paths 200 "ok"
"""

import argparse
import http.server
import json
import os
import signal
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import zlib

LOG_LOCK = threading.Lock()
ARGS = None
BODY = b"ok\n"
FLAP_LOCK = threading.Lock()
FLAP_COUNT = [0]


def log(record):
    if ARGS.log:
        with LOG_LOCK:
            with open(ARGS.log, "a") as f:
                f.write(json.dumps(record) + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            # Handshake in this connection's thread so a stalled client cannot block accept().
            self.request.do_handshake()
        super().setup()

    def log_message(self, format, *args):
        pass

    def send_body(self, status, body, content_type="text/plain; charset=utf-8", headers=()):
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        log({
            "path": self.path,
            "authorization": self.headers.get("Authorization"),
            "accept_encoding": self.headers.get("Accept-Encoding"),
        })
        try:
            getattr(self, "mode_" + ARGS.mode.replace("-", "_"))()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True

    def mode_body(self):
        self.send_body(ARGS.status, BODY, ARGS.content_type)

    def mode_redirect(self):
        self.send_body(ARGS.status, b"moved\n", headers=[("Location", ARGS.location)])

    def mode_echo_token(self):
        token = (self.headers.get("Authorization") or "").replace("Bearer ", "")
        body = "# TYPE scheduler_pending_pods gauge\nscheduler_pending_pods{queue=\"active\"} %s\n" % token
        self.send_body(200, body.encode())

    def mode_flap(self):
        if not self.path.startswith("/metrics"):
            self.send_body(200, b"ok\n")
            return
        # Only the exporter's own poll flips: the anonymous and invalid-token probes of the same
        # cycle also ask for /metrics, and counting them would make the flip depend on the order
        # in which concurrent requests arrive.
        authorization = self.headers.get("Authorization") or ""
        if not authorization or "invalid-token-probe" in authorization:
            self.send_body(401, b"Unauthorized\n")
            return
        with FLAP_LOCK:
            FLAP_COUNT[0] += 1
            good = FLAP_COUNT[0] % 2 == 1
        if good:
            self.send_body(200, BODY, "text/plain; version=0.0.4; charset=utf-8")
        else:
            self.send_body(503, b"service unavailable\n")

    def mode_slowloris(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", "1000000")
        self.end_headers()
        self.wfile.flush()
        for _ in range(1000000):
            self.wfile.write(b"#")
            self.wfile.flush()
            time.sleep(ARGS.byte_interval)

    def stream(self, total, chunked):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(total))
        self.end_headers()
        # One reused 64 KiB line-shaped chunk: the body is never materialised.
        line = b"scheduler_pending_pods{queue=\"active\"} 0\n"
        chunk = (line * (65536 // len(line) + 1))[:65536]
        sent = 0
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

    def mode_big(self):
        self.stream(ARGS.bytes, chunked=False)

    def mode_big_chunked(self):
        self.stream(ARGS.bytes, chunked=True)

    def mode_gzip_bomb(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for data in GZIP_BOMB_CHUNKS or gzip_bomb_chunks(ARGS.bytes):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def mode_reset(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(1 << 20))
        self.end_headers()
        self.wfile.write(b"# HELP x y\n" + b"#" * (65536 - 11))
        self.wfile.flush()
        time.sleep(0.05)
        # SO_LINGER 0 turns close into a TCP RST; under TLS no close_notify is sent either. The
        # read side's file object holds a reference, so it goes first or close would be deferred.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.rfile.close()
        self.connection.close()


def gzip_bomb_chunks(total):
    """`total` zero bytes gzip-compressed, as the compressor emits them (lazily)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * (1 << 20)
    produced = 0
    while produced < total:
        size = min(len(zeros), total - produced)
        data = compressor.compress(zeros[:size])
        produced += size
        if data:
            yield data
    yield compressor.flush()


# Bombs up to this size are compressed once at start-up and replayed: compressing on every
# request made a starved CI machine time out before the body was out, which tested its CPU
# rather than the exporter. Larger ones stay lazy; the exporter stops reading them early.
PRECOMPUTED_GZIP_BOMB_LIMIT = 64 << 20
GZIP_BOMB_CHUNKS = None


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    tls_context = None

    def get_request(self):
        sock, address = self.socket.accept()
        if self.tls_context is not None:
            sock = self.tls_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request, client_address):
        pass


def serve_hang():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((ARGS.bind, 0))
    listener.listen(64)
    print(listener.getsockname()[1], flush=True)
    held = []
    while True:
        connection, address = listener.accept()
        log({"connection": address[0]})
        held.append(connection)  # kept open, never read or written


def exit_when_parent_goes():
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


def main():
    global ARGS, BODY, GZIP_BOMB_CHUNKS
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", required=True)
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--log")
    parser.add_argument("--status", type=int, default=200)
    parser.add_argument("--body-file")
    parser.add_argument("--content-type", default="text/plain; version=0.0.4; charset=utf-8")
    parser.add_argument("--location", default="")
    parser.add_argument("--bytes", type=int, default=1 << 30)
    parser.add_argument("--byte-interval", type=float, default=1.0)
    parser.add_argument("--max-lifetime", type=float, default=600.0)
    ARGS = parser.parse_args()
    # The parent may have spawned us from a thread that blocks SIGTERM; the mask is inherited.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
    if ARGS.body_file:
        with open(ARGS.body_file, "rb") as f:
            BODY = f.read()
    if ARGS.mode == "gzip-bomb" and ARGS.bytes <= PRECOMPUTED_GZIP_BOMB_LIMIT:
        GZIP_BOMB_CHUNKS = list(gzip_bomb_chunks(ARGS.bytes))

    threading.Thread(target=exit_when_parent_goes, daemon=True).start()
    threading.Timer(ARGS.max_lifetime, lambda: os._exit(0)).start()
    if ARGS.mode == "hang":
        serve_hang()
        return
    server = Server((ARGS.bind, 0), Handler)
    if ARGS.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(ARGS.cert, ARGS.key)
        context.set_alpn_protocols(["http/1.1"])
        server.tls_context = context
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
