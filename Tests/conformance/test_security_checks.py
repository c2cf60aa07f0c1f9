"""Every security check, both ways, decided by a real kube-scheduler started with real flags and
real --config files. Each case names only the verdicts it proves; together every check is shown
passing and failing on the real thing."""
import http.server
import threading

import pytest

from controlplane import https_get

CONFIG = """apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: KUBECONFIG
"""

# (id, scheduler flags, --config extra lines or None, start options, expected verdicts)
CASES = [
    ("defaults", [], None, {}, {
        "profiling_disabled": "fail", "contention_profiling_disabled": "fail", "bind_address_loopback": "pass",
        "anonymous_access_denied": "pass", "authentication_enforced": "pass", "serving_certificate_valid": "pass",
        "tls_min_version": "pass", "no_alpha_feature_gates": "pass", "insecure_port_closed": "pass"}),
    ("profiling-flag-off", ["--profiling=false"], None, {}, {
        "profiling_disabled": "pass", "contention_profiling_disabled": "pass"}),
    ("profiling-config-off", [], "enableProfiling: false\n", {}, {
        "profiling_disabled": "pass", "contention_profiling_disabled": "pass"}),
    # The --config file wins over the deprecated flag: pprof answers, so profiling is on.
    ("profiling-config-overrides-flag", ["--profiling=false"], "enableProfiling: true\n", {}, {
        "profiling_disabled": "fail"}),
    ("contention-config-off", [], "enableProfiling: true\nenableContentionProfiling: false\n", {}, {
        "profiling_disabled": "fail", "contention_profiling_disabled": "pass"}),
    ("contention-flag-on", ["--contention-profiling=true"], None, {}, {
        "contention_profiling_disabled": "fail"}),
    ("bind-127.0.0.2", [], None, {"address": "127.0.0.2"}, {
        "bind_address_loopback": "fail"}),
    ("metrics-always-allowed", ["--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics"], None, {}, {
        "anonymous_access_denied": "fail"}),
    ("flagz-default-allow-paths", ["--feature-gates=ComponentFlagz=true"], None, {}, {
        "authorization_not_bypassed": "pass", "no_alpha_feature_gates": "fail"}),
    ("flagz-metrics-always-allowed", ["--feature-gates=ComponentFlagz=true",
                                      "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics"], None, {}, {
        "authorization_not_bypassed": "fail", "anonymous_access_denied": "fail"}),
    ("tls-min-1.0", ["--tls-min-version=VersionTLS10"], None, {}, {"tls_min_version": "fail"}),
    ("tls-min-1.1", ["--tls-min-version=VersionTLS11"], None, {}, {"tls_min_version": "fail"}),
    ("tls-min-1.2", ["--tls-min-version=VersionTLS12"], None, {}, {"tls_min_version": "pass"}),
    ("tls-min-1.3", ["--tls-min-version=VersionTLS13"], None, {}, {"tls_min_version": "pass"}),
    ("generated-certificate", [], None, {"tls": "generated"}, {"serving_certificate_valid": "fail"}),
    # No --authentication-kubeconfig: tokens are never reviewed, an invalid one passes as anonymous.
    ("no-authentication-kubeconfig", [], None, {"drop": "--authentication-kubeconfig"}, {"authentication_enforced": "fail"}),
]


def start(run, flags, config, options):
    options = dict(options)
    drop = options.pop("drop", None)
    scheduler = run.scheduler(flags, config=(CONFIG + config) if config is not None else None, drop=drop, **options)
    return scheduler


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_verdicts_on_the_real_scheduler(run, case):
    _, flags, config, options, expected = case
    scheduler = start(run, flags, config, options)
    exporter = run.exporter(run.target(scheduler))
    exporter.wait_verdicts(expected, "real")


def test_generated_chain_is_self_signed_and_ca_signed_is_not(run):
    generated = run.scheduler([], tls="generated")
    signed = run.scheduler([], leader_elect=False)
    exporter = run.exporter(run.target(generated, name="generated"), run.target(signed, name="signed"))
    scrape = exporter.wait(lambda s: s.value("kube_scheduler_tls_cert_self_signed", target="generated") is not None
                           and s.value("kube_scheduler_tls_cert_self_signed", target="signed") is not None,
                           what="the self-signed gauge of both targets")
    assert scrape.value("kube_scheduler_tls_cert_self_signed", target="generated") == 1
    assert scrape.value("kube_scheduler_tls_cert_self_signed", target="signed") == 0
    assert scrape.value("kube_scheduler_tls_verified", target="generated") == 0
    assert scrape.value("kube_scheduler_tls_verified", target="signed") == 1


def test_expiring_certificate_fails(run):
    crt, key = run.plane.pki.sign(f"scheduler-expiring-{run.tmp.name}", "/CN=kube-scheduler", "serverAuth",
                                  ["IP:127.0.0.1", "DNS:localhost"], days=10)
    scheduler = run.scheduler([], tls=(crt, key))
    exporter = run.exporter(run.target(scheduler))
    exporter.wait_verdicts({"serving_certificate_valid": "fail"}, "real")


def test_client_certificate_authentication(run):
    """A client certificate of the exporter identity is authenticated by the real scheduler (the
    exporter needs no token); one from an unknown CA is refused with 401."""
    pki = run.plane.pki
    pki.make_ca("rogue-ca", "/CN=rogue-ca")
    rogue_crt, rogue_key = pki.sign("rogue-client", "/CN=kube-scheduler-exporter", "clientAuth", ca="rogue-ca")
    scheduler = run.scheduler([])
    good = run.target(scheduler, name="cert", credential="cert")
    rogue = run.target(scheduler, name="rogue", credential="none")
    rogue["tls_config"].update(cert_file=str(rogue_crt), key_file=str(rogue_key))
    exporter = run.exporter(good, rogue)
    scrape = exporter.wait(lambda s: s.value("kube_scheduler_up", target="cert") == 1
                           and s.value("kube_scheduler_endpoint_http_status", target="rogue", endpoint="metrics") == 401,
                           what="cert target up and rogue target refused")
    assert scrape.value("kube_scheduler_up", target="rogue") == 0
    assert scrape.value("kube_scheduler_endpoint_http_status", target="cert", endpoint="configz") == 200


class _LegacyPortForwarder(http.server.BaseHTTPRequestHandler):
    """Plain HTTP in front of the real scheduler, without credentials from the client: what the
    legacy port 10251 of a scheduler <= 1.22 served. v1.35 has no such port to open."""
    upstream = None
    token = None

    def do_GET(self):
        status, _, body = https_get(self.upstream + self.path, token=self.token, verify=False)
        self.send_response(status or 502)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_insecure_port_both_ways(run):
    scheduler = run.scheduler([])
    handler = type("Forwarder", (_LegacyPortForwarder,), {"upstream": scheduler.url, "token": run.plane.tokens["exporter"]})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        exporter = run.exporter(run.target(scheduler, name="open", insecure_port=server.server_address[1]),
                                run.target(scheduler, name="closed"))
        exporter.wait(lambda s: s.verdicts("open").get("insecure_port_closed") == "fail"
                      and s.verdicts("closed").get("insecure_port_closed") == "pass",
                      what="open legacy port fails, closed passes")
    finally:
        server.shutdown()


def test_file_checks_read_the_kubeconfig_the_real_scheduler_reports(run):
    """CIS 1.1.15/16 read scheduler.conf at the path the real scheduler's configz reports; 1.1.5/6
    read the static pod manifest."""
    pki = run.plane.pki
    strict = run.tmp / "scheduler-600.conf"
    strict.write_bytes(pki.path("scheduler.conf").read_bytes())
    strict.chmod(0o600)
    loose = run.tmp / "scheduler-644.conf"
    loose.write_bytes(pki.path("scheduler.conf").read_bytes())
    loose.chmod(0o644)
    manifest_strict = run.tmp / "kube-scheduler-600.yaml"
    manifest_loose = run.tmp / "kube-scheduler-644.yaml"
    for path, mode in ((manifest_strict, 0o600), (manifest_loose, 0o644)):
        path.write_text(MANIFEST)
        path.chmod(mode)
    a = run.scheduler([f"--kubeconfig={strict}"], leader_elect=False)
    b = run.scheduler([f"--kubeconfig={loose}"], leader_elect=False)
    exporter = run.exporter(run.target(a, name="strict", manifest_file=str(manifest_strict)),
                            run.target(b, name="loose", manifest_file=str(manifest_loose)))
    exporter.wait(lambda s: s.verdicts("strict").get("kubeconfig_permissions") == "pass"
                  and s.verdicts("loose").get("kubeconfig_permissions") == "fail"
                  and s.verdicts("strict").get("manifest_permissions") == "pass"
                  and s.verdicts("loose").get("manifest_permissions") == "fail"
                  and s.verdicts("strict").get("kubeconfig_ownership") == "pass"
                  and s.verdicts("strict").get("manifest_ownership") == "pass",
                  what="600 files pass, 644 files fail")


def test_file_ownership_fails_for_a_non_root_owner(run):
    pki = run.plane.pki
    conf = run.tmp / "scheduler-nobody.conf"
    conf.write_bytes(pki.path("scheduler.conf").read_bytes())
    conf.chmod(0o600)
    manifest = run.tmp / "kube-scheduler-nobody.yaml"
    manifest.write_text(MANIFEST)
    manifest.chmod(0o600)
    import os
    os.chown(conf, 65534, 65534)
    os.chown(manifest, 65534, 65534)
    scheduler = run.scheduler([f"--kubeconfig={conf}"], leader_elect=False)
    exporter = run.exporter(run.target(scheduler, manifest_file=str(manifest)))
    exporter.wait_verdicts({"kubeconfig_ownership": "fail", "manifest_ownership": "fail"}, "real")


MANIFEST = """apiVersion: v1
kind: Pod
metadata:
  name: kube-scheduler
  namespace: kube-system
spec:
  containers:
  - name: kube-scheduler
    image: registry.k8s.io/kube-scheduler:v1.35.4
    command:
    - kube-scheduler
    - --bind-address=127.0.0.1
    - --leader-elect=true
"""
