import CurlHTTP
import Foundation
import Testing
@testable import SchedulerExporter

/// Projected service-account tokens rotate in place (kubelet swaps a symlink): the file is
/// re-read when it changes, and only then.
@Suite struct BearerTokenFileTests {
    @Test func rereadsWhenTheFileIsReplaced() throws {
        let dir = NSTemporaryDirectory() + "kse-token-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let link = dir + "/token"
        try "first-token\n".write(toFile: dir + "/a", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: dir + "/a")

        let file = BearerTokenFile(path: link)
        #expect(try file.current().get() == BearerToken("first-token"), "trailing newline trimmed")
        #expect(try file.current().get() == BearerToken("first-token"))

        // The kubelet's way: write the new token elsewhere, then swap the symlink.
        try "second-token".write(toFile: dir + "/b", atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: link)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: dir + "/b")
        #expect(try file.current().get() == BearerToken("second-token"))

        try FileManager.default.removeItem(atPath: link)
        guard case .failure(let error) = file.current() else { Issue.record("a missing token file must be an error"); return }
        #expect(!"\(error)".contains("second-token"), "the error names the path, never the content")
        #expect("\(error)".contains(link))
    }
}
