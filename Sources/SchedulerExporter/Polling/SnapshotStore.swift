import CompressNIO
import Exposition
import NIOCore
import Synchronization

/// A target's snapshot as the store keeps it: families pre-rendered in both formats (one byte
/// array each instead of hundreds of small label arrays per target) and the passthrough bytes.
public struct PublishedSnapshot: Sendable {
    public let target: String
    public let families: RenderedFamilies
    /// The passthrough families gzip-compressed: held for a whole poll interval on every target,
    /// they were the largest thing a target kept (60-210 KB of text), and Prometheus takes gzip.
    public let passthrough: GzippedBody?
    /// `/metrics/resources`, gzipped too: it holds a series per pod and resource.
    public let resources: GzippedBody?

    init(_ snapshot: TargetSnapshot) {
        target = snapshot.target
        families = RenderedFamilies(snapshot.families)
        passthrough = snapshot.passthroughBody.map(GzippedBody.init)
        resources = snapshot.resourcesBody.map(GzippedBody.init)
    }
}

/// A body kept gzip-compressed, served as is to clients that accept gzip and inflated for others.
public struct GzippedBody: Sendable {
    public let compressed: ByteBuffer

    /// Fastest level: ~7x smaller than the text at a fraction of a millisecond per poll.
    init(_ body: ByteBuffer) {
        var input = body
        do {
            let output = try input.compress(with: .gzip(configuration: .init(compressionLevel: 1)))
            // Exact size: the compressor's buffer is sized for the worst case.
            compressed = ByteBuffer(bytes: output.readableBytesView)
        } catch {
            preconditionFailure("gzip of an in-memory buffer failed: \(error)")
        }
    }

    public func inflated() -> ByteBuffer {
        var input = compressed
        do {
            return try input.decompress(with: .gzip())
        } catch {
            preconditionFailure("inflating our own gzip failed: \(error)")
        }
    }
}

/// Latest snapshot per target, swapped in whole. Readers copy the dictionary out under the lock
/// (copy-on-write makes that a retain), so a scrape never waits on a poll, and vice versa.
/// It also keeps the page last rendered from them per format, dropped on the next publish: a
/// page is all targets' text (4-5 MB at 100 targets), and with many targets a publish comes
/// before the next scrape, so a page kept until then would only hold memory.
public final class SnapshotStore: Sendable {
    private struct State: Sendable {
        var version: UInt64 = 0
        var snapshots: [String: PublishedSnapshot] = [:]
        var pages: [ExpositionFormat: ByteBuffer] = [:]
    }
    private let state = Mutex(State())
    /// Target names in configuration order, so output order does not depend on hashing.
    public let targetOrder: [String]

    public init(targetOrder: [String]) {
        self.targetOrder = targetOrder
    }

    public func publish(_ snapshot: TargetSnapshot) {
        // Rendered by the publishing poller, outside the lock.
        let published = PublishedSnapshot(snapshot)
        let stalePages = state.withLock { state in
            state.snapshots[snapshot.target] = published
            state.version &+= 1
            defer { state.pages.removeAll() }
            return state.pages
        }
        // Freed outside the lock.
        _ = stalePages
    }

    /// The snapshots in configuration order, with a version that changes on every publish.
    public func read() -> (version: UInt64, snapshots: [PublishedSnapshot]) {
        let (version, snapshots) = state.withLock { ($0.version, $0.snapshots) }
        return (version, targetOrder.compactMap { snapshots[$0] })
    }

    /// The page for `format` as `render` makes it from the current snapshots, rendered at most
    /// once per publish (outside the lock; a page rendered while a publish came in is returned
    /// but not kept).
    public func page(_ format: ExpositionFormat, render: ([PublishedSnapshot]) -> ByteBuffer) -> ByteBuffer {
        if let cached = state.withLock({ $0.pages[format] }) { return cached }
        let (version, snapshots) = read()
        let page = render(snapshots)
        state.withLock { state in
            if state.version == version { state.pages[format] = page }
        }
        return page
    }

    /// Whether a page for `format` is kept, for tests.
    func hasPage(_ format: ExpositionFormat) -> Bool {
        state.withLock { $0.pages[format] != nil }
    }

    public func snapshot(for target: String) -> PublishedSnapshot? {
        state.withLock { $0.snapshots[target] }
    }
}
