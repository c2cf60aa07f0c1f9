import CurlHTTP
import Foundation
import TestSupport
import Testing

/// /scheduler/metrics and /probe against a real simulator process.
@Suite(.serialized) struct PassthroughAndProbeTests {
    @Test func passthroughServesTheSchedulersFamiliesVerbatim() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let simulator = try await Simulator.start(in: dir)
        defer { simulator.child.stop() }
        let exporter = try await Exporter.start(["--target", simulator.url, "--ca-file", simulator.caFile, "--bearer-token-file", simulator.tokenFile,
                                                 "--check.nonloopback-address", "127.0.0.2", "--check.insecure-port", "0"])
        defer { exporter.child.stop() }
        _ = try await exporter.scrape { sampleValue($0, "kube_scheduler_up") == 1 }
        let response = try await exporter.get("/scheduler/metrics")
        #expect(response.status == 200)
        let body = String(decoding: response.body, as: UTF8.self)
        let capture = try String(contentsOfFile: captureRoot + "/default/metrics.txt", encoding: .utf8)
        // Every family kept is a verbatim block of the capture; others are dropped whole.
        var blocks: [String: String] = [:]
        var current = ""
        for line in body.split(separator: "\n") {
            if line.hasPrefix("# HELP ") { current = String(line.split(separator: " ")[2]) }
            blocks[current, default: ""] += line + "\n"
        }
        #expect(blocks.keys.contains("scheduler_scheduling_attempt_duration_seconds"))
        #expect(blocks.keys.contains("kubernetes_build_info"))
        #expect(!blocks.keys.contains("apiserver_audit_event_total"))
        #expect(!body.contains("kube_scheduler_"), "no exporter families, no added labels")
        for (name, block) in blocks where !name.isEmpty {
            #expect(capture.contains(block), "family \(name) is byte-for-byte the scheduler's")
        }
        #expect(try await exporter.get("/scheduler/metrics?target=nope").status == 404)

        // Prometheus sends Accept-Encoding: gzip; the stored compressed bytes go out as they are.
        var gzipRequest = HTTPRequest(url: "http://\(exporter.address)/scheduler/metrics")
        gzipRequest.acceptCompressed = true
        let gzipped = try await IntegrationClient.shared.perform(gzipRequest)
        #expect(gzipped.header("content-encoding") == "gzip")
        #expect(gzipped.body == response.body, "the same bytes once inflated")
    }

    /// Off by default: it makes the exporter connect where a client asks.
    @Test func probeIsOffUnlessEnabled() async throws {
        let exporter = try await Exporter.start(["--target", "https://127.0.0.1:1", "--check.nonloopback-address", "127.0.0.2", "--check.insecure-port", "0"])
        defer { exporter.child.stop() }
        #expect(try await exporter.get("/probe?target=127.0.0.1:10259").status == 404)
        #expect(!String(decoding: try await exporter.get("/").body, as: UTF8.self).contains("probe"), "nor on the landing page")
    }

    /// `--passthrough.resources`: the scheduler's /metrics/resources, polled with the rest and
    /// served as it came on /scheduler/metrics/resources; off (404) without the flag.
    @Test func resourcesPassthrough() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let simulator = try await Simulator.start(in: dir)
        defer { simulator.child.stop() }
        let exporter = try await Exporter.start(["--target", simulator.url, "--ca-file", simulator.caFile, "--bearer-token-file", simulator.tokenFile,
                                                 "--check.nonloopback-address", "127.0.0.2", "--check.insecure-port", "0", "--passthrough.resources"])
        defer { exporter.child.stop() }
        _ = try await exporter.scrape { sampleValue($0, "kube_scheduler_endpoint_http_status", "endpoint=\"metrics_resources\"") == 200 }
        let resources = try await exporter.get("/scheduler/metrics/resources")
        #expect(resources.status == 200)
        let fixture = try String(contentsOfFile: repositoryRoot + "/Sources/SchedulerSimulator/Fixtures/synthetic/metrics-resources.txt", encoding: .utf8)
        #expect(String(decoding: resources.body, as: UTF8.self) == fixture)
        #expect(try await exporter.get("/scheduler/metrics/resources?target=nope").status == 404)

        let help = try await runCommand(try Binaries.path("kube-scheduler-exporter"), ["--help"])
        #expect(help.output.contains("--passthrough.resources"))
        let off = try await Exporter.start(["--target", "https://127.0.0.1:1", "--check.insecure-port", "0", "--check.nonloopback-address", "127.0.0.2"])
        defer { off.child.stop() }
        #expect(try await off.get("/scheduler/metrics/resources").status == 404, "off unless --passthrough.resources")
    }

    @Test func passthroughCanBeTurnedOff() async throws {
        let exporter = try await Exporter.start(["--target", "https://127.0.0.1:1", "--passthrough.families", "",
                                                 "--check.nonloopback-address", "127.0.0.2", "--check.insecure-port", "0"])
        defer { exporter.child.stop() }
        #expect(try await exporter.get("/scheduler/metrics").status == 404)
    }

    @Test func outsideInProbe() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let simulator = try await Simulator.start(in: dir, variant: "metrics-always-allowed")
        defer { simulator.child.stop() }
        let exporter = try await Exporter.start(["--target", "https://127.0.0.1:1", "--web.enable-probe", "--probe.allowed-targets", "127.0.0.0/8",
                                                 "--probe.allowed-ports", "10259,\(simulator.port)",
                                                 "--check.nonloopback-address", "127.0.0.2", "--check.insecure-port", "0"])
        defer { exporter.child.stop() }

        let reachable = String(decoding: try await exporter.get("/probe?target=127.0.0.1:\(simulator.port)").body, as: UTF8.self)
        #expect(sampleValue(reachable, "probe_success") == 1)
        #expect(sampleValue(reachable, "kube_scheduler_network_reachable", "target=\"127.0.0.1:\(simulator.port)\"") == 1)
        #expect(sampleValue(reachable, "kube_scheduler_security_check", "check=\"not_reachable_from_network\"", "status=\"fail\"") == 1)
        #expect(sampleValue(reachable, "kube_scheduler_anonymous_access", "path=\"/metrics\"") == 1)
        #expect(sampleValue(reachable, "kube_scheduler_authentication_enforced") == 1)
        #expect(sampleValue(reachable, "kube_scheduler_tls_cert_not_after_timestamp_seconds") != nil)

        let refused = String(decoding: try await exporter.get("/probe?target=127.0.0.2:\(simulator.port)").body, as: UTF8.self)
        #expect(sampleValue(refused, "probe_success") == 1)
        #expect(sampleValue(refused, "kube_scheduler_network_reachable") == 0)
        #expect(sampleValue(refused, "kube_scheduler_security_check", "check=\"not_reachable_from_network\"", "status=\"pass\"") == 1)

        // Refused before any connection is attempted: outside the allowed ranges, or not an address.
        #expect(try await exporter.get("/probe?target=192.168.1.1:10259").status == 403)
        #expect(try await exporter.get("/probe?target=127.0.0.1:22").status == 403, "a port outside --probe.allowed-ports")
        #expect(try await exporter.get("/probe?target=scheduler.example:10259").status == 400)
        #expect(try await exporter.get("/probe").status == 400)
    }

    /// `X-Prometheus-Scrape-Timeout-Seconds: 1e300` (or inf, nan) once stopped the process with
    /// "Illegal instruction", and 1e7 held a probe slot for months: the header is clamped to
    /// --probe.max-timeout, and what is not a positive number gets 400.
    @Test func hostileScrapeTimeoutHeadersNeitherCrashNorStall() async throws {
        let blackHole = try SilentListener()
        let exporter = try await Exporter.start(["--target", "https://127.0.0.1:1", "--web.enable-probe", "--probe.allowed-targets", "127.0.0.0/8",
                                                 "--probe.allowed-ports", "\(blackHole.port)", "--probe.max-timeout", "1s", "--probe.max-concurrent", "1",
                                                 "--check.nonloopback-address", "127.0.0.2", "--check.insecure-port", "0"])
        defer { exporter.child.stop() }
        func probe(_ header: String) async throws -> Int {
            var request = HTTPRequest(url: "http://\(exporter.address)/probe?target=127.0.0.1:\(blackHole.port)")
            request.headers = [("X-Prometheus-Scrape-Timeout-Seconds", header)]
            request.timeout = .seconds(60)  // a safety net: the probe itself may take 1 s
            return try await IntegrationClient.shared.perform(request).status
        }
        for header in ["1e300", "inf", "1e7", "1.7976931348623157e308"] {
            #expect(try await probe(header) == 200, "\(header) is clamped to the maximum")
        }
        for header in ["nan", "-1", "0", "soon"] {
            #expect(try await probe(header) == 400, "\(header) is refused")
        }
        // One slot, so each 1e7 probe above must have ended for the next to get 200.
        #expect(try await exporter.get("/healthz").status == 200, "still alive")
    }
}

let repositoryRoot: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

let captureRoot = repositoryRoot + "/Sources/SchedulerSimulator/Fixtures/kube-scheduler-1.35"
