import Exposition
import NIOCore
import NIOHTTP1

/// The exporter's HTTP surface. Every route reads snapshots; none touches a polled target.
public struct Routes: Sendable {
    let metrics: MetricsPage
    let passthrough: PassthroughPage
    let prober: OutsideInProber?
    let store: SnapshotStore

    public init(store: SnapshotStore, passthroughFamilies: String = ExporterConfig.defaultPassthroughFamilies, prober: OutsideInProber? = nil,
                rejections: RequestRejections = RequestRejections()) {
        self.store = store
        self.metrics = MetricsPage(store: store, rejections: rejections)
        self.passthrough = PassthroughPage(store: store, enabled: !passthroughFamilies.isEmpty)
        self.prober = prober
    }

    public func handle(_ request: ServerRequest) -> RouteResult {
        guard request.method == .GET || request.method == .HEAD else {
            return .response(ServerResponse(status: .methodNotAllowed, text: "method not allowed\n"))
        }
        switch request.path {
        case "/metrics":
            let format = ExpositionFormat.negotiate(accept: request.headers.first(name: "accept"))
            let (targets, own) = metrics.render(format: format)
            var response = ServerResponse(contentType: format.contentType, body: targets)
            response.trailer = own
            return .response(response)
        case "/scheduler/metrics":
            return .response(passthrough.respond(
                target: request.queryValue("target"), acceptsGzip: Self.acceptsGzip(request.headers.first(name: "accept-encoding"))))
        case "/probe":
            guard let prober else { return .response(ServerResponse(status: .notFound, text: "404 page not found\n")) }
            return probe(request, prober)
        case "/healthz":
            return .response(ServerResponse(text: "ok\n"))
        case "/":
            return .response(ServerResponse(contentType: "text/html; charset=utf-8", text: Self.landingPage))
        default:
            return .response(ServerResponse(status: .notFound, text: "404 page not found\n"))
        }
    }

    /// Whether an Accept-Encoding value allows gzip: listed (or `*`) without `q=0`.
    static func acceptsGzip(_ header: String?) -> Bool {
        guard let header else { return false }
        var gzip: Bool?
        var wildcard: Bool?
        for item in header.lowercased().split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.filter { $0 != " " && $0 != "\t" } }
            guard let coding = parts.first else { continue }
            let refused = parts.dropFirst().contains { parameter in
                guard parameter.hasPrefix("q=") else { return false }
                return Double(parameter.dropFirst(2)) == 0
            }
            if coding == "gzip" || coding == "x-gzip" { gzip = !refused } else if coding == "*" { wildcard = !refused }
        }
        return gzip ?? wildcard ?? false
    }

    private func probe(_ request: ServerRequest, _ prober: OutsideInProber) -> RouteResult {
        let target: (host: String, port: Int)
        do {
            target = try prober.resolve(request.queryValue("target"))
        } catch {
            return .response(Self.refusal(error))
        }
        let timeout: Duration
        switch ProbeTimeout.budget(header: request.headers.first(name: ProbeTimeout.headerName), maximum: prober.config.maxTimeout) {
        case .success(let budget): timeout = budget
        case .failure(let problem): return .response(ServerResponse(status: .badRequest, text: "\(problem)\n"))
        }
        return .deferred {
            do throws(OutsideInProber.Refusal) {
                let families = try await prober.probe(host: target.host, port: target.port, timeout: timeout)
                var bytes: [UInt8] = []
                ExpositionWriter.render(families, format: .prometheusText, into: &bytes)
                return ServerResponse(contentType: ExpositionFormat.prometheusText.contentType, body: ByteBuffer(bytes: bytes))
            } catch {
                return Self.refusal(error)
            }
        }
    }

    static func refusal(_ error: OutsideInProber.Refusal) -> ServerResponse {
        switch error {
        case .missingTarget: ServerResponse(status: .badRequest, text: "target parameter is missing\n")
        case .notAnAddress(let text): ServerResponse(status: .badRequest, text: "target \"\(text)\" is not an IP address with optional port\n")
        case .notAllowed(let host): ServerResponse(status: .forbidden, text: "target \(host) is outside --probe.allowed-targets\n")
        case .busy: ServerResponse(status: .serviceUnavailable, text: "too many concurrent probes (--probe.max-concurrent)\n")
        }
    }

    static let landingPage = """
        <!DOCTYPE html>
        <html><head><title>kube-scheduler-exporter</title></head>
        <body>
        <h1>kube-scheduler-exporter</h1>
        <p>Security and health of the Kubernetes kube-scheduler, for Prometheus.</p>
        <ul>
        <li><a href="metrics">metrics</a></li>
        <li><a href="healthz">healthz</a></li>
        <li><a href="scheduler/metrics">scheduler/metrics</a> (the scheduler's own families, for kubernetes-mixin)</li>
        <li><a href="probe?target=127.0.0.1:10259">probe?target=HOST:PORT</a> (outside-in probe)</li>
        </ul>
        </body></html>

        """
}
