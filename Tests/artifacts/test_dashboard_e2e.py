"""End to end: simulator -> exporter -> real Prometheus, then every dashboard query and every
rule expression through Prometheus's HTTP API.

Binaries come from KSE_BIN_DIR (default `.build/debug`); the test skips, saying so, only when
they are missing. `test_queries_are_valid_promql` needs Prometheus alone and always runs.
"""
import os
import re
import secrets
import shutil
from pathlib import Path

import pytest

from promstack import (EXPORTER_JOB, REPO, Process, Prometheus, dashboard_targets,
                       dashboard_variables, free_port, has_data, http_get, rule_expressions,
                       selectors, substitute, wait_until)

BIN_DIR = Path(os.environ.get("KSE_BIN_DIR", REPO / ".build" / "debug"))
EXPORTER = BIN_DIR / "kube-scheduler-exporter"
SIMULATOR = BIN_DIR / "scheduler-simulator"
# Samples each series needs before queries over `$__rate_interval` (1m) and the exporter's
# windowed rates are meaningful: several 1s scrapes and polls.
MIN_SAMPLES = 8

requires_prometheus = pytest.mark.skipif(shutil.which("prometheus") is None,
                                         reason="prometheus not on PATH (apt-get install -y prometheus)")


def query_answer(prometheus, target, expr):
    instant = target.get("instant") or target.get("format") == "table"
    return prometheus.query(expr) if instant else prometheus.query_range(expr)


@requires_prometheus
def test_queries_are_valid_promql(tmp_path):
    """Every panel, variable and rule expression parses and evaluates (no data needed)."""
    prometheus = Prometheus(tmp_path)
    try:
        variables = {"cluster": ".*", "job": EXPORTER_JOB, "target": ".*", "datasource": "prometheus"}
        errors = []
        for title, target in dashboard_targets():
            expr = substitute(target["expr"], variables)
            assert "$" not in expr.replace('"$1"', ""), f"{title}: unsubstituted variable in {expr}"
            answer = query_answer(prometheus, target, expr)
            if answer.get("status") != "success":
                errors.append(f"panel {title!r}: {answer.get('error')} in {expr}")
        for variable in dashboard_variables():
            if variable["type"] == "query":
                metric = substitute(variable["definition"], variables)
                inner = metric[len("label_values("):metric.rindex(",")]
                answer = prometheus.query(inner)
                if answer.get("status") != "success":
                    errors.append(f"variable {variable['name']}: {answer.get('error')} in {inner}")
        for name, expr in rule_expressions():
            answer = prometheus.query(expr)
            if answer.get("status") != "success":
                errors.append(f"rule {name}: {answer.get('error')}")
        assert not errors, "\n".join(errors)
        rules = wait_until(lambda: loaded_rules(prometheus), 30, "rules evaluated once")
        assert all(rule["health"] == "ok" for rule in rules), [r for r in rules if r["health"] != "ok"]
    finally:
        prometheus.stop()


def loaded_rules(prometheus):
    groups = prometheus.api("/api/v1/rules")["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    evaluated = rules and all(rule.get("lastEvaluation", "").startswith("20") for rule in rules)
    return rules if evaluated else None


def run_stack(work, simulator_args=(), exporter_args=()):
    """Generator: simulator -> exporter -> Prometheus, yielding once all have data."""
    missing = [str(path) for path in (EXPORTER, SIMULATOR) if not path.is_file()]
    if missing:
        pytest.skip(f"binaries not built: {', '.join(missing)} "
                    "(swift build --product kube-scheduler-exporter --product scheduler-simulator, "
                    "or set KSE_BIN_DIR)")
    if shutil.which("prometheus") is None:
        pytest.skip("prometheus not on PATH (apt-get install -y prometheus)")
    cert_dir = work / "certs"
    cert_dir.mkdir()
    token_file = work / "token"
    token_file.write_text(secrets.token_hex(24))
    token_file.chmod(0o600)
    processes = []
    try:
        simulator = Process("scheduler-simulator", [
            SIMULATOR, "--secure-port", "0", "--bind-address", "127.0.0.1",
            "--cert-dir", cert_dir, "--token-file", token_file, *simulator_args])
        processes.append(simulator)
        url = simulator.wait_for_line(r"listening on (https://127\.0\.0\.1:\d+)", 60).group(1)
        ca_file = serving_ca(cert_dir)

        exporter_port = free_port()
        exporter = Process("kube-scheduler-exporter", [
            EXPORTER, "--target", url, "--ca-file", ca_file, "--bearer-token-file", token_file,
            "--web.listen-address", f"127.0.0.1:{exporter_port}", "--poll-interval", "1s",
            *exporter_args])
        processes.append(exporter)
        exporter_url = f"http://127.0.0.1:{exporter_port}"

        def exporter_polled():
            exporter.check_running()
            status, body = http_get(exporter_url + "/metrics")
            return status == 200 and 'kube_scheduler_up{' in body and body

        def exporter_healthy():
            exporter.check_running()
            return http_get(exporter_url + "/healthz")[0] == 200

        wait_until(exporter_healthy, 60, "exporter /healthz")
        exposition = wait_until(exporter_polled, 60, "exporter /metrics with kube_scheduler_up")

        prometheus = Prometheus(work / "prometheus", scrape_targets=[f"127.0.0.1:{exporter_port}"])
        processes.append(prometheus.process)

        def enough_samples():
            answer = prometheus.query(f'min(count_over_time(kube_scheduler_up{{job="{EXPORTER_JOB}"}}[1m]))')
            return has_data(answer) and float(answer["data"]["result"][0]["value"][1]) >= MIN_SAMPLES

        wait_until(enough_samples, 90, f"{MIN_SAMPLES} scraped samples of kube_scheduler_up")
        wait_until(lambda: loaded_rules(prometheus), 30, "rules evaluated once")
        yield {"prometheus": prometheus, "exposition": exposition, "token": token_file.read_text(),
               "processes": processes}
    finally:
        for process in reversed(processes):
            process.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A healthy kubeadm-like scheduler: the `default` capture, profiling on (upstream default)."""
    yield from run_stack(tmp_path_factory.mktemp("default"), ["--variant", "default"])


@pytest.fixture(scope="module")
def insecure_stack(tmp_path_factory):
    """A badly configured scheduler under load: /metrics open to anonymous users, a serving
    certificate 5 days from expiry, a legacy plain-HTTP port, growing latency histograms."""
    insecure_port = free_port()
    yield from run_stack(
        tmp_path_factory.mktemp("insecure"),
        ["--variant", "metrics-always-allowed", "--cert-valid-days", "5",
         "--insecure-port", str(insecure_port), "--load"],
        ["--check.insecure-port", str(insecure_port)])


@pytest.fixture(params=["stack", "insecure_stack"])
def any_stack(request):
    return request.getfixturevalue(request.param)


def metric_name(selector):
    return selector.split("{", 1)[0]


def serving_ca(cert_dir):
    """The certificate the exporter verifies the simulator with: the simulator's `ca.crt`
    (it signs `serving.crt`), else another CA it wrote, else its self-signed serving cert."""
    certificates = sorted(p for p in Path(cert_dir).rglob("*") if p.suffix in (".crt", ".pem")
                          and "BEGIN CERTIFICATE" in p.read_text(errors="replace"))
    assert certificates, f"the simulator wrote no certificate into {cert_dir}"
    exact = [p for p in certificates if p.name == "ca.crt"]
    authorities = [p for p in certificates if "ca" in p.stem.lower().replace("scheduler", "")
                   and "client" not in p.stem.lower()]
    return (exact or authorities or certificates)[0]


def resolved_variables(prometheus):
    """Evaluates the dashboard's query variables like Grafana does with `All` selected."""
    values = {"datasource": "prometheus"}
    for variable in dashboard_variables():
        if variable["type"] != "query":
            continue
        definition = substitute(variable["definition"], values)
        metric = definition[len("label_values("):definition.rindex(",")].strip()
        label = definition[definition.rindex(",") + 1:-1].strip()
        answer = prometheus.api(f"/api/v1/label/{label}/values", **{"match[]": metric})
        assert answer["status"] == "success", f"variable {variable['name']}: {answer.get('error')}"
        found = answer["data"]
        if variable["name"] in ("job", "target"):
            assert found, f"variable {variable['name']} ({definition}) lists no value"
        # Grafana's `All` with allValue `.*`; a concrete list is used where one exists so the
        # queries are exercised with real values.
        values[variable["name"]] = "(" + "|".join(found) + ")" if found else variable["allValue"]
    return values


def test_every_dashboard_query_answers(any_stack):
    prometheus = any_stack["prometheus"]
    variables = resolved_variables(prometheus)
    assert variables["job"] == f"({EXPORTER_JOB})"
    errors, empty, checked, without_series = [], [], 0, []
    for title, target in dashboard_targets():
        expr = substitute(target["expr"], variables)
        answer = query_answer(prometheus, target, expr)
        checked += 1
        if answer.get("status") != "success":
            errors.append(f"{title!r}: {answer.get('error')}\n    {expr}")
            continue
        if has_data(answer):
            continue
        # A panel must show data when every series it reads exists: then emptiness is a bug
        # in the query (wrong label, wrong name), not a metric this simulator variant lacks.
        missing = [s for s in selectors(expr) if not has_data(prometheus.query(s))]
        if not missing:
            empty.append(f"{title!r} returned no data although all its series exist:\n    {expr}")
        else:
            without_series.append(f"{title} (absent: {', '.join(sorted(set(map(metric_name, missing))))})")
    # Shown with `pytest -s`: which panels this simulator variant leaves empty, and why.
    print(f"\n{checked} panel queries, {checked - len(without_series)} with data; "
          f"empty because the series do not exist:\n  " + "\n  ".join(without_series))
    assert checked > 30
    assert not errors, "queries failed:\n" + "\n".join(errors)
    assert not empty, "\n".join(empty)


def test_core_panels_have_data(stack):
    """The families every poll produces must reach the dashboard, whatever the variant."""
    prometheus = stack["prometheus"]
    for family in ("kube_scheduler_up", "kube_scheduler_poll_duration_seconds",
                   "kube_scheduler_health_status", "kube_scheduler_health_check_status",
                   "kube_scheduler_security_check", "kube_scheduler_tls_cert_not_after_timestamp_seconds"):
        assert has_data(prometheus.query(f'{family}{{job="{EXPORTER_JOB}"}}')), f"{family} missing"
    assert has_data(prometheus.query(f'up{{job="{EXPORTER_JOB}"}} == 1'))
    assert has_data(prometheus.query(f'process_resident_memory_bytes{{job="{EXPORTER_JOB}"}}'))


def test_every_rule_evaluates(any_stack):
    prometheus = any_stack["prometheus"]
    failures = [f"{name}: {answer.get('error')}" for name, expr in rule_expressions()
                if (answer := prometheus.query(expr)).get("status") != "success"]
    assert not failures, "\n".join(failures)
    rules = loaded_rules(prometheus)
    assert all(rule["health"] == "ok" for rule in rules), [
        (rule["name"], rule.get("lastError")) for rule in rules if rule["health"] != "ok"]


def test_healthy_simulator_raises_no_availability_alert(stack):
    """Against the default variant (a healthy, leading scheduler) the availability alerts'
    conditions are false, so they are not even pending."""
    prometheus = stack["prometheus"]
    alerts = prometheus.api("/api/v1/alerts")["data"]["alerts"]
    names = {alert["labels"]["alertname"] for alert in alerts}
    for quiet in ("KubeSchedulerTargetUnreachable", "KubeSchedulerExporterDown",
                  "KubeSchedulerHealthCheckFailing", "KubeSchedulerHealthEndpointFailing"):
        assert quiet not in names, f"{quiet} is {sorted(names)} against a healthy simulator"


def test_token_never_reaches_prometheus_or_logs(any_stack):
    token = any_stack["token"].strip()
    assert token not in any_stack["exposition"]
    for process in any_stack["processes"]:
        assert token not in process.output(last=100000), f"{process.name} logged the bearer token"


def test_default_variant_findings_reach_the_alerts(stack):
    """The captured kubeadm-like scheduler runs with profiling on (upstream default): the
    exporter must see it and the rules must pick it up (pending, as `for:` has not elapsed)."""
    prometheus = stack["prometheus"]

    def active():
        alerts = prometheus.api("/api/v1/alerts")["data"]["alerts"]
        return {(a["labels"]["alertname"], a["labels"].get("cis_id", "")): a["state"] for a in alerts}

    alerts = wait_until(lambda: (found := active()) and ("KubeSchedulerProfilingEnabled", "") in found
                        and found, 30, "KubeSchedulerProfilingEnabled to become active")
    assert alerts[("KubeSchedulerProfilingEnabled", "")] in ("pending", "firing")
    assert alerts.get(("KubeSchedulerSecurityCheckFailing", "1.4.1")) in ("pending", "firing"), alerts


MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


def test_dashboard_and_rule_labels_exist_on_their_metrics(any_stack):
    """Catches label typos that an empty answer alone would excuse: every label a query
    requires (a matcher that cannot match an absent label) must exist on that metric when the
    metric itself exists."""
    prometheus = any_stack["prometheus"]
    variables = resolved_variables(prometheus)
    labels_of = {}
    queries = [(title, substitute(t["expr"], variables)) for title, t in dashboard_targets()]
    queries += list(rule_expressions())
    problems = []
    for title, expr in queries:
        for selector in selectors(expr):
            name = metric_name(selector)
            if name not in labels_of:
                series = prometheus.api("/api/v1/series", **{"match[]": name})["data"]
                labels_of[name] = {label for s in series for label in s}
            if not labels_of[name]:
                continue  # this variant does not produce the metric at all
            for label, op, value in MATCHER.findall(selector[len(name):]):
                pattern = value.replace("\\\\", "\\")
                requires_label = ((op == "=" and value != "")
                                  or (op == "=~" and re.fullmatch(pattern, "") is None))
                if requires_label and label not in labels_of[name]:
                    problems.append(f"{title}: {name} has no label {label!r} ({selector})")
    assert not problems, "\n".join(sorted(set(problems)))


def active_alerts(prometheus):
    return {(a["labels"]["alertname"], a["labels"].get("path", "")): a["state"]
            for a in prometheus.api("/api/v1/alerts")["data"]["alerts"]}


def test_insecure_scheduler_raises_its_security_alerts(insecure_stack):
    prometheus = insecure_stack["prometheus"]
    expected = {("KubeSchedulerAnonymousAccess", "/metrics"), ("KubeSchedulerInsecurePortOpen", ""),
                ("KubeSchedulerTLSCertificateExpiringCritical", "")}
    alerts = wait_until(lambda: (found := active_alerts(prometheus)) and expected <= set(found) and found,
                        30, f"alerts {sorted(expected)} to become active")
    assert all(alerts[key] in ("pending", "firing") for key in expected)
    # 5 days left is the critical alert's range, not the warning's.
    assert ("KubeSchedulerTLSCertificateExpiringSoon", "") not in alerts
    assert ("KubeSchedulerAnonymousAccess", "/healthz") not in alerts
    assert ("KubeSchedulerTargetUnreachable", "") not in alerts


def test_healthy_scheduler_raises_none_of_those(stack):
    alerts = active_alerts(stack["prometheus"])
    for name in ("KubeSchedulerAnonymousAccess", "KubeSchedulerInsecurePortOpen",
                 "KubeSchedulerTLSCertificateExpiringCritical", "KubeSchedulerTLSCertificateExpired",
                 "KubeSchedulerAuthenticationNotEnforced", "KubeSchedulerNonLoopbackBind"):
        assert not any(key[0] == name for key in alerts), f"{name} active against the default capture"
