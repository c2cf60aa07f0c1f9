import Exposition

/// The request path from a decoded head to a route, as pure functions of the request's bytes:
/// request target splitting and percent-decoding, the headers the routes read, the probe's target
/// and timeout. No NIO and no I/O, so `Fuzz/request` runs exactly this code on any input (NIO's
/// own HTTP parser in front of it is fuzzed upstream).
public enum RequestTarget {
    /// The path and the query parameters of a request target, percent-decoded (`+` is a space,
    /// as in a form). A `%` not followed by two hex digits ends the component, as before.
    public static func parse(_ uri: String) -> (path: String, query: [(name: String, value: String)]) {
        guard let mark = uri.firstIndex(of: "?") else { return (percentDecoded(uri[...]), []) }
        var query: [(name: String, value: String)] = []
        for pair in uri[uri.index(after: mark)...].split(separator: "&") {
            let pieces = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            query.append((percentDecoded(pieces[0]), pieces.count > 1 ? percentDecoded(pieces[1]) : ""))
        }
        return (percentDecoded(uri[..<mark]), query)
    }

    static func percentDecoded(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "+") { bytes.append(UInt8(ascii: " ")); continue }
            guard byte == UInt8(ascii: "%") else { bytes.append(byte); continue }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { break }
            bytes.append(high << 4 | low)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Strictly one hex digit (`UInt8(_:radix:)` would take a sign too: `%+1`).
    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Where `/probe` may go: the rules, resolved to values (the node's addresses are looked up by
/// the prober, not here).
public struct ProbePolicy: Sendable {
    public var allowedTargets: [CIDR]
    /// nil: any port.
    public var allowedPorts: Set<Int>?
    public var maxTimeout: Duration

    public init(allowedTargets: [CIDR], allowedPorts: Set<Int>? = nil, maxTimeout: Duration) {
        self.allowedTargets = allowedTargets
        self.allowedPorts = allowedPorts
        self.maxTimeout = maxTimeout
    }

    public static let defaultPort = 10259

    /// Why a probe is refused before any connection is made.
    public enum Refusal: Error, Equatable, Sendable {
        case missingTarget
        case notAnAddress(String)
        case notAllowed(String)
        case portNotAllowed(Int)
        case badTimeout(ProbeTimeout.Problem)
        case busy
    }

    /// The target parameter as an IP literal with optional port (default 10259), inside the
    /// allowed addresses and ports. No names: nothing is resolved, so nothing can be rebound.
    public func resolve(_ parameter: String?) throws(Refusal) -> (host: String, port: Int) {
        guard let parameter, !parameter.isEmpty else { throw .missingTarget }
        var host = parameter
        var port = Self.defaultPort
        if parameter.hasPrefix("[") {
            guard let close = parameter.firstIndex(of: "]") else { throw .notAnAddress(parameter) }
            host = String(parameter[parameter.index(after: parameter.startIndex)..<close])
            let rest = parameter[parameter.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let value = Self.port(rest.dropFirst()) else { throw .notAnAddress(parameter) }
                port = value
            }
        } else if parameter.filter({ $0 == ":" }).count == 1, let colon = parameter.firstIndex(of: ":") {
            host = String(parameter[..<colon])
            guard let value = Self.port(parameter[parameter.index(after: colon)...]) else { throw .notAnAddress(parameter) }
            port = value
        }
        guard let bytes = IPAddress.bytes(host), !host.hasPrefix("[") else { throw .notAnAddress(parameter) }
        guard allowedTargets.contains(where: { $0.contains(bytes) }) else { throw .notAllowed(host) }
        if let allowedPorts, !allowedPorts.contains(port) { throw .portNotAllowed(port) }
        return (host, port)
    }

    /// Decimal digits only (`Int` would take `+80`), 1-65535.
    static func port(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= 5, text.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(text),
              (1...65535).contains(value) else { return nil }
        return value
    }
}

/// What the server does with a request, decided from its method, target and headers alone.
public enum Route: Sendable, Equatable {
    case metrics(ExpositionFormat)
    case passthrough(target: String?, gzip: Bool)
    /// `/scheduler/metrics/resources`: the scheduler's /metrics/resources (`--passthrough.resources`).
    case passthroughResources(target: String?, gzip: Bool)
    case probe(host: String, port: Int, timeout: Duration)
    case probeRefused(ProbePolicy.Refusal)
    case healthz
    case landing
    case notFound
    case methodNotAllowed

    /// - Parameters:
    ///   - header: the first value of a header by (case-insensitive) name.
    ///   - probe: nil when `/probe` is off (it is then a 404, like any unknown path).
    public static func decide(method: String, uri: String, header: (String) -> String?, probe: ProbePolicy?) -> Route {
        guard method == "GET" || method == "HEAD" else { return .methodNotAllowed }
        let (path, query) = RequestTarget.parse(uri)
        func queryValue(_ name: String) -> String? { query.first { $0.name == name }?.value }
        switch path {
        case "/metrics":
            return .metrics(ExpositionFormat.negotiate(accept: header("accept")))
        case "/scheduler/metrics":
            return .passthrough(target: queryValue("target"), gzip: acceptsGzip(header("accept-encoding")))
        case "/scheduler/metrics/resources":
            return .passthroughResources(target: queryValue("target"), gzip: acceptsGzip(header("accept-encoding")))
        case "/probe":
            guard let probe else { return .notFound }
            let target: (host: String, port: Int)
            do { target = try probe.resolve(queryValue("target")) } catch { return .probeRefused(error) }
            switch ProbeTimeout.budget(header: header(ProbeTimeout.headerName), maximum: probe.maxTimeout) {
            case .success(let timeout): return .probe(host: target.host, port: target.port, timeout: timeout)
            case .failure(let problem): return .probeRefused(.badTimeout(problem))
            }
        case "/healthz":
            return .healthz
        case "/":
            return .landing
        default:
            return .notFound
        }
    }

    /// Whether an Accept-Encoding value allows gzip: listed (or `*`) without `q=0`.
    public static func acceptsGzip(_ header: String?) -> Bool {
        guard let header else { return false }
        var gzip: Bool?
        var wildcard: Bool?
        for item in header.lowercased().split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.filter { $0 != " " && $0 != "\t" } }
            guard let coding = parts.first else { continue }
            let refused = parts.dropFirst().contains { parameter in
                guard parameter.hasPrefix("q=") else { return false }
                return Double(parameter.dropFirst(2)) == 0
            }
            if coding == "gzip" || coding == "x-gzip" { gzip = !refused } else if coding == "*" { wildcard = !refused }
        }
        return gzip ?? wildcard ?? false
    }
}
