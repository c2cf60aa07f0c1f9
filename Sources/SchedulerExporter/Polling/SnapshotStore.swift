import Synchronization

/// Latest snapshot per target, swapped in whole. Readers copy the dictionary out under the lock
/// (copy-on-write makes that a retain), so a scrape never waits on a poll, and vice versa.
public final class SnapshotStore: Sendable {
    private struct State: Sendable {
        var version: UInt64 = 0
        var snapshots: [String: TargetSnapshot] = [:]
    }
    private let state = Mutex(State())
    /// Target names in configuration order, so output order does not depend on hashing.
    public let targetOrder: [String]

    public init(targetOrder: [String]) {
        self.targetOrder = targetOrder
    }

    public func publish(_ snapshot: TargetSnapshot) {
        state.withLock {
            $0.snapshots[snapshot.target] = snapshot
            $0.version &+= 1
        }
    }

    /// The snapshots in configuration order, with a version that changes on every publish.
    public func read() -> (version: UInt64, snapshots: [TargetSnapshot]) {
        let (version, snapshots) = state.withLock { ($0.version, $0.snapshots) }
        return (version, targetOrder.compactMap { snapshots[$0] })
    }

    public func snapshot(for target: String) -> TargetSnapshot? {
        state.withLock { $0.snapshots[target] }
    }
}
