import Exposition
import NIOCore
import Synchronization

/// Renders `/metrics`: the targets' families from the snapshot store, cached by the store per
/// format until a snapshot changes (so scrapes between polls cost a buffer retain), plus the
/// exporter's own families rendered fresh on each scrape.
public final class MetricsPage: Sendable {
    let store: SnapshotStore
    let rejections: RequestRejections
    private struct RenderedProcessPart: Sendable {
        var renderedAt: ContinuousClock.Instant
        var bytes: [UInt8]
    }
    static let processMetricsMaxAge: Duration = .seconds(1)
    private let processCache = Mutex<[ExpositionFormat: RenderedProcessPart]>([:])
    private let textScrapes = Atomic<Int>(0)
    private let openMetricsScrapes = Atomic<Int>(0)

    public init(store: SnapshotStore, rejections: RequestRejections = RequestRejections()) {
        self.store = store
        self.rejections = rejections
    }

    /// The cached targets part and the exporter's own part, sent one after the other so the
    /// cached buffer is never copied.
    public func render(format: ExpositionFormat) -> (targets: ByteBuffer, own: ByteBuffer) {
        switch format {
        case .prometheusText: textScrapes.add(1, ordering: .relaxed)
        case .openMetrics: openMetricsScrapes.add(1, ordering: .relaxed)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(4096)
        ExpositionWriter.render(selfFamilies(), format: format, into: &bytes, terminate: false)
        bytes += processPart(format: format)
        if format == .openMetrics { bytes += "# EOF\n".utf8 }
        return (targetsBody(format: format), ByteBuffer(bytes: bytes))
    }

    /// process_* read from /proc at most once per `processMetricsMaxAge`: listing /proc/self/fd
    /// and reading /proc/self/stat was the largest per-scrape cost under load, and no scraper
    /// resolves process metrics finer than a second.
    private func processPart(format: ExpositionFormat) -> [UInt8] {
        let now = ContinuousClock.now
        if let cached = processCache.withLock({ $0[format] }), now - cached.renderedAt < Self.processMetricsMaxAge {
            return cached.bytes
        }
        let bytes = ExpositionWriter.render(ProcessMetrics.families(), format: format, terminate: false)
        processCache.withLock { $0[format] = RenderedProcessPart(renderedAt: now, bytes: bytes) }
        return bytes
    }

    private func targetsBody(format: ExpositionFormat) -> ByteBuffer {
        store.page(format) { snapshots in
            var bytes: [UInt8] = []
            ExpositionWriter.render(snapshots.map(\.families), format: format, into: &bytes, terminate: false)
            return ByteBuffer(bytes: bytes)
        }
    }

    private func selfFamilies() -> [OutputFamily] {
        [
            .info("kube_scheduler_exporter_build_info", "The exporter's version; always 1.",
                  labels: [("version", ExporterBuild.version), ("revision", ExporterBuild.revision),
                           ("swift_version", ExporterBuild.swiftVersion)]),
            .counter("kube_scheduler_exporter_scrapes_total", "Scrapes of the exporter's /metrics, by exposition format.", [
                OutputSample(labels: [("format", "openmetrics")], value: Double(openMetricsScrapes.load(ordering: .relaxed))),
                OutputSample(labels: [("format", "text")], value: Double(textScrapes.load(ordering: .relaxed))),
            ]),
            .counter("kube_scheduler_exporter_http_requests_rejected_total",
                     "Requests and connections to this exporter refused: failed TLS handshakes (tls), missing or wrong basic-auth credentials (unauthorized), password checks over the queue (password_check_overload), over --web.max-requests (max_requests), over --web.max-connections (connection_limit, connection_evicted), no complete request in time (timeout), oversized heads (uri_too_long, headers_too_large), malformed requests (bad_request).",
                     RequestRejections.Reason.allCases.sorted { $0.rawValue < $1.rawValue }.map {
                         OutputSample(labels: [("reason", $0.rawValue)], value: Double(rejections.value($0)))
                     }),
            .gauge("kube_scheduler_exporter_targets", "Targets this exporter polls.", value: Double(store.targetOrder.count)),
        ]
    }
}
