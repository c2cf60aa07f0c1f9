#!/usr/bin/env python3
"""A TCP relay to --upstream that resets a kept-alive client connection when it is reused after
being idle, like a server that dropped an idle connection just as the client sent on it; only the
first such connection (--resets), so the client's new connection is relayed whatever its timing.
Bytes are relayed untouched (TLS passes through). Prints its port first; logs CONNECT and RESET.
Exits when stdin closes (the test process died) or after --max-lifetime seconds."""

import argparse
import os
import select
import signal
import socket
import struct
import sys
import threading
import time


def log(line):
    if ARGS.log:
        with LOCK, open(ARGS.log, "a") as handle:
            handle.write(line + "\n")


def relay(client):
    log("CONNECT")
    upstream = socket.create_connection(("127.0.0.1", ARGS.upstream))
    exchanged = False
    last_upstream_byte = time.monotonic()
    try:
        while True:
            readable, _, _ = select.select([client, upstream], [], [])
            if client in readable:
                data = client.recv(65536)
                if not data:
                    return
                idle = time.monotonic() - last_upstream_byte
                if exchanged and idle > ARGS.idle and take_reset():
                    log("RESET")
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                upstream.sendall(data)
            if upstream in readable:
                data = upstream.recv(65536)
                if not data:
                    return
                exchanged = True
                last_upstream_byte = time.monotonic()
                client.sendall(data)
    except OSError:
        return
    finally:
        client.close()
        upstream.close()


def take_reset():
    global RESETS_LEFT
    with LOCK:
        if RESETS_LEFT <= 0:
            return False
        RESETS_LEFT -= 1
        return True


def exit_when_parent_goes():
    sys.stdin.read()
    os._exit(0)


def main():
    global ARGS, LOCK, RESETS_LEFT
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", type=int, required=True)
    parser.add_argument("--idle", type=float, default=1.0, help="seconds without upstream bytes that make a connection idle")
    parser.add_argument("--resets", type=int, default=1)
    parser.add_argument("--log")
    parser.add_argument("--max-lifetime", type=float, default=600.0)
    ARGS = parser.parse_args()
    LOCK = threading.Lock()
    RESETS_LEFT = ARGS.resets
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    threading.Thread(target=exit_when_parent_goes, daemon=True).start()
    threading.Timer(ARGS.max_lifetime, lambda: os._exit(0)).start()
    print(listener.getsockname()[1], flush=True)
    while True:
        client, _ = listener.accept()
        threading.Thread(target=relay, args=(client,), daemon=True).start()


if __name__ == "__main__":
    main()
