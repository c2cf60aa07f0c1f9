import Foundation
import Testing

/// Every security check proven both ways against the simulator variants captured from a real
/// kube-scheduler v1.35.4 (and the synthesized states the captures cannot show).
@Suite(.serialized) struct SecurityVariantTests {
    /// Starts a simulator variant and an exporter on it; returns the first scrape with findings.
    func scrape(variant: String = "default", simulatorArguments: [String] = [], exporterArguments: [String] = [],
                bindAddress: String = "127.0.0.1", check: (Simulator, String, TempDirectory) throws -> Void) async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let simulator = try await Simulator.start(in: dir, variant: variant, extra: simulatorArguments, bindAddress: bindAddress)
        defer { simulator.child.stop() }
        let exporter = try await Exporter.start(["--target", simulator.url, "--ca-file", simulator.caFile,
                                                 "--bearer-token-file", simulator.tokenFile, "--check.nonloopback-address", "127.0.0.2",
                                                 "--check.manifest-file", "\(dir.path)/absent-manifest.yaml"] + exporterArguments)
        defer { exporter.child.stop() }
        let body = try await exporter.scrape { sampleValue($0, "kube_scheduler_security_check", "check=\"tls_min_version\"", "status=\"unknown\"") != nil }
        try check(simulator, body, dir)
    }

    func status(_ body: String, _ check: String) -> String? {
        for status in ["pass", "fail", "unknown"] where sampleValue(body, "kube_scheduler_security_check", "check=\"\(check)\"", "status=\"\(status)\"") == 1 {
            return status
        }
        return nil
    }

    func closedPort() -> String { "1" }  // privileged and unused here: refused at once

    @Test func defaultVariant() async throws {
        try await scrape(exporterArguments: ["--check.insecure-port", closedPort()]) { _, body, _ in
            #expect(status(body, "profiling_disabled") == "fail", "upstream default: profiling on")
            #expect(sampleValue(body, "kube_scheduler_profiling_enabled", "source=\"pprof\"") == 1)
            #expect(sampleValue(body, "kube_scheduler_profiling_enabled", "source=\"configz\"") == 1)
            #expect(status(body, "bind_address_loopback") == "pass", "127.0.0.2 refuses")
            #expect(sampleValue(body, "kube_scheduler_nonloopback_bind", "address=\"127.0.0.2\"") == 0)
            #expect(status(body, "anonymous_access_denied") == "pass")
            #expect(status(body, "authentication_enforced") == "pass")
            #expect(sampleValue(body, "kube_scheduler_authentication_enforced") == 1)
            #expect(status(body, "insecure_port_closed") == "pass")
            #expect(status(body, "no_alpha_feature_gates") == "pass")
            #expect(status(body, "tls_min_version") == "pass")
            #expect(status(body, "serving_certificate_valid") == "pass")
            #expect(sampleValue(body, "kube_scheduler_tls_verified") == 1)
            #expect(status(body, "manifest_permissions") == "unknown", "an unreadable file is never a pass")
            #expect(status(body, "authorization_not_bypassed") == "unknown", "no flagz (gate off) and no manifest")
            #expect(sampleValue(body, "kube_scheduler_security_findings", "severity=\"medium\"") ?? 0 >= 1)
        }
    }

    @Test func profilingFalse() async throws {
        try await scrape(variant: "profiling-false") { _, body, _ in
            #expect(status(body, "profiling_disabled") == "pass")
            #expect(sampleValue(body, "kube_scheduler_profiling_enabled", "source=\"pprof\"") == 0)
            #expect(status(body, "contention_profiling_disabled") == "pass", "inert without profiling")
        }
    }

    @Test func metricsAlwaysAllowed() async throws {
        try await scrape(variant: "metrics-always-allowed") { _, body, _ in
            #expect(status(body, "anonymous_access_denied") == "fail")
            #expect(sampleValue(body, "kube_scheduler_anonymous_access", "path=\"/metrics\"") == 1)
            #expect(sampleValue(body, "kube_scheduler_anonymous_access", "path=\"/configz\"") == 0)
        }
    }

    @Test func nonLoopbackBind() async throws {
        try await scrape(variant: "bind-127.0.0.2", bindAddress: "127.0.0.2") { _, body, _ in
            #expect(status(body, "bind_address_loopback") == "fail")
            #expect(sampleValue(body, "kube_scheduler_nonloopback_bind", "address=\"127.0.0.2\"") == 1)
        }
    }

    @Test func zpagesAndAlphaGates() async throws {
        try await scrape(variant: "zpages-gates") { _, body, _ in
            #expect(status(body, "no_alpha_feature_gates") == "fail")
            #expect(sampleValue(body, "kube_scheduler_alpha_features_enabled") == 2)
            #expect(status(body, "authorization_not_bypassed") == "pass", "flagz lists only health paths")
            #expect(sampleValue(body, "kube_scheduler_profiling_enabled", "source=\"flagz\"") == 1)
        }
    }

    @Test func widenedAlwaysAllowPathsAreABypass() async throws {
        try await scrape(variant: "zpages-gates", simulatorArguments: ["--authorization-always-allow-paths", "/healthz,/readyz,/livez,/metrics"]) { _, body, _ in
            #expect(status(body, "authorization_not_bypassed") == "fail")
            #expect(status(body, "anonymous_access_denied") == "fail")
        }
    }

    @Test func legacyInsecurePort() async throws {
        let port = 20_000 + Int.random(in: 0..<20_000)
        try await scrape(simulatorArguments: ["--insecure-port", String(port)], exporterArguments: ["--check.insecure-port", String(port)]) { _, body, _ in
            #expect(status(body, "insecure_port_closed") == "fail")
            #expect(sampleValue(body, "kube_scheduler_insecure_port_open", "port=\"\(port)\"") == 1)
            #expect(sampleValue(body, "kube_scheduler_insecure_port_exposes", "path=\"/metrics\"") == 1)
            #expect(sampleValue(body, "kube_scheduler_insecure_port_exposes", "path=\"/debug/pprof/\"") == 1)
        }
    }

    @Test func expiringAndExpiredCertificates() async throws {
        try await scrape(simulatorArguments: ["--cert-valid-days", "5"]) { _, body, _ in
            #expect(status(body, "serving_certificate_valid") == "fail")
            let notAfter = try #require(sampleValue(body, "kube_scheduler_tls_cert_not_after_timestamp_seconds"))
            #expect(notAfter - Date().timeIntervalSince1970 < 6 * 86_400)
        }
        try await scrape(simulatorArguments: ["--cert-expired"]) { _, body, _ in
            #expect(status(body, "serving_certificate_valid") == "fail")
            #expect(sampleValue(body, "kube_scheduler_up") == 0, "an expired cert fails verification of the poll itself")
            #expect(sampleValue(body, "kube_scheduler_poll_errors_total", "reason=\"tls_verify\"") ?? 0 >= 1)
        }
    }

    @Test func tls11OnlySchedulerIsSeenAndFlagged() async throws {
        try await scrape(simulatorArguments: ["--tls-max-version", "1.1"]) { _, body, _ in
            #expect(status(body, "tls_min_version") == "fail")
            #expect(sampleValue(body, "kube_scheduler_tls_version_info", "version=\"TLSv1.1\"") == 1)
            #expect(sampleValue(body, "kube_scheduler_up") == 0, "the poll itself refuses TLS 1.1")
            #expect(sampleValue(body, "kube_scheduler_poll_errors_total", "reason=\"tls_handshake\"") ?? 0 >= 1)
        }
    }

    @Test func untrustedCertificateWithSkipVerify() async throws {
        try await scrape(exporterArguments: ["--insecure-skip-verify", "--ca-file", "/etc/ssl/certs/ca-certificates.crt"]) { _, body, _ in
            #expect(sampleValue(body, "kube_scheduler_up") == 1, "polling works with verification off")
            #expect(sampleValue(body, "kube_scheduler_tls_verified") == 0, "but the posture check still verifies")
            #expect(status(body, "serving_certificate_valid") == "fail")
        }
    }

    @Test func manifestFileChecksOnRealFiles() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let manifest = try dir.write("kube-scheduler.yaml", """
            apiVersion: v1
            kind: Pod
            spec:
              containers:
              - name: kube-scheduler
                command: [kube-scheduler, --bind-address=127.0.0.1, --profiling=false, --kubeconfig=\(dir.path)/scheduler.conf]
            """, mode: 0o600)
        let kubeconfig = try dir.write("scheduler.conf", "apiVersion: v1\nkind: Config\n", mode: 0o644)
        try await scrape(variant: "profiling-false", exporterArguments: ["--check.manifest-file", manifest, "--check.kubeconfig-file", kubeconfig]) { _, body, _ in
            #expect(status(body, "manifest_permissions") == "pass")
            #expect(status(body, "kubeconfig_permissions") == "fail", "0644 is looser than 0600")
            #expect(sampleValue(body, "kube_scheduler_profiling_enabled", "source=\"manifest\"") == 0)
        }
    }

    /// The TLS posture is observed with new handshakes, so a successful observation stands for the
    /// evidence interval (default 5m) instead of being repeated every poll; its gauges stay.
    @Test func tlsObservationIsReusedBetweenPolls() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let simulator = try await Simulator.start(in: dir, variant: "default")
        defer { simulator.child.stop() }
        let exporter = try await Exporter.start(["--target", simulator.url, "--ca-file", simulator.caFile,
                                                 "--bearer-token-file", simulator.tokenFile, "--check.nonloopback-address", "127.0.0.2",
                                                 "--check.insecure-port", closedPort()])
        defer { exporter.child.stop() }
        let body = try await exporter.scrape { (sampleValue($0, "kube_scheduler_polls_total") ?? 0) >= 5 }
        #expect(sampleValue(body, "kube_scheduler_tls_cert_self_signed") != nil, "the observation's gauges are still served")
        #expect(status(body, "serving_certificate_valid") == "pass")
        let lines = try String(contentsOfFile: simulator.requestLog, encoding: .utf8).split(separator: "\n")
        let requests = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        let observations = requests.filter { $0["path"] as? String == "/healthz" && ($0["authorization"] as? String) == nil }
        #expect(observations.count == 2, "one observing and one verifying handshake for 5+ polls: \(observations)")
        #expect(requests.filter { ($0["path"] as? String)?.hasPrefix("/metrics") == true }.count >= 5)
    }

    /// What rarely changes is asked once per evidence interval, what moves on every poll: each
    /// request with a token costs the API server a TokenReview and a SubjectAccessReview.
    @Test(arguments: [("5m", 1), ("0s", 5)])
    func rarelyChangingEvidenceIsAskedOncePerInterval(interval: String, configzAtLeast: Int) async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let simulator = try await Simulator.start(in: dir, variant: "zpages-gates")
        defer { simulator.child.stop() }
        let exporter = try await Exporter.start(["--target", simulator.url, "--ca-file", simulator.caFile,
                                                 "--bearer-token-file", simulator.tokenFile, "--check.nonloopback-address", "127.0.0.2",
                                                 "--check.insecure-port", closedPort(), "--check.evidence-interval", interval])
        defer { exporter.child.stop() }
        let body = try await exporter.scrape { (sampleValue($0, "kube_scheduler_polls_total") ?? 0) >= 6 }
        #expect(status(body, "authorization_not_bypassed") == "pass", "flagz is still read from the kept answer")
        #expect(status(body, "profiling_disabled") == "fail")
        let token = try String(contentsOfFile: simulator.tokenFile, encoding: .utf8)
        let lines = try String(contentsOfFile: simulator.requestLog, encoding: .utf8).split(separator: "\n")
        let requests = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        /// Requests to `path` with the exporter's token, or (token: false) without any credential.
        func count(_ path: String, token withToken: Bool) -> Int {
            requests.filter {
                ($0["path"] as? String)?.hasPrefix(path) == true
                    && ($0["authorization"] as? String) == (withToken ? "Bearer \(token)" : nil)
            }.count
        }
        #expect(count("/metrics", token: true) >= 6)
        #expect(count("/readyz", token: true) >= 6)
        if configzAtLeast == 1 {
            for path in ["/configz", "/flagz", "/debug/pprof/"] { #expect(count(path, token: true) == 1, "\(path)") }
            for path in ["/metrics", "/configz", "/statusz"] { #expect(count(path, token: false) == 1, "anonymous \(path)") }
            let age = sampleValue(body, "kube_scheduler_evidence_age_seconds", "endpoint=\"configz\"")
            #expect(age.map { $0 > 0 } == true, "the kept answer's age shows: \(String(describing: age))")
            #expect(sampleValue(body, "kube_scheduler_evidence_age_seconds", "endpoint=\"metrics\",credential=\"exporter\"") == 0)
        } else {
            #expect(count("/configz", token: true) >= configzAtLeast, "0s asks every poll")
        }
    }

    @Test func anonymousProbesNeverCarryTheToken() async throws {
        try await scrape(variant: "zpages-gates") { simulator, _, _ in
            let token = try String(contentsOfFile: simulator.tokenFile, encoding: .utf8)
            let lines = try String(contentsOfFile: simulator.requestLog, encoding: .utf8).split(separator: "\n")
            let requests = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
            func authorizations(_ path: String) -> [String?] {
                requests.filter { ($0["path"] as? String)?.hasPrefix(path) == true }.map { $0["authorization"] as? String }
            }
            #expect(!authorizations("/statusz").isEmpty)
            #expect(authorizations("/statusz").allSatisfy { $0 == nil }, "/statusz is only probed anonymously")
            let pprof = authorizations("/debug/pprof/")
            #expect(pprof.contains { $0 == nil } && pprof.contains { $0 == "Bearer \(token)" }, "anonymous and exporter probes of pprof")
            let withToken = requests.filter { ($0["authorization"] as? String)?.contains(token) == true }
            let exporterPaths = ["/metrics", "/healthz", "/livez", "/readyz", "/configz", "/debug/pprof/", "/flagz"]
            #expect(withToken.allSatisfy { request in exporterPaths.contains { (request["path"] as? String)?.hasPrefix($0) == true } })
            let invalid = requests.filter { ($0["authorization"] as? String)?.contains("invalid-token-probe") == true }
            #expect(!invalid.isEmpty && invalid.allSatisfy { ($0["status"] as? Int) == 401 })
        }
    }
}
