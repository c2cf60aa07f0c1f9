import CurlHTTP
import Foundation
import TestSupport
import Testing

/// `--web.kubernetes-auth` end to end: the exporter process asks a stand-in API server (HTTPS,
/// its CA as certificate-authority-data in a kubeconfig, the exporter's own token) whether a
/// scraper's token may get the path; the conformance suite asks the real kube-apiserver.
@Suite(.serialized) struct KubernetesAuthTests {
    struct Setup {
        let dir: TempDirectory
        let api: PortPrintingServer
        let caFile: String
        let kubeconfig: String
        static let exporterToken = "exporter-\(UUID().uuidString)"
        static let scraperToken = "prometheus-\(UUID().uuidString)"
        static let otherScraperToken = "grafana-agent-\(UUID().uuidString)"
        static let unprivilegedToken = "nobody-\(UUID().uuidString)"

        init() async throws {
            dir = try TempDirectory()
            let pki = "\(dir.path)/api-pki"
            try FileManager.default.createDirectory(atPath: pki, withIntermediateDirectories: true)
            _ = try dir.write("api-pki/server.ext", "subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n")
            try await WebConfigTests.ProtectedSetup.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=fake-apiserver-ca",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"], in: pki)
            try await WebConfigTests.ProtectedSetup.openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=kube-apiserver"], in: pki)
            try await WebConfigTests.ProtectedSetup.openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-days", "2",
                "-set_serial", "\(Int.random(in: 1000...1_000_000))", "-extfile", "server.ext", "-out", "server.crt"], in: pki)
            caFile = "\(pki)/ca.crt"
            api = try await PortPrintingServer.startPython(script: repositoryRoot + "/Tests/IntegrationTests/Servers/fake_apiserver.py", arguments: [
                "--cert", "\(pki)/server.crt", "--key", "\(pki)/server.key", "--exporter-token", Self.exporterToken,
                "--user", "\(Self.scraperToken)=system:serviceaccount:monitoring:prometheus|system:serviceaccounts,system:authenticated",
                "--user", "\(Self.otherScraperToken)=agent", "--user", "\(Self.unprivilegedToken)=nobody",
                "--allow", "system:serviceaccount:monitoring:prometheus=/metrics,/probe", "--allow", "agent=/metrics",
            ])
            let caData = try Data(contentsOf: URL(fileURLWithPath: caFile)).base64EncodedString()
            kubeconfig = try dir.write("kubeconfig", """
                apiVersion: v1
                kind: Config
                current-context: exporter
                clusters:
                  - name: fake
                    cluster:
                      server: https://127.0.0.1:\(api.port)
                      certificate-authority-data: \(caData)
                users:
                  - name: exporter
                    user:
                      token: \(Self.exporterToken)
                contexts:
                  - name: exporter
                    context: {cluster: fake, user: exporter}
                """)
        }

        func control(_ path: String) async throws -> HTTPResponse {
            var request = HTTPRequest(url: "https://127.0.0.1:\(api.port)\(path)", tls: TLSOptions(caFile: caFile))
            if path.hasPrefix("/_control") { request.method = .post }
            return try await IntegrationClient.shared.perform(request)
        }

        func stats() async throws -> [String: Any] {
            let body = try await control("/_stats").body
            return (try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]) ?? [:]
        }

        func stop() {
            api.stop()
            dir.remove()
        }
    }

    func status(_ exporter: Exporter, _ path: String, token: String?) async throws -> HTTPResponse {
        var request = HTTPRequest(url: "http://\(exporter.address)\(path)")
        if let token { request.bearerToken = BearerToken(token) }
        return try await IntegrationClient.shared.perform(request)
    }

    @Test func scrapersAreAuthenticatedAndAuthorizedByTheAPIServer() async throws {
        let setup = try await Setup()
        defer { setup.stop() }
        let exporter = try await Exporter.start(["--target", "https://127.0.0.1:1", "--web.kubernetes-auth",
                                                 "--web.kubernetes-auth.kubeconfig", setup.kubeconfig, "--web.enable-probe",
                                                 "--check.nonloopback-address", "127.0.0.2", "--check.insecure-port", "0"])
        defer { exporter.child.stop() }

        #expect(try await status(exporter, "/healthz", token: nil).status == 200, "the kubelet's probe needs no token")
        let anonymous = try await status(exporter, "/metrics", token: nil)
        #expect(anonymous.status == 401)
        #expect(anonymous.header("www-authenticate") == "Bearer")
        #expect(try await status(exporter, "/metrics", token: "who-knows").status == 401)
        #expect(try await status(exporter, "/metrics", token: Setup.unprivilegedToken).status == 403, "known, but no RBAC")
        let allowed = try await status(exporter, "/metrics", token: Setup.scraperToken)
        #expect(allowed.status == 200)
        #expect(String(decoding: allowed.body, as: UTF8.self).contains("kube_scheduler_up"))
        #expect(try await status(exporter, "/scheduler/metrics", token: Setup.scraperToken).status == 403, "RBAC per path")
        #expect(try await status(exporter, "/probe?target=127.0.0.1:10259", token: Setup.otherScraperToken).status == 403)

        var stats = try await setup.stats()
        let reviews = stats["tokenreviews"] as? Int ?? 0
        #expect(stats["unauthorized"] as? Int == 0, "every review carried the exporter's own token")
        let paths = stats["reviewed_paths"] as? [String] ?? []
        #expect(Set(paths) == ["/metrics", "/scheduler/metrics", "/probe"], "\(paths)")
        let users = stats["sar_users"] as? [[String: Any]] ?? []
        #expect(users.contains { $0["user"] as? String == "system:serviceaccount:monitoring:prometheus"
            && $0["uid"] as? String == "uid-system:serviceaccount:monitoring:prometheus"
            && ($0["groups"] as? [String]) == ["system:serviceaccounts", "system:authenticated"] && $0["verb"] as? String == "get" })

        // Cached for 10 s: Prometheus's next scrapes cost the API server nothing.
        for _ in 0..<5 { #expect(try await status(exporter, "/metrics", token: Setup.scraperToken).status == 200) }
        stats = try await setup.stats()
        #expect(stats["tokenreviews"] as? Int == reviews, "answered from the cache")

        // The API server fails: a cached answer stands in, an unknown token gets 503, never 200.
        #expect(try await setup.control("/_control/down").status == 200)
        #expect(try await status(exporter, "/metrics", token: Setup.scraperToken).status == 200, "cached")
        #expect(try await status(exporter, "/metrics", token: Setup.otherScraperToken).status == 503, "nothing cached: never open")
        #expect(try await status(exporter, "/metrics", token: "never-seen").status == 503)
        #expect(try await status(exporter, "/metrics", token: "who-knows").status == 401, "a cached refusal stands too")
        #expect(try await setup.control("/_control/up").status == 200)
        #expect(try await status(exporter, "/metrics", token: Setup.otherScraperToken).status == 200)

        let log = exporter.child.text
        #expect(log.contains("kubernetes_auth="), "the start-up line says where reviews go")
        #expect(log.split(separator: "\n").filter { $0.contains("did not answer a scraper review") }.count == 1, "an outage is logged once")
        for secret in [Setup.exporterToken, Setup.scraperToken, Setup.otherScraperToken] {
            #expect(!log.contains(secret), "no token in the exporter's log")
        }
        let metrics = String(decoding: try await status(exporter, "/metrics", token: Setup.scraperToken).body, as: UTF8.self)
        #expect(sampleValue(metrics, "kube_scheduler_exporter_http_requests_rejected_total", "reason=\"forbidden\"") == 3)
        #expect(sampleValue(metrics, "kube_scheduler_exporter_http_requests_rejected_total", "reason=\"auth_unavailable\"") == 2)
    }

    @Test func badSettingsAreStartUpErrors() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let binary = try Binaries.path("kube-scheduler-exporter")
        let notInCluster = try await runCommand("/usr/bin/env", ["-u", "KUBERNETES_SERVICE_HOST", binary, "--web.kubernetes-auth"])
        #expect(notInCluster.status == 2, "\(notInCluster.output)")
        #expect(notInCluster.output.contains("not running in a cluster"), "\(notInCluster.output)")
        let execUser = try dir.write("kubeconfig", """
            current-context: c
            clusters: [{name: k, cluster: {server: "https://127.0.0.1:6443"}}]
            users: [{name: u, user: {exec: {command: aws}}}]
            contexts: [{name: c, context: {cluster: k, user: u}}]
            """)
        let exec = try await runCommand(binary, ["--web.kubernetes-auth", "--web.kubernetes-auth.kubeconfig", execUser])
        #expect(exec.status == 2 && exec.output.contains("exec is not supported"), "\(exec.output)")
        let tokenUser = try dir.write("kubeconfig-token", """
            current-context: c
            clusters: [{name: k, cluster: {server: "https://127.0.0.1:6443"}}]
            users: [{name: u, user: {token: t}}]
            contexts: [{name: c, context: {cluster: k, user: u}}]
            """)
        let hash = try await runCommand("/usr/bin/python3", ["-W", "ignore", "-c",
            "import crypt; print(crypt.crypt('p', crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1<<4)))"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        let web = try dir.write("web.yml", "basic_auth_users:\n  prometheus: \"\(hash)\"\n")
        let both = try await runCommand(binary, ["--web.kubernetes-auth", "--web.kubernetes-auth.kubeconfig", tokenUser, "--web.config.file", web])
        #expect(both.status == 2 && both.output.contains("exclude each other"), "\(both.output)")
    }
}
