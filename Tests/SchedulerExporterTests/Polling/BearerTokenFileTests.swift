import CurlHTTP
import Foundation
import Logging
import Synchronization
import Testing
@testable import SchedulerExporter

/// Projected service-account tokens rotate in place (kubelet swaps a symlink): the file is
/// re-read when it changes, and only then. A file that goes away keeps the last good token while
/// it is valid, and each change of state is logged once.
@Suite struct BearerTokenFileTests {
    final class Scratch {
        let dir = NSTemporaryDirectory() + "kse-token-" + UUID().uuidString
        init() throws { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: dir) }
    }

    /// A clock the test moves.
    final class TestClock: Sendable {
        let now = Mutex<Double>(1_800_000_000)
        func advance(_ seconds: Double) { now.withLock { $0 += seconds } }
        var read: @Sendable () -> Double { { [self] in now.withLock { $0 } } }
    }

    static func jwt(exp: Double) -> String {
        func encode(_ json: String) -> String {
            Data(json.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
        return encode(#"{"alg":"RS256","kid":"k"}"#) + "." + encode(#"{"aud":["https://kubernetes.default.svc"],"exp":\#(Int(exp)),"sub":"system:serviceaccount:m:e"}"#) + ".c2lnbmF0dXJl"
    }

    @Test func rereadsWhenTheFileIsReplaced() throws {
        let scratch = try Scratch()
        let dir = scratch.dir
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
    }

    @Test func aFileThatNeverWasIsAnErrorNamingThePathNeverTheContent() throws {
        let scratch = try Scratch()
        let file = BearerTokenFile(path: scratch.dir + "/absent")
        guard case .failure(let error) = file.current() else { Issue.record("a missing token file must be an error"); return }
        #expect("\(error)".contains(scratch.dir + "/absent"))
        #expect(file.health == .unavailable)
    }

    /// A token file that disappears keeps the last good token until its JWT `exp`, and the change
    /// is logged once however many requests ask (it was a warning per request of every poll).
    @Test func aVanishedFileKeepsTheLastTokenUntilItsExpiry() throws {
        let scratch = try Scratch()
        let clock = TestClock()
        let path = scratch.dir + "/token"
        let token = Self.jwt(exp: clock.read() + 600)
        try token.write(toFile: path, atomically: true, encoding: .utf8)
        let (logger, log) = CapturedLog.make()
        let file = BearerTokenFile(path: path, target: "cp1", logger: logger, clock: clock.read)
        #expect(try file.current().get() == BearerToken(token))

        try FileManager.default.removeItem(atPath: path)
        for _ in 0..<20 { #expect(try file.current().get() == BearerToken(token), "kept while valid") }
        #expect(file.health == .keepingLast)
        #expect(log.count(.warning, containing: "using the last token") == 1, "\(log.all.map(\.message))")
        let warning = try #require(log.all.first { $0.level == .warning })
        #expect(warning.metadata["until"]?.hasPrefix("2027-01-15T08:") == true, "\(warning.metadata)")
        #expect(warning.metadata["target"] == "cp1")
        #expect(!log.all.contains { "\($0.metadata)".contains(token) || $0.message.contains(token) }, "the token never reaches a log")

        clock.advance(601)
        for _ in 0..<5 { if case .success = file.current() { Issue.record("an expired token was still used") } }
        #expect(file.health == .unavailable)
        #expect(log.count(.warning, containing: "last token expired") == 1)

        try "rotated".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try file.current().get() == BearerToken("rotated"))
        #expect(log.count(.info, containing: "readable again") == 1)
        #expect(log.all.count == 3, "three changes of state, three lines: \(log.all.map(\.message))")
    }

    @Test func aTokenWithoutExpiryIsKeptForAnHour() throws {
        let scratch = try Scratch()
        let clock = TestClock()
        let path = scratch.dir + "/token"
        try "opaque-static-token".write(toFile: path, atomically: true, encoding: .utf8)
        let file = BearerTokenFile(path: path, clock: clock.read)
        _ = file.current()
        // Unreadable: the path is now a directory (chmod does not stop root, who runs the tests).
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        clock.advance(3_599)
        #expect(try file.current().get() == BearerToken("opaque-static-token"))
        clock.advance(2)
        guard case .failure = file.current() else { Issue.record("kept past an hour"); return }
    }

    @Test func anEmptyFileCaughtMidRotationKeepsTheLastToken() throws {
        let scratch = try Scratch()
        let path = scratch.dir + "/token"
        try "good".write(toFile: path, atomically: true, encoding: .utf8)
        let file = BearerTokenFile(path: path)
        _ = file.current()
        try "\n".write(toFile: path, atomically: false, encoding: .utf8)
        #expect(try file.current().get() == BearerToken("good"), "an empty file is never a token")
    }

    @Test func jwtExpiryIsReadWithoutTrustingTheRest() {
        #expect(JWTClaims.expiry(Self.jwt(exp: 1_900_000_000)) == 1_900_000_000)
        #expect(JWTClaims.expiry("not-a-jwt") == nil)
        #expect(JWTClaims.expiry("a.b.c") == nil)
        #expect(JWTClaims.expiry("a." + Data(#"{"exp":"soon"}"#.utf8).base64EncodedString() + ".c") == nil)
        #expect(JWTClaims.expiry("a." + Data(#"{"exp":1e400}"#.utf8).base64EncodedString() + ".c") == nil)
    }

    /// Through a real poller and simulator: the token file vanishes, the polls stay authorized
    /// and one warning is logged in three polls of some ten token reads each.
    @Test func aPollerKeepsPollingWithTheLastTokenAndWarnsOnce() async throws {
        let simulator = try await SimulatorTarget.start()
        defer { simulator.cleanUp() }
        let client = CurlClient()
        defer { client.shutdown() }
        let (logger, log) = CapturedLog.make()
        var target = simulator.target()
        let tokenFile = NSTemporaryDirectory() + "kse-poller-token-\(UUID().uuidString)"
        try SimulatorTarget.token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
        target.bearerTokenFile = tokenFile
        let poller = TargetPoller(target: target, client: client, store: SnapshotStore(targetOrder: [target.name]), logger: logger)
        #expect(await poller.pollOnce().value("kube_scheduler_up") == 1)
        try FileManager.default.removeItem(atPath: tokenFile)
        for _ in 0..<3 {
            let snapshot = await poller.pollOnce()
            #expect(snapshot.value("kube_scheduler_up") == 1, "still authorized with the last token")
        }
        #expect(log.count(.warning, containing: "bearer token file") == 1, "\(log.all.filter { $0.level >= .warning }.map(\.message))")
    }
}
