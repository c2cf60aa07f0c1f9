import CompressNIO
import NIOCore
import Testing

@testable import SchedulerExporter

@Suite struct PassthroughPageTests {
    static let families = """
        # HELP scheduler_pending_pods [STABLE] Number of pending pods.
        # TYPE scheduler_pending_pods gauge
        scheduler_pending_pods{queue="active"} 0
        scheduler_pending_pods{queue="backoff"} 0

        """

    func page() -> (PassthroughPage, SnapshotStore) {
        let store = SnapshotStore(targetOrder: ["only"])
        store.publish(TargetSnapshot(target: "only", polledAt: 1, families: [], passthroughBody: ByteBuffer(string: Self.families)))
        return (PassthroughPage(store: store, enabled: true), store)
    }

    @Test func gzipClientsGetTheStoredCompressedBytes() throws {
        let (page, _) = page()
        let response = page.respond(target: nil, acceptsGzip: true)
        #expect(response.status == .ok)
        #expect(response.headers.contains { $0 == ("Content-Encoding", "gzip") })
        var compressed = response.body
        #expect(compressed.readableBytes < Self.families.utf8.count)
        let inflated = try compressed.decompress(with: .gzip())
        #expect(String(buffer: inflated) == Self.families, "byte-for-byte the scheduler's text")
    }

    @Test func otherClientsGetPlainText() {
        let (page, _) = page()
        let response = page.respond(target: "only", acceptsGzip: false)
        #expect(!response.headers.contains { $0.0 == "Content-Encoding" })
        #expect(String(buffer: response.body) == Self.families)
    }

    @Test(arguments: [
        ("gzip", true), ("gzip, deflate, br", true), ("identity", false), ("*", true), ("gzip;q=0", false),
        ("gzip; q=0.5", true), ("*;q=0", false), ("br, *;q=0.1", true), ("GZIP", true), ("x-gzip", true), ("", false),
    ])
    func acceptEncoding(header: String, expected: Bool) {
        #expect(Route.acceptsGzip(header) == expected)
    }

    @Test func noHeaderMeansNoGzip() {
        #expect(!Route.acceptsGzip(nil))
    }
}
