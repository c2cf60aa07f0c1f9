#!/usr/bin/env python3
"""A stand-in for the Kubernetes API server's review endpoints, over HTTPS, for the
--web.kubernetes-auth tests (the conformance suite runs the same against a real kube-apiserver).

  POST /apis/authentication.k8s.io/v1/tokenreviews         TokenReview: --user TOKEN=NAME[|GROUP,...]
  POST /apis/authorization.k8s.io/v1/subjectaccessreviews  SubjectAccessReview: --allow NAME=PATH[,PATH]
  POST /_control/down, /_control/up                        every review answers 500 while down
  GET  /_stats                                             JSON: counts and what the reviews carried

Reviews need the exporter's own token (--exporter-token) as a real API server needs credentials
with RBAC for them; without it 401. Prints its port on the first stdout line and exits when stdin
closes.
"""

import argparse
import http.server
import json
import socketserver
import ssl
import sys
import threading

STATE = {"down": False, "tokenreviews": 0, "subjectaccessreviews": 0, "unauthorized": 0, "reviewed_paths": [], "sar_users": []}
LOCK = threading.Lock()
ARGS = None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/_stats":
            with LOCK:
                self.reply(200, STATE)
        else:
            self.reply(404, {"kind": "Status", "code": 404})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path in ("/_control/down", "/_control/up"):
            with LOCK:
                STATE["down"] = self.path.endswith("down")
            self.reply(200, {})
            return
        if self.headers.get("Authorization") != "Bearer " + ARGS.exporter_token:
            with LOCK:
                STATE["unauthorized"] += 1
            self.reply(401, {"kind": "Status", "code": 401})
            return
        with LOCK:
            down = STATE["down"]
        if down:
            self.reply(500, {"kind": "Status", "code": 500, "message": "etcd is gone"})
            return
        review = json.loads(body)
        if self.path == "/apis/authentication.k8s.io/v1/tokenreviews":
            with LOCK:
                STATE["tokenreviews"] += 1
            user = USERS.get(review["spec"]["token"])
            status = {"authenticated": False}
            if user:
                status = {"authenticated": True, "user": {"username": user[0], "uid": "uid-" + user[0], "groups": user[1]}}
            self.reply(201, {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "status": status})
        elif self.path == "/apis/authorization.k8s.io/v1/subjectaccessreviews":
            spec = review["spec"]
            attributes = spec.get("nonResourceAttributes", {})
            with LOCK:
                STATE["subjectaccessreviews"] += 1
                STATE["reviewed_paths"].append(attributes.get("path"))
                STATE["sar_users"].append({"user": spec.get("user"), "uid": spec.get("uid"), "groups": spec.get("groups"),
                                           "verb": attributes.get("verb")})
            allowed = attributes.get("verb") == "get" and attributes.get("path") in ALLOW.get(spec.get("user"), [])
            self.reply(201, {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "status": {"allowed": allowed}})
        else:
            self.reply(404, {"kind": "Status", "code": 404})


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


USERS = {}
ALLOW = {}


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--exporter-token", required=True)
    parser.add_argument("--user", action="append", default=[])
    parser.add_argument("--allow", action="append", default=[])
    ARGS = parser.parse_args()
    for entry in ARGS.user:
        token, identity = entry.split("=", 1)
        name, _, groups = identity.partition("|")
        USERS[token] = (name, [group for group in groups.split(",") if group])
    for entry in ARGS.allow:
        name, paths = entry.split("=", 1)
        ALLOW[name] = paths.split(",")
    server = Server(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(ARGS.cert, ARGS.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()


if __name__ == "__main__":
    main()
