"""Process plumbing shared by the benchmark and soak scripts: build, start the simulator and the
exporter on loopback, read /proc, scrape, and tear everything down on exit.

Every process started here is tracked and killed (by its own pid) when the script exits, even on
Ctrl-C or an exception, so a failed run leaves nothing listening.
"""

import atexit
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

_children: list[subprocess.Popen] = []
_workdirs: list[tempfile.TemporaryDirectory] = []


def _cleanup() -> None:
    for child in reversed(_children):
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + 5
    for child in reversed(_children):
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    for workdir in _workdirs:
        workdir.cleanup()


atexit.register(_cleanup)
# SIGTERM/SIGINT become SystemExit so atexit runs and the children are stopped.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
signal.signal(signal.SIGINT, lambda *_: sys.exit(130))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def workdir() -> str:
    directory = tempfile.TemporaryDirectory(prefix="kse-bench-")
    _workdirs.append(directory)
    return directory.name


def release_bin(products=("kube-scheduler-exporter", "scheduler-simulator")) -> str:
    """Builds the products in release mode (incremental: a no-op when up to date) and returns a bin
    dir with both. The exporter is built as the image ships it, with the Swift runtime linked
    statically (its own scratch path, so it does not evict the dynamic build); the simulator as usual.
    KSE_BIN_DIR names a directory of already built binaries instead (e.g. a copy kept steady while
    the tree is rebuilt during a long soak)."""
    if os.environ.get("KSE_BIN_DIR"):
        return os.environ["KSE_BIN_DIR"]
    bin_dir = os.path.join(ROOT, ".build", "bench-bin")
    os.makedirs(bin_dir, exist_ok=True)
    for product in products:
        flags = SHIPPED_EXPORTER_FLAGS if product == "kube-scheduler-exporter" else []
        subprocess.run(["swift", "build", "-c", "release", *flags, "--product", product], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        built = subprocess.run(["swift", "build", "-c", "release", *flags, "--show-bin-path"], cwd=ROOT, check=True,
                               capture_output=True, text=True).stdout.strip()
        link = os.path.join(bin_dir, product)
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(os.path.join(built, product), link)
    return bin_dir


# The Dockerfile's (and scripts/test's) build of the exporter.
SHIPPED_EXPORTER_FLAGS = ["--static-swift-stdlib", "--scratch-path", os.path.join(ROOT, ".build", "static")]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def spawn(args: list[str], stdout_path: str, stderr_path: str) -> subprocess.Popen:
    child = subprocess.Popen(args, stdout=open(stdout_path, "wb"), stderr=open(stderr_path, "wb"),
                             stdin=subprocess.DEVNULL)
    _children.append(child)
    return child


def stop(child: subprocess.Popen) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


class Simulator:
    """One scheduler-simulator on an ephemeral loopback port with a generated CA and token."""

    def __init__(self, bin_dir: str, directory: str, extra: list[str] = (), name: str = "simulator"):
        self.directory = directory
        self.token_file = os.path.join(directory, f"{name}.token")
        with open(self.token_file, "w") as handle:
            handle.write(secrets.token_urlsafe(24))
        self.pki = os.path.join(directory, f"{name}-pki")
        out = os.path.join(directory, f"{name}.out")
        self.process = spawn([os.path.join(bin_dir, "scheduler-simulator"), "--variant", "default",
                              "--bind-address", "127.0.0.1", "--secure-port", "0", "--cert-dir", self.pki,
                              "--token-file", self.token_file, *extra],
                             out, os.path.join(directory, f"{name}.err"))
        self.url = _wait_for(lambda: _first_match(out, r"https://127\.0\.0\.1:\d+"), self.process, "simulator")
        self.ca_file = os.path.join(self.pki, "ca.crt")


class Exporter:
    """One kube-scheduler-exporter with a YAML config of `targets` (name, Simulator) on a loopback port."""

    def __init__(self, bin_dir: str, directory: str, targets: list[tuple[str, "Simulator"]], interval: str,
                 extra: list[str] = ()):
        self.port = free_port()
        config = os.path.join(directory, "exporter.yaml")
        with open(config, "w") as handle:
            handle.write(f"global:\n  poll_interval: {interval}\n  timeout: 10s\ntargets:\n")
            for name, simulator in targets:
                handle.write(
                    f"  - name: {name}\n    url: {simulator.url}\n    bearer_token_file: {simulator.token_file}\n"
                    f"    tls_config: {{ca_file: {simulator.ca_file}}}\n"
                    # Nothing may probe a non-loopback address or a legacy port from a benchmark.
                    "    security: {insecure_port: 0, nonloopback_addresses: []}\n")
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = spawn([os.path.join(bin_dir, "kube-scheduler-exporter"), "--config.file", config,
                              "--web.listen-address", f"127.0.0.1:{self.port}", "--log.level", "warn", *extra],
                             os.path.join(directory, "exporter.out"), os.path.join(directory, "exporter.err"))
        _wait_for(lambda: _answers(self.url + "/healthz"), self.process, "exporter")
        self.pid = self.process.pid

    def scrape(self, path: str = "/metrics") -> str:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return response.read().decode()


def _first_match(path: str, pattern: str):
    try:
        with open(path) as handle:
            found = re.search(pattern, handle.read())
            return found.group(0) if found else None
    except FileNotFoundError:
        return None


def _answers(url: str):
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200 or None
    except OSError:
        return None


def _wait_for(probe, process: subprocess.Popen, what: str, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} before it was ready")
        time.sleep(0.05)
    raise RuntimeError(f"{what} not ready after {seconds} s")


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (all threads) from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as handle:
        # The command name may hold spaces; fields after it are space-separated.
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as handle:
        return int(handle.read().split()[1]) * PAGE_SIZE


def rss_split(pid: int) -> tuple[int, int]:
    """(anonymous, file-backed) resident bytes: heap and stacks vs mapped binary and libraries."""
    fields = {}
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            name, _, value = line.partition(":")
            fields[name] = value.split()
    return int(fields["RssAnon"][0]) * 1024, int(fields["RssFile"][0]) * 1024


def run_queue_wait_seconds(pid: int) -> float:
    """Time the process's threads spent runnable but waiting for a core (/proc/PID/task/*/schedstat,
    second field; needs schedstats, which Debian kernels have)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as handle:
                total += int(handle.read().split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread that ended meanwhile
    return total / 1e9


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def samples(text: str, family: str) -> dict[str, float]:
    """Values of one family's samples keyed by their `target` label (the exporter's own output)."""
    values = {}
    for line in text.splitlines():
        if line.startswith(family + "{") or line.startswith(family + " "):
            match = re.search(r'target="([^"]*)"', line)
            values[match.group(1) if match else ""] = float(line.rsplit(" ", 1)[1])
    return values


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (x, y) points; 0 with fewer than two points."""
    if len(points) < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    denominator = sum((x - mean_x) ** 2 for x, _ in points)
    if denominator == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / denominator


def machine() -> str:
    model = "unknown CPU"
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as handle:
        total_kb = int(handle.readline().split()[1])
    return f"nproc {os.cpu_count()}, {model}, {total_kb / 1024 / 1024:.1f} GiB RAM"
