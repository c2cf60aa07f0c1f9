import Foundation

/// A TLS version bound of the secure listener (`--tls-min-version`, `--tls-max-version`).
public enum TLSVersionLimit: String, Sendable, CaseIterable, Codable {
    case tls10 = "1.0"
    case tls11 = "1.1"
    case tls12 = "1.2"
    case tls13 = "1.3"
}

/// Everything the simulator can be told; defaults reproduce the `default` capture on 127.0.0.1:10259.
/// Knobs marked "synthesized" produce states no capture holds.
public struct SimulatorConfiguration: Sendable {
    /// Which capture folder to serve.
    public var variant: SimulatorVariant = .default
    /// Listen addresses; nil = the variant's captured `--bind-address` (127.0.0.1, or 127.0.0.2 for bind-127.0.0.2).
    public var bindAddresses: [String]?
    /// 0 = an ephemeral port per listener.
    public var securePort: Int = 10259

    /// Where generated TLS material goes (and is reused from); nil = a fresh temporary directory.
    public var certificateDirectory: String?
    public var tlsCertificateFile: String?
    public var tlsPrivateKeyFile: String?
    /// Client certificates signed by this CA are the exporter identity; nil = a generated client CA.
    public var clientCAFile: String?
    /// Bearer tokens of the "exporter" identity (`--token-file`).
    public var exporterTokens: [String] = []
    /// Bearer tokens of an authenticated identity with no RBAC (`--nobody-token-file`).
    public var nobodyTokens: [String] = []

    /// Synthesized: a serving certificate whose notAfter lies in the past.
    public var certificateExpired = false
    /// Synthesized: serving certificate lifetime in days from now (e.g. 5 = expiring soon); nil = 365.
    public var certificateValidDays: Int?
    /// Synthesized: cap the TLS version; 1.0 or 1.1 make the listener accept only that version.
    public var tlsMaximumVersion: TLSVersionLimit?
    /// The lowest TLS version accepted; nil = 1.2, kube-scheduler's default (Go's server default, and
    /// what `--tls-min-version` falls back to). 1.0 is a scheduler started with
    /// `--tls-min-version=VersionTLS10`: it still negotiates 1.3 with a client that offers it.
    public var tlsMinimumVersion: TLSVersionLimit?
    /// Synthesized: a plain-HTTP legacy listener (as schedulers up to 1.22 had on 10251) serving /healthz,
    /// /metrics and /debug/pprof/ without authentication; 0 = ephemeral.
    public var insecurePort: Int?
    /// Synthesized: gates forced on/off in `kubernetes_feature_enabled` and flagz; ComponentFlagz and
    /// ComponentStatusz also switch /flagz and /statusz.
    public var featureGates: [String: Bool] = [:]
    /// Synthesized when combined with a variant: applied to configz, flagz and /debug/pprof alike.
    public var profiling: Bool?
    public var contentionProfiling: Bool?
    /// nil = the variant's captured `--authorization-always-allow-paths`.
    public var alwaysAllowPaths: [String]?
    /// Serve this file's bytes for /metrics instead of the capture (e.g. an older scheduler's exposition).
    public var metricsFile: String?
    /// Synthesized: also answer as EKS's API server does at `eksMetricsPath`
    /// (the scheduler's metrics of a managed control plane): a resource request, `get` on
    /// `ksh/metrics` in group `metrics.eks.amazonaws.com`, granted to the exporter identity only.
    public var eksMetrics = false

    /// Where EKS serves a managed scheduler's metrics, through its API server.
    public static let eksMetricsPath = "/apis/metrics.eks.amazonaws.com/v1/ksh/container/metrics"

    /// Synthesized: latency histograms and attempt counters grow every `loadInterval`, seeded by `loadSeed`,
    /// starting from default-after-load (or `metricsFile`).
    public var load = false
    /// nil = ticks only through `SchedulerSimulator.advanceLoad(ticks:)`.
    public var loadInterval: Duration? = .seconds(1)
    public var loadSeed: UInt64 = 1
    /// The tick at which the load counters reset once, as after a scheduler restart.
    public var restartAtTick: Int?

    /// Appends one JSON line per request: {"path","authorization","client_cert","status",...}.
    /// Test harness only: it records the Authorization header verbatim, so never point it at shared logs.
    public var requestLogFile: String?

    public init(variant: SimulatorVariant = .default) {
        self.variant = variant
    }

    /// Reads a token file as kube tooling writes them: the first non-empty line, surrounding whitespace dropped.
    public static func readToken(file path: String) throws -> String {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .first { !$0.isEmpty } ?? ""
    }
}

/// One listening socket, as `start()` reports it.
public struct SimulatorListener: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// false for the legacy plain-HTTP listener.
    public var secure: Bool

    public var url: String { "\(secure ? "https" : "http")://\(host):\(port)" }
    public var description: String { url }
}

/// One request as the simulator answered it.
public struct RecordedRequest: Sendable, Equatable, Codable {
    public var method: String
    /// The request target: path plus query, as sent.
    public var path: String
    /// The Authorization header verbatim, nil when absent.
    public var authorization: String?
    public var clientCertificate: Bool
    public var status: Int
    /// "1.1" or "2".
    public var httpVersion: String
    /// "https" or "http".
    public var listener: String

    enum CodingKeys: String, CodingKey {
        case method, path, authorization, status, listener
        case clientCertificate = "client_cert"
        case httpVersion = "http_version"
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(method, forKey: .method)
        try container.encode(path, forKey: .path)
        // Spelled out so an absent header is logged as null, not dropped.
        try container.encode(authorization, forKey: .authorization)
        try container.encode(clientCertificate, forKey: .clientCertificate)
        try container.encode(status, forKey: .status)
        try container.encode(httpVersion, forKey: .httpVersion)
        try container.encode(listener, forKey: .listener)
    }
}
