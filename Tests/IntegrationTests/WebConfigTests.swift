import CurlHTTP
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `--web.config.file` end to end: the exporter process serving TLS with client certificates and
/// basic auth, scraped by the curl CLI and by a real Prometheus, all on 127.0.0.1.
@Suite(.serialized) struct WebConfigTests {
    /// openssl-made CA, server certificate for 127.0.0.1, client certificates from that CA and from
    /// an unrelated one, and a web config using them with a bcrypt hash from Python's crypt.
    struct ProtectedSetup {
        let dir: TempDirectory
        let webConfig: String
        let password = "scrape-\(UUID().uuidString.prefix(8))"

        init() async throws {
            dir = try TempDirectory()
            let pki = "\(dir.path)/web-pki"
            try FileManager.default.createDirectory(atPath: pki, withIntermediateDirectories: true)
            _ = try dir.write("web-pki/server.ext", "subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n")
            _ = try dir.write("web-pki/client.ext", "extendedKeyUsage = clientAuth\n")
            for name in ["ca", "other-ca"] {
                try await Self.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(name).key",
                                  "-out", "\(name).crt", "-days", "2", "-subj", "/CN=\(name)", "-addext", "basicConstraints=critical,CA:TRUE",
                                  "-addext", "keyUsage=critical,keyCertSign"], in: pki)
            }
            for (name, ca, ext) in [("server", "ca", "server.ext"), ("client", "ca", "client.ext"), ("rogue", "other-ca", "client.ext")] {
                try await Self.openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(name).key",
                                  "-out", "\(name).csr", "-subj", "/CN=\(name)"], in: pki)
                try await Self.openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "\(ca).crt", "-CAkey", "\(ca).key", "-days", "2",
                                  "-set_serial", "\(Int.random(in: 1000...1_000_000))", "-extfile", ext, "-out", "\(name).crt"], in: pki)
            }
            let script = "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1<<6)))"
            let hash = try await runCommand("/usr/bin/python3", ["-W", "ignore", "-c", script, password]).output.trimmingCharacters(in: .whitespacesAndNewlines)
            guard hash.hasPrefix("$2") else { throw HarnessError("python3 crypt: \(hash)") }
            // Relative paths: resolved against the web config's directory.
            webConfig = try dir.write("web.yml", """
                tls_server_config:
                  cert_file: web-pki/server.crt
                  key_file: web-pki/server.key
                  client_auth_type: RequireAndVerifyClientCert
                  client_ca_file: web-pki/ca.crt
                http_server_config:
                  headers: {X-Content-Type-Options: nosniff}
                basic_auth_users:
                  prometheus: "\(hash)"
                """)
        }

        func file(_ name: String) -> String { "\(dir.path)/web-pki/\(name)" }

        static func openssl(_ arguments: [String], in directory: String) async throws {
            let result = try await runCommand("/usr/bin/env", ["sh", "-c", "cd \"$0\" && exec openssl \"$@\"", directory] + arguments)
            guard result.status == 0 else { throw HarnessError("openssl \(arguments.joined(separator: " ")): \(result.output)") }
        }

        /// curl's HTTP status for `url` (0 when no HTTP response came back).
        func curlStatus(_ url: String, _ options: [String]) async throws -> (status: Int, output: String) {
            let result = try await runCommand("/usr/bin/curl", ["-sS", "--max-time", "10", "-o", "/dev/null", "-w", "\nHTTP_CODE=%{http_code}\n", "--cacert", file("ca.crt")] + options + [url])
            let code = result.output.split(separator: "\n").first { $0.hasPrefix("HTTP_CODE=") }.flatMap { Int($0.dropFirst(10)) } ?? 0
            return (code, result.output)
        }

        var clientCert: [String] { ["--cert", file("client.crt"), "--key", file("client.key")] }
    }

    @Test func curlAndPrometheusWithClientCertificatesAndBasicAuth() async throws {
        let setup = try await ProtectedSetup()
        defer { setup.dir.remove() }
        let simulator = try await Simulator.start(in: setup.dir)
        defer { simulator.child.stop() }
        let exporter = try await Exporter.start(["--target", simulator.url, "--ca-file", simulator.caFile, "--bearer-token-file", simulator.tokenFile,
                                                 "--check.nonloopback-address", "127.0.0.2", "--check.insecure-port", "0",
                                                 "--web.config.file", setup.webConfig])
        defer { exporter.child.stop() }
        #expect(exporter.child.text.contains("tls=true"))
        let url = "https://\(exporter.address)/metrics"

        // curl: all three factors, then each one missing.
        let authorized = setup.clientCert + ["-u", "prometheus:\(setup.password)"]
        #expect(try await setup.curlStatus(url, authorized).status == 200)
        #expect(try await setup.curlStatus(url, setup.clientCert + ["-u", "prometheus:wrong"]).status == 401)
        #expect(try await setup.curlStatus(url, setup.clientCert).status == 401)
        #expect(try await setup.curlStatus(url.replacingOccurrences(of: "metrics", with: "healthz"), setup.clientCert).status == 401, "/healthz is behind auth too")
        #expect(try await setup.curlStatus(url, ["-u", "prometheus:\(setup.password)"]).status == 0, "no client certificate: no TLS session")
        #expect(try await setup.curlStatus(url, ["--cert", setup.file("rogue.crt"), "--key", setup.file("rogue.key"), "-u", "prometheus:\(setup.password)"]).status == 0)
        #expect(try await setup.curlStatus("http://\(exporter.address)/metrics", []).status != 200, "plain HTTP gets nothing")

        // Prometheus: one job with everything right, one with a wrong password, one without a client certificate.
        let prometheusDir = "\(setup.dir.path)/prometheus"
        try FileManager.default.createDirectory(atPath: prometheusDir, withIntermediateDirectories: true)
        let passwordFile = try setup.dir.write("prometheus/password", setup.password)
        func job(_ name: String, password: String, clientCert: Bool) -> String {
            """
              - job_name: \(name)
                scheme: https
                basic_auth: {username: prometheus, \(password.isEmpty ? "password_file: \(passwordFile)" : "password: \(password)")}
                tls_config:
                  ca_file: \(setup.file("ca.crt"))
            \(clientCert ? "      cert_file: \(setup.file("client.crt"))\n      key_file: \(setup.file("client.key"))" : "")
                static_configs: [{targets: ['\(exporter.address)']}]
            """
        }
        let prometheusConfig = try setup.dir.write("prometheus/prometheus.yml", """
            global: {scrape_interval: 1s, scrape_timeout: 1s}
            scrape_configs:
            \(job("good", password: "", clientCert: true))
            \(job("wrong_password", password: "not-it", clientCert: true))
            \(job("no_client_cert", password: "", clientCert: false))
            """)
        let port = try freePort()
        let prometheus = try ChildProcess("/usr/bin/prometheus", [
            "--config.file", prometheusConfig, "--storage.tsdb.path", "\(prometheusDir)/data",
            "--web.listen-address", "127.0.0.1:\(port)", "--log.level", "warn",
        ])
        defer { prometheus.stop() }
        let ups = try await awaitUp(port: port) { $0.count == 3 }
        #expect(ups["good"] == 1, "\(ups)")
        #expect(ups["wrong_password"] == 0, "\(ups)")
        #expect(ups["no_client_cert"] == 0, "\(ups)")

        // The refusals are counted, by reason, on the exporter's own /metrics.
        let body = try await runCommand("/usr/bin/curl", ["-sS", "--cacert", setup.file("ca.crt")] + authorized + [url]).output
        #expect(sampleValue(body, "kube_scheduler_exporter_http_requests_rejected_total", "reason=\"unauthorized\"") ?? 0 >= 4, "\(body.suffix(2000))")
        #expect(sampleValue(body, "kube_scheduler_exporter_http_requests_rejected_total", "reason=\"tls\"") ?? 0 >= 4)
        #expect(sampleValue(body, "kube_scheduler_up") != nil)
        #expect(!exporter.child.text.contains(setup.password), "the password never reaches the logs")
        #expect(!body.contains(setup.password))
    }

    @Test func aBadEditIsLoggedAndTheRunningConfigKept() async throws {
        let setup = try await ProtectedSetup()
        defer { setup.dir.remove() }
        let simulator = try await Simulator.start(in: setup.dir)
        defer { simulator.child.stop() }
        let exporter = try await Exporter.start(["--target", simulator.url, "--ca-file", simulator.caFile, "--bearer-token-file", simulator.tokenFile,
                                                 "--check.nonloopback-address", "127.0.0.2", "--check.insecure-port", "0",
                                                 "--web.config.file", setup.webConfig])
        defer { exporter.child.stop() }
        let url = "https://\(exporter.address)/metrics"
        let authorized = setup.clientCert + ["-u", "prometheus:\(setup.password)"]
        #expect(try await setup.curlStatus(url, authorized).status == 200)
        try "basic_auth_users: {prometheus: not-a-hash}\n".write(toFile: setup.webConfig, atomically: true, encoding: .utf8)
        let message = try await exporter.child.await("web config not reloaded.*(basic_auth_users[^\"]*)")
        #expect(message.contains("not a bcrypt hash"))
        #expect(try await setup.curlStatus(url, authorized).status == 200, "the old config still serves")
        #expect(try await setup.curlStatus(url, setup.clientCert).status == 401)
    }

    @Test func anInvalidWebConfigAtStartIsOneLineAndExitCode2() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let exporter = try Binaries.path("kube-scheduler-exporter")
        let cases = [
            try dir.write("unknown.yml", "tls_server_config: {cert_file: a.crt, key_file: a.key, cipher: x}\n"),
            try dir.write("missing.yml", "tls_server_config: {cert_file: /nonexistent/a.crt, key_file: /nonexistent/a.key}\n"),
            try dir.write("hash.yml", "basic_auth_users: {alice: hunter2}\n"),
            "/nonexistent/web.yml",
        ]
        for path in cases {
            let result = try await runCommand(exporter, ["--target", "https://127.0.0.1:1", "--web.listen-address", "127.0.0.1:0", "--web.config.file", path])
            #expect(result.status == 2, "\(path): \(result.output)")
            #expect(result.output.split(separator: "\n").count == 1, "\(result.output)")
            #expect(!result.output.contains("hunter2"))
        }
        let help = try await runCommand(exporter, ["--help"])
        #expect(help.output.contains("--web.config.file"))
        #expect(help.output.contains("/healthz"))
    }

    /// `up` per job from Prometheus's query API, once `done` holds.
    func awaitUp(port: Int, timeout: Double = 120, until done: ([String: Double]) -> Bool) async throws -> [String: Double] {
        let deadline = Date().addingTimeInterval(timeout)
        var ups: [String: Double] = [:]
        while Date() < deadline {
            if let response = try? await IntegrationClient.shared.perform(HTTPRequest(url: "http://127.0.0.1:\(port)/api/v1/query?query=up")),
               let json = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
               let data = json["data"] as? [String: Any], let results = data["result"] as? [[String: Any]] {
                ups = [:]
                for result in results {
                    if let metric = result["metric"] as? [String: String], let job = metric["job"],
                       let value = result["value"] as? [Any], let text = value.last as? String {
                        ups[job] = Double(text)
                    }
                }
                if done(ups) { return ups }
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw HarnessError("Prometheus did not report up for all jobs within \(timeout)s: \(ups)")
    }

    /// A port nothing listens on right now (the kernel's pick for an ephemeral bind).
    func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw HarnessError("cannot bind an ephemeral port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
