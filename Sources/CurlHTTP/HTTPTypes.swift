/// How the client authenticates the server and itself. Part of libcurl's connection-reuse key:
/// requests with different options never share a connection.
public struct TLSOptions: Sendable, Hashable {
    /// PEM CA bundle to verify the server against; nil uses the system store.
    public var caFile: String?
    /// The same as PEM bytes (a kubeconfig's certificate-authority-data); wins over `caFile`.
    public var caData: [UInt8]?
    /// PEM client certificate (mTLS); used together with `keyFile`.
    public var certFile: String?
    /// PEM private key of `certFile`.
    public var keyFile: String?
    /// Turns off both chain and host-name verification.
    public var insecureSkipVerify: Bool
    /// Verify and send SNI for this name instead of the URL host, while still connecting to the
    /// URL's host and port (like kubectl's `--tls-server-name`).
    public var serverName: String?
    /// Offer TLS 1.0 and 1.1 and OpenSSL's weakest security level too: only to OBSERVE what an
    /// old or misconfigured server negotiates (the TLS posture check), never to fetch data.
    public var allowLegacyVersions = false
    /// Offer ONLY TLS 1.0 and 1.1 (at OpenSSL's weakest security level, over HTTP/1.1): a
    /// handshake that succeeds proves the server accepts a broken version even when it prefers
    /// a modern one. Only to observe, never to fetch data.
    public var legacyOnly = false

    public init(
        caFile: String? = nil,
        certFile: String? = nil,
        keyFile: String? = nil,
        insecureSkipVerify: Bool = false,
        serverName: String? = nil
    ) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
        self.insecureSkipVerify = insecureSkipVerify
        self.serverName = serverName
    }
}

/// A bearer token that refuses to show itself: printing, interpolating, `dump` and reflection
/// all yield `<redacted>`, so it cannot leak into logs by accident.
public struct BearerToken: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    let value: String

    public init(_ value: String) {
        self.value = value
    }

    /// `text` with every occurrence of the token replaced by `<redacted>`, for text that came
    /// back from a server: a hostile target can echo the token it was sent.
    public func redacted(in text: String) -> String { text.replacingAll(value, with: "<redacted>") }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

/// One request: GET for everything the exporter polls (all read-only), POST only for the
/// Kubernetes API's review objects (TokenReview, SubjectAccessReview), which create nothing.
public struct HTTPRequest: Sendable {
    public enum Method: String, Sendable {
        case get = "GET"
        case post = "POST"
    }

    public var url: String
    public var method: Method = .get
    /// Sent with POST (and its Content-Type header is the caller's to set).
    public var body: [UInt8] = []
    /// Sent as `Authorization: Bearer <token>` to `url` only; redirects are never followed.
    public var bearerToken: BearerToken?
    /// Extra request headers (Accept, User-Agent, ...).
    public var headers: [(name: String, value: String)]
    public var tls: TLSOptions
    public var connectTimeout: Duration
    /// Limit for the whole transfer, connect included.
    public var timeout: Duration
    /// Limit on the (decoded) body; a longer body aborts the transfer with `.bodyTooLarge`.
    public var maxBodyBytes: Int
    /// Advertise gzip/deflate/br/zstd and decode; `maxBodyBytes` then counts decoded bytes.
    public var acceptCompressed: Bool
    /// Ask libcurl for the server chain (filled only when a new connection is made).
    public var captureCertificates: Bool
    /// Open a new connection and close it afterwards, so the chain (CERTINFO) is reported.
    public var freshConnection = false
    /// Open a new connection but keep it for later requests: the one retry after a kept-alive
    /// connection turned out dead.
    var reconnect = false

    public init(
        url: String,
        bearerToken: BearerToken? = nil,
        headers: [(name: String, value: String)] = [],
        tls: TLSOptions = TLSOptions(),
        connectTimeout: Duration = .seconds(5),
        timeout: Duration = .seconds(10),
        maxBodyBytes: Int = 16 << 20,
        acceptCompressed: Bool = false,
        captureCertificates: Bool = true
    ) {
        self.url = url
        self.bearerToken = bearerToken
        self.headers = headers
        self.tls = tls
        self.connectTimeout = connectTimeout
        self.timeout = timeout
        self.maxBodyBytes = maxBodyBytes
        self.acceptCompressed = acceptCompressed
        self.captureCertificates = captureCertificates
    }
}

public enum HTTPVersion: String, Sendable {
    case http1_0 = "1.0"
    case http1_1 = "1.1"
    case http2 = "2"
    case http3 = "3"
    case unknown = ""
}

/// One certificate of the server chain as libcurl's CERTINFO reports it.
public struct CertificateInfo: Sendable, Equatable {
    /// OpenSSL one-line form, e.g. `CN = kube-scheduler`.
    public var subject: String
    public var issuer: String
    /// Unix seconds; nil when libcurl's text could not be parsed.
    public var notBefore: Double?
    public var notAfter: Double?

    public init(subject: String, issuer: String, notBefore: Double?, notAfter: Double?) {
        self.subject = subject
        self.issuer = issuer
        self.notBefore = notBefore
        self.notAfter = notAfter
    }

    /// True when subject and issuer are the same name (the usual self-signed test).
    public var isSelfSigned: Bool { subject == issuer }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    /// In arrival order; names lowercased, values trimmed.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    public var httpVersion: HTTPVersion
    /// "TLSv1.3", "TLSv1.2", ...; nil for plain http.
    public var tlsVersion: String?
    /// Server chain, leaf first. EMPTY when the connection was reused, because libcurl fills
    /// CERTINFO only when it makes a new connection.
    public var certificates: [CertificateInfo]
    public var newConnection: Bool
    public var duration: Duration
    public var primaryIP: String?

    public init(
        status: Int,
        headers: [(name: String, value: String)] = [],
        body: [UInt8] = [],
        httpVersion: HTTPVersion = .unknown,
        tlsVersion: String? = nil,
        certificates: [CertificateInfo] = [],
        newConnection: Bool = true,
        duration: Duration = .zero,
        primaryIP: String? = nil
    ) {
        self.status = status
        self.headers = headers
        self.body = body
        self.httpVersion = httpVersion
        self.tlsVersion = tlsVersion
        self.certificates = certificates
        self.newConnection = newConnection
        self.duration = duration
        self.primaryIP = primaryIP
    }

    /// The first value of a header, name compared case-insensitively.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name == wanted }?.value
    }
}

public struct HTTPClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Raw values are the exporter's `reason` label values.
    public enum Kind: String, Sendable {
        case dns
        case connectRefused = "connect_refused"
        case connectTimeout = "connect_timeout"
        case timeout
        case tlsHandshake = "tls_handshake"
        case tlsVerify = "tls_verify"
        case bodyTooLarge = "body_too_large"
        case badURL = "bad_url"
        case protocolError = "protocol"
        case cancelled
        case other
    }

    public var kind: Kind
    /// libcurl's error text and the URL (user info removed). Never contains the bearer token.
    public var message: String
    /// The request went out on a reused keep-alive connection that failed before any response
    /// byte came back: the server closed it while idle, so the request never reached it.
    var reusedConnectionDied = false

    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}

public enum TCPProbeResult: Sendable, Equatable {
    case open
    case refused
    case timeout
    case error(String)
}

// Lives beside BearerToken (no imports) so the fuzz build can compile this file on its own.
extension String {
    func redacting(_ secret: String?) -> String {
        guard let secret, !secret.isEmpty else { return self }
        return replacingAll(secret, with: "<redacted>")
    }

    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        result += rest
        return result
    }
}
