import Foundation
import TestSupport
import Testing

/// One fault case: a real exporter process polling TWO targets, a healthy `scheduler-simulator`
/// ("healthy") and a hostile one ("hostile"), with short timings so a case takes seconds.
/// Every scrape is kept so the credential checks see everything the exporter ever served.
final class FaultScenario {
    static let healthy = "healthy"
    static let hostile = "hostile"
    /// Short enough that a hung poll costs 2s, long enough for a TLS handshake on a loaded machine.
    static let timeout = "2s"
    static let pollInterval = "500ms"
    /// The hostile target's timeout in the cases where its every cycle hangs: ten healthy poll
    /// intervals, so polling in turn and polling independently differ by far more than a loaded
    /// machine's jitter.
    static let hangingTimeout = "5s"
    static let healthyPollsDuringAHang = 4

    /// Bound on the exporter's resident memory (VmRSS, and VmHWM after the big-body cases).
    /// Measured here with the debug build: about 48 MiB at rest. The worst legitimate case is a
    /// 1 GiB chunked body on every endpoint: the three /metrics requests (exporter, anonymous,
    /// invalid token) may each buffer up to the 16 MiB limit, plus up to 8 MiB more while the
    /// buffer's last doubling copies it, and every other endpoint stops at 1 MiB: about
    /// 48 + 3 x 24 + a few = 125 MiB at the very worst; measured peak 105-125 MiB.
    static let residentMemoryBound = 150 << 20

    let dir: TempDirectory
    let pki: FaultPKI
    let simulator: Simulator
    let hostileTokenFile: String
    let tokens: [String]
    private(set) var exporter: Exporter?
    /// Set by `startExporter(hostileHangs:)`: every hostile cycle waits out `hangingTimeout`.
    private(set) var hostileHangs = false
    private(set) var scrapes: [String] = []
    private var servers: [HostileServer] = []

    init(simulatorArguments: [String] = []) async throws {
        dir = try TempDirectory()
        pki = try await FaultPKI(in: dir)
        simulator = try await Simulator.start(in: dir, extra: simulatorArguments)
        let hostileToken = "hostile-target-token-\(UUID().uuidString)"
        hostileTokenFile = try dir.write("hostile-token", hostileToken)
        tokens = [try String(contentsOfFile: simulator.tokenFile, encoding: .utf8), hostileToken]
    }

    /// Starts a hostile server that lives as long as the scenario.
    func server(_ mode: String, bind: String = "127.0.0.1", tls: (cert: String, key: String)? = nil,
                _ arguments: [String] = []) async throws -> HostileServer {
        let server = try await HostileServer.start(mode: mode, in: dir, bind: bind, tls: tls, arguments: arguments)
        servers.append(server)
        return server
    }

    var serving: (cert: String, key: String) { (pki.serverCert, pki.serverKey) }

    /// Starts the exporter on both targets. `hostileSettings` are extra YAML keys of the hostile
    /// target (indented as target keys); `hostileHangs` gives it `hangingTimeout`, for faults that
    /// hang every cycle. No probe ever leaves loopback: no insecure port, no non-loopback addresses.
    func startExporter(hostileURL: String, hostileCAFile: String? = nil, hostileSettings: [String] = [],
                       hostileHangs: Bool = false, hostileIsSimulator: Simulator? = nil) async throws {
        self.hostileHangs = hostileHangs
        let hostileSettings = hostileSettings + (hostileHangs ? ["timeout: \(Self.hangingTimeout)"] : [])
        let url = hostileIsSimulator?.url ?? hostileURL
        let tokenFile = hostileIsSimulator?.tokenFile ?? hostileTokenFile
        let caFile = hostileIsSimulator?.caFile ?? hostileCAFile ?? pki.caFile
        let security = "security: {insecure_port: 0, nonloopback_addresses: [], manifest_file: \(dir.path)/absent.yaml}"
        let lines = [
            "global:",
            "  poll_interval: \(Self.pollInterval)",
            "  timeout: \(Self.timeout)",
            "targets:",
            "  - name: \(Self.healthy)",
            "    url: \(simulator.url)",
            "    bearer_token_file: \(simulator.tokenFile)",
            "    tls_config: {ca_file: \(simulator.caFile)}",
            "    \(security)",
            "  - name: \(Self.hostile)",
            "    url: \(url)",
            "    bearer_token_file: \(tokenFile)",
            "    tls_config: {ca_file: \(caFile)}",
            "    \(security)",
        ] + hostileSettings.map { "    " + $0 }
        let config = try dir.write("config.yml", lines.joined(separator: "\n") + "\n")
        exporter = try await Exporter.start(["--config.file", config])
    }

    /// Scrapes until `predicate` holds; every body is kept.
    @discardableResult
    func scrape(timeout: Double = 90, until predicate: (String) -> Bool) async throws -> String {
        guard let exporter else { throw HarnessError("exporter not started") }
        var seen: [String] = []
        defer { scrapes += seen }
        return try await exporter.scrape(until: { body in
            seen.append(body)
            return predicate(body)
        }, timeout: timeout)
    }

    func value(_ body: String, _ name: String, _ target: String, _ fragments: String...) -> Double? {
        var wanted = ["target=\"\(target)\""]
        wanted += fragments
        for line in body.split(separator: "\n") where line.hasPrefix(name + "{") {
            if wanted.allSatisfy({ line.contains($0) }), let value = line.split(separator: " ").last {
                return Double(value)
            }
        }
        return nil
    }

    /// The hostile target's poll errors, summed over `reasons` ("a|b").
    func errors(_ body: String, _ reasons: String) -> Double {
        reasons.split(separator: "|").reduce(0) {
            $0 + (value(body, "kube_scheduler_poll_errors_total", Self.hostile, "reason=\"\($1)\"") ?? 0)
        }
    }

    func polls(_ body: String, _ target: String) -> Double {
        value(body, "kube_scheduler_polls_total", target) ?? 0
    }

    /// The exporter's resident set (VmRSS) and its peak (VmHWM), in bytes.
    func residentMemory() throws -> (current: Int, peak: Int) {
        guard let exporter else { throw HarnessError("exporter not started") }
        let status = try String(contentsOfFile: "/proc/\(exporter.child.process.processIdentifier)/status", encoding: .utf8)
        func kibibytes(_ key: String) -> Int {
            for line in status.split(separator: "\n") where line.hasPrefix(key + ":") {
                return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
            }
            return 0
        }
        return (kibibytes("VmRSS") << 10, kibibytes("VmHWM") << 10)
    }

    /// What every case must show, whatever the fault: the hostile target fails with `reason` (or
    /// one of "a|b") on every poll while the exporter keeps serving and the healthy target keeps
    /// being polled and stays up. Never wall clock, only the exporter's own counters:
    /// - without `hostileHangs` (the fault fails a cycle at once): the window closes when the hostile
    ///   target failed twice more and the healthy one succeeded again, so how fast each cycle runs
    ///   on a loaded machine does not matter.
    /// - with `hostileHangs` (every hostile cycle waits out `hangingTimeout`): the window brackets
    ///   at least one complete hung cycle, and the healthy target must have polled
    ///   `healthyPollsDuringAHang` times in it. Were targets polled in turn, it would poll about
    ///   once per hung cycle.
    @discardableResult
    func expectContained(reason: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        // The window opens only once the healthy target has been polled successfully: while a
        // whole test run starts at once, a slow machine can make even healthy polls time out.
        let first = try await scrape { self.errors($0, reason) >= 1 && self.value($0, "kube_scheduler_up", Self.healthy) == 1 }
        let failures = errors(first, reason)
        let healthyPolls = polls(first, Self.healthy)
        let firstSuccess = value(first, "kube_scheduler_last_successful_poll_timestamp_seconds", Self.healthy) ?? 0
        // Two more failures: the second of them started and ended inside the window. The healthy
        // target must be up in the scrape that closes it, not in the first scrape after the
        // failures: at a fraction of a CPU (scripts/slow-machine 0.5, whole suite) a healthy poll
        // failed once while the exporter was inflating a gzip bomb, and the window closed on it.
        let last = try await scrape {
            self.errors($0, reason) >= failures + 2
                && self.value($0, "kube_scheduler_up", Self.healthy) == 1
                && (hostileHangs || self.value($0, "kube_scheduler_last_successful_poll_timestamp_seconds", Self.healthy) ?? 0 > firstSuccess)
        }
        if hostileHangs {
            #expect(polls(last, Self.healthy) - healthyPolls >= Double(Self.healthyPollsDuringAHang),
                    "healthy polls \(healthyPolls) -> \(polls(last, Self.healthy)) while the hostile one hung twice", sourceLocation: sourceLocation)
        }

        #expect(value(last, "kube_scheduler_up", Self.hostile) == 0, sourceLocation: sourceLocation)
        #expect(value(last, "kube_scheduler_up", Self.healthy) == 1, sourceLocation: sourceLocation)
        // Compared with the exporter's own earlier value, not the test's clock: a poll's timestamp
        // is its start, which a loaded machine can put well before the scrape that reports it.
        let lastSuccess = value(last, "kube_scheduler_last_successful_poll_timestamp_seconds", Self.healthy) ?? 0
        #expect(lastSuccess > firstSuccess, "the healthy target's last success moved on while the hostile one failed", sourceLocation: sourceLocation)
        #expect(value(last, "kube_scheduler_last_successful_poll_timestamp_seconds", Self.hostile) == nil,
                "the hostile target never succeeded", sourceLocation: sourceLocation)
        #expect(polls(last, Self.hostile) >= errors(last, reason), sourceLocation: sourceLocation)
        try expectHealthyProcess(sourceLocation: sourceLocation)
        return last
    }

    /// The exporter still answers, its memory is bounded, and no token ever left it.
    func expectHealthyProcess(sourceLocation: SourceLocation = #_sourceLocation) throws {
        let memory = try residentMemory()
        #expect(memory.current < Self.residentMemoryBound, "VmRSS \(memory.current >> 20) MiB", sourceLocation: sourceLocation)
        recordMemory(memory)
        guard let exporter else { return }
        let output = exporter.child.text
        for token in tokens {
            #expect(!output.contains(token), "a token reached the exporter's output", sourceLocation: sourceLocation)
            #expect(!scrapes.contains { $0.contains(token) }, "a token reached /metrics", sourceLocation: sourceLocation)
        }
        #expect(exporter.child.process.isRunning, "the exporter is still running", sourceLocation: sourceLocation)
    }

    /// Appends the case's memory to $KSE_FAULT_MEMORY_LOG when set (for the report's numbers).
    private func recordMemory(_ memory: (current: Int, peak: Int)) {
        guard let path = ProcessInfo.processInfo.environment["KSE_FAULT_MEMORY_LOG"] else { return }
        let line = "\(Test.current?.name ?? "?") rss=\(memory.current >> 10)KiB hwm=\(memory.peak >> 10)KiB\n"
        if let handle = FileHandle(forWritingAtPath: path) {
            handle.seekToEndOfFile()
            handle.write(Data(line.utf8))
            try? handle.close()
        } else {
            try? line.write(toFile: path, atomically: true, encoding: .utf8)
        }
    }

    func stop() {
        exporter?.child.stop()
        for server in servers { server.stop() }
        simulator.child.stop()
        dir.remove()
    }
}

/// Runs `body` on a fresh scenario and always tears it down.
func withFaultScenario(simulatorArguments: [String] = [], _ body: (FaultScenario) async throws -> Void) async throws {
    let scenario = try await FaultScenario(simulatorArguments: simulatorArguments)
    defer { scenario.stop() }
    try await body(scenario)
}
