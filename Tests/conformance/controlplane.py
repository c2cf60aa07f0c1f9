"""A real Kubernetes control plane on loopback for tests, in the manner of controller-runtime's
envtest: etcd, kube-apiserver and kube-scheduler started from a directory of upstream binaries
(`KSE_K8S_ASSETS`; etcd from there or from PATH), with a generated PKI, static-token identities,
RBAC for the exporter identity and two Ready fake nodes. Free ports are chosen per run and every
process is stopped by `stop()`; tests get URLs and credentials back and never pick ports.

    with ControlPlane.from_environment(workdir) as plane:
        scheduler = plane.start_scheduler(["--profiling=false"])
        status, body = scheduler.get("/metrics", token=plane.tokens["exporter"])

No controller-manager and no kubelet run: Nodes are created Ready by hand, pods get bound and
stay Pending, ServiceAccounts get no token Secrets (TokenRequest works).
"""
import base64
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

ASSETS_VARIABLE = "KSE_K8S_ASSETS"
REPO = Path(__file__).resolve().parents[2]

# What the exporter identity may read in tests: the captures' ClusterRole, profiles included, so the
# captured status tables show what an authorized caller gets (the shipped role grants only the index).
EXPORTER_NON_RESOURCE_URLS = [
    "/metrics", "/metrics/*", "/debug/pprof", "/debug/pprof/*", "/configz", "/healthz", "/healthz/*",
    "/livez", "/livez/*", "/readyz", "/readyz/*", "/flagz", "/statusz",
]


class SetupError(RuntimeError):
    pass


def free_port(host="127.0.0.1"):
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def binary_version(path):
    argv = [str(path), "version", "--client"] if Path(path).name == "kubectl" else [str(path), "--version"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.splitlines()[0:1]
    out = out[0] if out else ""
    return out.strip().split()[-1] if out.strip() else ""


def find_assets():
    """The binaries directory, or None with the reason (the suite then skips, or fails in CI)."""
    directory = os.environ.get(ASSETS_VARIABLE, "")
    if not directory:
        return None, f"{ASSETS_VARIABLE} is not set (scripts/k8s-assets unpacks the shared binaries and prints the directory)"
    missing = [b for b in ("kube-apiserver", "kube-scheduler", "kubectl") if not os.access(Path(directory) / b, os.X_OK)]
    if missing:
        return None, f"{ASSETS_VARIABLE}={directory} has no executable {', '.join(missing)}"
    etcd = Path(directory) / "etcd"
    if not os.access(etcd, os.X_OK) and not shutil.which("etcd"):
        return None, "no etcd in KSE_K8S_ASSETS nor on PATH (apt-get install etcd-server)"
    return Path(directory), None


class Child:
    """A long-lived child process in its own session, output to a log file."""

    def __init__(self, name, argv, log_dir, env=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = Path(log_dir) / f"{name}.log"
        if self.log_path.exists():
            self.log_path.replace(self.log_path.with_suffix(".log.prev"))
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True, env=env)

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, grace=15.0):
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        self._log.close()

    def kill(self):
        self.stop(signal.SIGKILL)

    def tail(self, lines=40):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _wait(condition, timeout, what, child=None, interval=0.25):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if child is not None and not child.running():
            raise SetupError(f"{child.name} exited ({child.proc.returncode}) while waiting for {what}:\n{child.tail()}")
        try:
            value = condition()
            if value:
                return value
        except Exception as error:  # not listening yet
            last = error
        time.sleep(interval)
    raise SetupError(f"timed out after {timeout}s waiting for {what} (last error: {last})"
                     + (f"\n{child.tail()}" if child is not None else ""))


def https_get(url, token=None, ca=None, cert=None, timeout=10.0, verify=True):
    """GET url; returns (status, headers, body bytes). Status 0 when nothing answered."""
    context = ssl.create_default_context(cafile=str(ca)) if (ca and verify) else ssl._create_unverified_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert:
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers or {}), error.read()
    except (urllib.error.URLError, OSError):
        return 0, {}, b""


class PKI:
    """CA, serving certificates, service-account keys, static tokens and kubeconfigs, made with
    openssl in `directory`."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.tokens = {}

    def path(self, name):
        return self.dir / name

    def _openssl(self, *args):
        result = subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise SetupError(f"openssl {' '.join(map(str, args[:2]))} failed: {result.stderr.strip()[-400:]}")

    def make_ca(self, name="ca", subject="/CN=kse-conformance-ca"):
        self._openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.path(f"{name}.key"),
                      "-out", self.path(f"{name}.crt"), "-days", "3650", "-subj", subject)

    def sign(self, name, subject, usage, sans=(), days=3650, ca="ca"):
        """A key and a certificate signed by `ca`; usage is serverAuth or clientAuth."""
        key, csr, crt, ext = (self.path(f"{name}.{s}") for s in ("key", "csr", "crt", "ext"))
        self._openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", subject)
        lines = ["basicConstraints=CA:FALSE", "keyUsage=digitalSignature,keyEncipherment", f"extendedKeyUsage={usage}"]
        if sans:
            lines.append("subjectAltName=" + ",".join(sans))
        ext.write_text("\n".join(lines) + "\n")
        self._openssl("x509", "-req", "-in", csr, "-CA", self.path(f"{ca}.crt"), "-CAkey", self.path(f"{ca}.key"),
                      "-CAcreateserial", "-out", crt, "-days", str(days), "-extfile", ext)
        csr.unlink()
        ext.unlink()
        return crt, key

    def make_all(self, apiserver_port):
        self.make_ca()
        self.sign("apiserver", "/CN=kube-apiserver", "serverAuth",
                  ["IP:127.0.0.1", "DNS:localhost", "DNS:kubernetes", "DNS:kubernetes.default", "DNS:kubernetes.default.svc"])
        self.sign("scheduler", "/CN=kube-scheduler", "serverAuth", ["IP:127.0.0.1", "IP:127.0.0.2", "DNS:localhost"])
        self.sign("exporter-client", "/CN=kube-scheduler-exporter", "clientAuth")
        self.sign("front-proxy-client", "/CN=front-proxy-client", "clientAuth")
        self._openssl("genrsa", "-out", self.path("sa.key"), "2048")
        self._openssl("rsa", "-in", self.path("sa.key"), "-pubout", "-out", self.path("sa.pub"))
        # Identities: the scheduler itself, an admin, the exporter (RBAC below) and one without RBAC.
        users = {"scheduler": ("system:kube-scheduler", ""), "admin": ("admin", "system:masters"),
                 "exporter": ("kube-scheduler-exporter", ""), "nobody": ("nobody", "")}
        rows = []
        for key, (user, groups) in users.items():
            token = secrets.token_hex(24)
            self.tokens[key] = token
            (self.dir / f"{key}.token").write_text(token)
            rows.append(f'{token},{user},uid-{user}' + (f',"{groups}"' if groups else ""))
        self.path("tokens.csv").write_text("\n".join(rows) + "\n")
        ca_data = base64.b64encode(self.path("ca.crt").read_bytes()).decode()
        for key, (user, _) in users.items():
            self.path(f"{key}.conf").write_text(kubeconfig(f"https://127.0.0.1:{apiserver_port}", ca_data, user, self.tokens[key]))
        for path in self.dir.iterdir():
            path.chmod(0o600 if path.suffix == ".key" else 0o644)


def kubeconfig(server, ca_data, user, token):
    return f"""apiVersion: v1
kind: Config
clusters:
- name: conformance
  cluster:
    server: {server}
    certificate-authority-data: {ca_data}
users:
- name: {user}
  user:
    token: {token}
contexts:
- name: conformance
  context: {{cluster: conformance, user: {user}}}
current-context: conformance
"""


class Scheduler:
    """One running kube-scheduler process and how to reach its secure port."""

    def __init__(self, plane, child, address, port, flags):
        self.plane, self.child, self.address, self.port, self.flags = plane, child, address, port, flags

    @property
    def url(self):
        return f"https://{self.address}:{self.port}"

    def get(self, path, token=None, cert=None, address=None, verify=False):
        host = address or self.address
        return https_get(f"https://{host}:{self.port}{path}", token=token, cert=cert, ca=self.plane.pki.path("ca.crt"), verify=verify)

    def stop(self):
        self.child.stop()

    def kill(self):
        self.child.kill()

    def running(self):
        return self.child.running()


class ControlPlane:
    def __init__(self, assets, workdir):
        self.assets = Path(assets)
        self.workdir = Path(workdir)
        self.logs = self.workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.pki = PKI(self.workdir / "pki")
        etcd = self.assets / "etcd"
        self.etcd_binary = etcd if os.access(etcd, os.X_OK) else Path(shutil.which("etcd") or "etcd")
        self.etcd = None
        self.apiserver = None
        self.schedulers = []
        self.etcd_client_port = free_port()
        self.etcd_peer_port = free_port()
        self.apiserver_port = free_port()
        self.versions = {}

    @classmethod
    def from_environment(cls, workdir):
        assets, reason = find_assets()
        if assets is None:
            raise SetupError(reason)
        return cls(assets, workdir)

    # ---- lifecycle ----
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    @property
    def tokens(self):
        return self.pki.tokens

    @property
    def apiserver_url(self):
        return f"https://127.0.0.1:{self.apiserver_port}"

    def start(self):
        for name in ("kube-apiserver", "kube-scheduler", "kubectl"):
            self.versions[name] = binary_version(self.assets / name)
        self.pki.make_all(self.apiserver_port)
        self.start_etcd()
        self.start_apiserver()
        self.bootstrap()

    def stop(self):
        for scheduler in self.schedulers:
            scheduler.stop()
        self.schedulers = []
        for child in (self.apiserver, self.etcd):
            if child is not None:
                child.stop()

    def start_etcd(self):
        client = f"http://127.0.0.1:{self.etcd_client_port}"
        peer = f"http://127.0.0.1:{self.etcd_peer_port}"
        self.etcd = Child("etcd", [self.etcd_binary, "--name", "conformance", "--data-dir", self.workdir / "etcd-data",
                                   "--listen-client-urls", client, "--advertise-client-urls", client,
                                   "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                                   "--initial-cluster", f"conformance={peer}", "--initial-cluster-state", "new"], self.logs)

        def healthy():
            with urllib.request.urlopen(f"{client}/health", timeout=2) as response:
                return response.status == 200
        _wait(healthy, 60, "etcd /health", self.etcd)

    def start_apiserver(self):
        p = self.pki.path
        self.apiserver = Child("kube-apiserver", [
            self.assets / "kube-apiserver",
            f"--etcd-servers=http://127.0.0.1:{self.etcd_client_port}",
            "--bind-address=127.0.0.1", f"--secure-port={self.apiserver_port}", "--advertise-address=127.0.0.1",
            "--endpoint-reconciler-type=none",  # a loopback address may not go into Endpoints
            f"--tls-cert-file={p('apiserver.crt')}", f"--tls-private-key-file={p('apiserver.key')}",
            f"--client-ca-file={p('ca.crt')}", f"--token-auth-file={p('tokens.csv')}",
            # Without the request-header CA the scheduler logs a missing-CA error over and over.
            f"--requestheader-client-ca-file={p('ca.crt')}", "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User", "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={p('sa.pub')}", f"--service-account-signing-key-file={p('sa.key')}",
            "--service-cluster-ip-range=10.96.0.0/16",
        ], self.logs)
        _wait(lambda: self.api("GET", "/readyz")[0] == 200, 180, "kube-apiserver /readyz", self.apiserver, interval=0.5)

    def stop_apiserver(self):
        if self.apiserver is not None:
            self.apiserver.stop()

    # ---- the API ----
    def api(self, method, path, body=None, content_type="application/json", token=None):
        """One request to the API server (admin by default): (status, headers, parsed JSON or text)."""
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            data = data.encode() if isinstance(data, str) else data
        request = urllib.request.Request(self.apiserver_url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {token or self.tokens['admin']}")
        if data is not None:
            request.add_header("Content-Type", content_type)
        context = ssl.create_default_context(cafile=str(self.pki.path("ca.crt")))
        try:
            with urllib.request.urlopen(request, timeout=30, context=context) as response:
                status, headers, raw = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, headers, raw = error.code, error.headers, error.read()
        text = raw.decode(errors="replace")
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        warnings = headers.get_all("Warning") if headers is not None else None
        return status, (warnings or []), parsed

    def ensure(self, collection, obj):
        """Creates obj, or replaces it when it exists."""
        status, _, answer = self.api("POST", collection, obj)
        if status == 409:
            name = obj["metadata"]["name"]
            current = self.api("GET", f"{collection}/{name}")[2]
            obj = dict(obj, metadata=dict(obj["metadata"], resourceVersion=current["metadata"]["resourceVersion"]))
            status, _, answer = self.api("PUT", f"{collection}/{name}", obj)
        if status not in (200, 201):
            raise SetupError(f"ensure {collection} {obj['metadata']['name']}: HTTP {status} {answer}")

    def bootstrap(self):
        rbac = "/apis/rbac.authorization.k8s.io/v1"
        self.ensure(f"{rbac}/clusterroles", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "conformance-exporter"},
            "rules": [{"nonResourceURLs": EXPORTER_NON_RESOURCE_URLS, "verbs": ["get"]}]})
        self.ensure(f"{rbac}/clusterrolebindings", {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "conformance-exporter"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "conformance-exporter"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "kube-scheduler-exporter"}]})
        # No controller-manager: the default ServiceAccount does not appear by itself.
        self.ensure_service_account("default", "default")
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for node in ("node-a", "node-b"):
            status, _, answer = self.api("POST", "/api/v1/nodes", {
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": node, "labels": {"kubernetes.io/hostname": node, "kubernetes.io/os": "linux"}}})
            if status not in (201, 409):
                raise SetupError(f"create node {node}: HTTP {status} {answer}")
            # Admission taints new nodes not-ready and no node controller lifts it.
            self._patch(f"/api/v1/nodes/{node}", {"spec": {"taints": None}})
            resources = {"cpu": "32", "memory": "64Gi", "pods": "110"}
            self._patch(f"/api/v1/nodes/{node}/status", {"status": {
                "capacity": resources, "allocatable": resources,
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "fake node",
                                "lastHeartbeatTime": now, "lastTransitionTime": now}]}})

    def _patch(self, path, body):
        status, _, answer = self.api("PATCH", path, body, "application/merge-patch+json")
        if status != 200:
            raise SetupError(f"PATCH {path}: HTTP {status} {answer}")

    def ensure_namespace(self, name):
        status, _, answer = self.api("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        if status not in (201, 409):
            raise SetupError(f"create namespace {name}: HTTP {status} {answer}")

    def ensure_service_account(self, namespace, name):
        self.ensure_namespace(namespace)
        status, _, answer = self.api("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts",
                                     {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}})
        if status not in (201, 409):
            raise SetupError(f"create serviceaccount {namespace}/{name}: HTTP {status} {answer}")

    def create_token(self, namespace, service_account, bound_secret=None, seconds=3600):
        """A TokenRequest token, as the kubelet projects into a pod; bound to a Secret when given,
        so deleting that Secret revokes it."""
        spec = {"expirationSeconds": seconds}
        if bound_secret:
            uid = self.api("GET", f"/api/v1/namespaces/{namespace}/secrets/{bound_secret}")[2]["metadata"]["uid"]
            spec["boundObjectRef"] = {"kind": "Secret", "apiVersion": "v1", "name": bound_secret, "uid": uid}
        status, _, answer = self.api("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{service_account}/token",
                                     {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec})
        if status != 201:
            raise SetupError(f"TokenRequest {namespace}/{service_account}: HTTP {status} {answer}")
        return answer["status"]["token"]

    def review_count(self):
        """TokenReview + SubjectAccessReview requests the API server has served, from its metrics."""
        status, _, text = self.api("GET", "/metrics")
        total = 0.0
        for line in (text if isinstance(text, str) else "").splitlines():
            if line.startswith("apiserver_request_total{") and 'verb="POST"' in line and \
                    ('resource="tokenreviews"' in line or 'resource="subjectaccessreviews"' in line):
                total += float(line.rsplit(" ", 1)[1])
        return total

    # ---- pods ----
    def create_pods(self, count, prefix, unschedulable=0):
        """count pause pods; the first `unschedulable` fit on no node."""
        for index in range(count):
            spec = {"automountServiceAccountToken": False, "terminationGracePeriodSeconds": 0,
                    "containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.9",
                                    "resources": {"requests": {"cpu": "10m", "memory": "8Mi"}}}]}
            if index < unschedulable:
                # node-b fails NodeAffinity, node-a NodeResourcesFit: two plugins reject the pod,
                # as in a real cluster where a pod fits nowhere for different reasons.
                spec["nodeSelector"] = {"kubernetes.io/hostname": "node-a"}
                spec["containers"][0]["resources"]["requests"]["cpu"] = "100"
            status, _, answer = self.api("POST", "/api/v1/namespaces/default/pods", {
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"{prefix}-{index}", "labels": {"app": prefix}}, "spec": spec})
            if status not in (201, 409):
                raise SetupError(f"create pod {prefix}-{index}: HTTP {status} {answer}")

    def delete_pods(self, prefix):
        self.api("DELETE", f"/api/v1/namespaces/default/pods?labelSelector=app%3D{prefix}&gracePeriodSeconds=0")

    def bound_pods(self, prefix):
        answer = self.api("GET", f"/api/v1/namespaces/default/pods?labelSelector=app%3D{prefix}")[2]
        return sum(1 for pod in answer.get("items", []) if pod["spec"].get("nodeName"))

    # ---- schedulers ----
    def start_scheduler(self, flags=(), config=None, address="127.0.0.1", port=None, name=None,
                        tls="ca-signed", leader_elect=True, wait_leader=True, keep_lease=False, binary=None, drop=None):
        """Starts a kube-scheduler with kubeadm-like base flags plus `flags` (later flags win).
        config: KubeSchedulerConfiguration text for --config (its kubeconfig is filled in).
        tls: "ca-signed" (the PKI's serving cert), "generated" (no --tls-cert-file), or a
        (cert, key) pair. drop: base flags (e.g. "--authentication-kubeconfig") to leave out."""
        port = port or free_port(address)
        name = name or f"kube-scheduler-{len(self.schedulers)}"
        p = self.pki.path
        args = [binary or self.assets / "kube-scheduler", f"--bind-address={address}", f"--secure-port={port}",
                f"--kubeconfig={p('scheduler.conf')}", f"--authentication-kubeconfig={p('scheduler.conf')}",
                f"--authorization-kubeconfig={p('scheduler.conf')}", f"--leader-elect={'true' if leader_elect else 'false'}",
                f"--client-ca-file={p('ca.crt')}"]
        if tls == "ca-signed":
            args += [f"--tls-cert-file={p('scheduler.crt')}", f"--tls-private-key-file={p('scheduler.key')}"]
        elif isinstance(tls, tuple):
            args += [f"--tls-cert-file={tls[0]}", f"--tls-private-key-file={tls[1]}"]
        if config is not None:
            config_path = self.workdir / f"{name}-config.yaml"
            config_path.write_text(config.replace("KUBECONFIG", str(p("scheduler.conf"))))
            args.append(f"--config={config_path}")
        for flag in ([drop] if isinstance(drop, str) else (drop or [])):
            args = [a for a in args if not str(a).startswith(flag + "=")]
        args += list(flags)
        if leader_elect and not keep_lease:
            # A scheduler that stops keeps its Lease; without this a new one waits ~15 s to lead.
            self.api("DELETE", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler")
        child = Child(name, args, self.logs)
        scheduler = Scheduler(self, child, address, port, list(flags))
        self.schedulers.append(scheduler)
        token = self.tokens["exporter"]
        _wait(lambda: scheduler.get("/healthz", token=token)[0] == 200 or scheduler.get("/healthz")[0] == 200,
              90, f"{name} /healthz", child)
        if leader_elect and wait_leader:
            _wait(lambda: "successfully acquired lease" in child.log_path.read_text(errors="replace").lower(), 60,
                  f"{name} to acquire the lease", child)
        return scheduler

    def stop_scheduler(self, scheduler):
        scheduler.stop()
        if scheduler in self.schedulers:
            self.schedulers.remove(scheduler)
