import Testing
@testable import SchedulerExporter

@Suite struct PrometheusDurationTests {
    @Test(arguments: [("15s", 15_000), ("1m30s", 90_000), ("500ms", 500), ("5m", 300_000), ("1h", 3_600_000), ("1d", 86_400_000)])
    func parses(text: String, milliseconds: Int64) throws {
        #expect(try PrometheusDuration.parse(text).milliseconds == milliseconds)
    }

    @Test(arguments: ["", "15", "abc", "5x", "s", "-1s", "1.5s"])
    func rejects(text: String) {
        #expect(throws: ConfigError.self) { try PrometheusDuration.parse(text) }
    }

    @Test func formatsRoundTrip() throws {
        for text in ["15s", "5m", "250ms"] {
            #expect(PrometheusDuration.format(try PrometheusDuration.parse(text)) == text)
        }
    }
}

@Suite struct AddressTests {
    @Test func listenAddresses() throws {
        #expect(try ListenAddress(parsing: ":10269") == ListenAddress(host: "0.0.0.0", port: 10269))
        #expect(try ListenAddress(parsing: "127.0.0.1:9") == ListenAddress(host: "127.0.0.1", port: 9))
        #expect(try ListenAddress(parsing: "[::1]:80") == ListenAddress(host: "::1", port: 80))
        #expect(throws: ConfigError.self) { try ListenAddress(parsing: "localhost") }
        #expect(throws: ConfigError.self) { try ListenAddress(parsing: "host:99999") }
    }

    @Test func targetURLs() {
        #expect(URLParts("https://127.0.0.1:10259") == URLParts(scheme: "https", host: "127.0.0.1", port: 10259))
        #expect(URLParts("https://kube-scheduler/metrics")?.port == 443)
        #expect(URLParts("http://[::1]:10251/x")?.host == "::1")
        #expect(URLParts("http://[::1]:10251")?.authority == "[::1]:10251")
        #expect(URLParts("https://user:secret@127.0.0.1:10259") == nil, "credentials in URLs would leak into labels")
        #expect(URLParts("ftp://127.0.0.1") == nil)
        #expect(URLParts("https://127.0.0.1:0") == nil)
    }
}

extension URLParts {
    init(scheme: String, host: String, port: Int) {
        self = URLParts("\(scheme)://\(host):\(port)")!
    }
}

@Suite struct ConfigFileTests {
    @Test func parsesTheDocumentedExample() throws {
        let targets = try ConfigFile.parse(ConfigFile.example)
        #expect(targets.count == 2)
        let target = try #require(targets.first)
        #expect(target.name == "control-plane-1")
        #expect(target.url == "https://127.0.0.1:10259")
        #expect(target.labels == ["cluster": "prod"])
        #expect(target.pollInterval == .seconds(15))
        #expect(target.tls.caFile == "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt")
        #expect(target.security.insecurePort == 10251)
        #expect(target.security.kubeconfigFile == "/etc/kubernetes/scheduler.conf")
        #expect(target.latency.window == .seconds(300))
        #expect(target.latency.quantiles == [0.5, 0.9, 0.99])
        #expect(target.security.hostRoot == "/")
        #expect(target.security.platform == .auto)
        #expect(target.kind == .scheduler)
        let eks = try #require(targets.last)
        #expect(eks.kind == .metricsOnly)
        #expect(eks.metricsPath == TargetConfig.eksSchedulerMetricsPath)
    }

    @Test func globalDefaultsAndPerTargetOverrides() throws {
        let targets = try ConfigFile.parse("""
            global: {poll_interval: 30s, timeout: 3s}
            targets:
              - {name: a, url: "https://127.0.0.1:10259"}
              - {name: b, url: "https://127.0.0.2:10259", poll_interval: 5s, security: {insecure_port: 0, nonloopback_addresses: [127.0.0.3]}}
            """)
        #expect(targets.map(\.pollInterval) == [.seconds(30), .seconds(5)])
        #expect(targets.map(\.timeout) == [.seconds(3), .seconds(3)])
        #expect(targets[1].security.insecurePort == 0)
        #expect(targets[1].security.nonLoopbackAddresses == ["127.0.0.3"])
        #expect(targets[0].security.nonLoopbackAddresses == nil)
    }

    @Test func platformHostRootAndMetricsOnlyKeys() throws {
        let targets = try ConfigFile.parse("""
            targets:
              - {name: rke, url: "https://127.0.0.1:10259", security: {platform: rke2, host_root: /host}}
              - name: eks
                kind: metrics-only
                url: https://kubernetes.default.svc
                metrics_path: /apis/metrics.eks.amazonaws.com/v1/ksh/container/metrics
                bearer_token_file: /etc/hostname
              - {name: plain, url: "https://127.0.0.1:10259"}
            """)
        #expect(targets[0].security.platform == .fixed(.rke2))
        #expect(targets[0].security.hostRoot == "/host")
        #expect(targets[0].security.local("/etc/kubernetes/scheduler.conf") == "/host/etc/kubernetes/scheduler.conf")
        #expect(targets[0].security.manifestFile == nil, "the platform's unless configured")
        #expect(targets[1].kind == .metricsOnly)
        #expect(targets[1].metricsPath == TargetConfig.eksSchedulerMetricsPath)
        #expect(targets[1].bearerTokenFile == "/etc/hostname", "a configured token wins over the in-cluster one")
        #expect(targets[1].url == "https://kubernetes.default.svc")
        #expect(URLParts(targets[1].url)?.port == 443)
        #expect(targets[2].kind == .scheduler && targets[2].metricsPath == "/metrics")
        #expect(throws: ConfigError("c.yml: targets[0]: security.platform must be one of auto, kubeadm, rke2, k3s, talos, openshift, got \"gentoo\"")) {
            try ConfigFile.parse("targets:\n  - {url: 'https://127.0.0.1:10259', security: {platform: gentoo}}\n", source: "c.yml")
        }
        #expect(throws: ConfigError("c.yml: targets[0]: kind must be one of scheduler, metrics-only, got \"proxy\"")) {
            try ConfigFile.parse("targets:\n  - {url: 'https://127.0.0.1:10259', kind: proxy}\n", source: "c.yml")
        }
        #expect(PlatformChoice("auto") == .auto)
        #expect(PlatformChoice("talos") == .fixed(.talos))
        #expect(PlatformChoice("Talos") == nil)
    }

    @Test func errorsSayWhereAndWhat() {
        #expect(throws: ConfigError("c.yml: missing key \"url\" at targets[0]")) {
            try ConfigFile.parse("targets:\n  - name: a\n", source: "c.yml")
        }
        #expect(throws: ConfigError("c.yml: targets[0]: invalid duration \"soon\" (expected e.g. 15s, 1m30s, 500ms)")) {
            try ConfigFile.parse("targets:\n  - {url: 'https://127.0.0.1:10259', poll_interval: soon}\n", source: "c.yml")
        }
        #expect(throws: ConfigError("c.yml: no targets")) { try ConfigFile.parse("global: {}\n", source: "c.yml") }
    }

    /// A misspelt key was ignored: `bearer_tokn_file` polled without a token, which looks like an
    /// RBAC problem. Unknown keys at any level are errors naming their path.
    @Test(arguments: [
        ("targets:\n  - {url: 'https://127.0.0.1:10259', bearer_tokn_file: /t}\n", "c.yml: targets[0].bearer_tokn_file: unknown key"),
        ("targets:\n  - {url: 'https://127.0.0.1:10259'}\n  - {url: 'https://127.0.0.2:10259', tls_config: {ca: /ca}}\n", "c.yml: targets[1].tls_config.ca: unknown key"),
        ("targets:\n  - {url: 'https://127.0.0.1:10259', security: {insecure_prot: 0}}\n", "c.yml: targets[0].security.insecure_prot: unknown key"),
        ("targets:\n  - {url: 'https://127.0.0.1:10259', latency: {windw: 5m}}\n", "c.yml: targets[0].latency.windw: unknown key"),
        ("global: {poll_intervl: 5s}\ntargets:\n  - {url: 'https://127.0.0.1:10259'}\n", "c.yml: global.poll_intervl: unknown key"),
        ("target:\n  - {url: 'https://127.0.0.1:10259'}\n", "c.yml: target: unknown key"),
    ])
    func unknownKeysAnywhereAreErrors(yaml: String, message: String) {
        do {
            _ = try ConfigFile.parse(yaml, source: "c.yml")
            Issue.record("accepted: \(yaml)")
        } catch {
            #expect(error.message.hasPrefix(message + " (expected one of "), "\(error.message)")
        }
    }

    @Test func labelsTakeAnyNameAndTheFullExampleStillParses() throws {
        let targets = try ConfigFile.parse("targets:\n  - {url: 'https://127.0.0.1:10259', labels: {anything_goes: x, bearer_tokn_file: y}}\n")
        #expect(targets.first?.labels == ["anything_goes": "x", "bearer_tokn_file": "y"])
        let every = try ConfigFile.parse("""
            global: {poll_interval: 15s, timeout: 10s}
            targets:
              - name: a
                url: https://127.0.0.1:10259
                bearer_token_file: /t
                tls_config: {ca_file: /ca, cert_file: /c, key_file: /k, insecure_skip_verify: true, server_name: s}
                labels: {cluster: prod}
                poll_interval: 30s
                timeout: 5s
                max_body_bytes: 1024
                accept_compressed: true
                security: {insecure_port: 0, nonloopback_addresses: [10.0.0.5], manifest_file: /m, kubeconfig_file: /kc, cert_min_days: 3}
                latency: {window: 5m, quantiles: [0.5]}
            """)
        #expect(every.first?.tls.serverName == "s")
        #expect(every.first?.security.certMinDays == 3)
    }

    @Test func yamlSyntaxErrorsSayWhere() {
        do {
            _ = try ConfigFile.parse("targets: [\n", source: "c.yml")
            Issue.record("accepted broken YAML")
        } catch {
            #expect(error.message.hasPrefix("c.yml: invalid YAML: "), "\(error.message)")
            #expect(error.message.contains("line"), "\(error.message)")
        }
    }

    @Test func validationRejectsWhatWouldBreakAtRuntime() {
        func validate(_ edit: (inout TargetConfig) -> Void) throws {
            var target = TargetConfig(name: "a", url: "https://127.0.0.1:10259")
            edit(&target)
            _ = try ExporterConfig(targets: [target]).validated()
        }
        #expect(throws: Never.self) { try validate { _ in } }
        #expect(throws: ConfigError.self) { try validate { $0.url = "127.0.0.1:10259" } }
        #expect(throws: ConfigError.self) { try validate { $0.labels = ["target": "x"] } }
        #expect(throws: ConfigError.self) { try validate { $0.labels = ["bad-name": "x"] } }
        #expect(throws: ConfigError.self) { try validate { $0.tls.certFile = "/etc/hostname" } }
        #expect(throws: ConfigError.self) { try validate { $0.bearerTokenFile = "/nonexistent/token" } }
        #expect(throws: ConfigError.self) { try validate { $0.latency.quantiles = [1.5] } }
        #expect(throws: ConfigError.self) { try validate { $0.security.hostRoot = "host" } }
        #expect(throws: ConfigError.self) { try validate { $0.metricsPath = "metrics" } }
        #expect(throws: ConfigError.self) { try validate { $0.metricsPath = "/metrics x" } }
        #expect(throws: ConfigError.self) { try validate { $0.metricsPath = "/metrics\r\nHost: evil" } }
        #expect(throws: Never.self) { try validate { $0.metricsPath = TargetConfig.eksSchedulerMetricsPath } }
        #expect(throws: ConfigError.self) { try validate { $0.labels = ["platform": "x"] } }
        #expect(throws: ConfigError("duplicate target name \"a\"")) {
            let target = TargetConfig(name: "a", url: "https://127.0.0.1:10259")
            _ = try ExporterConfig(targets: [target, target]).validated()
        }
    }
}
