import Foundation
import Testing
@testable import SchedulerSimulator

@Suite(.serialized) struct RequestLogAndInsecurePortTests {
    @Test func requestLogRecordsCredentialsAsSent() async throws {
        let logScratch = try ScratchDirectory()
        let logPath = logScratch.file("requests.jsonl")
        let running = try await RunningSimulator.start { $0.requestLogFile = logPath }
        defer { running.cleanUp() }
        let base = running.baseURL
        _ = try await running.curl.fetch([base + "/healthz", base + "/livez?verbose"])
        _ = try await running.curl.fetch(base + "/metrics", arguments: running.caller(.exporterToken).curlArguments)
        _ = try await running.curl.fetch(base + "/configz", arguments: running.caller(.exporterCertificate).curlArguments)
        _ = try await running.curl.fetch(base + "/readyz", arguments: running.caller(.badToken).curlArguments)
        _ = try await running.curl.fetch(base + "/healthz", arguments: ["--http1.1"])
        try await running.stop()

        let recorded = running.simulator.recordedRequests()
        let text = String(decoding: try #require(FileManager.default.contents(atPath: logPath)), as: UTF8.self)
        let lines = text.split(separator: "\n")
        let fromFile = try lines.map { try JSONDecoder().decode(RecordedRequest.self, from: Data($0.utf8)) }
        #expect(fromFile.count == 6)
        #expect(fromFile.map(\.path) == ["/healthz", "/livez?verbose", "/metrics", "/configz", "/readyz", "/healthz"])
        #expect(fromFile.map(\.status) == [200, 200, 200, 200, 401, 200])
        #expect(fromFile.map(\.authorization) == [
            nil, nil, "Bearer \(RunningSimulator.exporterToken)", nil, "Bearer \(RunningSimulator.badToken)", nil,
        ])
        #expect(fromFile.map(\.clientCertificate) == [false, false, false, true, false, false])
        #expect(fromFile.map(\.httpVersion) == ["2", "2", "2", "2", "2", "1.1"])
        // An absent header is written as an explicit null, so "never carried a token" is checkable.
        #expect(lines[0].contains(#""authorization":null"#))
        #expect(lines[0].contains(#""client_cert":false"#))
        // Still readable after stop(), and the same as the file.
        #expect(recorded == fromFile)
    }

    @Test func recordedRequestsWhileRunning() async throws {
        let running = try await RunningSimulator.start()
        defer { running.cleanUp() }
        _ = try await running.curl.fetch(running.baseURL + "/healthz")
        _ = try await running.curl.fetch(running.baseURL + "/metrics", arguments: running.caller(.nobodyToken).curlArguments)
        let recorded = running.simulator.recordedRequests()
        #expect(recorded.map(\.path) == ["/healthz", "/metrics"])
        #expect(recorded.map(\.status) == [200, 403])
        #expect(recorded[0].authorization == nil)
        #expect(recorded[1].authorization == "Bearer \(RunningSimulator.nobodyToken)")
        running.simulator.clearRecordedRequests()
        #expect(running.simulator.recordedRequests().isEmpty)
        try await running.stop()
    }

    @Test func insecurePortServesMetricsAndPprofWithoutAuth() async throws {
        let running = try await RunningSimulator.start { $0.insecurePort = 0 }
        defer { running.cleanUp() }
        let insecure = try #require(running.listeners.first { !$0.secure })
        #expect(insecure.url.hasPrefix("http://127.0.0.1:"))
        let transfers = try await running.curl.fetch(
            ["/metrics", "/healthz", "/debug/pprof/", "/configz", "/flagz"].map { insecure.url + $0 })
        #expect(transfers.map(\.status) == [200, 200, 200, 404, 404])
        #expect(transfers[0].body == (try Captures.file(.default, "metrics.txt")))
        #expect(transfers[0].httpVersion == "1.1")
        #expect(transfers[2].body == (try Captures.file(.default, "pprof-index.html")))
        // The secure port still demands credentials.
        #expect(try await running.curl.fetch(running.baseURL + "/metrics").status == 403)
        let logged = running.simulator.recordedRequests().filter { $0.listener == "http" }
        #expect(logged.count == 5)
        #expect(logged.allSatisfy { $0.authorization == nil })
        try await running.stop()
    }

    @Test func insecurePortFollowsProfilingOverride() async throws {
        let running = try await RunningSimulator.start {
            $0.insecurePort = 0
            $0.profiling = false
        }
        defer { running.cleanUp() }
        let insecure = try #require(running.listeners.first { !$0.secure })
        let transfers = try await running.curl.fetch([insecure.url + "/debug/pprof/", insecure.url + "/metrics"])
        #expect(transfers.map(\.status) == [404, 200])
        try await running.stop()
    }
}
