import Foundation
import Testing
@testable import SchedulerSimulator

/// Synthesized knobs combined with a variant apply consistently across configz, flagz, pprof and /metrics.
@Suite(.serialized) struct OverrideTests {
    @Test func profilingOffAppliesToPprofConfigzAndFlagz() async throws {
        let running = try await RunningSimulator.start {
            $0.variant = .zpagesGates
            $0.profiling = false
            $0.contentionProfiling = false
        }
        defer { running.cleanUp() }
        let base = running.baseURL
        let transfers = try await running.curl.fetch(
            [base + "/debug/pprof/", base + "/configz", base + "/flagz", base + "/debug/pprof/profile?seconds=1"],
            arguments: running.caller(.exporterToken).curlArguments)
        #expect(transfers.map(\.status) == [404, 200, 200, 404])
        #expect(transfers[0].body == (try Captures.file(.profilingFalse, "pprof-index.html")))
        let configz = String(decoding: transfers[1].body, as: UTF8.self)
        #expect(configz.contains(#""EnableProfiling":false,"EnableContentionProfiling":false"#))
        let flagz = String(decoding: transfers[2].body, as: UTF8.self).components(separatedBy: "\n")
        #expect(flagz.contains("profiling false"))
        #expect(flagz.contains("contention-profiling false"))
        let captured = String(decoding: try Captures.file(.zpagesGates, "flagz.txt"), as: UTF8.self)
            .components(separatedBy: "\n")
        #expect(flagz.count == captured.count)
        let changed = zip(flagz, captured).filter { $0 != $1 }.map(\.0)
        #expect(changed == ["contention-profiling false", "profiling false"])
        // Anonymous callers still cannot tell: authorization comes first.
        #expect(try await running.curl.fetch(base + "/debug/pprof/").status == 403)
        try await running.stop()
    }

    @Test func profilingOffOnDefaultMatchesTheProfilingFalseCapture() async throws {
        let running = try await RunningSimulator.start { $0.profiling = false }
        defer { running.cleanUp() }
        let transfer = try await running.curl.fetch(
            running.baseURL + "/configz", arguments: running.caller(.exporterToken).curlArguments)
        #expect(transfer.body == (try Captures.file(.profilingFalse, "configz.json")))
        let table = try Captures.table(.profilingFalse)
        let pprofTargets = table.targets.filter { $0.hasPrefix("/debug/pprof") }
        for kind in CredentialKind.allCases {
            let transfers = try await running.curl.fetch(
                pprofTargets.map { running.baseURL + $0 }, arguments: running.caller(kind).curlArguments)
            for (target, transfer) in zip(pprofTargets, transfers) {
                #expect(transfer.status == table.status(target: target, credential: kind), "\(target) \(kind)")
            }
        }
        try await running.stop()
    }

    @Test func featureGatesOpenZpagesAndShowInMetrics() async throws {
        let running = try await RunningSimulator.start {
            $0.featureGates = ["ComponentFlagz": true, "ComponentStatusz": true, "AllAlpha": true]
        }
        defer { running.cleanUp() }
        let base = running.baseURL
        let transfers = try await running.curl.fetch(
            [base + "/flagz", base + "/statusz", base + "/metrics"], arguments: running.caller(.exporterToken).curlArguments)
        #expect(transfers.map(\.status) == [200, 200, 200])
        #expect(transfers[1].body == (try Captures.file(.zpagesGates, "statusz.txt")))
        let flagz = String(decoding: transfers[0].body, as: UTF8.self)
        #expect(flagz.contains("\nfeature-gates :AllAlpha=true,:ComponentFlagz=true,:ComponentStatusz=true\n"))
        let metrics = String(decoding: transfers[2].body, as: UTF8.self)
        #expect(metrics.contains("\nkubernetes_feature_enabled{name=\"ComponentFlagz\",stage=\"ALPHA\"} 1\n"))
        #expect(metrics.contains("\nkubernetes_feature_enabled{name=\"AllAlpha\",stage=\"ALPHA\"} 1\n"))
        let captured = String(decoding: try Captures.file(.default, "metrics.txt"), as: UTF8.self)
        #expect(captured.contains("\nkubernetes_feature_enabled{name=\"ComponentFlagz\",stage=\"ALPHA\"} 0\n"))
        #expect(metrics.count == captured.count)
        try await running.stop()
    }

    @Test func alwaysAllowPathsOverrideExposesMetrics() async throws {
        let running = try await RunningSimulator.start {
            $0.alwaysAllowPaths = ["/healthz", "/readyz", "/livez", "/metrics"]
        }
        defer { running.cleanUp() }
        let transfers = try await running.curl.fetch([running.baseURL + "/metrics", running.baseURL + "/metrics/slis"])
        #expect(transfers.map(\.status) == [200, 403])
        #expect(transfers[0].body == (try Captures.file(.default, "metrics.txt")))
        try await running.stop()
    }

    @Test func metricsFileReplacesTheCapturedBody() async throws {
        let scratch = try ScratchDirectory()
        let older = "# TYPE scheduler_e2e_scheduling_duration_seconds histogram\nscheduler_e2e_scheduling_duration_seconds_count 3\n"
        try Data(older.utf8).write(to: URL(fileURLWithPath: scratch.file("old.txt")))
        let running = try await RunningSimulator.start { $0.metricsFile = scratch.file("old.txt") }
        defer { running.cleanUp() }
        let transfer = try await running.curl.fetch(
            running.baseURL + "/metrics", arguments: running.caller(.exporterToken).curlArguments)
        #expect(transfer.body == Data(older.utf8))
        try await running.stop()
    }
}

/// The path a managed control plane (EKS) serves the scheduler's metrics on, at the wire.
@Suite(.serialized) struct EKSMetricsPathTests {
    /// EKS answers a resource request at the ksh metrics path: the metrics to a caller granted
    /// `get` on ksh/metrics (the exporter), 403 to everyone else, 401 to an unknown token.
    @Test func eksMetricsPathServesTheMetricsWhenAuthorized() async throws {
        let running = try await RunningSimulator.start { $0.eksMetrics = true }
        defer { running.cleanUp() }
        let url = running.baseURL + SimulatorConfiguration.eksMetricsPath
        let exporter = try await running.curl.fetch([url, running.baseURL + "/metrics"], arguments: running.caller(.exporterToken).curlArguments)
        #expect(exporter.map(\.status) == [200, 200])
        #expect(exporter[0].body == exporter[1].body, "the variant's metrics")
        for kind in [CredentialKind.anonymous, .nobodyToken] {
            let refused = try await running.curl.fetch(url, arguments: running.caller(kind).curlArguments)
            #expect(refused.status == 403, "\(kind)")
            #expect(String(decoding: refused.body, as: UTF8.self).contains(#"cannot get resource \"ksh/metrics\" in API group \"metrics.eks.amazonaws.com\""#))
        }
        #expect(try await running.curl.fetch(url, arguments: running.caller(.badToken).curlArguments).status == 401)
        try await running.stop()

        // A kube-scheduler has no such path: the discovery role lets an authenticated caller reach the 404.
        let scheduler = try await RunningSimulator.start()
        defer { scheduler.cleanUp() }
        let plain = try await scheduler.curl.fetch(scheduler.baseURL + SimulatorConfiguration.eksMetricsPath,
                                                   arguments: scheduler.caller(.exporterToken).curlArguments)
        #expect(plain.status == 404)
        try await scheduler.stop()
    }
}

/// `/metrics/resources`, which `--passthrough.resources` re-serves, at the wire.
@Suite(.serialized) struct MetricsResourcesTests {
    @Test func metricsResourcesInTheSchedulersFormat() async throws {
        let running = try await RunningSimulator.start()
        defer { running.cleanUp() }
        let url = running.baseURL + "/metrics/resources"
        let transfer = try await running.curl.fetch(url, arguments: running.caller(.exporterToken).curlArguments)
        #expect(transfer.status == 200)
        let text = String(decoding: transfer.body, as: UTF8.self)
        #expect(text.hasPrefix("# HELP kube_pod_resource_limit [STABLE] Resources limit for workloads on the cluster, broken down by pod."))
        #expect(text.contains("\n# TYPE kube_pod_resource_request gauge\n"))
        #expect(text.contains(#"kube_pod_resource_request{namespace="default",node="",pod="capture1745000000-0",priority="0",resource="cpu",scheduler="default-scheduler",unit="cores"} 100"#))
        #expect(text.contains(#"unit="bytes"} 8.388608e+06"#), "Go's float formatting")
        #expect(try await running.curl.fetch(url).status == 403, "anonymous callers are refused as on /metrics")
        try await running.stop()
    }
}
