import CurlHTTP
import Logging
import SchedulerSimulator
import Testing
import TestSupport
@testable import SchedulerExporter

/// tls_min_version against real TLS servers (the simulator's BoringSSL listener): a scheduler
/// started with --tls-min-version=VersionTLS10 negotiates TLS 1.3 with a modern client, so only
/// the handshake offering nothing newer than 1.1 can fail it.
@Suite struct TLSVersionTests {
    @Test func aServerAcceptingTLS10FailsAlthoughItPrefersTLS13() async throws {
        let simulator = try await SimulatorTarget.start { $0.tlsMinimumVersion = .tls10 }
        defer { simulator.cleanUp() }
        let client = CurlClient()
        defer { client.shutdown() }
        let poller = makePoller(simulator.target(), client: client)

        let first = await poller.pollOnce()
        #expect(first.status("tls_min_version") == "fail")
        #expect(first.value("kube_scheduler_tls_version_info", ["version": "TLSv1.3"]) == 1)
        // A succeeded legacy handshake is an observation that stands, not an error: the next
        // polls reuse it and still fail.
        let second = await poller.pollOnce()
        #expect(second.status("tls_min_version") == "fail")
        let observations = simulator.simulator.recordedRequests().filter { $0.path == "/healthz" && $0.authorization == nil }
        #expect(observations.count == 3, "observe, verify and legacy once for two polls: \(observations.map(\.httpVersion))")
        #expect(observations.contains { $0.httpVersion == "1.1" }, "the legacy handshake speaks HTTP/1.1")
    }

    @Test func aServerRefusingTLSBelow12Passes() async throws {
        let simulator = try await SimulatorTarget.start()
        defer { simulator.cleanUp() }
        let client = CurlClient()
        defer { client.shutdown() }
        let poller = makePoller(simulator.target(), client: client)

        let first = await poller.pollOnce()
        #expect(first.status("tls_min_version") == "pass")
        #expect(first.status("serving_certificate_valid") == "pass")
        // The refused handshake never reaches HTTP; the two that did are not repeated, so the
        // refusal was kept as the answer rather than retried as a failure.
        let second = await poller.pollOnce()
        #expect(second.status("tls_min_version") == "pass")
        let observations = simulator.simulator.recordedRequests().filter { $0.path == "/healthz" && $0.authorization == nil }
        #expect(observations.count == 2, "observe and verify once for two polls")
    }

    @Test func aRefusedConnectionIsUnknown() async throws {
        let closed = try RefusingPort()
        let client = CurlClient()
        defer { client.shutdown() }
        var target = TargetConfig(name: "gone", url: "https://127.0.0.1:\(closed.port)")
        target.security.insecurePort = 0
        target.security.nonLoopbackAddresses = []
        let snapshot = await makePoller(target, client: client).pollOnce()
        #expect(snapshot.status("tls_min_version") == "unknown")
    }

    @Test func probeSeesTheLegacyVersionFromOutside() async throws {
        let simulator = try await SimulatorTarget.start { $0.tlsMinimumVersion = .tls10 }
        defer { simulator.cleanUp() }
        let client = CurlClient()
        defer { client.shutdown() }
        var config = OutsideInProbeConfig()
        config.insecurePort = 0
        let prober = OutsideInProber(config: config, client: client, logger: Logger(label: "test"))
        let port = try #require(Int(simulator.url.split(separator: ":").last ?? ""))
        let families = try await prober.probe(host: "127.0.0.1", port: port, timeout: .seconds(20))
        let states = try #require(families.first { $0.name == "kube_scheduler_security_check" })
        let failing = states.samples.first { sample in
            sample.value == 1 && sample.labels.contains { $0.0 == "check" && $0.1 == "tls_min_version" }
        }
        #expect(failing?.labels.contains { $0.0 == "status" && $0.1 == "fail" } == true)
    }
}
