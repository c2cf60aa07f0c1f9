import Foundation
import Synchronization

struct SimulatorRequest: Sendable {
    var method: String
    var target: String
    var authorization: String?
    var hasClientCertificate: Bool
    var httpVersion: String
    var secure: Bool
}

struct SimulatorResponse: Sendable {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: [UInt8]
}

/// The settings in force after the variant's captured flags and the configuration's overrides are merged.
struct EffectiveSettings: Sendable, Equatable {
    var profiling: Bool
    var contentionProfiling: Bool
    var alwaysAllowPaths: [String]
    var featureGates: [String: Bool]
    var bindAddresses: [String]

    var flagzEnabled: Bool { featureGates["ComponentFlagz"] ?? false }
    var statuszEnabled: Bool { featureGates["ComponentStatusz"] ?? false }

    init(flags: CapturedFlags, configuration: SimulatorConfiguration) {
        profiling = configuration.profiling ?? flags.profiling
        contentionProfiling = configuration.contentionProfiling ?? flags.contentionProfiling
        alwaysAllowPaths = configuration.alwaysAllowPaths ?? flags.alwaysAllowPaths
        featureGates = flags.featureGates.merging(configuration.featureGates) { _, override in override }
        bindAddresses = configuration.bindAddresses ?? [flags.bindAddress]
    }

    /// Whether these settings change any authorization or routing outcome the variant's table captured.
    func agreesWithCapture(_ flags: CapturedFlags) -> Bool {
        profiling == flags.profiling && alwaysAllowPaths == flags.alwaysAllowPaths
            && flagzEnabled == (flags.featureGates["ComponentFlagz"] ?? false)
            && statuszEnabled == (flags.featureGates["ComponentStatusz"] ?? false)
    }
}

/// Answers requests: authentication, then authorization, then routing, as the scheduler's filter chain does.
/// For targets the variant's status-codes-table lists, the table decides the status (it is the captured
/// truth); bodies come from the capture files.
final class SimulatorEngine: Sendable {
    let fixtures: VariantFixtures
    let settings: EffectiveSettings
    let policy: AccessPolicy
    /// Off when overrides change outcomes the table captured; the generic rules answer then.
    let tableIsAuthoritative: Bool

    private let metricsHeaders: [(name: String, value: String)]
    private let staticMetrics: [UInt8]
    private let configz: [UInt8]
    private let flagz: [UInt8]
    private let statusz: [UInt8]
    private let notFoundBody = Array("404 page not found\n".utf8)
    private let goroutineDebug1: [UInt8]
    private let binaryProfile: [UInt8]
    private let metricsResources: [UInt8]
    private let eksMetrics: Bool
    private let healthChecks: [String: Set<String>]

    private struct MutableState: ~Copyable {
        var load: MetricsLoad?
        var records: [RecordedRequest] = []
    }

    private let state: Mutex<MutableState>
    private let requestLog: Mutex<FileHandle?>

    static let maximumRecordedRequests = 100_000

    static let namedProfiles: Set<String> = [
        "allocs", "block", "goroutine", "goroutineleak", "heap", "mutex", "threadcreate",
    ]

    init(configuration: SimulatorConfiguration) throws {
        let fixtures = try FixtureCatalog.load(configuration.variant)
        let shared = try FixtureCatalog.loadShared()
        self.fixtures = fixtures
        let settings = EffectiveSettings(flags: fixtures.flags, configuration: configuration)
        self.settings = settings
        policy = AccessPolicy(
            exporterTokens: Set(configuration.exporterTokens.filter { !$0.isEmpty }),
            nobodyTokens: Set(configuration.nobodyTokens.filter { !$0.isEmpty }),
            alwaysAllowPaths: settings.alwaysAllowPaths)
        tableIsAuthoritative = settings.agreesWithCapture(fixtures.flags)
        metricsHeaders = fixtures.metricsHeaders

        var metrics = fixtures.metrics
        if let path = configuration.metricsFile {
            guard let data = FileManager.default.contents(atPath: path) else { throw FixtureError.missingFile(path) }
            metrics = [UInt8](data)
        } else if configuration.load {
            metrics = shared.afterLoadMetrics
        }
        metrics = Self.applyFeatureGates(configuration.featureGates, to: metrics)
        staticMetrics = metrics

        configz = Self.applyProfiling(settings, capturedFlags: fixtures.flags, to: fixtures.configz)
        flagz = settings.flagzEnabled ? Self.renderFlagz(settings, template: shared.flagzEnabled) : fixtures.flagz
        statusz = settings.statuszEnabled ? shared.statuszEnabled : fixtures.statusz
        goroutineDebug1 = shared.goroutineDebug1
        binaryProfile = shared.profile
        metricsResources = shared.metricsResources
        eksMetrics = configuration.eksMetrics
        healthChecks = [
            "/healthz": Self.checkNames(fixtures.healthzVerbose),
            "/livez": Self.checkNames(fixtures.livezVerbose),
            "/readyz": Self.checkNames(fixtures.readyzVerbose),
        ]

        var initial = MutableState()
        if configuration.load {
            let tickSeconds = configuration.loadInterval.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 } ?? 1
            initial.load = MetricsLoad(
                body: metrics, seed: configuration.loadSeed, restartAtTick: configuration.restartAtTick,
                tickSeconds: tickSeconds)
        }
        state = Mutex(initial)

        if let logPath = configuration.requestLogFile {
            if !FileManager.default.fileExists(atPath: logPath) {
                _ = FileManager.default.createFile(atPath: logPath, contents: nil)
            }
            guard let handle = FileHandle(forWritingAtPath: logPath) else { throw FixtureError.missingFile(logPath) }
            handle.seekToEndOfFile()
            requestLog = Mutex(handle)
        } else {
            requestLog = Mutex(nil)
        }
    }

    // MARK: - Load

    func advanceLoad(ticks: Int) {
        state.withLock { state in
            guard state.load != nil else { return }
            for _ in 0..<ticks { state.load!.advance() }
        }
    }

    var loadTick: Int { state.withLock { $0.load?.tick ?? 0 } }

    // MARK: - Recording

    func recordedRequests() -> [RecordedRequest] { state.withLock { $0.records } }

    func clearRecordedRequests() { state.withLock { $0.records.removeAll() } }

    private func record(_ request: SimulatorRequest, status: Int) {
        let entry = RecordedRequest(
            method: request.method, path: request.target, authorization: request.authorization,
            clientCertificate: request.hasClientCertificate, status: status, httpVersion: request.httpVersion,
            listener: request.secure ? "https" : "http")
        state.withLock { state in
            // Bounded so a simulator polled for hours does not grow without limit; the file log keeps all.
            if state.records.count >= Self.maximumRecordedRequests {
                state.records.removeFirst(state.records.count - Self.maximumRecordedRequests + 1)
            }
            state.records.append(entry)
        }
        requestLog.withLock { handle in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            guard let handle, var line = try? encoder.encode(entry) else { return }
            line.append(UInt8(ascii: "\n"))
            handle.write(line)
        }
    }

    func closeLog() {
        requestLog.withLock { handle in
            try? handle?.close()
            handle = nil
        }
    }

    // MARK: - Answering

    func respond(to request: SimulatorRequest) -> SimulatorResponse {
        var response = request.secure ? respondSecure(request) : respondInsecure(request)
        response.headers.append(("date", Self.httpDate(Date())))
        // Go sets Content-Length only when the whole body fit its 2 KiB response buffer.
        if response.body.count < 2048 {
            response.headers.append(("content-length", String(response.body.count)))
        }
        if request.method == "HEAD" { response.body = [] }
        record(request, status: response.status)
        return response
    }

    /// The column of the status-codes-table this caller falls in.
    func credentialKind(authorization: String?, hasClientCertificate: Bool) -> CredentialKind {
        if hasClientCertificate { return .exporterCertificate }
        switch policy.authenticate(authorization: authorization, hasClientCertificate: false) {
        case .rejected: return .badToken
        case .authenticated(.anonymous): return .anonymous
        case .authenticated(.nobody): return .nobodyToken
        case .authenticated(.exporter): return .exporterToken
        }
    }

    /// The status the generic rules give, without consulting the captured table.
    func ruleStatus(method: String = "GET", target: String, authorization: String?, hasClientCertificate: Bool) -> Int {
        ruleResponse(method: method, target: target, authorization: authorization,
                     hasClientCertificate: hasClientCertificate).status
    }

    private func respondSecure(_ request: SimulatorRequest) -> SimulatorResponse {
        let response = ruleResponse(
            method: request.method, target: request.target, authorization: request.authorization,
            hasClientCertificate: request.hasClientCertificate)
        guard tableIsAuthoritative, request.method == "GET" || request.method == "HEAD" else { return response }
        let kind = credentialKind(authorization: request.authorization, hasClientCertificate: request.hasClientCertificate)
        guard let captured = fixtures.statusTable.status(target: request.target, credential: kind),
              captured != response.status
        else { return response }
        // The rules disagree with the capture: the capture wins (tests keep this path unused).
        let (path, _) = Self.split(request.target)
        switch captured {
        case 401: return unauthorized()
        case 403:
            let identity: CallerIdentity = kind == .anonymous ? .anonymous : kind == .nobodyToken ? .nobody : .exporter
            return forbidden(identity, verb: AccessPolicy.verb(forMethod: request.method), path: path)
        case 404: return notFound()
        default: return SimulatorResponse(status: captured, headers: Self.textHeaders, body: [])
        }
    }

    private func ruleResponse(method: String, target: String, authorization: String?, hasClientCertificate: Bool)
        -> SimulatorResponse
    {
        let (path, query) = Self.split(target)
        let identity: CallerIdentity
        switch policy.authenticate(authorization: authorization, hasClientCertificate: hasClientCertificate) {
        case .rejected: return unauthorized()
        case .authenticated(let who): identity = who
        }
        let verb = AccessPolicy.verb(forMethod: method)
        if eksMetrics, path == SimulatorConfiguration.eksMetricsPath {
            // A resource request (group metrics.eks.amazonaws.com, resource ksh, name container,
            // subresource metrics): no non-resource rule applies, only the role that grants it.
            guard identity == .exporter, verb == "get" else { return forbiddenEKSMetrics(identity, verb: verb) }
            return metricsResponse()
        }
        guard policy.authorize(identity, verb: verb, path: path) else {
            return forbidden(identity, verb: verb, path: path)
        }
        return route(path: path, query: query)
    }

    private func forbiddenEKSMetrics(_ identity: CallerIdentity, verb: String) -> SimulatorResponse {
        let message = #"ksh.metrics.eks.amazonaws.com \"container\" is forbidden: User \"\#(identity.userName)\" cannot \#(verb) resource \"ksh/metrics\" in API group \"metrics.eks.amazonaws.com\" at the cluster scope"#
        let body = #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"\#(message)","reason":"Forbidden","details":{"name":"container","group":"metrics.eks.amazonaws.com","kind":"ksh"},"code":403}"#
        return SimulatorResponse(status: 403, headers: Self.statusHeaders, body: Array((body + "\n").utf8))
    }

    /// The legacy insecure port: no authentication, only health, metrics and profiling.
    private func respondInsecure(_ request: SimulatorRequest) -> SimulatorResponse {
        let (path, query) = Self.split(request.target)
        if path == "/healthz" || path.hasPrefix("/healthz/") || path == "/metrics" || path.hasPrefix("/debug/pprof") {
            return route(path: path, query: query)
        }
        return notFound()
    }

    private func route(path: String, query: [String: String]) -> SimulatorResponse {
        switch path {
        case "/healthz": return health(fixtures.healthzVerbose, verbose: query["verbose"] != nil)
        case "/livez": return health(fixtures.livezVerbose, verbose: query["verbose"] != nil)
        case "/readyz": return health(fixtures.readyzVerbose, verbose: query["verbose"] != nil)
        case "/metrics": return metricsResponse()
        case "/metrics/slis": return SimulatorResponse(status: 200, headers: metricsHeaders, body: fixtures.metricsSLIs)
        case "/metrics/resources":
            return SimulatorResponse(status: 200, headers: [("content-type", "text/plain; version=0.0.4; charset=utf-8")], body: metricsResources)
        case "/configz":
            return SimulatorResponse(status: 200, headers: [("content-type", "application/json")], body: configz)
        case "/flagz":
            guard settings.flagzEnabled else { return notFound() }
            return SimulatorResponse(status: 200, headers: Self.textHeaders, body: flagz)
        case "/statusz":
            guard settings.statuszEnabled else { return notFound() }
            return SimulatorResponse(status: 200, headers: Self.textHeaders, body: statusz)
        case "/debug/pprof":
            guard settings.profiling else { return notFound() }
            let body = Array("<a href=\"/debug/pprof/\">Moved Permanently</a>.\n\n".utf8)
            return SimulatorResponse(
                status: 301, headers: [("content-type", "text/html; charset=utf-8"), ("location", "/debug/pprof/")],
                body: body)
        default:
            break
        }
        if path.hasPrefix("/debug/pprof/") {
            guard settings.profiling else { return notFound() }
            return pprof(name: String(path.dropFirst("/debug/pprof/".count)), query: query)
        }
        for prefix in ["/healthz/", "/livez/", "/readyz/"] where path.hasPrefix(prefix) {
            let check = String(path.dropFirst(prefix.count))
            guard healthChecks[String(prefix.dropLast())]?.contains(check) == true else { return notFound() }
            return SimulatorResponse(status: 200, headers: Self.textHeaders, body: Array("ok".utf8))
        }
        return notFound()
    }

    private func pprof(name: String, query: [String: String]) -> SimulatorResponse {
        let binaryHeaders: [(name: String, value: String)] = [
            ("content-disposition", "attachment; filename=\"\(name)\""),
            ("content-type", "application/octet-stream"), ("x-content-type-options", "nosniff"),
        ]
        switch name {
        case "":
            return SimulatorResponse(
                status: 200, headers: [("content-type", "text/html; charset=utf-8"), ("x-content-type-options", "nosniff")],
                body: fixtures.pprofIndex)
        case "profile", "trace":
            return SimulatorResponse(status: 200, headers: binaryHeaders, body: binaryProfile)
        case "cmdline":
            return SimulatorResponse(status: 200, headers: Self.textHeaders, body: Array("kube-scheduler".utf8))
        case "symbol":
            return SimulatorResponse(status: 200, headers: Self.textHeaders, body: Array("num_symbols: 1\n".utf8))
        case let profile where Self.namedProfiles.contains(profile):
            if let debug = query["debug"], debug != "0" {
                return SimulatorResponse(status: 200, headers: Self.textHeaders, body: goroutineDebug1)
            }
            return SimulatorResponse(status: 200, headers: binaryHeaders, body: binaryProfile)
        default:
            return SimulatorResponse(status: 404, headers: Self.textHeaders, body: Array("Unknown profile\n".utf8))
        }
    }

    private func metricsResponse() -> SimulatorResponse {
        let (body, startTime) = state.withLock { state -> ([UInt8], Double?) in
            guard let load = state.load else { return (staticMetrics, nil) }
            return (load.renderBody(), load.processStartTime)
        }
        var headers = metricsHeaders
        if let startTime, let index = headers.firstIndex(where: { $0.name == "process-start-time-unix" }) {
            headers[index].value = String(Int(startTime))
        }
        return SimulatorResponse(status: 200, headers: headers, body: body)
    }

    private func health(_ verboseBody: [UInt8], verbose: Bool) -> SimulatorResponse {
        SimulatorResponse(status: 200, headers: Self.textHeaders, body: verbose ? verboseBody : Array("ok".utf8))
    }

    private func notFound() -> SimulatorResponse {
        SimulatorResponse(status: 404, headers: Self.textHeaders, body: notFoundBody)
    }

    private func unauthorized() -> SimulatorResponse {
        let body = #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#
        return SimulatorResponse(status: 401, headers: Self.statusHeaders, body: Array((body + "\n").utf8))
    }

    private func forbidden(_ identity: CallerIdentity, verb: String, path: String) -> SimulatorResponse {
        let message = #"forbidden: User \"\#(identity.userName)\" cannot \#(verb) path \"\#(Self.jsonEscaped(path))\""#
        let body = #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"\#(message)","reason":"Forbidden","details":{},"code":403}"#
        return SimulatorResponse(status: 403, headers: Self.statusHeaders, body: Array((body + "\n").utf8))
    }

    static let textHeaders: [(name: String, value: String)] = [
        ("content-type", "text/plain; charset=utf-8"), ("x-content-type-options", "nosniff"),
    ]
    static let statusHeaders: [(name: String, value: String)] = [
        ("cache-control", "no-cache, private"), ("content-type", "application/json"),
        ("x-content-type-options", "nosniff"),
    ]

    // MARK: - Helpers

    static func split(_ target: String) -> (path: String, query: [String: String]) {
        guard let mark = target.firstIndex(of: "?") else { return (target, [:]) }
        var query: [String: String] = [:]
        for pair in target[target.index(after: mark)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let value = parts.count > 1 ? String(parts[1]) : ""
            query[String(parts[0]).removingPercentEncoding ?? String(parts[0])] = value.removingPercentEncoding ?? value
        }
        return (String(target[..<mark]), query)
    }

    static func jsonEscaped(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// `[+]leaderElection ok` lines of a verbose health body name the checks served at `/<endpoint>/<check>`.
    static func checkNames(_ verboseBody: [UInt8]) -> Set<String> {
        var names: Set<String> = []
        for line in String(decoding: verboseBody, as: UTF8.self).split(separator: "\n") {
            guard line.hasPrefix("[+]") || line.hasPrefix("[-]") else { continue }
            let rest = line.dropFirst(3)
            names.insert(String(rest.prefix { $0 != " " }))
        }
        return names
    }

    /// Sets `kubernetes_feature_enabled{name="X",...}` to the forced value for every overridden gate.
    static func applyFeatureGates(_ gates: [String: Bool], to metrics: [UInt8]) -> [UInt8] {
        guard !gates.isEmpty else { return metrics }
        let prefix = "kubernetes_feature_enabled{name=\""
        var lines = String(decoding: metrics, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        for index in lines.indices where lines[index].hasPrefix(prefix) {
            let line = lines[index]
            let afterPrefix = line.dropFirst(prefix.count)
            let name = String(afterPrefix.prefix { $0 != "\"" })
            guard let enabled = gates[name], let space = line.lastIndex(of: " ") else { continue }
            lines[index] = line[...space] + (enabled ? "1" : "0")
        }
        return Array(lines.joined(separator: "\n").utf8)
    }

    /// configz reflects `--profiling`/`--contention-profiling` overrides.
    static func applyProfiling(_ settings: EffectiveSettings, capturedFlags: CapturedFlags, to configz: [UInt8]) -> [UInt8] {
        var text = String(decoding: configz, as: UTF8.self)
        for (key, value) in [("EnableProfiling", settings.profiling),
                             ("EnableContentionProfiling", settings.contentionProfiling)] {
            text = text.replacingOccurrences(of: "\"\(key)\":\(!value)", with: "\"\(key)\":\(value)")
        }
        return Array(text.utf8)
    }

    /// The captured flagz listing with the lines our settings change rewritten; untouched when none differ.
    static func renderFlagz(_ settings: EffectiveSettings, template: [UInt8]) -> [UInt8] {
        let gates = settings.featureGates.keys.sorted().map { ":\($0)=\(settings.featureGates[$0]!)" }
            .joined(separator: ",")
        let replacements: [String: String] = [
            "profiling": String(settings.profiling),
            "contention-profiling": String(settings.contentionProfiling),
            "feature-gates": gates,
            "authorization-always-allow-paths": "[\(settings.alwaysAllowPaths.joined(separator: ","))]",
            "bind-address": settings.bindAddresses.first ?? "127.0.0.1",
        ]
        var lines = String(decoding: template, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        for index in lines.indices {
            guard let space = lines[index].firstIndex(of: " ") else { continue }
            let name = String(lines[index][..<space])
            if let value = replacements[name] { lines[index] = Substring(name + " " + value) }
        }
        return Array(lines.joined(separator: "\n").utf8)
    }

    /// RFC 7231 IMF-fixdate, as Go's net/http writes the Date header.
    static func httpDate(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func twoDigits(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(twoDigits(parts.tm_mday)) \(months[Int(parts.tm_mon)]) "
            + "\(parts.tm_year + 1900) \(twoDigits(parts.tm_hour)):\(twoDigits(parts.tm_min)):\(twoDigits(parts.tm_sec)) GMT"
    }
}
