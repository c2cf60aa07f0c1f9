/// One HTTP request a check wants made during a poll cycle. Checks declare what they read; the
/// cycle fetches each distinct request once, so two checks that read /configz cost one request.
public struct ProbeRequest: Sendable, Hashable {
    /// Which identity the request carries. Only `.exporter` ever holds the real credentials.
    public enum Credential: String, Sendable, Hashable {
        case exporter
        case anonymous
        /// A syntactically valid bearer token that no API server can know.
        case invalidToken = "invalid_token"
    }

    /// Where the request goes, relative to the target.
    public enum Destination: Sendable, Hashable {
        case securePort
        /// The legacy plain-HTTP port on the target's host.
        case insecurePort(Int)
        /// The secure port on another address of the node (non-loopback bind probe).
        case address(String)
    }

    /// How the TLS connection is made.
    public enum Transport: Sendable, Hashable {
        /// The target's TLS settings, reusing a kept-alive connection.
        case configured
        /// A new connection, peer not verified, legacy TLS versions allowed: to observe the
        /// certificate chain and the TLS version the server really offers.
        case observe
        /// A new connection verified against the configured CA (or the system store), whatever
        /// `insecure_skip_verify` says: is the serving certificate trustworthy?
        case verify
        /// A new connection offering nothing newer than TLS 1.1, peer not verified: a server that
        /// prefers 1.3 but still accepts 1.0 shows it only to a client that offers no more.
        case legacyOnly
    }

    public var endpoint: String   // metric label, e.g. "metrics", "pprof"
    public var path: String
    public var credential: Credential
    public var destination: Destination
    public var transport: Transport

    public init(_ endpoint: String, path: String, credential: Credential = .exporter, destination: Destination = .securePort,
                transport: Transport = .configured) {
        self.endpoint = endpoint
        self.path = path
        self.credential = credential
        self.destination = destination
        self.transport = transport
    }

    /// The target's metrics, at `TargetConfig.metricsPath` (`/metrics` on a scheduler).
    public static let metrics = ProbeRequest("metrics", path: "/metrics")
    /// `kube_pod_resource_request` and `_limit`, for `--passthrough.resources`.
    public static let metricsResources = ProbeRequest("metrics_resources", path: "/metrics/resources")
    public static let healthz = ProbeRequest("healthz", path: "/healthz?verbose")
    public static let livez = ProbeRequest("livez", path: "/livez?verbose")
    public static let readyz = ProbeRequest("readyz", path: "/readyz?verbose")
    public static let configz = ProbeRequest("configz", path: "/configz")
    public static let pprof = ProbeRequest("pprof", path: "/debug/pprof/")
    public static let flagz = ProbeRequest("flagz", path: "/flagz")
    public static let statusz = ProbeRequest("statusz", path: "/statusz")
}

/// The invalid token sent by the authentication probe: well-formed, obviously fake, and never
/// derived from the real one.
let invalidBearerToken = "kube-scheduler-exporter-invalid-token-probe"
