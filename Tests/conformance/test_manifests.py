"""The shipped Docker/kubernetes manifests on a real API server: created with strict field
validation and no warnings (CRDs for ServiceMonitor and PrometheusRule included), then the
exporter runs with a TokenRequest token of the shipped ServiceAccount and every check has the
evidence it needs."""
import subprocess
import time
from pathlib import Path

import yaml

from test_security_checks import MANIFEST

REPO = Path(__file__).resolve().parents[2]
CRDS = Path(__file__).resolve().parent / "crds"


def collection(obj):
    """The API path of obj's collection, from its apiVersion and kind."""
    api = "/api/v1" if obj["apiVersion"] == "v1" else f"/apis/{obj['apiVersion']}"
    kind = obj["kind"].lower()
    plural = kind[:-1] + "ies" if kind.endswith("y") else kind + "s"
    namespace = obj["metadata"].get("namespace")
    return f"{api}/namespaces/{namespace}/{plural}" if namespace else f"{api}/{plural}"


def create_strictly(plane, obj):
    status, warnings, answer = plane.api("POST", collection(obj) + "?fieldValidation=Strict", obj)
    assert status == 201, f"{obj['kind']}/{obj['metadata']['name']}: HTTP {status} {answer}"
    assert warnings == [], f"{obj['kind']}/{obj['metadata']['name']}: warnings {warnings}"


def shipped_objects(plane):
    rendered = subprocess.run([str(plane.assets / "kubectl"), "kustomize", str(REPO / "Docker" / "kubernetes")],
                              capture_output=True, text=True, timeout=120)
    assert rendered.returncode == 0, rendered.stderr
    return [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]


def test_shipped_manifests_are_accepted_strictly_and_their_identity_reads_every_endpoint(run):
    plane = run.plane
    for path in sorted(CRDS.glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if crd:
                create_strictly(plane, crd)
    for crd in ("servicemonitors.monitoring.coreos.com", "prometheusrules.monitoring.coreos.com"):
        deadline = time.monotonic() + 60
        while True:
            answer = plane.api("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd}")[2]
            conditions = {c["type"]: c["status"] for c in (answer.get("status") or {}).get("conditions") or []}
            if conditions.get("Established") == "True":
                break
            assert time.monotonic() < deadline, f"{crd} never established"
            time.sleep(0.5)
    objects = shipped_objects(plane)
    kinds = {obj["kind"] for obj in objects}
    assert {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet", "Service",
            "NetworkPolicy", "ServiceMonitor", "PrometheusRule"} <= kinds, kinds
    # Namespaces first, as kubectl orders them.
    for obj in sorted(objects, key=lambda o: o["kind"] != "Namespace"):
        create_strictly(plane, obj)

    account = next(o for o in objects if o["kind"] == "ServiceAccount")
    token = plane.create_token(account["metadata"]["namespace"], account["metadata"]["name"])
    token_file = run.tmp / "shipped.token"
    token_file.write_text(token)
    manifest = run.tmp / "kube-scheduler.yaml"
    manifest.write_text(MANIFEST)
    manifest.chmod(0o600)
    # flagz is behind an alpha gate; with it on, the bypass check has its evidence too.
    scheduler = run.scheduler(["--feature-gates=ComponentFlagz=true"], leader_elect=False)
    exporter = run.exporter(run.target(scheduler, token_file=token_file, manifest_file=str(manifest)))
    scrape = exporter.wait(lambda s: s.value("kube_scheduler_up", target="real") == 1 and
                           "unknown" not in s.verdicts("real").values() and len(s.verdicts("real")) >= 14,
                           what="every check decided with the shipped identity")
    statuses = {labels["endpoint"]: value for labels, value in scrape.values("kube_scheduler_endpoint_http_status", target="real")}
    assert statuses and all(value == 200 for value in statuses.values()), statuses
    # The shipped ClusterRole grants the pprof index, not the profiles.
    assert scheduler.get("/debug/pprof/heap", token=token)[0] == 403
    assert scheduler.get("/debug/pprof/", token=token)[0] == 200
