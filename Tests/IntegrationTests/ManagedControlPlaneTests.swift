import CurlHTTP
import Foundation
import TestSupport
import Testing

/// The exporter binary with a metrics-only target against a real simulator process on 127.0.0.1
/// that answers as EKS's API server does for a managed scheduler's metrics.
@Suite(.serialized) struct ManagedControlPlaneTests {
    /// EKS: `--target.kind=metrics-only` polls only the API server path that serves a managed
    /// scheduler's metrics; everything derived from metrics works, the rest is unknown.
    @Test func aMetricsOnlyTargetAtTheEKSPath() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let simulator = try await Simulator.start(in: dir, extra: ["--eks-metrics"])
        defer { simulator.child.stop() }
        let path = "/apis/metrics.eks.amazonaws.com/v1/ksh/container/metrics"
        let exporter = try await Exporter.start(["--target", simulator.url, "--target.name", "eks", "--target.kind", "metrics-only",
                                                 "--target.metrics-path", path, "--ca-file", simulator.caFile,
                                                 "--bearer-token-file", simulator.tokenFile])
        defer { exporter.child.stop() }
        let body = try await exporter.scrape {
            sampleValue($0, "kube_scheduler_up") == 1 && $0.contains("kube_scheduler_scheduling_latency_seconds{")
        }
        #expect(sampleValue(body, "kube_scheduler_build_info", "git_version=\"v1.35.4\"") == 1)
        #expect(sampleValue(body, "kube_scheduler_security_check", "check=\"profiling_disabled\"", "status=\"unknown\"") == 1)
        #expect(sampleValue(body, "kube_scheduler_security_check", "check=\"no_alpha_feature_gates\"", "status=\"pass\"") == 1)
        #expect(!body.contains("kube_scheduler_platform_info"))
        #expect(try await exporter.get("/scheduler/metrics").status == 200)
        let log = try String(contentsOfFile: simulator.requestLog, encoding: .utf8)
        let paths = Set(log.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["path"] as? String
        })
        #expect(paths == [path], "only the metrics path: \(paths)")
    }

    @Test func metricsOnlyFlagsAreDocumentedAndChecked() async throws {
        let binary = try Binaries.path("kube-scheduler-exporter")
        let help = try await runCommand(binary, ["--help"])
        for flag in ["--target.kind", "--target.metrics-path", "kind: metrics-only"] {
            #expect(help.output.contains(flag), "--help documents \(flag)")
        }
        for arguments in [["--target.kind", "proxy"], ["--target.metrics-path", "no-slash"]] {
            let result = try await runCommand(binary, arguments)
            #expect(result.status == 2, "\(arguments): \(result.output)")
        }
    }
}
