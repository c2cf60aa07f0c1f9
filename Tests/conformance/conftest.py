"""Fixtures of the conformance suite: one real control plane per session, a scheduler and an
exporter per case. Without binaries the suite is skipped with one line, except in CI
(`CI=true`), where missing binaries fail the run."""
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from controlplane import ControlPlane, find_assets, free_port  # noqa: E402
from exporter import Exporter  # noqa: E402

ASSETS, MISSING = find_assets()


def pytest_collection_modifyitems(config, items):
    if ASSETS is not None:
        return
    if os.environ.get("CI") == "true":
        raise pytest.UsageError(f"conformance suite: no control-plane binaries in CI: {MISSING}")
    skip = pytest.mark.skip(reason=f"conformance suite skipped: {MISSING}")
    for item in items:
        item.add_marker(skip)


@pytest.fixture(scope="session")
def plane(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("control-plane")
    control_plane = ControlPlane(ASSETS, workdir)
    try:
        control_plane.start()
        yield control_plane
    finally:
        control_plane.stop()


@pytest.fixture
def run(plane, tmp_path):
    """Starts schedulers and exporters for one case and stops them all at its end."""
    case = Case(plane, tmp_path)
    try:
        yield case
    finally:
        case.close()


class Case:
    def __init__(self, plane, tmp_path):
        self.plane, self.tmp = plane, tmp_path
        self.exporters, self.schedulers = [], []

    def scheduler(self, flags=(), **kwargs):
        scheduler = self.plane.start_scheduler(flags, **kwargs)
        self.schedulers.append(scheduler)
        return scheduler

    def target(self, scheduler, name="real", credential="token", token_file=None, **security):
        """The exporter's config for one scheduler: the exporter identity's token (or client
        certificate), the PKI's CA, 127.0.0.2 as the node's non-loopback address and a closed
        legacy port unless given."""
        pki = self.plane.pki
        target = {"name": name, "url": scheduler.url, "tls_config": {"ca_file": str(pki.path("ca.crt"))}}
        if credential == "token":
            target["bearer_token_file"] = str(token_file or pki.path("exporter.token"))
        elif credential == "cert":
            target["tls_config"].update(cert_file=str(pki.path("exporter-client.crt")), key_file=str(pki.path("exporter-client.key")))
        defaults = {"insecure_port": free_port(), "nonloopback_addresses": ["127.0.0.2"],
                    "manifest_file": str(self.tmp / "absent-manifest.yaml")}
        defaults.update(security)
        target["security"] = defaults
        return target

    def exporter(self, *targets, **kwargs):
        exporter = Exporter(self.tmp / f"exporter-{len(self.exporters)}", list(targets), **kwargs)
        self.exporters.append(exporter)
        return exporter

    def close(self):
        for exporter in self.exporters:
            exporter.stop()
        for scheduler in self.schedulers:
            self.plane.stop_scheduler(scheduler)
