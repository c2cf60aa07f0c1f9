import CurlHTTP
import Logging
@testable import SchedulerExporter

#if canImport(Glibc)
import Glibc
#endif

/// A node's filesystem in a temporary directory, used as `--check.host-root`: real files with real
/// modes and owners (chown needs root, as in CI), and a `/proc` whose `PID/cmdline` files hold
/// NUL-separated argv exactly as the kernel presents them.
final class NodeRoot {
    let path: String

    init() {
        var template = Array("/tmp/kse-node-XXXXXX".utf8CString)
        path = mkdtemp(&template).map { String(cString: $0) } ?? "/tmp/kse-node-unavailable"
    }

    deinit {
        remove(path)
    }

    /// Writes `contents` at the node path `nodePath` with `mode`, owned by `owner` (root by default).
    @discardableResult
    func file(_ nodePath: String, _ contents: String = "x\n", mode: mode_t = 0o600, owner: uid_t = 0) -> String {
        let local = path + nodePath
        makeDirectories(String(local[..<(local.lastIndex(of: "/") ?? local.endIndex)]))
        let fd = open(local, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
        let bytes = Array(contents.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        chmod(local, mode)
        if getuid() == 0 { chown(local, owner, owner) }
        return local
    }

    /// A process as /proc shows it: `arguments` joined with NULs, each ended by one.
    func process(_ pid: Int, _ arguments: [String]) {
        file("/proc/\(pid)/cmdline", arguments.map { $0 + "\u{0}" }.joined(), mode: 0o444)
    }

    /// A process that wrote a title over its argv: the title, then NUL padding (k3s's `gspt`).
    func retitledProcess(_ pid: Int, _ title: String, padding: Int = 64) {
        file("/proc/\(pid)/cmdline", title + String(repeating: "\u{0}", count: padding), mode: 0o444)
    }

    /// A target for the scheduler at `url` on this node, with no network probes.
    func target(url: String = "https://127.0.0.1:10259", platform: PlatformChoice = .auto) -> TargetConfig {
        var target = TargetConfig(name: "node", url: url)
        target.security.hostRoot = path
        target.security.platform = platform
        target.security.insecurePort = 0
        target.security.nonLoopbackAddresses = []
        return target
    }

    /// The poll stage's look at this node, then every check on it (no HTTP answers).
    func observe(_ target: TargetConfig, responses: [ProbeRequest: Result<HTTPResponse, HTTPClientError>] = [:]) throws -> NodeObservationResult {
        var poll = try makePoll(responses)
        let evidence = poll.observeNodeFiles(for: target)
        let context = makeContext(target, evidence: evidence)
        return NodeObservationResult(poll: poll, evidence: evidence, output: Checks.evaluate(Checks.all, poll, context: context))
    }

    private func makeDirectories(_ directory: String) {
        var current = ""
        for component in directory.split(separator: "/") {
            current += "/" + component
            mkdir(current, 0o755)
        }
    }

    private func remove(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if info.st_mode & S_IFMT == S_IFDIR, case .success(let names) = FileAccess.directoryEntries(path) {
            for name in names { remove(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}

struct NodeObservationResult {
    var poll: PollResult
    var evidence: SchedulerEvidence
    var output: CheckOutput

    func status(_ check: String) -> SecurityFinding.Status? { output.finding(check)?.status }
    func evidence(_ check: String) -> String { output.finding(check)?.evidence ?? "" }
}
