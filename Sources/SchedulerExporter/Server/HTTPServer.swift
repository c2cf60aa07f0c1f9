import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A request as the routes see it: method, path, query and the few headers they read.
public struct ServerRequest: Sendable {
    public var method: HTTPMethod
    /// The request target as sent (path and query, not decoded).
    public var uri: String
    public var path: String
    public var query: [(name: String, value: String)]
    public var headers: HTTPHeaders

    public func queryValue(_ name: String) -> String? { query.first { $0.name == name }?.value }
}

public struct ServerResponse: Sendable {
    public var status: HTTPResponseStatus
    public var contentType: String
    public var body: ByteBuffer
    /// Written after `body`: lets a cached body go out as is, without copying it to append.
    public var trailer: ByteBuffer?
    /// Beyond Content-Type, Content-Length and Connection, which the server sets.
    public var headers: [(String, String)] = []

    public init(status: HTTPResponseStatus = .ok, contentType: String = "text/plain; charset=utf-8", body: ByteBuffer) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    public init(status: HTTPResponseStatus = .ok, contentType: String = "text/plain; charset=utf-8", text: String) {
        self.init(status: status, contentType: contentType, body: ByteBuffer(string: text))
    }
}

/// What a route answers: most answer at once on the event loop (no hop for /metrics); a route that
/// must wait (an outside-in probe) hands back work that runs off the loop.
public enum RouteResult: Sendable {
    case response(ServerResponse)
    case deferred(@Sendable () async -> ServerResponse)
}

/// The route table: a function from request to response that never touches a polled target.
public typealias Router = @Sendable (ServerRequest) -> RouteResult

/// A small HTTP/1.1 server on SwiftNIO: keep-alive, bounded request heads, no request bodies; with
/// a web config, TLS from its current context on each new connection and basic auth on every path.
/// `ServerLimits` bounds what one client gets (connections, time to send a request, head sizes,
/// requests in flight, password checks), so a hostile client cannot starve the scraper.
public final class HTTPServer: Sendable {
    let group: MultiThreadedEventLoopGroup
    let router: Router
    let web: WebSecurity?
    let rejections: RequestRejections
    let logger: Logger
    let limits: ServerLimits
    let connections: ConnectionRegistry
    let requestsInFlight = Atomic<Int>(0)
    /// `--web.kubernetes-auth`: every path but /healthz needs a bearer token RBAC allows.
    let kubernetesAuth: KubernetesAuthorizer?

    public init(threads: Int = System.coreCount, router: @escaping Router, web: WebSecurity? = nil,
                rejections: RequestRejections = RequestRejections(), limits: ServerLimits = ServerLimits(),
                kubernetesAuth: KubernetesAuthorizer? = nil, logger: Logger) {
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        self.router = router
        self.web = web
        self.kubernetesAuth = kubernetesAuth
        self.rejections = rejections
        self.limits = limits
        self.connections = ConnectionRegistry(capacity: max(1, limits.maxConnections))
        self.logger = logger
    }

    /// Binds and returns the channel; close it (or call `shutdown`) to stop.
    public func start(host: String, port: Int) async throws -> Channel {
        let server = self
        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
        // NIO counts the request target as a field too; ours are checked on the head for 414 and
        // 431, and NIO's stop a head that would not fit either before it is buffered whole.
        decoderLimits.maxHeaderFieldSize = max(limits.maxURIBytes, limits.maxHeaderBytes)
        decoderLimits.maxHeaderListSize = limits.maxURIBytes + limits.maxHeaderBytes
        decoderLimits.maxHeaderFieldCount = limits.maxHeaderFields + 1
        let decoder = decoderLimits
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            // Accept in bigger batches: under a connection flood a full accept queue drops SYNs,
            // and a scraper's dropped SYN is retried only after a second.
            .serverChannelOption(.maxMessagesPerRead, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 4)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try server.initialize(channel, decoderLimits: decoder)
                }
            }
            .bind(host: host, port: port).get()
    }

    private func initialize(_ channel: Channel, decoderLimits: NIOHTTPDecoderLimitConfiguration) throws {
        switch connections.admit(channel) {
        case .admitted:
            break
        case .admittedEvicting(let victim):
            rejections.count(.connectionEvicted)
            victim.close(promise: nil)
        case .refused:
            rejections.count(.connectionLimit)
            throw ConnectionRefused()
        }
        let connections = self.connections
        channel.closeFuture.whenComplete { _ in connections.remove(channel) }
        let state = ConnectionState()
        let pipeline = channel.pipeline.syncOperations
        // A reloaded certificate applies from the next connection on.
        if let tls = web?.active.tls {
            try pipeline.addHandler(tls.makeHandler())
            try pipeline.addHandler(TLSHandshakeObserver(rejections: rejections, timeout: limits.tlsHandshakeTimeout, logger: logger))
        }
        try pipeline.addHandler(RequestBytesObserver(state: state))
        try pipeline.configureHTTPServerPipeline(withErrorHandling: false, withEncoderConfiguration: .init(),
                                                 withDecoderLimitConfiguration: decoderLimits)
        try pipeline.addHandler(RequestHandler(server: self, state: state))
    }

    public func shutdown() async throws {
        try await group.shutdownGracefully()
    }

    /// Connections open now, for tests and the hostile-client suite.
    public var openConnections: Int { connections.count }
}

/// A new connection closed at once: the cap is reached and every connection is busy.
struct ConnectionRefused: Error {}

/// The open connections, so that one over `maxConnections` can make room by closing the one
/// that has been idle longest. A connection is busy from a complete request until its response is
/// written; before that (a slowloris, a TLS handshake, a parked keep-alive) it can be closed.
final class ConnectionRegistry: Sendable {
    private struct Entry: Sendable {
        let channel: any Channel
        var busy: Bool
        var idleSince: ContinuousClock.Instant
    }

    enum Admission {
        case admitted
        case admittedEvicting(any Channel)
        case refused
    }

    let capacity: Int
    private let entries = Mutex<[ObjectIdentifier: Entry]>([:])

    init(capacity: Int) {
        self.capacity = capacity
    }

    func admit(_ channel: any Channel) -> Admission {
        entries.withLock { entries in
            var victim: (id: ObjectIdentifier, entry: Entry)?
            if entries.count >= capacity {
                for (id, entry) in entries where !entry.busy {
                    if victim == nil || entry.idleSince < victim!.entry.idleSince { victim = (id, entry) }
                }
                guard victim != nil else { return .refused }
            }
            if let victim { entries[victim.id] = nil }
            entries[ObjectIdentifier(channel)] = Entry(channel: channel, busy: false, idleSince: .now)
            return victim.map { .admittedEvicting($0.entry.channel) } ?? .admitted
        }
    }

    func setBusy(_ channel: any Channel, _ busy: Bool) {
        entries.withLock { entries in
            let id = ObjectIdentifier(channel)
            guard entries[id] != nil else { return }
            entries[id]?.busy = busy
            if !busy { entries[id]?.idleSince = .now }
        }
    }

    func remove(_ channel: any Channel) {
        _ = entries.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    var count: Int { entries.withLock { $0.count } }
}

/// Per connection, shared by the byte observer in front of the HTTP decoder and the request
/// handler behind it; both run on the connection's event loop.
final class ConnectionState {
    /// Whether a line break came since the current request began: an overflowing head without
    /// one is a request target too long (414), with one too many header bytes (431).
    var requestLineComplete = false
    /// Called once on the first byte after the connection went idle (a new request begins).
    var onRequestBytes: (() -> Void)?
}

/// Sees the request bytes before the HTTP decoder does, and passes them on untouched.
private final class RequestBytesObserver: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    let state: ConnectionState

    init(state: ConnectionState) {
        self.state = state
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if buffer.readableBytes > 0 {
            if let started = state.onRequestBytes {
                state.onRequestBytes = nil
                started()
            }
            if !state.requestLineComplete, buffer.readableBytesView.contains(UInt8(ascii: "\n")) {
                state.requestLineComplete = true
            }
        }
        context.fireChannelRead(data)
    }
}

private final class RequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let server: HTTPServer
    let state: ConnectionState
    private var head: HTTPRequestHead?
    private var headProblem: ServerLimits.HeadProblem?
    /// The deferred work of the request being answered, cancelled when the connection goes away.
    private var inflight: Task<Void, Never>?
    /// This connection holds one of `--web.max-requests`.
    private var holdsRequestSlot = false
    /// A request is being answered (from its end until its response is written).
    private var answering = false
    /// Closes the connection when a request does not come in time.
    private var deadline: Scheduled<Void>?

    init(server: HTTPServer, state: ConnectionState) {
        self.server = server
        self.state = state
    }

    var logger: Logger { server.logger }
    var limits: ServerLimits { server.limits }

    func channelActive(context: ChannelHandlerContext) {
        awaitRequest(context: context, within: limits.requestTimeout, closingAs: .timeout)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        state.onRequestBytes = nil
        inflight?.cancel()
        inflight = nil
        releaseRequestSlot()
        context.fireChannelInactive()
    }

    /// Closes the connection unless a whole request is in within `timeout`; `reason` is counted
    /// when it closes (nil: a quiet keep-alive connection simply expired).
    private func awaitRequest(context: ChannelHandlerContext, within timeout: Duration, closingAs reason: RequestRejections.Reason?) {
        deadline?.cancel()
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(timeout)) {
            let (handler, context) = loopBound.value
            handler.deadline = nil
            if let reason {
                handler.server.rejections.count(reason)
                handler.logger.debug("closing a connection that sent no complete request in time", metadata: [
                    "peer": "\(context.remoteAddress?.description ?? "unknown")",
                ])
            }
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            headProblem = limits.check(uri: head.uri, headers: head.headers.map { ($0.name, $0.value) })
        case .body:
            break  // no route takes a body; drop it (the request deadline still bounds it)
        case .end:
            guard let head else { return }
            self.head = nil
            deadline?.cancel()
            deadline = nil
            answering = true
            server.connections.setBusy(context.channel, true)
            handle(head, context: context)
        }
    }

    private func handle(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let request = Self.request(from: head)
        let reply = Reply(version: head.version, keepAlive: head.isKeepAlive && headProblem == nil, method: request.method,
                          extraHeaders: server.web?.active.headers ?? [])
        if let problem = headProblem {
            headProblem = nil
            server.rejections.count(problem == .uriTooLong ? .uriTooLong : .headersTooLarge)
            return write(Self.refusal(problem), reply, context: context)
        }
        // The kubelet's probes carry no token; /healthz says nothing about any scheduler.
        if let kubernetes = server.kubernetesAuth, request.path != "/healthz" {
            return review(request, head: head, reply, with: kubernetes, context: context)
        }
        guard let web = server.web else { return admit(request, reply, context: context) }
        // Every path, /healthz too, needs credentials once users are configured (as in
        // exporter-toolkit): what is served tells an attacker what the scheduler exposes.
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        web.authorize(head.headers.first(name: "authorization"), on: context.eventLoop).whenComplete { result in
            let (handler, context) = loopBound.value
            switch result {
            case .success(.allowed):
                handler.admit(request, reply, context: context)
            case .success(.overloaded):
                handler.server.rejections.count(.passwordCheckOverload)
                var response = ServerResponse(status: .tooManyRequests, text: "too many password checks waiting; retry\n")
                response.headers = [("Retry-After", "1")]
                handler.write(response, reply, context: context)
            case .success(.denied), .failure:
                handler.server.rejections.count(.unauthorized)
                handler.logger.debug("unauthorized request", metadata: [
                    "path": "\(request.path)", "peer": "\(context.remoteAddress?.description ?? "unknown")",
                ])
                var response = ServerResponse(status: .unauthorized, text: "Unauthorized\n")
                response.headers = [("WWW-Authenticate", "Basic")]
                handler.write(response, reply, context: context)
            }
        }
    }

    /// Asks the API server (or the cache) whether the scraper's token may get the path.
    private func review(_ request: ServerRequest, head: HTTPRequestHead, _ reply: Reply, with kubernetes: KubernetesAuthorizer,
                        context: ChannelHandlerContext) {
        let header = head.headers.first(name: "authorization")
        let path = request.path
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let promise = context.eventLoop.makePromise(of: KubernetesAuthorizer.Decision.self)
        inflight = Task { promise.succeed(await kubernetes.authorize(authorization: header, path: path)) }
        promise.futureResult.whenSuccess { decision in
            let (handler, context) = loopBound.value
            handler.inflight = nil
            guard context.channel.isActive else { return }
            let response: ServerResponse
            switch decision {
            case .allowed:
                return handler.admit(request, reply, context: context)
            case .unauthenticated:
                handler.server.rejections.count(.unauthorized)
                var unauthorized = ServerResponse(status: .unauthorized, text: "Unauthorized\n")
                unauthorized.headers = [("WWW-Authenticate", "Bearer")]
                response = unauthorized
            case .forbidden:
                handler.server.rejections.count(.forbidden)
                response = ServerResponse(status: .forbidden, text: "Forbidden: RBAC does not allow get on \(path)\n")
            case .unavailable:
                handler.server.rejections.count(.authUnavailable)
                response = ServerResponse(status: .serviceUnavailable, text: "the Kubernetes API server cannot review the token now\n")
            case .overloaded:
                handler.server.rejections.count(.reviewOverload)
                var overloaded = ServerResponse(status: .tooManyRequests, text: "too many token reviews in flight; retry\n")
                overloaded.headers = [("Retry-After", "1")]
                response = overloaded
            }
            handler.write(response, reply, context: context)
        }
    }

    /// Takes one of `--web.max-requests` for the request, or answers 503.
    private func admit(_ request: ServerRequest, _ reply: Reply, context: ChannelHandlerContext) {
        if limits.maxRequests > 0 {
            let taken = server.requestsInFlight.add(1, ordering: .relaxed).newValue
            guard taken <= limits.maxRequests else {
                server.requestsInFlight.subtract(1, ordering: .relaxed)
                server.rejections.count(.maxRequests)
                return write(ServerResponse(status: .serviceUnavailable, text: "too many requests in flight (--web.max-requests)\n"), reply, context: context)
            }
            holdsRequestSlot = true
        }
        route(request, reply, context: context)
    }

    private func releaseRequestSlot() {
        guard holdsRequestSlot else { return }
        holdsRequestSlot = false
        server.requestsInFlight.subtract(1, ordering: .relaxed)
    }

    /// How to answer the request at hand.
    private struct Reply {
        var version: HTTPVersion
        var keepAlive: Bool
        var method: HTTPMethod
        var extraHeaders: [(String, String)]
    }

    private func route(_ request: ServerRequest, _ reply: Reply, context: ChannelHandlerContext) {
        switch server.router(request) {
        case .response(let response):
            write(response, reply, context: context)
        case .deferred(let work):
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let promise = context.eventLoop.makePromise(of: ServerResponse.self)
            // A task of our own rather than `completeWithTask`, so that a client hanging up cancels
            // the work (a probe then frees its slot and its connections at once).
            inflight = Task { promise.succeed(await work()) }
            promise.futureResult.whenSuccess { response in
                let (handler, context) = loopBound.value
                handler.inflight = nil
                guard context.channel.isActive else { return }
                handler.write(response, reply, context: context)
            }
        }
    }

    private func write(_ response: ServerResponse, _ reply: Reply, context: ChannelHandlerContext) {
        let keepAlive = reply.keepAlive
        // Idle from here: a pipelined request may be delivered while the end is written.
        releaseRequestSlot()
        answering = false
        server.connections.setBusy(context.channel, false)
        state.requestLineComplete = false
        if keepAlive {
            awaitRequest(context: context, within: limits.idleTimeout, closingAs: nil)
            // Once the next request starts, it has the request timeout, not the idle one.
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            state.onRequestBytes = {
                let (handler, context) = loopBound.value
                guard handler.deadline != nil, !handler.answering else { return }
                handler.awaitRequest(context: context, within: handler.limits.requestTimeout, closingAs: .timeout)
            }
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: String(response.body.readableBytes + (response.trailer?.readableBytes ?? 0)))
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        headers.add(contentsOf: response.headers)
        headers.add(contentsOf: reply.extraHeaders)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: reply.version, status: response.status, headers: headers))), promise: nil)
        if reply.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
            if let trailer = response.trailer {
                context.write(wrapOutboundOut(.body(.byteBuffer(trailer))), promise: nil)
            }
        }
        let done = context.writeAndFlushPromise(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// A head NIO's decoder could not take (too big, malformed): answered like a request, then closed.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        guard !answering else {
            context.close(promise: nil)
            return
        }
        let response: ServerResponse
        if parserError == .headerOverflow {
            let problem: ServerLimits.HeadProblem = state.requestLineComplete ? .headersTooLarge : .uriTooLong
            server.rejections.count(problem == .uriTooLong ? .uriTooLong : .headersTooLarge)
            response = Self.refusal(problem)
        } else {
            server.rejections.count(.badRequest)
            response = ServerResponse(status: .badRequest, text: "malformed request\n")
        }
        answering = true
        deadline?.cancel()
        deadline = nil
        let reply = Reply(version: .http1_1, keepAlive: false, method: .GET, extraHeaders: server.web?.active.headers ?? [])
        write(response, reply, context: context)
    }

    static func refusal(_ problem: ServerLimits.HeadProblem) -> ServerResponse {
        switch problem {
        case .uriTooLong: ServerResponse(status: .uriTooLong, text: "request target too long\n")
        case .headersTooLarge: ServerResponse(status: .requestHeaderFieldsTooLarge, text: "request header fields too large\n")
        }
    }

    static func request(from head: HTTPRequestHead) -> ServerRequest {
        let (path, query) = RequestTarget.parse(head.uri)
        return ServerRequest(method: head.method, uri: head.uri, path: path, query: query, headers: head.headers)
    }
}

private extension ChannelHandlerContext {
    func writeAndFlushPromise(_ data: NIOAny) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        writeAndFlush(data, promise: promise)
        return promise.futureResult
    }
}
