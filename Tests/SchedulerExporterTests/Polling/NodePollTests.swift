import CurlHTTP
import Logging
import NIOCore
import SchedulerSimulator
import Testing
@testable import SchedulerExporter

/// The poller against the in-process simulator over real HTTPS on 127.0.0.1, with a node's
/// platform and the scheduler's command line under a temporary host root.
@Suite struct NodePollTests {
    /// A kubeadm node whose scheduler process serves the simulator's port: the poller reports the
    /// platform, judges the node's files and takes the flags from the process, re-reading only
    /// that pid until it changes.
    @Test func thePollerReadsTheNodeAndTheRunningProcess() async throws {
        let simulator = try await SimulatorTarget.start { $0.profiling = false }
        defer { simulator.cleanUp() }
        let client = CurlClient()
        defer { client.shutdown() }
        let node = NodeRoot()
        node.file("/etc/kubernetes/manifests/kube-scheduler.yaml", PlatformTests.kubeadmManifest, mode: 0o600)
        node.file("/etc/kubernetes/scheduler.conf", "apiVersion: v1\nkind: Config\n", mode: 0o600)
        let port = URLParts(simulator.url)?.port ?? 0
        node.process(812, PlatformTests.kubeadmCommandLine + ["--secure-port=\(port)", "--profiling=false", "--bind-address=0.0.0.0"])
        node.process(813, PlatformTests.kubeadmCommandLine + ["--secure-port=1"])
        var target = simulator.target()
        target.security.hostRoot = node.path
        target.security.manifestFile = nil
        let poller = makePoller(target, client: client)

        let first = await poller.pollOnce()
        #expect(first.value("kube_scheduler_up") == 1)
        #expect(first.value("kube_scheduler_platform_info", ["platform": "kubeadm", "source": "detected"]) == 1)
        #expect(first.status("manifest_permissions") == "pass")
        #expect(first.status("kubeconfig_permissions") == "pass", "configz names /etc/kubernetes/scheduler.conf, read under the host root")
        #expect(first.value("kube_scheduler_profiling_enabled", ["source": "pprof"]) == 0)
        #expect(first.value("kube_scheduler_profiling_enabled", ["source": "cmdline"]) == 0)
        #expect(first.status("profiling_disabled") == "pass")
        #expect(first.status("bind_address_loopback") == "fail", "--bind-address=0.0.0.0 on the running process")

        // The scheduler restarts as another pid with the insecure flags gone.
        node.file("/proc/812/cmdline", "", mode: 0o444)
        node.process(901, PlatformTests.kubeadmCommandLine + ["--secure-port=\(port)", "--profiling=false"])
        let restarted = await poller.pollOnce()
        #expect(restarted.status("bind_address_loopback") == "pass")
    }
}
