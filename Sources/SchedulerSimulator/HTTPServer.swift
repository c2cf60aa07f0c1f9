import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL

/// One HTTP/1-style handler behind both an HTTP/1.1 pipeline and each HTTP/2 stream (through
/// `HTTP2FramePayloadToHTTP1ServerCodec`), so both protocols answer identically.
final class SimulatorRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let engine: SimulatorEngine
    private let secure: Bool
    private var head: HTTPRequestHead?

    init(engine: SimulatorEngine, secure: Bool) {
        self.engine = engine
        self.secure = secure
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
        case .body:
            break
        case .end:
            guard let requestHead = head else { return }
            head = nil
            answer(requestHead, context: context)
        }
    }

    private func answer(_ requestHead: HTTPRequestHead, context: ChannelHandlerContext) {
        let isHTTP2 = requestHead.version.major == 2
        let request = SimulatorRequest(
            method: requestHead.method.rawValue, target: requestHead.uri,
            authorization: requestHead.headers.first(name: "authorization"),
            hasClientCertificate: secure && Self.peerPresentedCertificate(context.channel),
            httpVersion: isHTTP2 ? "2" : "\(requestHead.version.major).\(requestHead.version.minor)",
            secure: secure)
        let response = engine.respond(to: request)

        var headers = HTTPHeaders()
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        let keepAlive = isHTTP2 || requestHead.isKeepAlive
        if !isHTTP2, !keepAlive { headers.replaceOrAdd(name: "connection", value: "close") }
        let responseHead = HTTPResponseHead(
            version: isHTTP2 ? .http2 : requestHead.version, status: HTTPResponseStatus(statusCode: response.status),
            headers: headers)
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        if !response.body.isEmpty {
            let buffer = context.channel.allocator.buffer(bytes: response.body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// The TLS handler sits on the connection channel, which is the parent of an HTTP/2 stream channel.
    /// Both run on the same event loop, so the synchronous lookup is safe here.
    private static func peerPresentedCertificate(_ channel: Channel) -> Bool {
        let connection = channel.parent ?? channel
        guard let handler = try? connection.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self) else {
            return false
        }
        return handler.peerCertificate != nil
    }
}

/// Closes connections whose TLS handshake or framing failed instead of leaving them open.
final class CloseOnErrorHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

enum SimulatorServer {
    static func makeTLSContext(
        material: ServingMaterial, minimumVersion: TLSVersionLimit? = nil, maximumVersion: TLSVersionLimit?
    ) throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMFile(material.certificatePath).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: material.keyPath, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        configuration.applicationProtocols = ["h2", "http/1.1"]
        // Like Go's VerifyClientCertIfGiven: no certificate is fine (anonymous or token), a bad one fails.
        configuration.certificateVerification = .optionalVerification
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(material.clientCACertificatePath))
        // NIOSSL's own default minimum is TLS 1.0; a real kube-scheduler refuses anything below 1.2
        // unless started with --tls-min-version.
        configuration.minimumTLSVersion = (minimumVersion ?? .tls12).nioVersion
        if let maximumVersion {
            configuration.maximumTLSVersion = maximumVersion.nioVersion
            if maximumVersion == .tls10 || maximumVersion == .tls11 { configuration.minimumTLSVersion = maximumVersion.nioVersion }
        }
        return try NIOSSLContext(configuration: configuration)
    }

    static func bindSecure(
        group: EventLoopGroup, host: String, port: Int, tls: NIOSSLContext, engine: SimulatorEngine
    ) async throws -> Channel {
        try await bootstrap(group: group).childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
            }.flatMap {
                channel.configureHTTP2SecureUpgrade(
                    h2ChannelConfigurator: { connection in
                        connection.configureHTTP2Pipeline(
                            mode: .server, connectionConfiguration: .init(), streamConfiguration: .init()
                        ) { stream in
                            stream.eventLoop.makeCompletedFuture {
                                try stream.pipeline.syncOperations.addHandlers([
                                    HTTP2FramePayloadToHTTP1ServerCodec(),
                                    SimulatorRequestHandler(engine: engine, secure: true),
                                ])
                            }
                        }.flatMap { _ in
                            connection.pipeline.addHandler(CloseOnErrorHandler())
                        }
                    },
                    http1ChannelConfigurator: { connection in
                        connection.eventLoop.makeCompletedFuture {
                            try connection.pipeline.syncOperations.configureHTTPServerPipeline()
                            try connection.pipeline.syncOperations.addHandlers([
                                SimulatorRequestHandler(engine: engine, secure: true), CloseOnErrorHandler(),
                            ])
                        }
                    })
            }
        }.bind(host: host, port: port).get()
    }

    static func bindInsecure(group: EventLoopGroup, host: String, port: Int, engine: SimulatorEngine) async throws
        -> Channel
    {
        try await bootstrap(group: group).childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                try channel.pipeline.syncOperations.addHandlers([
                    SimulatorRequestHandler(engine: engine, secure: false), CloseOnErrorHandler(),
                ])
            }
        }.bind(host: host, port: port).get()
    }

    private static func bootstrap(group: EventLoopGroup) -> ServerBootstrap {
        ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
    }
}

extension TLSVersionLimit {
    var nioVersion: TLSVersion {
        switch self {
        case .tls10: .tlsv1
        case .tls11: .tlsv11
        case .tls12: .tlsv12
        case .tls13: .tlsv13
        }
    }
}
