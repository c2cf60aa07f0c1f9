import CurlHTTP
import Exposition
import Foundation
import Testing
@testable import SchedulerExporter

/// Static labels from the config and labels from a target never collide into a duplicate label
/// name (which stopped the process in the writer's precondition on the first poll, in a loop),
/// and what a target controls is bounded.
@Suite struct TargetLabelTests {
    @Test(arguments: ["platform", "git_version", "major", "file", "check", "status", "quantile", "le", "plugin", "target", "format"])
    func staticLabelsTheExporterWritesItselfAreRejectedAtStartUp(label: String) {
        #expect(throws: ConfigError("target \"a\": label \"\(label)\" is reserved by the exporter")) {
            let targets = try ConfigFile.parse("targets:\n  - {name: a, url: 'https://127.0.0.1:10259', labels: {\(label): onprem}}\n")
            _ = try ExporterConfig(targets: targets).validated()
        }
    }

    /// The reserved list covers every label name of a full poll with every check producing output,
    /// so a new label in a check cannot silently reopen the crash.
    @Test func reservedLabelsCoverEveryLabelOfAFullPoll() async throws {
        let simulator = try await SimulatorTarget.start {
            $0.variant = .zpagesGates
            $0.insecurePort = 0
            $0.load = true
            $0.loadInterval = nil
        }
        defer { simulator.cleanUp() }
        let client = CurlClient()
        defer { client.shutdown() }
        var target = simulator.target()
        target.security.insecurePort = try #require(simulator.insecurePort)
        target.security.nonLoopbackAddresses = ["127.0.0.2"]
        let manifest = NSTemporaryDirectory() + "kse-manifest-\(UUID().uuidString).yaml"
        try "apiVersion: v1\nkind: Pod\n".write(toFile: manifest, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: manifest) }
        target.security.manifestFile = manifest
        let poller = makePoller(target, client: client)
        await poller.pollOnce()
        simulator.simulator.advanceLoad(ticks: 2)
        let snapshot = await poller.pollOnce()
        #expect(snapshot.value("kube_scheduler_up") == 1)
        let names = Set(snapshot.families.flatMap { $0.samples.flatMap { $0.labels.map(\.name) } })
        #expect(names.isSuperset(of: ["target", "check", "file", "address", "quantile", "plugin", "platform", "name"]), "\(names.sorted())")
        #expect(names.subtracting(TargetConfig.reservedLabels).isEmpty, "not reserved: \(names.subtracting(TargetConfig.reservedLabels).sorted())")
    }

    /// A scheduler whose build info carries `target` and a static label's name, an endless label
    /// value and 1100 feature gates (some twice): renamed, truncated, capped, counted, never fatal.
    @Test func aHostileTargetsLabelsAreRenamedTruncatedAndCapped() async throws {
        let longValue = String(repeating: "é", count: 1500)  // 3000 bytes, two per character
        var metrics = """
            # HELP kubernetes_build_info A metric with a constant '1' value labeled by major, minor, git version, git commit, git tree state, build date, Go version, and compiler from which Kubernetes was built, and platform on which it is running.
            # TYPE kubernetes_build_info gauge
            kubernetes_build_info{build_date="2026-11-26T17:31:33Z",cluster="evil",git_version="\(longValue)",major="1",minor="35",platform="linux/amd64",target="evil"} 1
            # HELP kubernetes_feature_enabled [BETA] This metric records the data about the stage and enablement of a k8s feature.
            # TYPE kubernetes_feature_enabled gauge

            """
        for index in 0..<1100 { metrics += "kubernetes_feature_enabled{name=\"Gate\(index)\",stage=\"ALPHA\"} 1\n" }
        metrics += "kubernetes_feature_enabled{name=\"Gate0\",stage=\"BETA\"} 0\n"
        metrics += "# HELP up_sample A sample.\n# TYPE up_sample gauge\nup_sample 1\n"
        let file = NSTemporaryDirectory() + "kse-hostile-metrics-\(UUID().uuidString).txt"
        try metrics.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let simulator = try await SimulatorTarget.start { $0.metricsFile = file }
        defer { simulator.cleanUp() }
        let client = CurlClient()
        defer { client.shutdown() }
        var target = simulator.target()
        target.labels = ["cluster": "prod"]
        let store = SnapshotStore(targetOrder: [target.name])
        let poller = TargetPoller(target: target, client: client, store: store, logger: .init(label: "test"))

        let snapshot = await poller.pollOnce()
        #expect(snapshot.value("kube_scheduler_up") == 1)
        let build = try #require(snapshot.family("kube_scheduler_build_info")?.samples.first)
        func label(_ name: String) -> String? { build.labels.first { $0.name == name }?.value }
        #expect(label("target") == "sim")
        #expect(label("exported_target") == "evil")
        #expect(label("cluster") == "prod")
        #expect(label("exported_cluster") == "evil")
        #expect(label("git_version") == String(repeating: "é", count: 512), "cut at 1024 bytes, on a character boundary")
        #expect(snapshot.family("kube_scheduler_feature_enabled")?.samples.count == TargetDataLimits.maxFeatureGates)
        #expect(snapshot.value("kube_scheduler_alpha_features_enabled") == 1100, "the verdict counts every gate")
        #expect(snapshot.value("kube_scheduler_exporter_target_data_dropped_total", ["reason": "label_renamed"]) == 2)
        #expect(snapshot.value("kube_scheduler_exporter_target_data_dropped_total", ["reason": "label_value_truncated"]) == 1)
        #expect(snapshot.value("kube_scheduler_exporter_target_data_dropped_total", ["reason": "feature_gates"]) == 77)
        #expect(snapshot.value("kube_scheduler_exporter_target_data_dropped_total", ["reason": "health_checks", "target": "sim", "cluster": "prod"]) == 0)

        // What the store serves parses, once per series.
        let (targets, _) = MetricsPage(store: store).render(format: .prometheusText)
        let document = try ExpositionDocument(bytes: Array(targets.readableBytesView))
        #expect(document.family(named: "kube_scheduler_build_info")?.samples.count == 1)

        let again = await poller.pollOnce()
        #expect(again.value("kube_scheduler_exporter_target_data_dropped_total", ["reason": "label_renamed"]) == 4, "a counter")
    }

    @Test func healthChecksAreKeptOnceAndCapped() throws {
        var body = ""
        for index in 0..<300 { body += "[+]check\(index) ok\n" }
        body += "[-]check0 failed: reason withheld\nhealthz check passed\n"
        let poll = try makePoll([.healthz: ok(200, Array(body.utf8))])
        let output = HealthCheck().evaluate(poll, context: makeContext())
        let perCheck = try #require(output.family("kube_scheduler_health_check_status"))
        #expect(perCheck.samples.count == TargetDataLimits.maxHealthChecksPerEndpoint)
        #expect(output.value("kube_scheduler_health_check_status", ["check": "check0"]) == 1, "the first report of a name wins")
        #expect(output.dropped[.healthChecks] == 300 - 256 + 1)
    }

    @Test func truncationNeverSplitsACharacter() {
        #expect("abc".truncatedToUTF8(2) == "ab")
        #expect("aé".truncatedToUTF8(2) == "a")
        #expect("👍🏽x".truncatedToUTF8(8) == "👍🏽")
        #expect("👍🏽x".truncatedToUTF8(7) == "", "a grapheme of 8 bytes is kept whole or not at all")
        #expect("short".truncatedToUTF8(1024) == "short")
    }
}
