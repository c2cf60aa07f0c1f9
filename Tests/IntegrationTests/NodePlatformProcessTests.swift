import CurlHTTP
import Foundation
import TestSupport
import Testing

/// The exporter binary's platform flags against a real simulator process on 127.0.0.1 and a node
/// root in a temporary directory.
@Suite(.serialized) struct NodePlatformProcessTests {
    /// A node root with RKE2's files: detected, reported, and its files judged.
    @Test func platformFromTheHostRoot() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let root = dir.path + "/node"
        for (path, mode) in [("/var/lib/rancher/rke2/agent/pod-manifests/kube-scheduler.yaml", 0o600),
                             ("/var/lib/rancher/rke2/server/cred/scheduler.kubeconfig", 0o644)] {
            try FileManager.default.createDirectory(atPath: root + (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: kube-scheduler\n    command: [kube-scheduler, --profiling=false]\n"
                .write(toFile: root + path, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: root + path)
        }
        let simulator = try await Simulator.start(in: dir)
        defer { simulator.child.stop() }
        let exporter = try await Exporter.start(["--target", simulator.url, "--ca-file", simulator.caFile, "--bearer-token-file", simulator.tokenFile,
                                                 "--check.nonloopback-address", "127.0.0.2", "--check.insecure-port", "0",
                                                 "--check.host-root", root])
        defer { exporter.child.stop() }
        let body = try await exporter.scrape { sampleValue($0, "kube_scheduler_up") == 1 }
        #expect(sampleValue(body, "kube_scheduler_platform_info", "platform=\"rke2\"", "source=\"detected\"") == 1)
        #expect(sampleValue(body, "kube_scheduler_security_check", "check=\"manifest_permissions\"", "status=\"pass\"") == 1)
        // configz names /etc/kubernetes/scheduler.conf, which this node root does not have.
        #expect(sampleValue(body, "kube_scheduler_security_check", "check=\"kubeconfig_permissions\"", "status=\"unknown\"") == 1)
        #expect(sampleValue(body, "kube_scheduler_file_mode", "file=\"/var/lib/rancher/rke2/agent/pod-manifests/kube-scheduler.yaml\"") == 384)
        let readme = try String(contentsOfFile: repositoryRoot + "/README.md", encoding: .utf8)
        for line in body.split(separator: "\n") where line.hasPrefix("# HELP ") {
            let family = line.split(separator: " ")[2]
            #expect(readme.contains("`\(family)`"), "the README's metric reference documents \(family)")
        }

    }

    @Test func platformFlagsAreDocumentedAndChecked() async throws {
        let binary = try Binaries.path("kube-scheduler-exporter")
        let help = try await runCommand(binary, ["--help"])
        for flag in ["--check.host-root", "--platform", "host_root:", "platform: auto"] {
            #expect(help.output.contains(flag), "--help documents \(flag)")
        }
        for arguments in [["--platform", "gentoo"], ["--check.host-root", "relative"]] {
            let result = try await runCommand(binary, arguments)
            #expect(result.status == 2, "\(arguments): \(result.output)")
        }
    }
}
