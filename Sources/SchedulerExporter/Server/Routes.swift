import Exposition
import NIOCore
import NIOHTTP1

/// The exporter's HTTP surface. Every route reads snapshots; none touches a polled target.
public struct Routes: Sendable {
    let metrics: MetricsPage
    let passthrough: PassthroughPage
    let resources: PassthroughPage
    let prober: OutsideInProber?
    let store: SnapshotStore
    /// nil: `/healthz` says ok whenever it answers.
    let liveness: Liveness?

    public init(store: SnapshotStore, passthroughFamilies: String = ExporterConfig.defaultPassthroughFamilies, passthroughResources: Bool = false,
                prober: OutsideInProber? = nil, rejections: RequestRejections = RequestRejections(), liveness: Liveness? = nil) {
        self.store = store
        self.liveness = liveness
        self.metrics = MetricsPage(store: store, rejections: rejections)
        self.passthrough = PassthroughPage(store: store, enabled: !passthroughFamilies.isEmpty)
        self.resources = PassthroughPage(store: store, enabled: passthroughResources, body: .resources)
        self.prober = prober
    }

    public func handle(_ request: ServerRequest) -> RouteResult {
        let route = Route.decide(method: request.method.rawValue, uri: request.uri,
                                 header: { request.headers.first(name: $0) }, probe: prober?.policy)
        switch route {
        case .methodNotAllowed:
            return .response(ServerResponse(status: .methodNotAllowed, text: "method not allowed\n"))
        case .metrics(let format):
            let (targets, own) = metrics.render(format: format)
            var response = ServerResponse(contentType: format.contentType, body: targets)
            response.trailer = own
            return .response(response)
        case .passthrough(let target, let gzip):
            return .response(passthrough.respond(target: target, acceptsGzip: gzip))
        case .passthroughResources(let target, let gzip):
            return .response(resources.respond(target: target, acceptsGzip: gzip))
        case .probe(let host, let port, let timeout):
            guard let prober else { return .response(Self.notFound) }
            return .deferred {
                do throws(OutsideInProber.Refusal) {
                    let families = try await prober.probe(host: host, port: port, timeout: timeout)
                    var bytes: [UInt8] = []
                    ExpositionWriter.render(families, format: .prometheusText, into: &bytes)
                    return ServerResponse(contentType: ExpositionFormat.prometheusText.contentType, body: ByteBuffer(bytes: bytes))
                } catch {
                    return Self.refusal(error)
                }
            }
        case .probeRefused(let refusal):
            return .response(Self.refusal(refusal))
        case .healthz:
            let problems = liveness?.problems() ?? []
            guard problems.isEmpty else {
                return .response(ServerResponse(status: .serviceUnavailable, text: problems.joined(separator: "\n") + "\n"))
            }
            return .response(ServerResponse(text: "ok\n"))
        case .landing:
            return .response(ServerResponse(contentType: "text/html; charset=utf-8", text: Self.landingPage(probe: prober != nil)))
        case .notFound:
            return .response(Self.notFound)
        }
    }

    static let notFound = ServerResponse(status: .notFound, text: "404 page not found\n")

    static func refusal(_ error: OutsideInProber.Refusal) -> ServerResponse {
        switch error {
        case .missingTarget: ServerResponse(status: .badRequest, text: "target parameter is missing\n")
        case .notAnAddress(let text): ServerResponse(status: .badRequest, text: "target \"\(text)\" is not an IP address with optional port\n")
        case .notAllowed(let host): ServerResponse(status: .forbidden, text: "target \(host) is outside --probe.allowed-targets\n")
        case .portNotAllowed(let port): ServerResponse(status: .forbidden, text: "port \(port) is outside --probe.allowed-ports\n")
        case .badTimeout(let problem): ServerResponse(status: .badRequest, text: "\(problem)\n")
        case .busy: ServerResponse(status: .serviceUnavailable, text: "too many concurrent probes (--probe.max-concurrent)\n")
        }
    }

    static func landingPage(probe: Bool) -> String {
        let probeLink = probe ? "<li><a href=\"probe?target=127.0.0.1:10259\">probe?target=HOST:PORT</a> (outside-in probe)</li>\n" : ""
        return """
            <!DOCTYPE html>
            <html><head><title>kube-scheduler-exporter</title></head>
            <body>
            <h1>kube-scheduler-exporter</h1>
            <p>Security and health of the Kubernetes kube-scheduler, for Prometheus.</p>
            <ul>
            <li><a href="metrics">metrics</a></li>
            <li><a href="healthz">healthz</a></li>
            <li><a href="scheduler/metrics">scheduler/metrics</a> (the scheduler's own families, for kubernetes-mixin)</li>
            <li><a href="scheduler/metrics/resources">scheduler/metrics/resources</a> (the scheduler's /metrics/resources, with --passthrough.resources)</li>
            \(probeLink)</ul>
            </body></html>

            """
    }
}
