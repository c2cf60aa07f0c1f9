"""--web.kubernetes-auth against the real kube-apiserver: the scraper's token goes through a real
TokenReview and a real SubjectAccessReview (RBAC on nonResourceURLs), answers are cached, and an
API server outage never opens the exporter."""
from controlplane import free_port

RBAC = "/apis/rbac.authorization.k8s.io/v1"


def get(exporter, path, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return exporter.get(path, headers=headers)[0]


def grant(plane, name, rules, subject):
    plane.ensure(f"{RBAC}/clusterroles", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                                          "metadata": {"name": name}, "rules": rules})
    plane.ensure(f"{RBAC}/clusterrolebindings", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name}, "subjects": [subject]})


def test_scrapers_are_authorized_by_rbac(plane, run):
    """A token whose identity has the RBAC gets 200, one without 403, none 401."""
    # The exporter's identity may review tokens and access (what system:auth-delegator grants).
    plane.ensure(f"{RBAC}/clusterrolebindings", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "conformance-exporter-delegator"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:auth-delegator"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "kube-scheduler-exporter"}]})
    # Prometheus's ServiceAccount may get /metrics, nothing else.
    plane.ensure_service_account("monitoring", "prometheus")
    grant(plane, "conformance-scrape", [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}],
          {"kind": "ServiceAccount", "name": "prometheus", "namespace": "monitoring"})
    prometheus = plane.create_token("monitoring", "prometheus")

    # No scheduler behind the target: its polls would add the scheduler's own reviews to the count.
    target = {"name": "nowhere", "url": f"https://127.0.0.1:{free_port()}", "security": {"insecure_port": 0, "nonloopback_addresses": []}}
    exporter = run.exporter(target, extra_args=[
        "--web.kubernetes-auth", "--web.kubernetes-auth.kubeconfig", str(plane.pki.path("exporter.conf"))])

    assert get(exporter, "/healthz") == 200, "the kubelet's probe needs no token"
    assert get(exporter, "/metrics") == 401
    assert get(exporter, "/metrics", "not-a-token") == 401
    assert get(exporter, "/metrics", plane.tokens["nobody"]) == 403, "authenticated, no RBAC"
    assert get(exporter, "/metrics", prometheus) == 200
    assert get(exporter, "/scheduler/metrics", prometheus) == 403, "RBAC per path"

    # Cached: more scrapes within 10 s cost the API server no review.
    before = plane.review_count()
    for _ in range(5):
        assert get(exporter, "/metrics", prometheus) == 200
    assert plane.review_count() == before

    # The API server goes away: the cached answer stands in, a token never seen gets 503, never 200.
    other = plane.create_token("monitoring", "prometheus")
    plane.stop_apiserver()
    try:
        assert get(exporter, "/metrics", prometheus) == 200
        assert get(exporter, "/metrics", other) == 503
    finally:
        plane.start_apiserver()
    assert get(exporter, "/metrics", other) == 200

    # Tokens never reach the exporter's log.
    log = exporter.child.log_path.read_text(errors="replace")
    for secret in (prometheus, other, plane.tokens["exporter"], plane.tokens["nobody"]):
        assert secret not in log
