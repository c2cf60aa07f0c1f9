import ArgumentParser
import Dispatch
import Foundation
import SchedulerSimulator
import Synchronization

@main
struct SchedulerSimulatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler-simulator",
        abstract: "Serves captured kube-scheduler v1.35.4 behaviour over HTTPS until SIGTERM/SIGINT.",
        discussion: """
            Prints one line per listener when it is ready: `scheduler-simulator listening on https://HOST:PORT`.
            Options marked (synthesized) produce states that no capture holds.
            """)

    @Option(help: "Capture to serve: \(SimulatorVariant.allCases.map(\.rawValue).joined(separator: "|")).")
    var variant: String = SimulatorVariant.default.rawValue

    @Option(name: .customLong("bind-address"), help: "Listen address (repeatable; default from the variant).")
    var bindAddresses: [String] = []

    @Option(help: "Secure port (0 = ephemeral).")
    var securePort: Int = 10259

    @Option(help: "Directory for generated TLS material (ca.crt, serving.crt, serving.key, client CA); reused.")
    var certDir: String?

    @Option(help: "Serving certificate (PEM); with --tls-private-key-file replaces the generated one.")
    var tlsCertFile: String?

    @Option(help: "Serving key (PEM).")
    var tlsPrivateKeyFile: String?

    @Option(help: "CA whose client certificates authenticate as the exporter (default: generated client-ca.crt).")
    var clientCaFile: String?

    @Option(help: "File holding the exporter identity's bearer token.")
    var tokenFile: String?

    @Option(help: "File holding a bearer token of an authenticated identity without RBAC.")
    var nobodyTokenFile: String?

    @Flag(help: "(synthesized) Serving certificate already expired.")
    var certExpired = false

    @Option(help: "(synthesized) Serving certificate lifetime in days (e.g. 5 = expiring soon).")
    var certValidDays: Int?

    @Option(help: "(synthesized) Highest TLS version: 1.0, 1.1 (then only that version), 1.2, 1.3.")
    var tlsMaxVersion: String?

    @Option(help: "Lowest TLS version: 1.0, 1.1, 1.2 (default, as kube-scheduler), 1.3; 1.0 = --tls-min-version=VersionTLS10.")
    var tlsMinVersion: String?

    @Option(help: "(synthesized) Legacy plain-HTTP port serving /healthz, /metrics, /debug/pprof/ without auth.")
    var insecurePort: Int?

    @Option(help: "(synthesized) Gates to force, e.g. ComponentFlagz=true,SchedulerQueueingHints=false.")
    var featureGates: String?

    @Option(help: "Override profiling (true|false), applied to configz, flagz and /debug/pprof.")
    var profiling: Bool?

    @Option(help: "Override contention profiling (true|false), applied to configz and flagz.")
    var contentionProfiling: Bool?

    @Option(help: "Comma-separated always-allowed paths (default from the variant: /healthz,/readyz,/livez).")
    var authorizationAlwaysAllowPaths: String?

    @Option(help: "Serve this file's bytes for /metrics instead of the capture.")
    var metricsFile: String?

    @Flag(help: "(synthesized) Also answer as EKS's API server at /apis/metrics.eks.amazonaws.com/v1/ksh/container/metrics: the metrics, to the exporter identity only.")
    var eksMetrics = false

    @Flag(help: "(synthesized) Grow latency histograms and attempt counters over time, from default-after-load.")
    var load = false

    @Option(help: "Seconds between load ticks.")
    var loadInterval: Double = 1

    @Option(help: "Seed of the deterministic load.")
    var loadSeed: UInt64 = 1

    @Option(help: "Reset the load counters once at this tick, as a scheduler restart would.")
    var restartAtTick: Int?

    @Option(help: "Append one JSON line per request (records the Authorization header verbatim: tests only).")
    var requestLog: String?

    mutating func validate() throws {
        guard SimulatorVariant(rawValue: variant) != nil else {
            throw ValidationError("unknown --variant \(variant)")
        }
        if let tlsMaxVersion, TLSVersionLimit(rawValue: tlsMaxVersion) == nil {
            throw ValidationError("--tls-max-version must be one of 1.0, 1.1, 1.2, 1.3")
        }
        if let tlsMinVersion, TLSVersionLimit(rawValue: tlsMinVersion) == nil {
            throw ValidationError("--tls-min-version must be one of 1.0, 1.1, 1.2, 1.3")
        }
        if (tlsCertFile == nil) != (tlsPrivateKeyFile == nil) {
            throw ValidationError("--tls-cert-file and --tls-private-key-file go together")
        }
        guard loadInterval > 0 else { throw ValidationError("--load-interval must be positive") }
    }

    func run() async throws {
        var configuration = SimulatorConfiguration(variant: SimulatorVariant(rawValue: variant)!)
        configuration.bindAddresses = bindAddresses.isEmpty ? nil : bindAddresses
        configuration.securePort = securePort
        configuration.certificateDirectory = certDir
        configuration.tlsCertificateFile = tlsCertFile
        configuration.tlsPrivateKeyFile = tlsPrivateKeyFile
        configuration.clientCAFile = clientCaFile
        if let tokenFile { configuration.exporterTokens = [try SimulatorConfiguration.readToken(file: tokenFile)] }
        if let nobodyTokenFile {
            configuration.nobodyTokens = [try SimulatorConfiguration.readToken(file: nobodyTokenFile)]
        }
        configuration.certificateExpired = certExpired
        configuration.certificateValidDays = certValidDays
        configuration.tlsMaximumVersion = tlsMaxVersion.flatMap(TLSVersionLimit.init(rawValue:))
        configuration.tlsMinimumVersion = tlsMinVersion.flatMap(TLSVersionLimit.init(rawValue:))
        configuration.insecurePort = insecurePort
        configuration.featureGates = featureGates.map(CapturedFlags.parseFeatureGates) ?? [:]
        configuration.profiling = profiling
        configuration.contentionProfiling = contentionProfiling
        configuration.alwaysAllowPaths = authorizationAlwaysAllowPaths.map { $0.split(separator: ",").map(String.init) }
        configuration.metricsFile = metricsFile
        configuration.eksMetrics = eksMetrics
        configuration.load = load
        configuration.loadInterval = .milliseconds(Int64((loadInterval * 1000).rounded()))
        configuration.loadSeed = loadSeed
        configuration.restartAtTick = restartAtTick
        configuration.requestLogFile = requestLog

        // Ignored before the simulator starts so an early signal cannot kill it half-started.
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let termination = TerminationSignal()
        let simulator = SchedulerSimulator(configuration: configuration)
        let listeners = try await simulator.start()
        // Written straight to the descriptor (no stdio buffering) so a parent process sees each line at once.
        var lines = listeners.map { "scheduler-simulator listening on \($0.url)\n" }
        if let material = simulator.servingMaterial {
            var line = "scheduler-simulator serving certificate \(material.certificatePath)"
            if let ca = material.caCertificatePath { line += " ca \(ca)" }
            lines.append(line + "\n")
            if let certificate = material.exporterClientCertificatePath, let key = material.exporterClientKeyPath {
                lines.append("scheduler-simulator exporter client certificate \(certificate) key \(key)\n")
            }
        }
        FileHandle.standardOutput.write(Data(lines.joined().utf8))
        await termination.wait()
        try await simulator.stop()
    }
}

/// SIGTERM/SIGINT as something to await.
final class TerminationSignal: Sendable {
    private struct State {
        var arrived = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())
    /// Kept alive for the life of the process; a released source stops delivering.
    private let sources: Mutex<[DispatchSourceSignal]>

    init() {
        sources = Mutex([SIGTERM, SIGINT].map { DispatchSource.makeSignalSource(signal: $0, queue: .global()) })
        sources.withLock { sources in
            for source in sources {
                source.setEventHandler { [weak self] in self?.fire() }
                source.resume()
            }
        }
    }

    private func fire() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.arrived = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state -> Bool in
                if state.arrived { return true }
                state.waiter = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }
}
