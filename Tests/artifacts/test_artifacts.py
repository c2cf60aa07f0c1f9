"""Static checks of Alerts/, Dashboards/ and Docker/ against the metric contract and each other."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from promstack import DASHBOARD, REPO, RULES, dashboard_targets, rule_expressions, selectors, substitute

KUBERNETES = REPO / "Docker" / "kubernetes"
VARIABLES = {"cluster": ".*", "job": "j", "target": ".*", "datasource": "prometheus"}


def contract_families():
    """Metric families documented in the README's metric reference (first column of its tables)."""
    text = (REPO / "README.md").read_text()
    return set(re.findall(r"^\| `([a-z_:]+)` \|", text, flags=re.M))


def recording_rules():
    return {rule["record"] for group in yaml.safe_load(RULES.read_text())["groups"]
            for rule in group["rules"] if "record" in rule}


def metric_name(selector):
    return selector.split("{", 1)[0]


def known_metric(name, families, records):
    return (name in families or name in records or name == "up"
            or name in {"process_resident_memory_bytes", "process_cpu_seconds_total",
                        "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
                        "process_start_time_seconds"})


def test_selector_scanner_finds_metrics_not_functions_or_labels():
    expr = ('sum by (target, reason) (rate(kube_scheduler_poll_errors_total{job=~"a|b", x="}"}[1m])) '
            '/ ignoring (reason) group_left kube_scheduler_polls_total > 0.1 and on (target) up')
    assert selectors(expr) == ['kube_scheduler_poll_errors_total{job=~"a|b", x="}"}',
                               "kube_scheduler_polls_total", "up"]
    assert selectors('label_replace(m{a="1"} == 1, "dst", "$1", "src", "(.*)")') == ['m{a="1"}']


def test_contract_is_readable():
    families = contract_families()
    assert "kube_scheduler_up" in families and "kube_scheduler_security_check" in families
    assert len(families) > 30


def test_dashboard_and_rules_use_only_contract_metrics():
    families, records = contract_families(), recording_rules()
    unknown = set()
    for title, target in dashboard_targets():
        for selector in selectors(substitute(target["expr"], VARIABLES)):
            if not known_metric(metric_name(selector), families, records):
                unknown.add(f"panel {title}: {metric_name(selector)}")
    for name, expr in rule_expressions():
        for selector in selectors(expr):
            if not known_metric(metric_name(selector), families, records):
                unknown.add(f"rule {name}: {metric_name(selector)}")
    assert not unknown, sorted(unknown)


@pytest.mark.skipif(shutil.which("jsonnet") is None, reason="jsonnet not installed")
def test_dashboard_and_rules_are_rendered_from_the_mixin():
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "render-mixin"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_is_importable_as_is():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["schemaVersion"] >= 39
    assert dashboard["id"] is None and dashboard["uid"]
    assert "__inputs" not in dashboard, "no import-time inputs: the datasource is a variable"
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("cluster", "job", "target"):
        assert variables[name]["type"] == "query"
        assert variables[name]["datasource"]["uid"] == "${datasource}"
        assert variables[name]["includeAll"] and variables[name]["allValue"] == ".*"


def test_every_panel_is_described_and_uses_the_datasource_variable():
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel.get("description", "").strip(), f"panel {panel['title']} has no description"
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
            if "kube_scheduler_" in target["expr"] and "job=~\"$job\"" not in target["expr"]:
                pytest.fail(f"panel {panel['title']} ignores the job variable: {target['expr']}")


def test_panels_do_not_overlap_and_fit_the_grid():
    cells = {}
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_dashboard_covers_required_views():
    dashboard = json.loads(DASHBOARD.read_text())
    titles = [panel["title"] for panel in dashboard["panels"]]
    for row in ("Security posture", "TLS", "Health", "Leadership", "Scheduling performance",
                "Exporter self-health"):
        assert row in titles
    exprs = " ".join(target["expr"] for _, target in dashboard_targets())
    for needle in ("kube_scheduler_security_check", "kube_scheduler:tls_cert_expires_in_seconds",
                   "kube_scheduler_health_check_status", "kube_scheduler_leader",
                   'kind="attempt"', 'kind="pod_e2e"', 'kind="algorithm"',
                   "kube_scheduler_schedule_attempts_rate", "kube_scheduler_pending_pods",
                   "up{", "kube_scheduler_poll_duration_seconds", "kube_scheduler_poll_errors_total",
                   "process_resident_memory_bytes"):
        assert needle in exprs, needle
    security_stats = [p for p in dashboard["panels"] if p["type"] == "stat" and p["gridPos"]["y"] < 9]
    assert len(security_stats) >= 8
    for panel in security_stats:
        colors = {step["color"] for step in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]}
        assert "green" in colors and ({"red", "orange"} & colors), panel["title"]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_checks_and_unit_tests_pass():
    check = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    tests = sorted(str(p) for p in (REPO / "Alerts" / "tests").glob("*.test.yml"))
    unit = subprocess.run(["promtool", "test", "rules", *tests], capture_output=True, text=True)
    assert unit.returncode == 0, unit.stdout + unit.stderr


def run_coverage(root):
    return subprocess.run([sys.executable, str(REPO / "Alerts" / "check_coverage.py"), str(root)],
                          capture_output=True, text=True)


def copy_alert_tree(tmp_path):
    shutil.copytree(REPO / "Alerts", tmp_path / "Alerts")
    (tmp_path / "docs").mkdir()
    shutil.copy(REPO / "docs" / "runbook.md", tmp_path / "docs" / "runbook.md")
    return tmp_path


def test_every_alert_has_tests_and_a_runbook_section():
    result = run_coverage(REPO)
    assert result.returncode == 0, result.stdout


def test_coverage_check_fails_without_a_runbook_section(tmp_path):
    root = copy_alert_tree(tmp_path)
    runbook = root / "docs" / "runbook.md"
    runbook.write_text(runbook.read_text().replace("### KubeSchedulerNoLeader", "### SomethingElse"))
    result = run_coverage(root)
    assert result.returncode == 1
    assert "KubeSchedulerNoLeader: runbook anchor #kubeschedulernoleader has no section" in result.stdout


def test_coverage_check_fails_without_a_firing_test(tmp_path):
    root = copy_alert_tree(tmp_path)
    tests = root / "Alerts" / "tests" / "performance.test.yml"
    document = yaml.safe_load(tests.read_text())
    document["tests"] = [case for case in document["tests"]
                         if case["alert_rule_test"][0]["alertname"] != "KubeSchedulerSchedulingErrors"]
    tests.write_text(yaml.safe_dump(document))
    result = run_coverage(root)
    assert result.returncode == 1
    assert "KubeSchedulerSchedulingErrors: no test where it fires" in result.stdout


def test_every_alert_is_documented_for_on_call():
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            if "alert" not in rule:
                continue
            assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
            description = rule["annotations"]["description"]
            assert "$labels." in description, f"{rule['alert']}: description names no label"
            if "target" in rule["expr"] or "kube_scheduler_" in rule["expr"]:
                if "up{" not in rule["expr"]:
                    assert "$labels.target" in description, rule["alert"]


def test_prometheusrule_matches_the_rule_file():
    result = subprocess.run([sys.executable, str(KUBERNETES / "sync-prometheusrule.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    embedded = yaml.safe_load((KUBERNETES / "prometheusrule.yaml").read_text())
    assert embedded["kind"] == "PrometheusRule"
    assert embedded["spec"]["groups"] == yaml.safe_load(RULES.read_text())["groups"]


def test_prometheusrule_drift_is_detected(tmp_path):
    (tmp_path / "Alerts").mkdir()
    (tmp_path / "Docker" / "kubernetes").mkdir(parents=True)
    shutil.copy(KUBERNETES / "sync-prometheusrule.py", tmp_path / "Docker" / "kubernetes")
    shutil.copy(KUBERNETES / "prometheusrule.yaml", tmp_path / "Docker" / "kubernetes")
    rules = RULES.read_text().replace("for: 5m", "for: 6m", 1)
    (tmp_path / "Alerts" / RULES.name).write_text(rules)
    script = tmp_path / "Docker" / "kubernetes" / "sync-prometheusrule.py"
    assert subprocess.run([sys.executable, str(script), "--check"], capture_output=True).returncode == 1
    assert subprocess.run([sys.executable, str(script)], capture_output=True).returncode == 0
    assert subprocess.run([sys.executable, str(script), "--check"], capture_output=True).returncode == 0


def kubernetes_documents():
    documents = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                documents[(document["kind"], document.get("metadata", {}).get("name", path.name))] = document
    return documents


def test_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    manifests = {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == manifests


def test_clusterrole_grants_only_get_on_probed_paths():
    role = kubernetes_documents()[("ClusterRole", "kube-scheduler-exporter")]
    (rule,) = [r for r in role["rules"] if "nonResourceURLs" in r]
    # Besides the scheduler's paths, only what --web.kubernetes-auth needs: creating reviews.
    reviews = [r for r in role["rules"] if "nonResourceURLs" not in r]
    assert sorted((r["apiGroups"], r["resources"], r["verbs"]) for r in reviews) == [
        (["authentication.k8s.io"], ["tokenreviews"], ["create"]),
        (["authorization.k8s.io"], ["subjectaccessreviews"], ["create"])]
    assert rule["verbs"] == ["get"]
    assert set(rule) == {"nonResourceURLs", "verbs"}, "no resources, apiGroups or resourceNames"
    urls = set(rule["nonResourceURLs"])
    required = {"/metrics", "/healthz", "/livez", "/readyz", "/configz", "/debug/pprof",
                "/debug/pprof/", "/flagz", "/statusz"}
    assert required <= urls
    assert "/debug/pprof/*" not in urls, "profiles themselves are not needed to tell profiling is on"
    assert urls - required <= {"/metrics/*", "/healthz/*", "/livez/*", "/readyz/*"}


def test_daemonset_is_hardened_and_runs_on_control_planes():
    daemonset = kubernetes_documents()[("DaemonSet", "kube-scheduler-exporter")]
    pod = daemonset["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True and pod["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert pod["nodeSelector"]["node-role.kubernetes.io/control-plane"] == ""
    assert any(t["key"] == "node-role.kubernetes.io/control-plane" for t in pod["tolerations"])
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["privileged"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["requests"] and container["resources"]["limits"]
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz"
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    for path in ("/etc/kubernetes/manifests/kube-scheduler.yaml", "/etc/kubernetes/scheduler.conf"):
        assert mounts[path]["readOnly"] is True
    host_paths = {v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
    assert host_paths == {"/etc/kubernetes/manifests/kube-scheduler.yaml", "/etc/kubernetes/scheduler.conf"}
    args = " ".join(container["args"])
    for flag in ("--target=", "--bearer-token-file=", "--web.listen-address=", "--poll-interval="):
        assert flag in args


def test_checkov_skips_carry_reasons():
    daemonset = kubernetes_documents()[("DaemonSet", "kube-scheduler-exporter")]
    skips = {k: v for k, v in daemonset["metadata"]["annotations"].items() if k.startswith("checkov.io/skip")}
    assert skips
    for value in skips.values():
        check, _, reason = value.partition("=")
        assert re.fullmatch(r"CKV2?_K8S_\d+", check) and len(reason) > 20, value


def test_dockerignore_copies_agree():
    docker = REPO / "Docker"
    assert (docker / ".dockerignore").read_text() == (docker / "Dockerfile.dockerignore").read_text()


def test_dockerfile_builds_release_static_and_runs_unprivileged():
    dockerfile = (REPO / "Docker" / "Dockerfile").read_text()
    assert "--static-swift-stdlib" in dockerfile and "-c release" in dockerfile
    # The runtime's files come from Debian bookworm; the final stage holds only them.
    assert re.search(r"^ARG RUNTIME_IMAGE=debian:bookworm-slim$", dockerfile, flags=re.M)
    stages = re.findall(r"^FROM (\S+)", dockerfile, flags=re.M)
    assert stages[-1] == "scratch", stages
    assert "ca-certificates" in dockerfile and "libcurl4" in dockerfile
    user = re.findall(r"^USER (\S+)", dockerfile, flags=re.M)
    assert user and re.fullmatch(r"\d+(:\d+)?", user[-1]) and not user[-1].startswith("0")
    assert "org.opencontainers.image.source" in dockerfile or "org.opencontainers.image.title" in dockerfile
    assert re.search(r"^HEALTHCHECK", dockerfile, flags=re.M)
