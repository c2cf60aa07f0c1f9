/// What the exporter's HTTP server gives one client at most, so that hostile clients (slowloris,
/// connection floods, oversized heads, a flood of wrong passwords) cannot starve the scraper.
/// Pure values and checks, without NIO, so the fuzz harness runs the same checks.
public struct ServerLimits: Sendable, Equatable {
    /// Connections held open at once (`--web.max-connections`). A new connection over it closes
    /// the one idle longest (no request being answered: a slowloris or a parked keep-alive), and
    /// when every connection is busy the new one is closed instead.
    public var maxConnections = 512
    /// Requests being answered at once (`--web.max-requests`, node_exporter's flag and default);
    /// over it 503. 0: no limit.
    public var maxRequests = 40
    /// From a new connection (its TLS handshake included) or the end of the previous response
    /// until a request is in: Go's ReadHeaderTimeout. Slowloris connections end here.
    public var requestTimeout: Duration = .seconds(10)
    /// A kept-alive connection with no request in flight is closed after this (Prometheus
    /// reconnects; its scrape interval is usually longer anyway).
    public var idleTimeout: Duration = .seconds(120)
    /// A TLS handshake must be done within this.
    public var tlsHandshakeTimeout: Duration = .seconds(10)
    /// Request target (path and query) bytes; longer is 414.
    public var maxURIBytes = 8 << 10
    /// Header bytes (names, values and separators); more is 431.
    public var maxHeaderBytes = 16 << 10
    /// Header fields; more is 431.
    public var maxHeaderFields = 100
    /// bcrypt checks waiting for the one bcrypt thread; a request that would wait behind more is
    /// 429 at once, so a flood of wrong passwords costs one core and never a growing queue.
    public var maxPendingPasswordChecks = 8

    public init() {}

    /// What the request head may not be, checked as soon as it is in.
    public enum HeadProblem: Sendable, Equatable {
        case uriTooLong
        case headersTooLarge

        public var status: Int {
            switch self {
            case .uriTooLong: 414
            case .headersTooLarge: 431
            }
        }
    }

    public func check(uri: String, headers: [(name: String, value: String)]) -> HeadProblem? {
        if uri.utf8.count > maxURIBytes { return .uriTooLong }
        if headers.count > maxHeaderFields { return .headersTooLarge }
        var bytes = 0
        for header in headers {
            bytes += header.name.utf8.count + header.value.utf8.count + 4  // ": " and CRLF
            if bytes > maxHeaderBytes { return .headersTooLarge }
        }
        return nil
    }
}
