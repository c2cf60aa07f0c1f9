import NIOCore

/// `/scheduler/metrics`: the scheduler's own families from the latest poll, byte-for-byte as the
/// scheduler wrote them, so a Prometheus job named `kube-scheduler` pointed here makes the upstream
/// kubernetes-mixin dashboards and alerts work while the scheduler stays bound to 127.0.0.1.
/// The poller cut the selected families out once per poll and the store keeps them gzipped;
/// serving is a buffer retain for gzip clients (an inflate for others) and never touches the scheduler.
public struct PassthroughPage: Sendable {
    let store: SnapshotStore
    let enabled: Bool

    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public init(store: SnapshotStore, enabled: Bool) {
        self.store = store
        self.enabled = enabled
    }

    /// `acceptsGzip`: the client's Accept-Encoding allows gzip (Prometheus always sends it); the
    /// stored compressed bytes then go out as they are.
    public func respond(target name: String?, acceptsGzip: Bool = false) -> ServerResponse {
        guard enabled else { return ServerResponse(status: .notFound, text: "passthrough is disabled (--passthrough.families is empty)\n") }
        let targets = store.targetOrder
        guard let name = name ?? (targets.count == 1 ? targets[0] : nil) else {
            return ServerResponse(status: .badRequest, text: "several targets are configured: add ?target=NAME (one of \(targets.joined(separator: ", ")))\n")
        }
        guard targets.contains(name) else { return ServerResponse(status: .notFound, text: "unknown target \"\(name)\"\n") }
        // No data means the scheduler was not scraped successfully: fail the scrape so `up` says so.
        guard let body = store.snapshot(for: name)?.passthrough else {
            return ServerResponse(status: .serviceUnavailable, text: "no successful poll of target \"\(name)\" yet\n")
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
