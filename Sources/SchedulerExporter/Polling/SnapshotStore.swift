import Exposition
import NIOCore
import Synchronization

/// A target's snapshot as the store keeps it: families pre-rendered in both formats (one byte
/// array each instead of hundreds of small label arrays per target) and the passthrough bytes.
public struct PublishedSnapshot: Sendable {
    public let target: String
    public let polledAt: Double
    public let families: RenderedFamilies
    public let passthroughBody: ByteBuffer?

    init(_ snapshot: TargetSnapshot) {
        target = snapshot.target
        polledAt = snapshot.polledAt
        families = RenderedFamilies(snapshot.families)
        passthroughBody = snapshot.passthroughBody
    }
}

/// Latest snapshot per target, swapped in whole. Readers copy the dictionary out under the lock
/// (copy-on-write makes that a retain), so a scrape never waits on a poll, and vice versa.
public final class SnapshotStore: Sendable {
    private struct State: Sendable {
        var version: UInt64 = 0
        var snapshots: [String: PublishedSnapshot] = [:]
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
        state.withLock {
            $0.snapshots[snapshot.target] = published
            $0.version &+= 1
        }
    }

    /// The snapshots in configuration order, with a version that changes on every publish.
    public func read() -> (version: UInt64, snapshots: [PublishedSnapshot]) {
        let (version, snapshots) = state.withLock { ($0.version, $0.snapshots) }
        return (version, targetOrder.compactMap { snapshots[$0] })
    }

    public func snapshot(for target: String) -> PublishedSnapshot? {
        state.withLock { $0.snapshots[target] }
    }
}
