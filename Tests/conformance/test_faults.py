"""Faults of a real control plane: the API server goes away, the scheduler dies and comes back,
the ServiceAccount token rotates, and the flagz delimiter changes with every scheduler start."""
import math
import os
import re
import time

# What the exporter derives from the scheduler's /metrics: none of it may outlive the scheduler.
DERIVED_FROM_METRICS = ("kube_scheduler_scheduling_latency_seconds", "kube_scheduler_schedule_attempts_rate",
                        "kube_scheduler_pending_pods", "kube_scheduler_unschedulable_pods",
                        "kube_scheduler_extension_point_latency_seconds", "kube_scheduler_preemption_attempts_rate")


def test_api_server_outage_never_flips_a_verdict(run):
    """While the API server is down the scheduler cannot review tokens: verdicts may turn
    unknown, never from pass to fail or back, and the reason shows in the poll metrics."""
    plane = run.plane
    scheduler = run.scheduler([], leader_elect=False)  # a leader would exit when its lease cannot be renewed
    exporter = run.exporter(run.target(scheduler))
    settled = exporter.wait(lambda s: s.value("kube_scheduler_up", target="real") == 1 and
                            "unknown" not in {v for k, v in s.verdicts("real").items()
                                              if k not in ("authorization_not_bypassed",) and not k.startswith("manifest")},
                            what="settled verdicts").verdicts("real")
    plane.stop_apiserver()
    try:
        seen_down = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            scrape = exporter.scrape()
            for check, status in scrape.verdicts("real").items():
                assert status in (settled[check], "unknown"), f"{check} flipped {settled[check]} -> {status} while the API server was down"
            if scrape.value("kube_scheduler_up", target="real") == 0:
                seen_down = scrape
            time.sleep(1)
        assert seen_down is not None, "the scheduler kept answering /metrics with the API server gone for 30 s"
        status = seen_down.value("kube_scheduler_endpoint_http_status", target="real", endpoint="metrics")
        assert status in (401, 403, 500, 503), status
        errors = seen_down.value("kube_scheduler_poll_errors_total", target="real", reason="http_status")
        assert errors and errors > 0
    finally:
        plane.start_apiserver()
    exporter.wait(lambda s: s.value("kube_scheduler_up", target="real") == 1 and
                  all(s.verdicts("real").get(k) == v for k, v in settled.items()), timeout=90,
                  what="the same verdicts once the API server is back")


def test_killed_scheduler_leaves_no_stale_numbers_and_restart_resets_counters(run):
    plane = run.plane
    scheduler = run.scheduler([], leader_elect=False)
    exporter = run.exporter(run.target(scheduler))
    prefix = f"kill{int(time.time())}"
    try:
        plane.create_pods(10, prefix, unschedulable=2)
        exporter.wait(lambda s: s.values("kube_scheduler_schedule_attempts_rate", target="real") and
                      s.value("kube_scheduler_pending_pods", target="real", queue="unschedulable") == 2,
                      what="latency and queue series of a working scheduler")
        first_start = exporter.scrape()
        scheduler.kill()
        down = exporter.wait(lambda s: s.value("kube_scheduler_up", target="real") == 0, what="up 0 after the kill")
        down = exporter.wait_fresh_poll("real")
        for family in DERIVED_FROM_METRICS:
            for labels, value in down.values(family, target="real"):
                assert math.isnan(value), f"{family}{labels} = {value} while the scheduler is dead"
        assert down.value("kube_scheduler_leader", target="real") in (None, 0)
        restarted = plane.start_scheduler([], leader_elect=False, port=scheduler.port, name=f"{scheduler.child.name}-again")
        run.schedulers.append(restarted)
        back = exporter.wait(lambda s: s.value("kube_scheduler_up", target="real") == 1 and
                             s.values("kube_scheduler_schedule_attempts_rate", target="real"), what="up again")
        back = exporter.wait_fresh_poll("real")
        for labels, value in back.values("kube_scheduler_schedule_attempts_rate", target="real"):
            assert value >= 0 and math.isfinite(value), (labels, value)
        assert first_start.values("kube_scheduler_polls_total", target="real")
    finally:
        plane.delete_pods(prefix)


def write_projected_token(directory, token):
    """Replaces the token the way the kubelet's atomic writer does: a new timestamped directory,
    then one rename of the `..data` symlink; `token` itself is a symlink into `..data`."""
    stamp = directory / f"..{time.time_ns()}"
    stamp.mkdir()
    (stamp / "token").write_text(token)
    link = directory / "..data_tmp"
    link.symlink_to(stamp.name)
    os.replace(link, directory / "..data")
    if not (directory / "token").is_symlink():
        (directory / "token").symlink_to("..data/token")


def test_rotated_service_account_token_is_picked_up(run):
    plane = run.plane
    namespace, name = "conformance-rotation", "exporter"
    plane.ensure_service_account(namespace, name)
    plane.ensure("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "conformance-rotation"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "conformance-exporter"},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]})
    secrets = f"/api/v1/namespaces/{namespace}/secrets"
    for secret in ("bound-old", "bound-new"):
        plane.api("DELETE", f"{secrets}/{secret}")
        plane.ensure(secrets, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": secret}, "type": "Opaque"})
    old = plane.create_token(namespace, name, bound_secret="bound-old")
    new = plane.create_token(namespace, name, bound_secret="bound-new")
    projected = run.tmp / "serviceaccount"
    projected.mkdir()
    write_projected_token(projected, old)
    scheduler = run.scheduler([], leader_elect=False)
    exporter = run.exporter(run.target(scheduler, token_file=projected / "token"))
    exporter.wait(lambda s: s.value("kube_scheduler_up", target="real") == 1, what="up with the first token")
    write_projected_token(projected, new)
    plane.api("DELETE", f"{secrets}/bound-old")  # revokes the first token
    # The scheduler caches token reviews for 10 s: after that the old token is refused for real.
    deadline = time.monotonic() + 60
    while scheduler.get("/metrics", token=old)[0] != 401:
        assert time.monotonic() < deadline, "the old token was never revoked"
        time.sleep(1)
    after = exporter.polls("real")
    scrape = exporter.wait_fresh_poll("real", after=after)
    assert scrape.value("kube_scheduler_up", target="real") == 1
    assert scrape.value("kube_scheduler_endpoint_http_status", target="real", endpoint="metrics") == 200


FLAGZ_LINE = re.compile(rb"^authorization-always-allow-paths(: |:|=| )", re.M)


def test_authorization_bypass_from_flagz_across_restarts(run):
    """Upstream's flagz picks its name/value delimiter at random per process; restart the real
    scheduler until every delimiter has been met, and the verdict must hold on each."""
    plane = run.plane
    token = plane.tokens["exporter"]
    flags = ["--feature-gates=ComponentFlagz=true", "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics"]
    scheduler = run.scheduler(flags, leader_elect=False)
    exporter = run.exporter(run.target(scheduler))
    seen = {}
    for restart in range(40):
        status, _, body = scheduler.get("/flagz", token=token)
        assert status == 200
        match = FLAGZ_LINE.search(body)
        assert match, body[:400]
        delimiter = match.group(1).decode()
        exporter.wait_fresh_poll("real")
        exporter.wait_verdicts({"authorization_not_bypassed": "fail"}, "real", timeout=30)
        seen[delimiter] = seen.get(delimiter, 0) + 1
        if len(seen) == 4:
            break
        plane.stop_scheduler(scheduler)
        run.schedulers.remove(scheduler)
        scheduler = run.scheduler(flags, leader_elect=False, port=scheduler.port, name=f"flagz-{restart}")
    print(f"flagz delimiters met over {sum(seen.values())} scheduler starts: {seen}")
    assert set(seen) == {": ", ":", "=", " "}


def test_restarted_scheduler_is_asked_again_at_once(run):
    """configz, pprof and the other rarely changing answers are kept for evidence_interval (5m by
    default), but a new scheduler process (another process_start_time_seconds) is asked at once."""
    plane = run.plane
    scheduler = run.scheduler([], leader_elect=False)
    exporter = run.exporter(run.target(scheduler))
    exporter.wait_verdicts({"profiling_disabled": "fail"}, "real")
    plane.stop_scheduler(scheduler)
    run.schedulers.remove(scheduler)
    run.scheduler(["--profiling=false"], leader_elect=False, port=scheduler.port, name="profiling-off-again")
    scrape = exporter.wait_verdicts({"profiling_disabled": "pass"}, "real", timeout=30)
    age = scrape.value("kube_scheduler_evidence_age_seconds", target="real", endpoint="configz", credential="exporter")
    assert age is not None and age < 30
