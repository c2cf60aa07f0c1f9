import Exposition
import NIOCore
import NIOHTTP1

/// The exporter's HTTP surface. Every route reads snapshots; none touches a polled target.
public struct Routes: Sendable {
    let metrics: MetricsPage
    let store: SnapshotStore

    public init(store: SnapshotStore) {
        self.store = store
        self.metrics = MetricsPage(store: store)
    }

    public func handle(_ request: ServerRequest) -> RouteResult {
        guard request.method == .GET || request.method == .HEAD else {
            return .response(ServerResponse(status: .methodNotAllowed, text: "method not allowed\n"))
        }
        switch request.path {
        case "/metrics":
            let format = ExpositionFormat.negotiate(accept: request.headers.first(name: "accept"))
            return .response(ServerResponse(contentType: format.contentType, body: metrics.render(format: format)))
        case "/healthz":
            return .response(ServerResponse(text: "ok\n"))
        case "/":
            return .response(ServerResponse(contentType: "text/html; charset=utf-8", text: Self.landingPage))
        default:
            return .response(ServerResponse(status: .notFound, text: "404 page not found\n"))
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
        </ul>
        </body></html>

        """
}
