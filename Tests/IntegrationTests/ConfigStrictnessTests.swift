import Foundation
import TestSupport
import Testing

/// The exporter binary refuses config it would otherwise crash on or silently misread: one line
/// naming the key or label, exit code 2, before anything starts.
@Suite(.serialized) struct ConfigStrictnessTests {
    /// `labels: {platform: onprem}` collided with kubernetes_build_info's `platform` on the first
    /// poll of a real scheduler and stopped the process ("Illegal instruction"), restarted, again.
    @Test func aStaticLabelTheExporterWritesIsAStartUpError() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let simulator = try await Simulator.start(in: dir)
        defer { simulator.child.stop() }
        let config = try dir.write("config.yml", """
            targets:
              - name: cp1
                url: \(simulator.url)
                bearer_token_file: \(simulator.tokenFile)
                tls_config: {ca_file: \(simulator.caFile)}
                labels: {platform: onprem}
                security: {insecure_port: 0, nonloopback_addresses: [127.0.0.2]}
            """)
        let result = try await runCommand(try Binaries.path("kube-scheduler-exporter"),
                                          ["--config.file", config, "--web.listen-address", "127.0.0.1:0", "--poll-interval", "200ms"])
        #expect(result.status == 2, "\(result.output)")
        #expect(result.output.contains("label \"platform\" is reserved"), "\(result.output)")
    }

    /// A typo in the config file or the web config is a start-up error naming its path, not a
    /// silently ignored setting.
    @Test func misspeltKeysAreStartUpErrors() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let token = try dir.write("token", "t")
        let config = try dir.write("config.yml", """
            targets:
              - name: cp1
                url: https://127.0.0.1:10259
                bearer_tokn_file: \(token)
            """)
        let exporter = try Binaries.path("kube-scheduler-exporter")
        let result = try await runCommand(exporter, ["--config.file", config, "--web.listen-address", "127.0.0.1:0"])
        #expect(result.status == 2, "\(result.output)")
        #expect(result.output.contains("targets[0].bearer_tokn_file: unknown key"), "\(result.output)")
        #expect(result.output.split(separator: "\n").count == 1, "one line: \(result.output)")

        let web = try dir.write("web.yml", "basic_auth_user:\n  prometheus: x\n")
        let webResult = try await runCommand(exporter, ["--web.config.file", web, "--web.listen-address", "127.0.0.1:0",
                                                        "--target", "https://127.0.0.1:1"])
        #expect(webResult.status == 2, "\(webResult.output)")
        #expect(webResult.output.contains("basic_auth_user: unknown key"), "\(webResult.output)")
    }
}
