import CurlHTTP
import Logging
import NIOCore
import ServiceLifecycle

/// The running exporter: one poller task per target and the HTTP server, stopped together on
/// graceful shutdown (SIGTERM/SIGINT via ServiceLifecycle).
public final class Exporter: Service {
    public let config: ExporterConfig
    public let store: SnapshotStore
    let client: CurlClient
    let logger: Logger
    /// TLS, basic auth and headers from `--web.config.file`; nil serves plain HTTP to anyone.
    let web: WebSecurity?
    /// How often the web config file and the files it names are checked for changes.
    static let webConfigCheckInterval: Duration = .seconds(5)

    /// `--web.kubernetes-auth`: how to reach the API server that reviews scrapers' tokens.
    let kubernetesAuth: APIServerAccess?

    public init(config: ExporterConfig, web: WebSecurity? = nil, kubernetesAuth: APIServerAccess? = nil, logger: Logger) {
        self.config = config
        self.web = web
        self.kubernetesAuth = kubernetesAuth
        self.logger = logger
        // A poll cycle sends ~15 requests to one scheduler at once; fewer connections per host
        // would queue some in libcurl, and a queued /metrics that times out looks like a
        // connect timeout although the scheduler accepted. Once a connection to an HTTP/2
        // scheduler is up, libcurl multiplexes later requests over it.
        self.client = CurlClient(maxConnectionsPerHost: 16)
        self.store = SnapshotStore(targetOrder: config.targets.map(\.name))
    }

    public func run() async throws {
        let prober = config.probe.enabled ? OutsideInProber(config: config.probe, client: client, logger: logger) : nil
        let rejections = RequestRejections()
        let liveness = Liveness(targets: config.targets)
        let routes = Routes(store: store, passthroughFamilies: config.passthroughFamilies, passthroughResources: config.passthroughResources,
                            prober: prober, rejections: rejections, liveness: liveness)
        // Before the server listens: each poller publishes its target as down at once, so the
        // first scrape already lists every target.
        let passthrough = PassthroughFilter(pattern: config.passthroughFamilies)
        let pollers = config.targets.map {
            TargetPoller(target: $0, client: client, store: store, passthrough: passthrough,
                         passthroughResources: config.passthroughResources, liveness: liveness, logger: logger)
        }
        let reviewer = kubernetesAuth.map { KubernetesAuthorizer(access: $0, client: client, logger: logger) }
        let server = HTTPServer(router: { routes.handle($0) }, web: web, rejections: rejections, limits: config.server,
                                kubernetesAuth: reviewer, logger: logger)
        let channel = try await server.start(host: config.listenAddress.host, port: config.listenAddress.port)
        let bound = channel.localAddress.flatMap { address in address.port.map { ListenAddress(host: address.ipAddress ?? config.listenAddress.host, port: $0) } }
        logger.info("listening", metadata: [
            "address": "\(bound ?? config.listenAddress)",
            "targets": "\(config.targets.map(\.name).joined(separator: ","))",
            "tls": "\(web?.servesTLS ?? false)",
            "basic_auth": "\(web.map { !$0.config.basicAuthUsers.isEmpty } ?? false)",
            "probe": "\(config.probe.enabled)",
            "kubernetes_auth": "\(kubernetesAuth?.source ?? "off")",
            "max_connections": "\(config.server.maxConnections)", "max_requests": "\(config.server.maxRequests)",
        ])
        await withTaskGroup(of: Void.self) { group in
            for (index, poller) in pollers.enumerated() {
                let phase = TargetPoller.staggeredStart(index: index, of: pollers.count, interval: poller.target.pollInterval)
                group.addTask { await poller.run(initialDelay: phase) }
            }
            let client = self.client
            group.addTask { await liveness.watchDriver(client) }
            if let web {
                let logger = logger
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: Self.webConfigCheckInterval)
                        if Task.isCancelled { break }
                        web.reloadIfChanged(logger: logger)
                    }
                }
            }
            group.addTask {
                // Park until shutdown is requested, then stop the pollers.
                try? await gracefulShutdown()
            }
            await group.next()
            group.cancelAll()
        }
        logger.info("shutting down")
        try? await channel.close()
        try? await server.shutdown()
        client.shutdown()
    }
}
