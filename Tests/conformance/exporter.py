"""The real exporter binary as a child process, and a reader of what it serves."""
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from controlplane import Child, free_port

REPO = Path(__file__).resolve().parents[2]


def exporter_binary():
    directory = os.environ.get("KSE_BIN_DIR") or subprocess.run(
        ["swift", "build", "--show-bin-path"], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    return Path(directory) / "kube-scheduler-exporter"


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_samples(text):
    """[(name, {label: value}, float)] of a text-format body; comments skipped."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if not match:
            raise ValueError(f"unparsable line: {line!r}")
        labels = {k: v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\") for k, v in _LABEL.findall(match.group(2) or "")}
        samples.append((match.group(1), labels, float(match.group(3))))
    return samples


class Scrape:
    def __init__(self, text):
        self.text = text
        self.samples = parse_samples(text)

    def values(self, name, **labels):
        return [(l, v) for n, l, v in self.samples if n == name and all(l.get(k) == w for k, w in labels.items())]

    def value(self, name, **labels):
        found = self.values(name, **labels)
        return found[0][1] if len(found) == 1 else None

    def verdicts(self, target=None):
        """{check: status} from kube_scheduler_security_check (the status whose gauge is 1)."""
        result = {}
        for labels, value in self.values("kube_scheduler_security_check"):
            if value == 1 and (target is None or labels.get("target") == target):
                result[labels["check"]] = labels["status"]
        return result

    def families(self):
        return {n for n, _, _ in self.samples}


class Exporter:
    """kube-scheduler-exporter with a YAML config of targets, on a free loopback port."""

    def __init__(self, workdir, targets, name="exporter", extra_args=(), global_config=None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.config_path = self.workdir / f"{name}.yml"
        config = {"global": global_config or {"poll_interval": "1s", "timeout": "3s"}, "targets": targets}
        self.config_path.write_text(yaml.safe_dump(config))
        self.child = Child(name, [exporter_binary(), "--config.file", self.config_path,
                                  "--web.listen-address", f"127.0.0.1:{self.port}", "--log.format", "json",
                                  *extra_args], self.workdir)
        self._wait_listening()

    def _wait_listening(self):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not self.child.running():
                raise RuntimeError(f"exporter exited ({self.child.proc.returncode}):\n{self.child.tail()}")
            try:
                self.get("/healthz")
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"exporter not listening:\n{self.child.tail()}")

    def get(self, path, headers=None, timeout=10):
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace")

    def scrape(self):
        status, text = self.get("/metrics")
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        return Scrape(text)

    def polls(self, target):
        return self.scrape().value("kube_scheduler_polls_total", target=target) or 0

    def wait(self, condition, timeout=60, what="a condition", interval=0.5):
        """Scrapes until condition(scrape) is truthy; returns that scrape. Raises AssertionError with
        the last scrape's verdicts on timeout, so a failure shows what the exporter said."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not self.child.running():
                raise AssertionError(f"exporter exited:\n{self.child.tail()}")
            last = self.scrape()
            if condition(last):
                return last
            time.sleep(interval)
        shown = last.verdicts() if last else None
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; verdicts: {shown}\n{self.child.tail(15)}")

    def wait_fresh_poll(self, target, after=None, timeout=60):
        """Waits for a poll cycle that started after now (or after `after` polls), so what follows
        reflects the scheduler as it is now."""
        start = self.polls(target) if after is None else after
        return self.wait(lambda s: (s.value("kube_scheduler_polls_total", target=target) or 0) >= start + 2,
                         timeout, f"two new polls of {target}")

    def wait_verdicts(self, expected, target, timeout=60):
        def holds(scrape):
            verdicts = scrape.verdicts(target)
            return all(verdicts.get(check) == status for check, status in expected.items())
        return self.wait(holds, timeout, f"verdicts {expected}")

    def log_records(self):
        import json
        records = []
        for line in self.child.log_path.read_text(errors="replace").splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                pass
        return records

    def stop(self):
        self.child.stop()
