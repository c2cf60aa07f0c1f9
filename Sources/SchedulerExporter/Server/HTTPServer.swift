import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// A request as the routes see it: method, path, query and the few headers they read.
public struct ServerRequest: Sendable {
    public var method: HTTPMethod
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
public final class HTTPServer: Sendable {
    let group: MultiThreadedEventLoopGroup
    let router: Router
    let web: WebSecurity?
    let rejections: RequestRejections
    let logger: Logger

    public init(threads: Int = System.coreCount, router: @escaping Router, web: WebSecurity? = nil,
                rejections: RequestRejections = RequestRejections(), logger: Logger) {
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        self.router = router
        self.web = web
        self.rejections = rejections
        self.logger = logger
    }

    /// Binds and returns the channel; close it (or call `shutdown`) to stop.
    public func start(host: String, port: Int) async throws -> Channel {
        let router = self.router
        let web = self.web
        let rejections = self.rejections
        let logger = self.logger
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 4)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // A reloaded certificate applies from the next connection on.
                    if let tls = web?.active.tls {
                        try channel.pipeline.syncOperations.addHandler(tls.makeHandler())
                        try channel.pipeline.syncOperations.addHandler(TLSHandshakeObserver(rejections: rejections, logger: logger))
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        RequestHandler(router: router, web: web, rejections: rejections, logger: logger))
                }
            }
            .bind(host: host, port: port).get()
    }

    public func shutdown() async throws {
        try await group.shutdownGracefully()
    }
}

private final class RequestHandler: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: NIO confines a handler to its channel's event loop.
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let router: Router
    let web: WebSecurity?
    let rejections: RequestRejections
    let logger: Logger
    private var head: HTTPRequestHead?
    /// The deferred work of the request being answered, cancelled when the connection goes away.
    private var inflight: Task<Void, Never>?

    init(router: @escaping Router, web: WebSecurity?, rejections: RequestRejections, logger: Logger) {
        self.router = router
        self.web = web
        self.rejections = rejections
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break  // no route takes a body; drop it
        case .end:
            guard let head else { return }
            self.head = nil
            let request = Self.request(from: head)
            let reply = Reply(version: head.version, keepAlive: head.isKeepAlive, method: request.method,
                              extraHeaders: web?.active.headers ?? [])
            guard let web else { return route(request, reply, context: context) }
            // Every path, /healthz too, needs credentials once users are configured (as in
            // exporter-toolkit): what is served tells an attacker what the scheduler exposes.
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            web.authorize(head.headers.first(name: "authorization"), on: context.eventLoop).whenComplete { result in
                let (handler, context) = loopBound.value
                guard case .success(true) = result else {
                    handler.rejections.countUnauthorized()
                    handler.logger.debug("unauthorized request", metadata: [
                        "path": "\(request.path)", "peer": "\(context.remoteAddress?.description ?? "unknown")",
                    ])
                    var response = ServerResponse(status: .unauthorized, text: "Unauthorized\n")
                    response.headers = [("WWW-Authenticate", "Basic")]
                    handler.write(response, reply, context: context)
                    return
                }
                handler.route(request, reply, context: context)
            }
        }
    }

    /// How to answer the request at hand.
    private struct Reply {
        var version: HTTPVersion
        var keepAlive: Bool
        var method: HTTPMethod
        var extraHeaders: [(String, String)]
    }

    private func route(_ request: ServerRequest, _ reply: Reply, context: ChannelHandlerContext) {
        switch router(request) {
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
                handler.write(response, reply, context: context)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        inflight?.cancel()
        inflight = nil
        context.fireChannelInactive()
    }

    private func write(_ response: ServerResponse, _ reply: Reply, context: ChannelHandlerContext) {
        let keepAlive = reply.keepAlive
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

    static func request(from head: HTTPRequestHead) -> ServerRequest {
        let uri = head.uri
        let pathPart: Substring
        var query: [(name: String, value: String)] = []
        if let mark = uri.firstIndex(of: "?") {
            pathPart = uri[..<mark]
            for pair in uri[uri.index(after: mark)...].split(separator: "&") {
                let pieces = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                query.append((percentDecoded(pieces[0]), pieces.count > 1 ? percentDecoded(pieces[1]) : ""))
            }
        } else {
            pathPart = uri[...]
        }
        return ServerRequest(method: head.method, path: percentDecoded(pathPart), query: query, headers: head.headers)
    }

    static func percentDecoded(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "+") { bytes.append(UInt8(ascii: " ")); continue }
            guard byte == UInt8(ascii: "%") else { bytes.append(byte); continue }
            guard let high = iterator.next(), let low = iterator.next(),
                  let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) else { break }
            bytes.append(value)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

private extension ChannelHandlerContext {
    func writeAndFlushPromise(_ data: NIOAny) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        writeAndFlush(data, promise: promise)
        return promise.futureResult
    }
}
