"""The image users get, run as the DaemonSet runs it: read-only root filesystem, the DaemonSet's
user, every capability dropped, host network, the token and CA mounted read-only. Scraped from
outside the container, then stopped with SIGTERM: it must exit 0 within the grace period.

Runs when KSE_IMAGE names an image (scripts/test builds one with scripts/image); skipped otherwise."""
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from promstack import Process, free_port, http_get, wait_until

REPO = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("KSE_IMAGE", "")
BIN_DIR = Path(os.environ.get("KSE_BIN_DIR", REPO / ".build" / "debug"))
PODMAN = ["podman", "--runtime", "runc"]
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
GRACE_SECONDS = 10

pytestmark = pytest.mark.skipif(not IMAGE or not shutil.which("podman"),
                                reason="no KSE_IMAGE (scripts/image builds one) or no podman")


def daemonset():
    return yaml.safe_load((REPO / "Docker" / "kubernetes" / "daemonset.yaml").read_text())


@pytest.fixture
def simulator(tmp_path):
    token = tmp_path / "token"
    token.write_text("container-test-token-" + os.urandom(8).hex())
    process = Process("simulator", [BIN_DIR / "scheduler-simulator", "--variant", "default", "--secure-port", "0",
                                    "--cert-dir", tmp_path / "pki", "--token-file", token])
    url = process.wait_for_line(r"https://127\.0\.0\.1:\d+", 60).group(0)
    yield url, token, tmp_path / "pki" / "ca.crt"
    process.stop()


def test_image_runs_as_the_daemonset_runs_it(simulator, tmp_path):
    url, token, ca = simulator
    spec = daemonset()["spec"]["template"]["spec"]
    container = spec["containers"][0]
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True and context["capabilities"]["drop"] == ["ALL"]
    user = f"{context.get('runAsUser', spec['securityContext']['runAsUser'])}:{spec['securityContext']['runAsGroup']}"
    port = free_port()
    name = f"kse-test-{os.getpid()}-{port}"
    mounts = "/var/run/secrets/kube-scheduler-exporter"
    run = subprocess.run(PODMAN + ["run", "-d", "--name", name, *LIMITS, "--read-only", "--network", "host",
                                   "--user", user, "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
                                   "-v", f"{token}:{mounts}/token:ro", "-v", f"{ca}:{mounts}/ca.crt:ro",
                                   IMAGE, "--target", url, "--bearer-token-file", f"{mounts}/token", "--ca-file", f"{mounts}/ca.crt",
                                   "--web.listen-address", f"127.0.0.1:{port}", "--poll-interval", "1s",
                                   "--check.nonloopback-address", "127.0.0.2"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    try:
        def scraped_up():
            status, body = http_get(f"http://127.0.0.1:{port}/metrics")
            return status == 200 and 'kube_scheduler_up{target="default"} 1' in body and body
        body = wait_until(scraped_up, 60, "the containerised exporter to report the simulator up")
        assert 'kube_scheduler_security_check{target="default",check="profiling_disabled"' in body
        inspect = subprocess.run(PODMAN + ["inspect", "--format", "{{.State.Running}} {{.HostConfig.ReadonlyRootfs}}", name],
                                 capture_output=True, text=True, timeout=60)
        assert inspect.stdout.split() == ["true", "true"], inspect.stdout
        started = time.monotonic()
        stop = subprocess.run(PODMAN + ["stop", "--time", str(GRACE_SECONDS), name], capture_output=True, text=True, timeout=60)
        stopped_after = time.monotonic() - started
        assert stop.returncode == 0, stop.stderr
        state = subprocess.run(PODMAN + ["inspect", "--format", "{{.State.ExitCode}}", name], capture_output=True, text=True, timeout=60)
        # podman stop sends SIGKILL after the grace period: exit code 137 would show that.
        assert state.stdout.strip() == "0", f"exit code {state.stdout.strip()} after {stopped_after:.1f}s"
        print(f"container stopped cleanly {stopped_after:.2f}s after SIGTERM")
    finally:
        logs = subprocess.run(PODMAN + ["logs", name], capture_output=True, text=True, timeout=60)
        print(logs.stdout[-2000:], logs.stderr[-2000:])
        subprocess.run(PODMAN + ["rm", "-f", name], capture_output=True, timeout=60)
