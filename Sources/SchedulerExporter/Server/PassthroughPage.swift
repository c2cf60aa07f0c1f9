import Exposition
import NIOCore
import Synchronization

/// `/scheduler/metrics`: the scheduler's own families from the latest poll, byte-for-byte as the
/// scheduler wrote them, so a Prometheus job named `kube-scheduler` pointed here makes the upstream
/// kubernetes-mixin dashboards and alerts work while the scheduler stays bound to 127.0.0.1.
/// Serving never touches the scheduler; the filtered body is cached per snapshot.
public final class PassthroughPage: Sendable {
    let store: SnapshotStore
    let familyFilter: FamilyNameFilter?
    private struct Cached: Sendable {
        var polledAt: Double
        var body: ByteBuffer
    }
    private let cache = Mutex<[String: Cached]>([:])

    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public init(store: SnapshotStore, families pattern: String) {
        self.store = store
        self.familyFilter = pattern.isEmpty ? nil : FamilyNameFilter(pattern: pattern)
    }

    public func respond(target name: String?) -> ServerResponse {
        guard let familyFilter else { return ServerResponse(status: .notFound, text: "passthrough is disabled (--passthrough.families is empty)\n") }
        let targets = store.targetOrder
        guard let name = name ?? (targets.count == 1 ? targets[0] : nil) else {
            return ServerResponse(status: .badRequest, text: "several targets are configured: add ?target=NAME (one of \(targets.joined(separator: ", ")))\n")
        }
        guard targets.contains(name) else { return ServerResponse(status: .notFound, text: "unknown target \"\(name)\"\n") }
        // No data means the scheduler was not scraped successfully: fail the scrape so `up` says so.
        guard let snapshot = store.snapshot(for: name), let document = snapshot.schedulerMetrics else {
            return ServerResponse(status: .serviceUnavailable, text: "no successful poll of target \"\(name)\" yet\n")
        }
        if let cached = cache.withLock({ $0[name] }), cached.polledAt == snapshot.polledAt {
            return ServerResponse(contentType: Self.contentType, body: cached.body)
        }
        let body = Self.filter(document, familyFilter)
        cache.withLock { $0[name] = Cached(polledAt: snapshot.polledAt, body: body) }
        return ServerResponse(contentType: Self.contentType, body: body)
    }

    static func filter(_ document: ExpositionDocument, _ filter: FamilyNameFilter) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(document.bytes.count)
        document.bytes.withUnsafeBufferPointer { bytes in
            for family in document.families where filter.matches(family.name) {
                let slice = UnsafeBufferPointer(rebasing: bytes[family.byteRange])
                buffer.writeBytes(slice)
                if slice.last != UInt8(ascii: "\n") { buffer.writeInteger(UInt8(ascii: "\n")) }
            }
        }
        return buffer
    }
}

/// A fully anchored name regex with its verdicts remembered: a scheduler exposes the same few
/// hundred family names every poll, so each name is matched once, not once per scrape.
final class FamilyNameFilter: Sendable {
    private struct State {
        var regex: Regex<AnyRegexOutput>
        var verdicts: [String: Bool] = [:]
    }
    private let state: Mutex<State>

    init?(pattern: String) {
        guard let regex = try? Regex(pattern) else { return nil }
        state = Mutex(State(regex: regex))
    }

    func matches(_ name: String) -> Bool {
        state.withLock { state in
            if let verdict = state.verdicts[name] { return verdict }
            let verdict = (try? state.regex.wholeMatch(in: name)) != nil
            if state.verdicts.count < 10_000 { state.verdicts[name] = verdict }
            return verdict
        }
    }
}
