import CurlHTTP
import Foundation
import TestSupport
import Testing

/// The walking skeleton end to end: simulator process -> HTTPS (libcurl) -> exporter process ->
/// HTTP scrape, output checked by promtool.
@Suite(.serialized) struct ExporterProcessTests {
    @Test func upWithTheExporterTokenAndPromtoolClean() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let simulator = try await Simulator.start(in: dir)
        defer { simulator.child.stop() }
        let exporter = try await Exporter.start(["--target", simulator.url, "--ca-file", simulator.caFile,
                                                 "--bearer-token-file", simulator.tokenFile, "--check.nonloopback-address", "127.0.0.2",
                                                 "--check.insecure-port", "0"])
        defer { exporter.child.stop() }

        // Wait for the windowed latency families too (they need two polls), so promtool lints them.
        let body = try await exporter.scrape {
            sampleValue($0, "kube_scheduler_up") == 1 && $0.contains("kube_scheduler_scheduling_latency_seconds{")
        }
        #expect(sampleValue(body, "kube_scheduler_build_info", "git_version=\"v1.35.4\"") == 1)
        #expect(sampleValue(body, "kube_scheduler_leader", "target=\"default\"") == 1)
        #expect(sampleValue(body, "kube_scheduler_health_check_status", "endpoint=\"readyz\"", "check=\"sched-handler-sync\"") == 1)
        #expect(sampleValue(body, "kube_scheduler_health_status", "endpoint=\"livez\"") == 1)
        #expect(sampleValue(body, "kube_scheduler_endpoint_http_status", "endpoint=\"metrics\"") == 200)
        #expect(sampleValue(body, "kube_scheduler_http_version_info", "version=\"2\"") == 1, "the scheduler (and simulator) negotiate HTTP/2")
        #expect(sampleValue(body, "kube_scheduler_last_successful_poll_timestamp_seconds") ?? 0 > 1_700_000_000)
        #expect(sampleValue(body, "process_resident_memory_bytes") ?? 0 > 0)
        #expect(!body.contains(try String(contentsOfFile: simulator.tokenFile, encoding: .utf8)), "the token never reaches metrics")

        let readme = try String(contentsOfFile: repositoryRoot + "/README.md", encoding: .utf8)
        for line in body.split(separator: "\n") where line.hasPrefix("# HELP ") {
            let family = line.split(separator: " ")[2]
            #expect(readme.contains("`\(family)`"), "the README's metric reference documents \(family)")
        }

        let lint = try await runCommand("/usr/bin/promtool", ["check", "metrics"], input: body)
        #expect(lint.status == 0, "promtool check metrics: \(lint.output)")

        let openMetrics = try await exporter.get("/metrics", accept: "application/openmetrics-text; version=1.0.0,text/plain;q=0.5")
        #expect(openMetrics.header("content-type")?.hasPrefix("application/openmetrics-text; version=1.0.0") == true)
        #expect(String(decoding: openMetrics.body, as: UTF8.self).hasSuffix("# EOF\n"))
        let health = try await exporter.get("/healthz")
        #expect(health.status == 200)
        #expect(try await exporter.get("/nope").status == 404)
    }

    @Test func downWithABadTokenShowingThe401() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let simulator = try await Simulator.start(in: dir)
        defer { simulator.child.stop() }
        let wrongToken = try dir.write("wrong-token", "not-the-exporter-token")
        let exporter = try await Exporter.start(["--target", simulator.url, "--ca-file", simulator.caFile,
                                                 "--bearer-token-file", wrongToken, "--check.nonloopback-address", "127.0.0.2",
                                                 "--check.insecure-port", "0"])
        defer { exporter.child.stop() }
        let body = try await exporter.scrape { sampleValue($0, "kube_scheduler_endpoint_http_status", "endpoint=\"metrics\"") != nil }
        #expect(sampleValue(body, "kube_scheduler_up") == 0)
        #expect(sampleValue(body, "kube_scheduler_endpoint_http_status", "endpoint=\"metrics\"") == 401)
        #expect(sampleValue(body, "kube_scheduler_poll_errors_total", "reason=\"http_status\"") ?? 0 >= 1)
        #expect(!exporter.child.text.contains("not-the-exporter-token"), "the token never reaches the logs")
    }

    @Test func aDeadTargetDoesNotStopAnotherOne() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let simulator = try await Simulator.start(in: dir)
        defer { simulator.child.stop() }
        let config = try dir.write("config.yml", """
            targets:
              - name: live
                url: \(simulator.url)
                bearer_token_file: \(simulator.tokenFile)
                tls_config: {ca_file: \(simulator.caFile)}
                security: {insecure_port: 0, nonloopback_addresses: []}
              - name: dead
                url: https://127.0.0.1:1
                timeout: 2s
                security: {insecure_port: 0, nonloopback_addresses: []}
            """)
        let exporter = try await Exporter.start(["--config.file", config])
        defer { exporter.child.stop() }
        let body = try await exporter.scrape {
            sampleValue($0, "kube_scheduler_up", "target=\"live\"") == 1 && sampleValue($0, "kube_scheduler_up", "target=\"dead\"") == 0
        }
        #expect(sampleValue(body, "kube_scheduler_poll_errors_total", "target=\"dead\"", "reason=\"connect_refused\"") ?? 0 >= 1)
        #expect(sampleValue(body, "kube_scheduler_exporter_targets") == 2)
    }

    /// A target whose first poll hangs (a black hole, 5 s timeout) was absent from /metrics until
    /// that poll ended, so no `up == 0` alert could fire for it: it is down from the first scrape.
    @Test func aTargetIsVisibleFromTheFirstScrape() async throws {
        let blackHole = try SilentListener()
        let exporter = try await Exporter.start(["--target", "https://127.0.0.1:\(blackHole.port)", "--timeout", "5s",
                                                 "--check.nonloopback-address", "127.0.0.2", "--check.insecure-port", "0"])
        defer { exporter.child.stop() }
        let body = String(decoding: try await exporter.get("/metrics").body, as: UTF8.self)
        #expect(body.contains("kube_scheduler_up{target=\"default\"} 0\n"), "\(body.prefix(2000))")
        #expect(sampleValue(body, "kube_scheduler_polls_total") == nil, "no poll has completed yet")
        #expect(try await exporter.get("/healthz").status == 200, "a slow target is no stuck exporter")
    }

    @Test func badFlagsAndConfigsExitWithCode2() async throws {
        let exporter = try Binaries.path("kube-scheduler-exporter")
        for arguments in [["--poll-interval", "soon"], ["--no-such-flag"], ["--config.file", "/nonexistent/config.yml"],
                          ["--web.listen-address", "nowhere"], ["--target", "ftp://127.0.0.1"], ["--log.format", "xml"]] {
            let result = try await runCommand(exporter, arguments)
            #expect(result.status == 2, "\(arguments): \(result.output)")
            #expect(result.output.split(separator: "\n").count <= 2, "one clear line, not a dump: \(result.output)")
        }
        let version = try await runCommand(exporter, ["--version"])
        #expect(version.status == 0)
        #expect(version.output.contains("."))
        let help = try await runCommand(exporter, ["--help"])
        for flag in ["--config.file", "--web.listen-address", "--target", "--bearer-token-file", "--ca-file", "--cert-file",
                     "--key-file", "--insecure-skip-verify", "--poll-interval", "--log.level", "--log.format", "targets:",
                     "--check.insecure-port", "--check.nonloopback-address"] {
            #expect(help.output.contains(flag), "--help documents \(flag)")
        }
        #expect(!help.output.contains("--probe.insecure-port") && !help.output.contains("--probe.nonloopback-address"),
                "the deprecated names are hidden: \(help.output)")
        let both = try await runCommand(exporter, ["--check.insecure-port", "0", "--probe.insecure-port", "0"])
        #expect(both.status == 2, "an old and a new name for one flag: \(both.output)")
    }

    /// "probe" now names only the /probe endpoint; the poller's old flag names still work and
    /// say once, at start-up, what replaces them.
    @Test func deprecatedFlagNamesWarnOnce() async throws {
        let refused = try RefusingPort()
        let exporter = try await Exporter.start(["--target", "https://127.0.0.1:\(refused.port)",
                                                 "--probe.insecure-port", "0", "--probe.nonloopback-address", "127.0.0.2"])
        defer { exporter.child.stop() }
        _ = try await exporter.scrape { (sampleValue($0, "kube_scheduler_polls_total") ?? 0) >= 2 }
        let warnings = exporter.child.text.split(separator: "\n").filter { $0.contains("deprecated flag names") }
        #expect(warnings.count == 1, "\(warnings)")
        #expect(warnings.first?.contains("level=warning") == true)
        #expect(warnings.first?.contains("--check.insecure-port instead of --probe.insecure-port") == true)
        #expect(warnings.first?.contains("--check.nonloopback-address instead of --probe.nonloopback-address") == true)
        let body = try await exporter.scrape { _ in true }
        #expect(sampleValue(body, "kube_scheduler_insecure_port_open") == nil, "the old name still turned the port check off")
    }
}
