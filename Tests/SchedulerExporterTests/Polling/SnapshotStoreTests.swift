import Exposition
import NIOCore
import Testing

@testable import SchedulerExporter

@Suite struct SnapshotStoreTests {
    static func snapshot(_ target: String, value: Double) -> TargetSnapshot {
        TargetSnapshot(target: target, polledAt: value, families: [.gauge("kube_scheduler_up", "Up.", value: value)])
    }

    @Test func aPageIsRenderedOncePerPublishAndDroppedByTheNext() {
        let store = SnapshotStore(targetOrder: ["a", "b"])
        store.publish(Self.snapshot("a", value: 1))
        var renders = 0
        func page(_ format: ExpositionFormat) -> String {
            String(buffer: store.page(format) { snapshots in
                renders += 1
                var bytes: [UInt8] = []
                ExpositionWriter.render(snapshots.map(\.families), format: format, into: &bytes, terminate: false)
                return ByteBuffer(bytes: bytes)
            })
        }
        let first = page(.prometheusText)
        #expect(first.contains("kube_scheduler_up 1\n"))
        #expect(page(.prometheusText) == first)
        #expect(renders == 1, "the second scrape reuses the page")
        #expect(store.hasPage(.prometheusText))
        #expect(!store.hasPage(.openMetrics))

        store.publish(Self.snapshot("b", value: 2))
        #expect(!store.hasPage(.prometheusText), "a publish drops the stale page at once, not at the next scrape")
        let second = page(.prometheusText)
        #expect(renders == 2)
        #expect(second.contains("kube_scheduler_up 1\n") && second.contains("kube_scheduler_up 2\n"))
        #expect(page(.openMetrics).contains("kube_scheduler_up 2.0\n"))
        #expect(renders == 3, "each format is its own page")
    }

    @Test func aPageRenderedDuringAPublishIsServedButNotKept() {
        let store = SnapshotStore(targetOrder: ["a"])
        store.publish(Self.snapshot("a", value: 1))
        let served = store.page(.prometheusText) { snapshots in
            // A poller publishes while this page is being rendered from the older snapshots.
            store.publish(Self.snapshot("a", value: 2))
            return ByteBuffer(string: "rendered from \(snapshots.count) snapshot(s) of the old version")
        }
        #expect(String(buffer: served).hasPrefix("rendered from 1"))
        #expect(!store.hasPage(.prometheusText), "the old page must not outlive the publish it missed")
    }
}
