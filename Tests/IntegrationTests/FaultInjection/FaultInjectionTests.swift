import Foundation
import Testing

/// Hostile targets against the real exporter process. Each case runs the exporter on two targets,
/// the hostile one and a healthy simulator, and shows the fault stays contained: the healthy
/// target keeps being polled, the hostile one reports `up 0` with the reason an SRE would look
/// for, memory stays bounded and no credential leaks (see `FaultScenario.expectContained`).
@Suite(.serialized) struct FaultInjectionTests {
    // MARK: - Transport

    @Test func connectionRefused() async throws {
        try await withFaultScenario { scenario in
            // Port 1 is privileged and unused here: refused at once.
            try await scenario.startExporter(hostileURL: "https://127.0.0.1:1")
            let body = try await scenario.expectContained(reason: "connect_refused")
            #expect(scenario.value(body, "kube_scheduler_endpoint_http_status", FaultScenario.hostile, "endpoint=\"metrics\"") == 0)
        }
    }

    @Test func acceptThenHangHitsTheTimeout() async throws {
        try await withFaultScenario { scenario in
            let server = try await scenario.server("hang")
            try await scenario.startExporter(hostileURL: server.url(), hostileHangs: true)
            let body = try await scenario.expectContained(reason: "timeout|connect_timeout")
            #expect(!server.requests.isEmpty, "the exporter did connect")
            Self.expectNoQueuedConnectTimeouts(scenario, body)
        }
    }

    @Test func slowlorisBodyHitsTheTimeout() async throws {
        try await withFaultScenario { scenario in
            let server = try await scenario.server("slowloris", tls: scenario.serving, ["--byte-interval", "1"])
            try await scenario.startExporter(hostileURL: server.url(), hostileHangs: true)
            let body = try await scenario.expectContained(reason: "timeout|connect_timeout")
            #expect(scenario.value(body, "kube_scheduler_endpoint_http_status", FaultScenario.hostile, "endpoint=\"metrics\"") == 0,
                    "a response cut off by the timeout is no response")
            Self.expectNoQueuedConnectTimeouts(scenario, body)
        }
    }

    @Test func connectionResetMidBody() async throws {
        try await withFaultScenario { scenario in
            let server = try await scenario.server("reset", tls: scenario.serving)
            try await scenario.startExporter(hostileURL: server.url())
            // libcurl reports a reset after the status line as a receive error (CURLE_RECV_ERROR),
            // which the exporter files under `other`: it is neither TLS nor HTTP nor a timeout.
            try await scenario.expectContained(reason: "other")
            #expect(server.requests.contains { $0["path"] as? String == "/metrics" })
        }
    }

    // MARK: - Size limits

    @Test func oneGibibyteBodyWithContentLengthIsRefusedUpFront() async throws {
        try await withFaultScenario { scenario in
            let server = try await scenario.server("big", tls: scenario.serving, ["--bytes", "\(1 << 30)"])
            try await scenario.startExporter(hostileURL: server.url())
            try await scenario.expectContained(reason: "body_too_large")
        }
    }

    @Test func oneGibibyteChunkedBodyStopsAtTheLimit() async throws {
        try await withFaultScenario { scenario in
            // No Content-Length: only the exporter's own 16 MiB count stops it, on every endpoint.
            let server = try await scenario.server("big-chunked", tls: scenario.serving, ["--bytes", "\(1 << 30)"])
            try await scenario.startExporter(hostileURL: server.url())
            try await scenario.expectContained(reason: "body_too_large")
            let memory = try scenario.residentMemory()
            #expect(memory.peak < FaultScenario.residentMemoryBound, "VmHWM \(memory.peak >> 20) MiB")
        }
    }

    @Test func gzipBombWithCompressionOn() async throws {
        try await withFaultScenario { scenario in
            // 1 GiB of zeros decodes from about 1 MiB on the wire; the limit counts decoded bytes.
            let server = try await scenario.server("gzip-bomb", tls: scenario.serving, ["--bytes", "\(1 << 30)"])
            try await scenario.startExporter(hostileURL: server.url(), hostileSettings: ["accept_compressed: true"])
            try await scenario.expectContained(reason: "body_too_large")
            let metricsRequests = server.requests.filter { $0["path"] as? String == "/metrics" }
            #expect(metricsRequests.allSatisfy { ($0["accept_encoding"] as? String)?.contains("gzip") == true },
                    "accept_compressed advertises gzip")
            let memory = try scenario.residentMemory()
            #expect(memory.peak < FaultScenario.residentMemoryBound, "VmHWM \(memory.peak >> 20) MiB")
        }
    }

    @Test func gzipBodyNotAskedForIsAParseError() async throws {
        try await withFaultScenario { scenario in
            // accept_compressed is off by default: the exporter does not decode, so compressed
            // bytes forced on it are garbage to the parser, never a success.
            let server = try await scenario.server("gzip-bomb", tls: scenario.serving, ["--bytes", "\(16 << 20)"])
            try await scenario.startExporter(hostileURL: server.url())
            try await scenario.expectContained(reason: "parse")
            #expect(server.requests.allSatisfy { $0["accept_encoding"] is NSNull || $0["accept_encoding"] == nil },
                    "no Accept-Encoding by default: \(server.requests.prefix(3))")
        }
    }

    // MARK: - Content

    @Test func malformedExpositionIsAParseErrorButTheGoodLinesStillCount() async throws {
        try await withFaultScenario { scenario in
            let bodyFile = try scenario.dir.write("malformed.txt", """
                # HELP kubernetes_build_info [ALPHA] A metric with a constant '1' value labeled by major, minor, git version, git commit, git tree state, build date, Go version, and compiler from which Kubernetes was built, and platform on which it is running.
                # TYPE kubernetes_build_info gauge
                kubernetes_build_info{build_date="2026-04-14T00:00:00Z",compiler="gc",git_commit="0000000",git_tree_state="clean",git_version="v1.35.4",go_version="go1.25.9",major="1",minor="35",platform="linux/amd64"} 1
                # TYPE scheduler_pending_pods gauge
                scheduler_pending_pods{queue="active"} zero
                scheduler_pending_pods{queue="backoff" 0
                scheduler pending pods 3

                """)
            let server = try await scenario.server("body", tls: scenario.serving, ["--body-file", bodyFile])
            try await scenario.startExporter(hostileURL: server.url())
            let body = try await scenario.expectContained(reason: "parse")
            #expect(scenario.value(body, "kube_scheduler_endpoint_http_status", FaultScenario.hostile, "endpoint=\"metrics\"") == 200)
            #expect(scenario.value(body, "kube_scheduler_build_info", FaultScenario.hostile, "git_version=\"v1.35.4\"") == 1,
                    "lines that parsed still feed the checks")
            let log = scenario.exporter?.child.text ?? ""
            #expect(log.contains("skipped malformed lines"))
            // Warned once, when the target went down, not again on every failing poll.
            let warnings = log.split(separator: "\n").filter { $0.contains("level=warning") && $0.contains("target=hostile") && $0.contains("malformed") }
            #expect(warnings.count == 1, "\(warnings)")
            #expect((scenario.value(body, "kube_scheduler_polls_total", FaultScenario.hostile) ?? 0) >= 2)
        }
    }

    @Test func tokenEchoedIntoAMalformedLineNeverReachesTheLogs() async throws {
        try await withFaultScenario { scenario in
            let server = try await scenario.server("echo-token", tls: scenario.serving)
            try await scenario.startExporter(hostileURL: server.url())
            // The parse error quotes the bad value; expectContained checks the token is not in the output.
            try await scenario.expectContained(reason: "parse")
            #expect(scenario.exporter?.child.text.contains("<redacted>") == true, "the quoted value was redacted, not dropped")
        }
    }

    /// Decision: the body decides, not the Content-Type header. kube-scheduler always sends
    /// `text/plain; version=0.0.4`; a valid 0.0.4 body under another type (a proxy rewriting
    /// headers, a misconfigured ingress) still carries the scheduler's real state, and reporting
    /// it down would hide the data an SRE needs. Prometheus 2 parsed such bodies as text too
    /// (Prometheus 3 refuses them unless `fallback_scrape_protocol` is set). An HTML page is
    /// caught by the parser, whatever its header says (see the next case).
    @Test func wrongContentTypeWithAValidBodyIsStillParsed() async throws {
        try await withFaultScenario { scenario in
            let server = try await scenario.server("body", tls: scenario.serving,
                                             ["--body-file", captureRoot + "/default/metrics.txt", "--content-type", "application/json"])
            try await scenario.startExporter(hostileURL: server.url())
            let first = try await scenario.scrape { scenario.value($0, "kube_scheduler_up", FaultScenario.hostile) == 1 }
            let hostilePolls = scenario.polls(first, FaultScenario.hostile)
            let last = try await scenario.scrape { scenario.polls($0, FaultScenario.hostile) >= hostilePolls + 2 }
            #expect(scenario.value(last, "kube_scheduler_up", FaultScenario.hostile) == 1)
            let hostileErrors = last.split(separator: "\n").filter { $0.hasPrefix("kube_scheduler_poll_errors_total{target=\"hostile\"") }
            #expect(!hostileErrors.isEmpty && hostileErrors.allSatisfy { $0.hasSuffix(" 0") }, "no poll errors at all: \(hostileErrors)")
            #expect(scenario.value(last, "kube_scheduler_build_info", FaultScenario.hostile, "git_version=\"v1.35.4\"") == 1)
            #expect(scenario.value(last, "kube_scheduler_up", FaultScenario.healthy) == 1)
            try scenario.expectHealthyProcess()
        }
    }

    @Test func htmlErrorPageWith200IsAParseError() async throws {
        try await withFaultScenario { scenario in
            let page = try scenario.dir.write("error.html", """
                <!DOCTYPE html>
                <html><head><title>502 Bad Gateway</title></head>
                <body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body>
                </html>

                """)
            let server = try await scenario.server("body", tls: scenario.serving, ["--body-file", page, "--content-type", "text/html"])
            try await scenario.startExporter(hostileURL: server.url())
            let body = try await scenario.expectContained(reason: "parse")
            #expect(scenario.value(body, "kube_scheduler_endpoint_http_status", FaultScenario.hostile, "endpoint=\"metrics\"") == 200)
        }
    }

    @Test func emptyBodyWith200IsAParseError() async throws {
        try await withFaultScenario { scenario in
            let empty = try scenario.dir.write("empty.txt", "")
            let server = try await scenario.server("body", tls: scenario.serving, ["--body-file", empty])
            try await scenario.startExporter(hostileURL: server.url())
            try await scenario.expectContained(reason: "parse")
        }
    }

    // MARK: - TLS

    @Test func tlsHandshakeToAPlainHTTPPort() async throws {
        try await withFaultScenario { scenario in
            let server = try await scenario.server("body")
            try await scenario.startExporter(hostileURL: server.url(scheme: "https"))
            try await scenario.expectContained(reason: "tls_handshake")
            #expect(server.requests.isEmpty, "no request ever went out in clear text")
        }
    }

    @Test func untrustedCertificate() async throws {
        try await withFaultScenario { scenario in
            let server = try await scenario.server("body", tls: (scenario.pki.untrustedCert, scenario.pki.untrustedKey),
                                             ["--body-file", captureRoot + "/default/metrics.txt"])
            try await scenario.startExporter(hostileURL: server.url())
            try await scenario.expectContained(reason: "tls_verify")
            Self.expectOnlyAnonymousObservation(server)
        }
    }

    @Test func expiredCertificate() async throws {
        try await withFaultScenario { scenario in
            let server = try await scenario.server("body", tls: (scenario.pki.expiredCert, scenario.pki.expiredKey),
                                             ["--body-file", captureRoot + "/default/metrics.txt"])
            try await scenario.startExporter(hostileURL: server.url())
            try await scenario.expectContained(reason: "tls_verify")
            Self.expectOnlyAnonymousObservation(server)
        }
    }

    // MARK: - HTTP

    @Test(arguments: [301, 302, 307])
    func redirectToAnotherHostIsNotFollowed(status: Int) async throws {
        try await withFaultScenario { scenario in
            let elsewhere = try await scenario.server("body", bind: "127.0.0.2", tls: scenario.serving,
                                                ["--body-file", captureRoot + "/default/metrics.txt"])
            let server = try await scenario.server("redirect", tls: scenario.serving,
                                             ["--status", "\(status)", "--location", elsewhere.url() + "/metrics"])
            try await scenario.startExporter(hostileURL: server.url())
            let body = try await scenario.expectContained(reason: "http_status")
            #expect(scenario.value(body, "kube_scheduler_endpoint_http_status", FaultScenario.hostile, "endpoint=\"metrics\"") == Double(status))
            let hostileToken = scenario.tokens[1]
            #expect(server.requests.contains { $0["authorization"] as? String == "Bearer \(hostileToken)" },
                    "the token was at stake: the configured target got it")
            #expect(elsewhere.requests.isEmpty, "the other host got no request at all, so no Authorization header")
        }
    }

    @Test(arguments: [401, 403, 500, 503])
    func errorStatusShowsTheCode(status: Int) async throws {
        try await withFaultScenario { scenario in
            let page = try scenario.dir.write("status.txt", "status \(status)\n")
            let server = try await scenario.server("body", tls: scenario.serving, ["--status", "\(status)", "--body-file", page])
            try await scenario.startExporter(hostileURL: server.url())
            let body = try await scenario.expectContained(reason: "http_status")
            #expect(scenario.value(body, "kube_scheduler_endpoint_http_status", FaultScenario.hostile, "endpoint=\"metrics\"") == Double(status))
        }
    }

    // MARK: - Over time

    @Test func flappingTargetTogglesUpWhileCountersKeepCounting() async throws {
        try await withFaultScenario { scenario in
            let server = try await scenario.server("flap", tls: scenario.serving, ["--body-file", captureRoot + "/default/metrics.txt"])
            try await scenario.startExporter(hostileURL: server.url())
            var upValues: [Double] = []
            var lastSuccesses: [Double] = []
            var previous: (polls: Double, errors: Double, healthy: Double) = (0, 0, 0)
            var monotonic = true
            // Every hostile poll flips; watch 6 of them.
            try await scenario.scrape { body in
                guard let up = scenario.value(body, "kube_scheduler_up", FaultScenario.hostile) else { return false }
                let now = (scenario.polls(body, FaultScenario.hostile), scenario.errors(body, "http_status"),
                           scenario.polls(body, FaultScenario.healthy))
                if now.0 < previous.polls || now.1 < previous.errors || now.2 < previous.healthy { monotonic = false }
                if now.0 > previous.polls { upValues.append(up) }
                previous = now
                if let success = scenario.value(body, "kube_scheduler_last_successful_poll_timestamp_seconds", FaultScenario.hostile) {
                    if lastSuccesses.last != success { lastSuccesses.append(success) }
                }
                return upValues.count >= 6
            }
            #expect(monotonic, "polls and error counters never go down")
            #expect(upValues.contains(1) && upValues.contains(0), "up toggles: \(upValues)")
            #expect(previous.errors >= 2, "every bad poll is counted")
            #expect(previous.polls - previous.errors >= 2, "and every good one is not")
            #expect(lastSuccesses.count >= 2 && lastSuccesses == lastSuccesses.sorted(), "last success moves forward: \(lastSuccesses)")
            #expect(previous.healthy >= 6, "the healthy target kept pace")
            try scenario.expectHealthyProcess()
        }
    }

    @Test func restartingTargetKeepsLatencyGaugesFiniteAndNonNegative() async throws {
        try await withFaultScenario { scenario in
            // A second simulator in its own directory (its own token and PKI) that restarts at
            // tick 20 of 0.2s: 4s in, after the exporter has a few polls of history.
            let restartingDir = try TempDirectory()
            defer { restartingDir.remove() }
            let restarting = try await Simulator.start(in: restartingDir, extra: [
                "--load", "--load-interval", "0.2", "--restart-at-tick", "20",
            ])
            defer { restarting.child.stop() }
            try await scenario.startExporter(hostileURL: restarting.url, hostileSettings: ["latency: {window: 3s}"],
                                             hostileIsSimulator: restarting)
            let exporter = try #require(scenario.exporter)
            var startTimes: [Double] = []
            var restartPolls = 0.0
            var bad: [String] = []
            var finiteSeries = Set<String>()
            let deadline = Date().addingTimeInterval(40)
            while Date() < deadline {
                let body = try await scenario.scrape { _ in true }
                // The scheduler's own process_start_time_seconds (passthrough) moves at the restart.
                let passthrough = try await exporter.get("/scheduler/metrics?target=\(FaultScenario.hostile)")
                if let startTime = sampleValue(String(decoding: passthrough.body, as: UTF8.self), "process_start_time_seconds"),
                   startTimes.last != startTime {
                    startTimes.append(startTime)
                    if startTimes.count == 2 { restartPolls = scenario.polls(body, FaultScenario.hostile) }
                }
                for line in body.split(separator: "\n") where line.contains("target=\"hostile\"") && Self.latencyFamilies.contains(where: { line.hasPrefix($0 + "{") }) {
                    // Per series: once it had a value, the reset must not make it NaN, infinite or negative.
                    let series = String(line[..<(line.lastIndex(of: " ") ?? line.endIndex)])
                    let value = Double(line.split(separator: " ").last ?? "") ?? .nan
                    if value.isFinite && value >= 0 { finiteSeries.insert(series) } else if finiteSeries.contains(series) { bad.append(String(line)) }
                }
                if startTimes.count >= 2, scenario.polls(body, FaultScenario.hostile) - restartPolls >= 6 { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(startTimes.count == 2, "the simulator restarted once: \(startTimes)")
            #expect(finiteSeries.contains { $0.hasPrefix("kube_scheduler_scheduling_latency_seconds{") }, "quantiles were computed")
            #expect(bad.isEmpty, "latency gauges after the first finite value: \(bad.prefix(5))")
            let last = scenario.scrapes.last ?? ""
            #expect(scenario.value(last, "kube_scheduler_up", FaultScenario.hostile) == 1)
            #expect(scenario.value(last, "kube_scheduler_up", FaultScenario.healthy) == 1)
            let restartingToken = try String(contentsOfFile: restarting.tokenFile, encoding: .utf8)
            #expect(!scenario.scrapes.contains { $0.contains(restartingToken) })
            #expect(!(scenario.exporter?.child.text.contains(restartingToken) ?? true))
            try scenario.expectHealthyProcess()
        }
    }

    /// The TLS posture check connects without verifying on purpose (to report the certificate),
    /// anonymously and only to /healthz: the token never goes to a server that failed verification.
    static func expectOnlyAnonymousObservation(_ server: HostileServer) {
        let requests = server.requests
        #expect(requests.allSatisfy { $0["authorization"] is NSNull || $0["authorization"] == nil }, "no credentials: \(requests)")
        #expect(requests.allSatisfy { $0["path"] as? String == "/healthz" }, "only the TLS observation: \(requests)")
    }

    /// Found here: the target accepted every connection, so the honest reason is `timeout`, yet
    /// some cycles reported `connect_timeout`. Causes found so far: requests queued behind the
    /// per-host connection limit (the exporter allows 16 per host), then requests waiting
    /// (PIPEWAIT) for the cycle's one connection whose TLS handshake hung, which the poller now
    /// reclassifies when another request of the cycle got a connection. Kept as a known,
    /// intermittent issue until the fault suite has run clean for long enough to drop the marker.
    static func expectNoQueuedConnectTimeouts(_ scenario: FaultScenario, _ body: String) {
        withKnownIssue("a hung target is sometimes reported as connect_timeout instead of timeout", isIntermittent: true) {
            #expect(scenario.errors(body, "connect_timeout") == 0)
        }
    }

    static let latencyFamilies = [
        "kube_scheduler_scheduling_latency_seconds", "kube_scheduler_extension_point_latency_seconds",
        "kube_scheduler_schedule_attempts_rate", "kube_scheduler_preemption_attempts_rate",
    ]
}
