import Foundation

/// One capture folder under `Fixtures/kube-scheduler-1.35/`.
public enum SimulatorVariant: String, Sendable, CaseIterable, Codable {
    case `default` = "default"
    case defaultAfterLoad = "default-after-load"
    case profilingFalse = "profiling-false"
    case metricsAlwaysAllowed = "metrics-always-allowed"
    case bind127002 = "bind-127.0.0.2"
    case zpagesGates = "zpages-gates"

    /// default-after-load captured only /metrics; everything else comes from default.
    var fallback: SimulatorVariant? { self == .defaultAfterLoad ? .default : nil }
}

/// The flags a capture was taken with (`extra-flags.txt`), as the settings they change.
public struct CapturedFlags: Sendable, Equatable {
    public var bindAddress = "127.0.0.1"
    public var profiling = true
    public var contentionProfiling = true
    public var alwaysAllowPaths = ["/healthz", "/readyz", "/livez"]
    public var featureGates: [String: Bool] = [:]

    public init() {}

    public init(parsing text: String) {
        for token in text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }) {
            guard token.hasPrefix("--"), let equals = token.firstIndex(of: "=") else { continue }
            let name = token[token.index(token.startIndex, offsetBy: 2)..<equals]
            let value = String(token[token.index(after: equals)...])
            switch name {
            case "bind-address": bindAddress = value
            case "profiling": profiling = value == "true"
            case "contention-profiling": contentionProfiling = value == "true"
            case "authorization-always-allow-paths": alwaysAllowPaths = value.split(separator: ",").map(String.init)
            case "feature-gates": featureGates = Self.parseFeatureGates(value)
            default: continue
            }
        }
    }

    /// `Name=true,Other=false` as Kubernetes' `--feature-gates` takes it.
    public static func parseFeatureGates(_ text: String) -> [String: Bool] {
        var gates: [String: Bool] = [:]
        for pair in text.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            gates[parts[0].trimmingCharacters(in: .whitespaces)] =
                parts[1].trimmingCharacters(in: .whitespaces).lowercased() == "true"
        }
        return gates
    }
}

/// The captured files of one variant, read once from the resource bundle.
struct VariantFixtures: Sendable {
    var variant: SimulatorVariant
    var flags: CapturedFlags
    var statusTable: StatusCodeTable
    var metrics: [UInt8]
    var metricsSLIs: [UInt8]
    var metricsHeaders: [(name: String, value: String)]
    var healthzVerbose: [UInt8]
    var livezVerbose: [UInt8]
    var readyzVerbose: [UInt8]
    var configz: [UInt8]
    var pprofIndex: [UInt8]
    var flagz: [UInt8]
    var statusz: [UInt8]
}

/// Bodies no capture holds (a /flagz and /statusz with the gates on exist only in zpages-gates; the pprof
/// profiles themselves were not captured), plus the after-load metrics the load mode starts from.
struct SharedFixtures: Sendable {
    var flagzEnabled: [UInt8]
    var statuszEnabled: [UInt8]
    var afterLoadMetrics: [UInt8]
    var goroutineDebug1: [UInt8]
    var profile: [UInt8]
    /// The body of /metrics/resources (synthesized in the scheduler's format).
    var metricsResources: [UInt8]
}

public enum FixtureError: Error, CustomStringConvertible {
    case missingResourceBundle
    case missingFile(String)

    public var description: String {
        switch self {
        case .missingResourceBundle: return "scheduler-simulator: Fixtures resource folder not found"
        case .missingFile(let path): return "scheduler-simulator: fixture file missing: \(path)"
        }
    }
}

enum FixtureCatalog {
    static let captureFolder = "kube-scheduler-1.35"

    static func root() throws -> URL {
        guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            throw FixtureError.missingResourceBundle
        }
        return url
    }

    static func read(_ relativePath: String) throws -> [UInt8] {
        let url = try root().appendingPathComponent(relativePath)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw FixtureError.missingFile(relativePath)
        }
        return [UInt8](data)
    }

    /// A capture file of `variant`, or of its fallback variant when this one did not capture it.
    static func captured(_ variant: SimulatorVariant, _ file: String) throws -> [UInt8] {
        let path = try root().appendingPathComponent("\(captureFolder)/\(variant.rawValue)/\(file)").path
        if FileManager.default.fileExists(atPath: path) {
            return try read("\(captureFolder)/\(variant.rawValue)/\(file)")
        }
        if let fallback = variant.fallback { return try captured(fallback, file) }
        throw FixtureError.missingFile("\(captureFolder)/\(variant.rawValue)/\(file)")
    }

    static func load(_ variant: SimulatorVariant) throws -> VariantFixtures {
        let tableText = String(decoding: try captured(variant, "status-codes-table.txt"), as: UTF8.self)
        let flagsText = String(decoding: try captured(variant, "extra-flags.txt"), as: UTF8.self)
        return VariantFixtures(
            variant: variant,
            flags: CapturedFlags(parsing: flagsText),
            statusTable: try StatusCodeTable(parsing: tableText),
            metrics: try captured(variant, "metrics.txt"),
            metricsSLIs: try captured(variant, "metrics-slis.txt"),
            metricsHeaders: parseHeaders(try captured(variant, "metrics-headers.txt")),
            healthzVerbose: try captured(variant, "healthz-verbose.txt"),
            livezVerbose: try captured(variant, "livez-verbose.txt"),
            readyzVerbose: try captured(variant, "readyz-verbose.txt"),
            configz: try captured(variant, "configz.json"),
            pprofIndex: try captured(variant, "pprof-index.html"),
            flagz: try captured(variant, "flagz.txt"),
            statusz: try captured(variant, "statusz.txt")
        )
    }

    static func loadShared() throws -> SharedFixtures {
        SharedFixtures(
            flagzEnabled: try captured(.zpagesGates, "flagz.txt"),
            statuszEnabled: try captured(.zpagesGates, "statusz.txt"),
            afterLoadMetrics: try captured(.defaultAfterLoad, "metrics.txt"),
            goroutineDebug1: try read("synthetic/pprof-goroutine-debug1.txt"),
            profile: try read("synthetic/pprof-profile.pb.gz"),
            metricsResources: try read("synthetic/metrics-resources.txt")
        )
    }

    /// `metrics-headers.txt` minus the status line and `date` (which is per response).
    static func parseHeaders(_ bytes: [UInt8]) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = []
        // Split on any newline: the capture has CRLF line ends, and "\r\n" is one Character in Swift.
        for line in String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            guard let colon = trimmed.firstIndex(of: ":"), !trimmed.hasPrefix("HTTP/") else { continue }
            let name = trimmed[..<colon].lowercased()
            let value = trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if name == "date" { continue }
            headers.append((name, value))
        }
        return headers
    }
}
