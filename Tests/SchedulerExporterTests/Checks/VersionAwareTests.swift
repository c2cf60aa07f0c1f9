import CurlHTTP
import Exposition
import Testing
@testable import SchedulerExporter

/// Verdicts that depend on the Kubernetes release read it from the scheduler's own
/// kubernetes_build_info and say so in their evidence.
@Suite struct VersionAwareTests {
    static let target: TargetConfig = {
        var target = TargetConfig(name: "t", url: "https://127.0.0.1:10259")
        target.security.manifestFile = "/nonexistent/kube-scheduler.yaml"
        return target
    }()

    /// A /metrics body: the real 1.35.4 capture, or a synthesized older one with the build info
    /// line its release exported (the synthesized bodies carry only scheduler families).
    static func metrics(_ version: String) -> [UInt8] {
        if version == "v1.35.4" { return Capture.bytes("default", "metrics.txt") }
        let minor = version.split(separator: ".")[1]
        let file = Capture.root + "/../older/v1.\(minor)-metrics.txt"
        let body = FileAccess.read(file, limit: 8 << 20) ?? []
        return body + Array("# TYPE kubernetes_build_info gauge\nkubernetes_build_info{git_version=\"\(version)\",major=\"1\",minor=\"\(minor)\"} 1\n".utf8)
    }

    func insecurePort(version: String?, probe: HTTPClientError.Kind?, manifest: StaticPodManifest? = nil) throws -> SecurityFinding? {
        var target = Self.target
        var responses: [ProbeRequest: Result<HTTPResponse, HTTPClientError>] = [:]
        if let probe {
            for path in InsecurePortCheck.paths { responses[InsecurePortCheck.request(path: path, port: 10251)] = failed(probe) }
        } else {
            target.security.insecurePort = 0
        }
        let poll = try makePoll(responses, metrics: version.map(Self.metrics))
        var evidence = SchedulerEvidence.gather(from: poll, target: target)
        evidence.manifest = manifest
        return InsecurePortCheck().evaluate(poll, context: makeContext(target, evidence: evidence)).finding("insecure_port_closed")
    }

    @Test func versionFromBuildInfo() throws {
        let poll = try makePoll([:], metrics: Capture.bytes("default", "metrics.txt"))
        let version = try #require(SchedulerEvidence.gather(from: poll, target: Self.target).kubernetesVersion)
        #expect(version == KubernetesVersion(major: 1, minor: 35, patch: 4))
        #expect(version.description == "v1.35.4")
        #expect(KubernetesVersion(gitVersion: "v1.22.0-rc.1") == KubernetesVersion(major: 1, minor: 22, patch: 0))
        #expect(KubernetesVersion(gitVersion: "v1.30.2-gke.1587003")?.isAtLeast(1, 23) == true)
        #expect(KubernetesVersion(gitVersion: "1.18.20+k3s1")?.isAtLeast(1, 23) == false)
        #expect(KubernetesVersion(gitVersion: "v99999999999999999999.1") == nil, "no trap on overflow")
        #expect(KubernetesVersion(gitVersion: "unknown") == nil)
        let managed = try ExpositionDocument(bytes: Array("kubernetes_build_info{git_version=\"\",major=\"1\",minor=\"29+\"} 1\n".utf8))
        #expect(KubernetesVersion(metrics: managed) == KubernetesVersion(major: 1, minor: 29))
        #expect(SchedulerEvidence.gather(from: try makePoll([:], metrics: Capture.bytes("../older", "v1.18-metrics.txt")), target: Self.target).kubernetesVersion == nil)
    }

    @Test func insecurePortRemovedIn123() throws {
        let refused = try insecurePort(version: "v1.35.4", probe: .connectRefused)
        #expect(refused?.status == .pass)
        #expect(refused?.evidence == "port 10251 refuses connections; removed in 1.23 (running v1.35.4)")
        // The version alone decides once the port cannot exist: a silent probe, or none at all.
        let silent = try insecurePort(version: "v1.35.4", probe: .timeout)
        #expect(silent?.status == .pass)
        #expect(silent?.evidence == "removed in 1.23 (running v1.35.4)")
        #expect(try insecurePort(version: "v1.35.4", probe: nil)?.status == .pass)
        // Without the version a silent port still proves nothing.
        #expect(try insecurePort(version: nil, probe: .timeout)?.status == .unknown)
    }

    @Test func insecurePortOpenByDefaultUpTo122() throws {
        let manifest = try StaticPodManifest(yaml: """
            apiVersion: v1
            kind: Pod
            spec:
              containers:
              - name: kube-scheduler
                command: [kube-scheduler, --bind-address=127.0.0.1]
            """)
        let old = try insecurePort(version: "v1.18.20", probe: nil, manifest: manifest)
        #expect(old?.status == .fail, "no --port on 1.18 means 10251 is served")
        #expect(old?.evidence == "the manifest sets no --port, so v1.18.20 serves plain HTTP on 10251 (open by default up to 1.22)")
        #expect(try insecurePort(version: "v1.26.15", probe: nil, manifest: manifest)?.status == .pass)
        #expect(try insecurePort(version: nil, probe: nil, manifest: manifest)?.status == .unknown, "the default depends on the release")
        let refusedOld = try insecurePort(version: "v1.18.20", probe: .connectRefused)
        #expect(refusedOld?.status == .pass)
        #expect(refusedOld?.evidence == "port 10251 refuses connections (running v1.18.20, which serves the insecure port unless --port=0)")
    }

    /// The API server authorizes before it routes: a 404 to the exporter means "no such endpoint".
    @Test func healthEndpointsAnOlderSchedulerDoesNotServe() throws {
        let poll = try makePoll([
            .healthz: ok(200, Array("[+]ping ok\nhealthz check passed\n".utf8)),
            .livez: ok(404, Array("404 page not found\n".utf8)),
            .readyz: ok(500, Array("[-]leaderElection failed: reason withheld\n".utf8)),
        ])
        let output = HealthCheck().evaluate(poll, context: makeContext())
        #expect(output.value("kube_scheduler_health_status", ["endpoint": "healthz"]) == 1)
        #expect(output.value("kube_scheduler_health_status", ["endpoint": "livez"]) == nil, "not served, not unhealthy")
        #expect(output.value("kube_scheduler_health_status", ["endpoint": "readyz"]) == 0)
    }

    @Test func flagzNotServedIsSaidSo() throws {
        let notServed = AuthorizationBypassCheck().evaluate(try makePoll([.flagz: ok(404, Array(Capture.text("default", "flagz.txt").utf8))]), context: makeContext())
        #expect(notServed.finding("authorization_not_bypassed")?.status == .unknown)
        #expect(notServed.finding("authorization_not_bypassed")?.evidence.hasPrefix("/flagz is not served (404 to the exporter") == true)
        let refused = AuthorizationBypassCheck().evaluate(try makePoll([.flagz: ok(403)]), context: makeContext())
        #expect(refused.finding("authorization_not_bypassed")?.evidence == "/flagz refused the exporter (HTTP 403); no command line or manifest to read the flag from")
    }
}
