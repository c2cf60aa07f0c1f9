import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// Requests the server turned away, for `kube_scheduler_exporter_http_requests_rejected_total`.
public final class RequestRejections: Sendable {
    private let unauthorizedCount = Atomic<Int>(0)
    private let tlsCount = Atomic<Int>(0)

    public init() {}

    public var unauthorized: Int { unauthorizedCount.load(ordering: .relaxed) }
    public var tls: Int { tlsCount.load(ordering: .relaxed) }

    func countUnauthorized() { unauthorizedCount.add(1, ordering: .relaxed) }
    func countTLSFailure() { tlsCount.add(1, ordering: .relaxed) }
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

    public init(path: String) throws(ConfigError) {
        self.path = path
        let active = try Self.load(path: path)
        self.servesTLS = active.tls != nil
        self.state = Mutex(State(active: active))
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

    /// Whether `authorization` (the header's value) names a configured user with the right
    /// password. Cached answers complete at once; others run bcrypt on the pool.
    func authorize(_ authorization: String?, on eventLoop: EventLoop) -> EventLoopFuture<Bool> {
        let authenticator = active.authenticator
        guard authenticator.isEnabled else { return eventLoop.makeSucceededFuture(true) }
        guard let credentials = BasicAuthenticator.credentials(fromHeader: authorization) else {
            return eventLoop.makeSucceededFuture(false)
        }
        let (hash, known) = authenticator.hashToCheck(for: credentials.user)
        let key = verifiedCredentials.key(user: credentials.user, hash: hash, password: credentials.password)
        if known, verifiedCredentials.contains(key) { return eventLoop.makeSucceededFuture(true) }
        let cache = verifiedCredentials
        return bcryptPool.runIfActive(eventLoop: eventLoop) {
            let matches = BcryptHash.verify(password: credentials.password, hash: hash)
            if matches && known { cache.insert(key) }
            return matches && known
        }
    }

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
final class TLSHandshakeObserver: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: NIO confines a handler to its channel's event loop.
    typealias InboundIn = NIOAny
    let rejections: RequestRejections
    let logger: Logger
    private var counted = false

    init(rejections: RequestRejections, logger: Logger) {
        self.rejections = rejections
        self.logger = logger
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !counted, Self.isHandshakeFailure(error) {
            counted = true
            rejections.countTLSFailure()
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
