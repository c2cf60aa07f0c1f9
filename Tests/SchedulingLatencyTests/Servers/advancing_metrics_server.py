#!/usr/bin/env python3
"""Serves prepared /metrics bodies in order, one per request, for the Prometheus differential test.

Usage: advancing_metrics_server.py BODY_DIR PORT_FILE

Request k of GET /metrics gets BODY_DIR/body-<k>.txt (sorted by name); after the last body the
last one is repeated, so a test that stops late sees no change. GET /served answers how many
/metrics requests were answered. The chosen port (bound on 127.0.0.1 only) is written to
PORT_FILE once the socket listens.
"""
import http.server
import os
import signal
import sys
import threading
import time


def exit_when_orphaned(parent):
    # A test process that crashes cannot stop us; do not outlive it.
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def main():
    # The Swift test runner blocks SIGTERM in its threads and children inherit that mask;
    # without this, Process.terminate() would never stop the server.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    threading.Thread(target=exit_when_orphaned, args=(os.getppid(),), daemon=True).start()
    body_dir, port_file = sys.argv[1], sys.argv[2]
    names = sorted(n for n in os.listdir(body_dir) if n.startswith("body-") and n.endswith(".txt"))
    if not names:
        sys.exit("no body-*.txt in " + body_dir)
    bodies = []
    for name in names:
        with open(os.path.join(body_dir, name), "rb") as f:
            bodies.append(f.read())
    lock = threading.Lock()
    served = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/metrics":
                with lock:
                    body = bodies[min(served[0], len(bodies) - 1)]
                    served[0] += 1
                content_type = "text/plain; version=0.0.4; charset=utf-8"
            elif self.path == "/served":
                with lock:
                    body = str(served[0]).encode()
                content_type = "text/plain"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    temporary = port_file + ".tmp"
    with open(temporary, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(temporary, port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
