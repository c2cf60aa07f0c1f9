import NIOCore

/// `/scheduler/metrics`: the scheduler's own families from the latest poll, byte-for-byte as the
/// scheduler wrote them, so a Prometheus job named `kube-scheduler` pointed here makes the upstream
/// kubernetes-mixin dashboards and alerts work while the scheduler stays bound to 127.0.0.1.
/// The poller cut the selected families out once per poll and the store keeps them gzipped;
/// serving is a buffer retain for gzip clients (an inflate for others) and never touches the scheduler.
/// `/scheduler/metrics/resources` is the same for the scheduler's `/metrics/resources`
/// (`kube_pod_resource_request`, `kube_pod_resource_limit`), which kube-prometheus-stack scrapes
/// from the scheduler directly, with `--passthrough.resources`.
public struct PassthroughPage: Sendable {
    /// Which of the scheduler's bodies this page serves.
    public enum Body: Sendable {
        /// The families of /metrics that `--passthrough.families` selects.
        case metrics
        /// /metrics/resources, whole.
        case resources
    }

    let store: SnapshotStore
    let enabled: Bool
    let body: Body

    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public init(store: SnapshotStore, enabled: Bool, body: Body = .metrics) {
        self.store = store
        self.enabled = enabled
        self.body = body
    }

    /// `acceptsGzip`: the client's Accept-Encoding allows gzip (Prometheus always sends it); the
    /// stored compressed bytes then go out as they are.
    public func respond(target name: String?, acceptsGzip: Bool = false) -> ServerResponse {
        guard enabled else {
            let text = switch body {
            case .metrics: "passthrough is disabled (--passthrough.families is empty)\n"
            case .resources: "passthrough of /metrics/resources is disabled (--passthrough.resources)\n"
            }
            return ServerResponse(status: .notFound, text: text)
        }
        let targets = store.targetOrder
        guard let name = name ?? (targets.count == 1 ? targets[0] : nil) else {
            return ServerResponse(status: .badRequest, text: "several targets are configured: add ?target=NAME (one of \(targets.joined(separator: ", ")))\n")
        }
        guard targets.contains(name) else { return ServerResponse(status: .notFound, text: "unknown target \"\(name)\"\n") }
        // No data means the scheduler was not scraped successfully: fail the scrape so `up` says so.
        let snapshot = store.snapshot(for: name)
        let stored = switch self.body {
        case .metrics: snapshot?.passthrough
        case .resources: snapshot?.resources
        }
        guard let body = stored else {
            let what = self.body == .resources ? " of /metrics/resources" : ""
            return ServerResponse(status: .serviceUnavailable, text: "no successful poll\(what) of target \"\(name)\" yet\n")
        }
        guard acceptsGzip else {
            var response = ServerResponse(contentType: Self.contentType, body: body.inflated())
            response.headers = [("Vary", "Accept-Encoding")]
            return response
        }
        var response = ServerResponse(contentType: Self.contentType, body: body.compressed)
        response.headers = [("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]
        return response
    }
}
