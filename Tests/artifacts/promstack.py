"""Helpers for the artifact tests: run real processes (Prometheus, the simulator, the
exporter) on loopback and read the dashboard's and rules' queries."""
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "Dashboards" / "kube-scheduler-exporter.json"
RULES = REPO / "Alerts" / "kube-scheduler-exporter.rules.yml"
EXPORTER_JOB = "kube-scheduler-exporter"

# Grafana's built-in interval variables, replaced with values that fit a 1s scrape interval.
BUILTIN_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "5m",
                     "${__rate_interval}": "1m", "${__interval}": "15s", "${__range}": "5m"}


def free_port(host="127.0.0.1"):
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def http_get(url, timeout=5.0):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read().decode("utf-8", "replace")


def wait_until(condition, timeout, what, interval=0.25):
    """Polls condition() until it returns a truthy value; raises with `what` on timeout."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as error:  # the process may not be listening yet
            last_error = error
            if isinstance(error, RuntimeError):  # a process died: waiting longer cannot help
                raise
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what} (last error: {last_error})")


class Process:
    """A child process whose combined output is collected by a thread, for diagnostics and for
    waiting on a line it prints."""

    def __init__(self, name, argv, cwd=None):
        self.name, self.argv = name, [str(a) for a in argv]
        self.lines, self._cond = [], threading.Condition()
        self.proc = subprocess.Popen(self.argv, cwd=cwd, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for_line(self, pattern, timeout):
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    match = regex.search(line)
                    if match:
                        return match
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise RuntimeError(f"{self.name} exited ({self.proc.returncode}):\n{self.output()}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{self.name} printed no line matching {pattern!r}:\n{self.output()}")
                self._cond.wait(min(remaining, 0.5))

    def check_running(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited ({self.proc.returncode}):\n{self.output()}")

    def output(self, last=60):
        with self._cond:
            return "\n".join(self.lines[-last:])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


class Prometheus:
    """A real Prometheus on 127.0.0.1 with a temporary data dir, 1s scrape and rule intervals."""

    def __init__(self, workdir, scrape_targets=(), rule_files=(RULES,), scrape_configs=None):
        binary = shutil.which("prometheus")
        if binary is None:
            raise FileNotFoundError("prometheus not on PATH (apt-get install -y prometheus)")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(path) for path in rule_files],
            "scrape_configs": scrape_configs or [{"job_name": EXPORTER_JOB,
                                                  "static_configs": [{"targets": list(scrape_targets)}]}],
        }
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.process = Process("prometheus", [
            binary, f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'tsdb'}", f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn", "--storage.tsdb.retention.time=1h",
        ])
        wait_until(lambda: self._ready(), 60, "Prometheus /-/ready")

    def _ready(self):
        self.process.check_running()
        return http_get(self.base + "/-/ready")[0] == 200

    def api(self, path, **params):
        """GET an API path; returns the decoded JSON even for 4xx answers (they carry `error`)."""
        url = f"{self.base}{path}?{urllib.parse.urlencode(params, doseq=True)}"
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            return json.loads(error.read())

    def query(self, expr):
        return self.api("/api/v1/query", query=expr)

    def query_range(self, expr, seconds=30, step=1):
        end = time.time()
        return self.api("/api/v1/query_range", query=expr, start=end - seconds, end=end, step=step)

    def stop(self):
        self.process.stop()


def has_data(answer):
    return answer.get("status") == "success" and bool(answer["data"]["result"])


def substitute(expr, variables):
    for name in sorted(BUILTIN_VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, BUILTIN_VARIABLES[name])
    for name, value in variables.items():
        expr = expr.replace("${" + name + "}", value).replace("$" + name, value)
    return expr


def dashboard_targets():
    """Yields (panel title, target dict) for every query of every panel."""
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target
        for inner in panel.get("panels", []):  # collapsed rows keep their panels inside
            for target in inner.get("targets", []):
                yield inner["title"], target


def dashboard_variables():
    return json.loads(DASHBOARD.read_text())["templating"]["list"]


def rule_expressions():
    """Yields (rule name, expr) for every alerting and recording rule."""
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            yield rule.get("alert") or rule["record"], rule["expr"]


_GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_AGGREGATIONS = {"sum", "min", "max", "avg", "count", "group", "stddev", "stdvar", "topk",
                 "bottomk", "quantile", "count_values", "limitk", "limit_ratio"}
_KEYWORDS = _GROUPING | _AGGREGATIONS | {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"}


def selectors(expr):
    """The instant vector selectors (`name{matchers}`) of a PromQL expression, range and
    offset stripped. A small scanner, not a parser: enough for the queries in this repo."""
    found, i, n = [], 0, len(expr)
    while i < n:
        char = expr[i]
        if char in "\"'`":
            end = expr.index(char, i + 1)
            while expr[end - 1] == "\\":
                end = expr.index(char, end + 1)
            i = end + 1
        elif char == "[":
            i = expr.index("]", i) + 1
        elif char.isdigit() or (char == "." and i + 1 < n and expr[i + 1].isdigit()):
            while i < n and (expr[i].isalnum() or expr[i] in "._"):
                i += 1
        elif char.isalpha() or char in "_:":
            start = i
            while i < n and (expr[i].isalnum() or expr[i] in "_:"):
                i += 1
            name = expr[start:i]
            rest = expr[i:].lstrip()
            if name in _GROUPING and rest.startswith("("):
                i = expr.index(")", i) + 1
            elif name in _KEYWORDS or rest.startswith("("):
                continue
            else:
                if rest.startswith("{"):
                    i = expr.index("{", i)
                    depth_end = i
                    in_string = None
                    while True:
                        c = expr[depth_end]
                        if in_string:
                            if c == "\\":
                                depth_end += 1
                            elif c == in_string:
                                in_string = None
                        elif c in "\"'`":
                            in_string = c
                        elif c == "}":
                            break
                        depth_end += 1
                    found.append(name + expr[i:depth_end + 1])
                    i = depth_end + 1
                else:
                    found.append(name)
        else:
            i += 1
    return found
