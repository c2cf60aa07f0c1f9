import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization

/// Requests and connections the server turned away, for
/// `kube_scheduler_exporter_http_requests_rejected_total{reason}`.
public final class RequestRejections: Sendable {
    public enum Reason: String, Sendable, CaseIterable {
        /// A failed TLS handshake.
        case tls
        /// Missing or wrong basic-auth credentials.
        case unauthorized
        /// Too many password checks waiting: 429.
        case passwordCheckOverload = "password_check_overload"
        /// Over `--web.max-requests`: 503.
        case maxRequests = "max_requests"
        /// A new connection over `--web.max-connections` closed because every connection was busy.
        case connectionLimit = "connection_limit"
        /// An idle connection closed to make room for a new one over `--web.max-connections`.
        case connectionEvicted = "connection_evicted"
        /// No complete request (or TLS handshake) in time: a slowloris.
        case timeout
        /// 414.
        case uriTooLong = "uri_too_long"
        /// 431.
        case headersTooLarge = "headers_too_large"
        /// A request NIO's parser refused: 400.
        case badRequest = "bad_request"
        /// `--web.kubernetes-auth`: a known user without RBAC for the path: 403.
        case forbidden
        /// `--web.kubernetes-auth`: the API server did not answer and nothing was cached: 503.
        case authUnavailable = "auth_unavailable"
        /// `--web.kubernetes-auth`: too many reviews in flight: 429.
        case reviewOverload = "review_overload"
    }

    private let counts = Mutex<[Reason: Int]>([:])

    public init() {}

    public func value(_ reason: Reason) -> Int {
        counts.withLock { $0[reason] ?? 0 }
    }

    public var unauthorized: Int { value(.unauthorized) }
    public var tls: Int { value(.tls) }

    func count(_ reason: Reason) {
        counts.withLock { $0[reason, default: 0] += 1 }
    }
}

/// The exporter endpoint's protection from `--web.config.file`: the TLS context new connections
/// get, the basic-auth users, the extra headers. Re-read when the file or a file it names changes;
/// a bad new file is logged and the running config stays. Whether the port speaks TLS at all is
/// fixed at start (the listening socket does not change), so a reload may not switch it.
public final class WebSecurity: Sendable {
    public let path: String

    /// One loaded config with everything derived from it.
    struct Active: Sendable {
        var config: WebConfig
        var tls: ServerTLS?
        var authenticator: BasicAuthenticator
        var headers: [(String, String)]
        var stamps: [FileStamp]
    }
    private struct State: Sendable {
        var active: Active
        /// Stamps of the last file that failed to load, so one bad edit is logged once, not every check.
        var rejectedStamps: [FileStamp]?
    }
    private let state: Mutex<State>
    let servesTLS: Bool
    let verifiedCredentials = VerifiedCredentialCache()
    /// One thread: bcrypt runs one at a time (as exporter-toolkit's mutex does), never on an event
    /// loop, so a flood of wrong passwords costs one core at most and cached scrapes never wait.
    private let bcryptPool: NIOThreadPool
    /// Checks queued or running on the pool; beyond `maxPendingChecks` a request is refused at
    /// once instead of waiting behind a flood.
    private let pendingChecks = Atomic<Int>(0)
    let maxPendingChecks: Int

    public init(path: String, maxPendingChecks: Int = ServerLimits().maxPendingPasswordChecks) throws(ConfigError) {
        self.path = path
        let active = try Self.load(path: path)
        self.servesTLS = active.tls != nil
        self.state = Mutex(State(active: active))
        self.maxPendingChecks = max(1, maxPendingChecks)
        self.bcryptPool = NIOThreadPool(numberOfThreads: 1)
        bcryptPool.start()
    }

    deinit {
        bcryptPool.shutdownGracefully { _ in }
    }

    var active: Active { state.withLock { $0.active } }

    public var config: WebConfig { active.config }

    /// Re-reads the config when the file or a file it names changed; true when a new one took effect.
    @discardableResult
    public func reloadIfChanged(logger: Logger) -> Bool {
        let (current, rejected) = state.withLock { ($0.active, $0.rejectedStamps) }
        let stamps = FileStamp.of(current.config.referencedFiles(configPath: path))
        guard stamps != current.stamps else { return false }
        let candidate: Active
        do throws(ConfigError) {
            candidate = try Self.load(path: path)
            if (candidate.tls != nil) != servesTLS {
                throw ConfigError("\(path): switching TLS \(servesTLS ? "off" : "on") needs a restart")
            }
        } catch {
            // Retried every check (files a new config names may get fixed), logged once per edit.
            let failedStamps = stamps
            if rejected != failedStamps {
                logger.error("web config not reloaded; keeping the running one", metadata: ["error": "\(error.message)"])
            }
            state.withLock { $0.rejectedStamps = failedStamps }
            return false
        }
        state.withLock { $0 = State(active: candidate) }
        verifiedCredentials.removeAll()
        logger.info("web config reloaded", metadata: [
            "tls": "\(candidate.tls != nil)", "basic_auth_users": "\(candidate.authenticator.users.count)",
        ])
        return true
    }

    enum Decision: Sendable, Equatable {
        case allowed
        case denied
        /// Too many checks are waiting for bcrypt already; the caller answers 429.
        case overloaded
    }

    /// Whether `authorization` (the header's value) names a configured user with the right
    /// password. Cached answers complete at once; others run bcrypt on the pool, unless
    /// `maxPendingChecks` are waiting already.
    func authorize(_ authorization: String?, on eventLoop: EventLoop) -> EventLoopFuture<Decision> {
        let authenticator = active.authenticator
        guard authenticator.isEnabled else { return eventLoop.makeSucceededFuture(.allowed) }
        guard let credentials = BasicAuthenticator.credentials(fromHeader: authorization) else {
            return eventLoop.makeSucceededFuture(.denied)
        }
        let (hash, known) = authenticator.hashToCheck(for: credentials.user)
        let key = verifiedCredentials.key(user: credentials.user, hash: hash, password: credentials.password)
        if known, verifiedCredentials.contains(key) { return eventLoop.makeSucceededFuture(.allowed) }
        guard pendingChecks.add(1, ordering: .relaxed).newValue <= maxPendingChecks else {
            pendingChecks.subtract(1, ordering: .relaxed)
            return eventLoop.makeSucceededFuture(.overloaded)
        }
        let cache = verifiedCredentials
        let pending = self
        return bcryptPool.runIfActive(eventLoop: eventLoop) {
            defer { pending.pendingChecks.subtract(1, ordering: .relaxed) }
            let matches = BcryptHash.verify(password: credentials.password, hash: hash)
            if matches && known { cache.insert(key) }
            return matches && known ? .allowed : .denied
        }
    }

    /// Password checks queued or running now.
    var passwordChecksPending: Int { pendingChecks.load(ordering: .relaxed) }

    static func load(path: String) throws(ConfigError) -> Active {
        // Stamp before reading, so an edit racing the read is seen as a change next time.
        let config = try WebConfig.load(path: path)
        let stamps = FileStamp.of(config.referencedFiles(configPath: path))
        let tls = try config.tls.map { (tls) throws(ConfigError) in try ServerTLS(tls, source: path) }
        return Active(config: config, tls: tls, authenticator: BasicAuthenticator(users: config.basicAuthUsers),
                      headers: config.headers.sorted { $0.key < $1.key }, stamps: stamps)
    }
}

/// A file's identity and version as `stat` tells it: an edit in place changes mtime/size, an atomic
/// rename (as Kubernetes does for mounted secrets) changes the inode.
struct FileStamp: Sendable, Equatable {
    var path: String
    var inode: UInt64
    var size: Int64
    var modified: Double

    static func of(_ paths: [String]) -> [FileStamp] {
        paths.map { path in
            switch FileAccess.status(path) {
            case .success(let status): FileStamp(path: path, inode: status.inode, size: status.size, modified: status.modified)
            case .failure: FileStamp(path: path, inode: 0, size: -1, modified: 0)
            }
        }
    }
}

/// The server's TLS for new connections, built from `tls_server_config`.
struct ServerTLS: Sendable {
    let context: NIOSSLContext
    /// RequestClientCert and RequireAnyClientCert take any certificate, trusted or not.
    let acceptsAnyClientCertificate: Bool

    init(_ config: WebConfig.TLSServer, source: String) throws(ConfigError) {
        func readPEM(_ key: String, _ path: String) throws(ConfigError) -> [UInt8] {
            guard let bytes = FileAccess.read(path, limit: 1 << 20) else {
                throw ConfigError("\(source): tls_server_config.\(key): cannot read \"\(path)\"")
            }
            return bytes
        }
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        var clientRoots: [NIOSSLCertificate] = []
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(readPEM("cert_file", config.certFile))
        } catch let error as ConfigError { throw error } catch {
            throw ConfigError("\(source): tls_server_config.cert_file: \"\(config.certFile)\" holds no PEM certificate")
        }
        guard !chain.isEmpty else { throw ConfigError("\(source): tls_server_config.cert_file: \"\(config.certFile)\" holds no PEM certificate") }
        do {
            key = try NIOSSLPrivateKey(bytes: readPEM("key_file", config.keyFile), format: .pem)
        } catch let error as ConfigError { throw error } catch {
            // Never quote the key file's content.
            throw ConfigError("\(source): tls_server_config.key_file: \"\(config.keyFile)\" holds no PEM private key (or it is encrypted)")
        }
        if let caFile = config.clientCAFile {
            do {
                clientRoots = try NIOSSLCertificate.fromPEMBytes(readPEM("client_ca_file", caFile))
            } catch let error as ConfigError { throw error } catch {
                throw ConfigError("\(source): tls_server_config.client_ca_file: \"\(caFile)\" holds no PEM certificate")
            }
            guard !clientRoots.isEmpty else { throw ConfigError("\(source): tls_server_config.client_ca_file: \"\(caFile)\" holds no PEM certificate") }
        }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.minimumTLSVersion = Self.version(config.minVersion)
        tls.maximumTLSVersion = config.maxVersion.map(Self.version)
        tls.applicationProtocols = ["http/1.1"]
        switch config.clientAuth {
        case .noClientCert:
            tls.certificateVerification = .none
        case .requestClientCert, .verifyClientCertIfGiven:
            tls.certificateVerification = .optionalVerification
        case .requireAnyClientCert, .requireAndVerifyClientCert:
            tls.certificateVerification = .noHostnameVerification
        }
        if !clientRoots.isEmpty {
            tls.trustRoots = .certificates(clientRoots)
            tls.sendCANameList = true
        }
        acceptsAnyClientCertificate = config.clientAuth == .requestClientCert || config.clientAuth == .requireAnyClientCert
        do {
            context = try NIOSSLContext(configuration: tls)
        } catch {
            throw ConfigError("\(source): tls_server_config: key_file does not match cert_file or is unusable (\(Self.reason(error)))")
        }
    }

    func makeHandler() -> NIOSSLServerHandler {
        if acceptsAnyClientCertificate {
            return NIOSSLServerHandler(context: context, customVerificationCallback: { _, promise in
                promise.succeed(.certificateVerified)
            })
        }
        return NIOSSLServerHandler(context: context)
    }

    static func version(_ name: WebConfig.TLSVersionName) -> TLSVersion {
        switch name {
        case .tls10: .tlsv1
        case .tls11: .tlsv11
        case .tls12: .tlsv12
        case .tls13: .tlsv13
        }
    }

    /// The library's reason codes only: they name what went wrong, never key material.
    static func reason(_ error: any Error) -> String {
        if case .failedToLoadPrivateKey = error as? NIOSSLError { return "private key rejected" }
        if let error = error as? BoringSSLError, case .unknownError(let errors) = error {
            return errors.map { "\($0)" }.joined(separator: "; ")
        }
        return "\(error)"
    }
}

/// Counts a connection's failed TLS handshake as a rejected request. A connection closed before
/// sending anything (a port check) is not a request and is not counted; errors after the handshake
/// (a client hanging up mid-stream) are not `handshakeFailed` and are not counted either.
/// A handshake not done within `timeout` closes the connection (counted as `timeout`).
final class TLSHandshakeObserver: ChannelInboundHandler {
    typealias InboundIn = NIOAny
    let rejections: RequestRejections
    let logger: Logger
    let timeout: Duration
    private var counted = false
    private var deadline: Scheduled<Void>?

    init(rejections: RequestRejections, timeout: Duration = ServerLimits().tlsHandshakeTimeout, logger: Logger) {
        self.rejections = rejections
        self.timeout = timeout
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(timeout)) {
            let (observer, context) = loopBound.value
            observer.deadline = nil
            observer.rejections.count(.timeout)
            observer.logger.debug("closing a connection whose TLS handshake did not finish in time", metadata: [
                "peer": "\(context.remoteAddress?.description ?? "unknown")",
            ])
            context.close(promise: nil)
        }
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            deadline?.cancel()
            deadline = nil
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !counted, Self.isHandshakeFailure(error) {
            counted = true
            rejections.count(.tls)
            logger.debug("TLS handshake failed", metadata: [
                "peer": "\(context.remoteAddress?.description ?? "unknown")", "error": "\(error)",
            ])
        }
        context.fireErrorCaught(error)
    }

    static func isHandshakeFailure(_ error: any Error) -> Bool {
        guard case .handshakeFailed(let reason) = error as? NIOSSLError else { return false }
        if case .sslError(let errors) = reason, errors == [.eofDuringHandshake] { return false }
        return true
    }
}
