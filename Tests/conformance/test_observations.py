"""Health per check, build info, leadership, latency quantiles and the passthrough, compared with
what the real scheduler serves (and, for quantiles, with a real Prometheus over the same data)."""
import math
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "artifacts"))

from exporter import parse_samples  # noqa: E402
from promstack import Prometheus  # noqa: E402

HEALTH_LINE = re.compile(r"^\[([+-])\]([^ ]+) (ok|failed.*)$")


def verbose_checks(body):
    checks = {}
    for line in body.decode().splitlines():
        match = HEALTH_LINE.match(line)
        if match:
            checks[match.group(2)] = 1.0 if match.group(1) == "+" else 0.0
    return checks


def test_health_per_check_equals_the_real_verbose_bodies(run):
    scheduler = run.scheduler([])
    token = run.plane.tokens["exporter"]
    exporter = run.exporter(run.target(scheduler))
    exporter.wait_fresh_poll("real")
    scrape = exporter.scrape()
    for endpoint in ("healthz", "livez", "readyz"):
        status, _, body = scheduler.get(f"/{endpoint}?verbose", token=token)
        assert status == 200
        real = verbose_checks(body)
        assert real, f"no checks in the real /{endpoint}?verbose"
        ours = {labels["check"]: value for labels, value in
                scrape.values("kube_scheduler_health_check_status", target="real", endpoint=endpoint)}
        assert ours == real, endpoint
        assert scrape.value("kube_scheduler_health_status", target="real", endpoint=endpoint) == 1


def test_build_info_is_the_real_version(run):
    scheduler = run.scheduler([], leader_elect=False)
    exporter = run.exporter(run.target(scheduler))
    scrape = exporter.wait(lambda s: s.values("kube_scheduler_build_info", target="real"), what="build info")
    (labels, value), = scrape.values("kube_scheduler_build_info", target="real")
    assert value == 1
    assert labels["git_version"] == run.plane.versions["kube-scheduler"]


LEASE = ["--leader-elect-lease-duration=6s", "--leader-elect-renew-deadline=4s", "--leader-elect-retry-period=1s"]
LEASE_SECONDS, RETRY_SECONDS = 6, 1


def test_leader_failover_between_two_schedulers(run):
    first = run.scheduler(LEASE, name="leader-a")
    second = run.scheduler(LEASE, name="leader-b", wait_leader=False, keep_lease=True)
    exporter = run.exporter(run.target(first, name="a"), run.target(second, name="b"))
    exporter.wait(lambda s: s.value("kube_scheduler_leader", target="a") == 1
                  and s.value("kube_scheduler_leader", target="b") == 0, what="a leads, b waits")
    killed_at = time.monotonic()
    first.kill()  # no lease release: the successor must wait for the lease to expire
    # The successor may take the lease one lease period after the last renewal (at most the
    # kill), plus one retry period; the exporter sees it on its next 1 s poll.
    bound = LEASE_SECONDS + RETRY_SECONDS + 3
    scrape = exporter.wait(lambda s: s.value("kube_scheduler_leader", target="b") == 1, timeout=bound,
                           what=f"b to lead within {bound}s of a's death", interval=0.2)
    moved_after = time.monotonic() - killed_at
    print(f"leadership moved {moved_after:.1f}s after the leader was killed (lease {LEASE_SECONDS}s)")
    scrape = exporter.wait(lambda s: s.value("kube_scheduler_up", target="a") == 0, what="a down")
    # A dead scheduler is not shown leading: its leader series is gone, not the last value.
    assert scrape.value("kube_scheduler_leader", target="a") != 1


def latency_prometheus(run, scheduler, exporter):
    pki = run.plane.pki
    host = scheduler.url.removeprefix("https://")
    return Prometheus(run.tmp / "prometheus", rule_files=(), scrape_configs=[
        {"job_name": "scheduler", "scheme": "https", "bearer_token_file": str(pki.path("exporter.token")),
         "tls_config": {"ca_file": str(pki.path("ca.crt"))}, "static_configs": [{"targets": [host]}]},
        {"job_name": "exporter", "static_configs": [{"targets": [f"127.0.0.1:{exporter.port}"]}]},
    ])


def instant(prometheus, expr):
    answer = prometheus.query(expr)
    assert answer["status"] == "success", answer
    return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in answer["data"]["result"]}


def test_latency_quantiles_equal_histogram_quantile_over_the_real_data(run):
    """Pods (27 schedulable, 3 that two plugins reject) scheduled by the real scheduler; the
    exporter's quantiles equal Prometheus's histogram_quantile over the scheduler's own
    histograms, scraped directly. The window covers the scheduler's whole life, so the
    exporter's windowed increase is the cumulative count Prometheus sees."""
    plane = run.plane
    scheduler = run.scheduler([])
    exporter = run.exporter(run.target(scheduler))
    exporter.wait_fresh_poll("real")
    healthy = exporter.scrape()
    assert healthy.value("kube_scheduler_unschedulable_pods", target="real") == 0, "a healthy scheduler reports 0, not nothing"
    prometheus = latency_prometheus(run, scheduler, exporter)
    prefix = f"lat{int(time.time())}"
    try:
        plane.create_pods(30, prefix, unschedulable=3)
        deadline = time.monotonic() + 60
        while plane.bound_pods(prefix) < 27 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert plane.bound_pods(prefix) == 27
        # Let the last attempts reach /metrics, the exporter's poll and two Prometheus scrapes.
        exporter.wait(lambda s: s.value("kube_scheduler_pending_pods", target="real", queue="unschedulable") == 3,
                      what="3 unschedulable pods in the queue")
        time.sleep(4)
        scrape = exporter.wait_fresh_poll("real")
        assert scrape.value("kube_scheduler_unschedulable_pods", target="real") == 3, \
            "each unschedulable pod counts once, although two plugins rejected it"
        families = {
            "attempt": ('scheduler_scheduling_attempt_duration_seconds_bucket{job="scheduler",result="scheduled"}', {"result": "scheduled"}),
            "pod_e2e": ('scheduler_pod_scheduling_sli_duration_seconds_bucket{job="scheduler"}', {}),
            "algorithm": ('scheduler_scheduling_algorithm_duration_seconds_bucket{job="scheduler"}', {}),
        }
        compared = 0
        for kind, (selector, extra) in families.items():
            for quantile in ("0.5", "0.9", "0.99"):
                theirs = instant(prometheus, f"histogram_quantile({quantile}, sum by (le) ({selector}))")
                assert len(theirs) == 1, (kind, theirs)
                expected = next(iter(theirs.values()))
                ours = scrape.value("kube_scheduler_scheduling_latency_seconds", target="real", kind=kind, quantile=quantile, **extra)
                assert ours is not None, (kind, quantile)
                assert math.isclose(ours, expected, rel_tol=1e-9, abs_tol=1e-12), (kind, quantile, ours, expected)
                compared += 1
        assert compared == 9
    finally:
        plane.delete_pods(prefix)
        prometheus.stop()


def family_blocks(text):
    """{family: (HELP line, TYPE line)} and {(name, labels): value} of a text-format body."""
    meta = {}
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            name = line.split(" ")[2]
            meta.setdefault(name, []).append(line)
    series = {(n, tuple(sorted(l.items()))): v for n, l, v in parse_samples(text)}
    return meta, series


def test_passthrough_equals_the_real_bodys_selected_families(run):
    scheduler = run.scheduler([])
    token = run.plane.tokens["exporter"]
    regex = "scheduler_.*|leader_election_master_status|kubernetes_build_info|workqueue_.*"
    exporter = run.exporter(run.target(scheduler), extra_args=["--passthrough.families", regex])
    exporter.wait_fresh_poll("real")
    before = scheduler.get("/metrics", token=token)[2].decode()
    status, ours = exporter.get("/scheduler/metrics?target=real")
    after = scheduler.get("/metrics", token=token)[2].decode()
    assert status == 200
    pattern = re.compile(f"^(?:{regex})$")
    real_meta, real_before = family_blocks(before)
    _, real_after = family_blocks(after)
    our_meta, our_series = family_blocks(ours)
    selected = {name for name in real_meta if pattern.match(name)}
    assert set(our_meta) == selected
    for name in selected:
        assert our_meta[name] == real_meta[name], name
    # Series identity is the same; values equal wherever the scheduler's own value held still
    # across the two direct fetches around ours.
    selected_before = {key for key in real_before if any(key[0] == f or key[0].startswith(f + "_") for f in selected)}
    assert set(our_series) == selected_before
    stable = [key for key in selected_before if real_before[key] == real_after.get(key)]
    assert len(stable) > 100
    for key in stable:
        assert our_series[key] == real_before[key], key
