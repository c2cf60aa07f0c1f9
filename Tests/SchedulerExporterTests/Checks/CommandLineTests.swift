import Testing
@testable import SchedulerExporter

/// The running scheduler's command line as evidence: which processes count, which one serves the
/// target, and how its flags outrank the manifest's.
@Suite struct CommandLineTests {
    @Test func whichProcessesRunAScheduler() throws {
        let plain = try #require(SchedulerCommandLine(arguments: ["kube-scheduler", "--profiling=false", "--secure-port", "10300"]))
        #expect(plain.kind == .kubeScheduler)
        #expect(plain.flags == ["profiling": "false", "secure-port": "10300"])
        #expect(plain.securePort == 10300)
        #expect(SchedulerCommandLine(arguments: ["/usr/local/bin/kube-scheduler"])?.securePort == 10259)
        #expect(SchedulerCommandLine(arguments: ["hyperkube", "kube-scheduler", "--port=0"])?.flags == ["port": "0"])
        #expect(SchedulerCommandLine(arguments: ["hyperkube", "scheduler", "--port=0"])?.kind == .kubeScheduler)
        #expect(SchedulerCommandLine(arguments: ["hyperkube", "kube-apiserver"]) == nil)
        #expect(SchedulerCommandLine(arguments: ["kube-scheduler-exporter", "--target=x"]) == nil)
        #expect(SchedulerCommandLine(arguments: ["/usr/bin/python3", "kube-scheduler"]) == nil)
        #expect(SchedulerCommandLine(arguments: ["k3s", "agent"]) == nil)
        #expect(SchedulerCommandLine(arguments: []) == nil)
        #expect(SchedulerCommandLine(arguments: ["kube-scheduler", "--secure-port=x"])?.securePort == nil)

        let k3s = try #require(SchedulerCommandLine(arguments: [
            "/usr/local/bin/k3s", "server", "--token=secret", "--kube-scheduler-arg=profiling=true",
            "--kube-scheduler-arg", "--v=4", "--kube-scheduler-arg=leader-elect", "--kube-scheduler-arg=bind-address=0.0.0.0",
            "--kube-scheduler-arg=bind-address=127.0.0.2", "--", "--kube-scheduler-arg=port=1",
        ]))
        #expect(k3s.kind == .k3sServer)
        #expect(k3s.argumentsVisible)
        #expect(k3s.flags["profiling"] == "true", "the user's value over k3s's default")
        #expect(k3s.flags["v"] == "4")
        #expect(k3s.flags["leader-elect"] == "true")
        #expect(k3s.flags["bind-address"] == "127.0.0.2", "repeated: the last wins")
        #expect(k3s.flags["port"] == nil, "nothing after --")
        #expect(k3s.flags["token"] == nil, "k3s's own flags (and secrets) are not scheduler flags")
        #expect(k3s.flags["kubeconfig"] == "/var/lib/rancher/k3s/server/cred/scheduler.kubeconfig")

        let hidden = try #require(SchedulerCommandLine(arguments: ["/usr/local/bin/k3s server"]))
        #expect(!hidden.argumentsVisible)
        #expect(hidden.flags.isEmpty, "k3s's defaults are not assumed when its arguments are hidden")
    }

    @Test func theProcessServingTheTargetIsChosen() {
        let processes = [
            ProcessObservation(pid: 10, arguments: ["kube-scheduler", "--secure-port=10300", "--profiling=true"]),
            ProcessObservation(pid: 11, arguments: ["kube-scheduler", "--bind-address=127.0.0.2"]),
            ProcessObservation(pid: 12, arguments: ["bash", "-c", "kube-scheduler"]),
        ]
        func pid(_ host: String, _ port: Int) -> Int? {
            if case .success(let chosen) = SchedulerCommandLine.select(processes, host: host, port: port) { return chosen.pid }
            return nil
        }
        #expect(pid("127.0.0.1", 10300) == 10)
        #expect(pid("127.0.0.2", 10259) == 11)
        #expect(pid("localhost", 10259) == 11, "a name is not compared with a bind address")
        #expect(pid("127.0.0.1", 10259) == nil, "bound elsewhere")
        func problem(_ processes: [ProcessObservation], _ port: Int) -> SchedulerCommandLine.SelectionProblem? {
            if case .failure(let problem) = SchedulerCommandLine.select(processes, host: "127.0.0.1", port: port) { return problem }
            return nil
        }
        #expect(problem(processes, 1) == .noneServes(port: 1, pids: [10, 11]))
        let twins = [ProcessObservation(pid: 1, arguments: ["kube-scheduler"]), ProcessObservation(pid: 2, arguments: ["kube-scheduler"])]
        #expect(problem(twins, 10259) == .several(port: 10259, pids: [1, 2]))
        #expect(problem([], 10259) == .noneFound)
        #expect(SchedulerCommandLine.SelectionProblem.noneFound.description.contains("hostPID: true"))
    }

    /// /proc as the kernel has it: only scheduler processes are kept (another process's argv can
    /// hold secrets), a retitled argv is read as its title, and the last pid is read first.
    @Test func theProcessTableUnderTheHostRoot() {
        let node = NodeRoot()
        node.process(1, ["/sbin/init"])
        node.process(300, ["etcd", "--data-dir=/var/lib/etcd", "--client-cert-auth=true"])
        node.process(812, PlatformTests.kubeadmCommandLine)
        node.retitledProcess(977, "/usr/local/bin/k3s server")
        node.file("/proc/self", "not a pid")
        node.file("/proc/4194304/cmdline", "", mode: 0o444)  // a kernel thread: empty cmdline
        guard case .success(let found) = ProcessTable.schedulers(procRoot: node.path + "/proc", hint: nil) else {
            Issue.record("the fake /proc was not listed")
            return
        }
        #expect(found.map(\.pid) == [812, 977])
        #expect(found.first?.arguments == PlatformTests.kubeadmCommandLine)
        #expect(found.last?.arguments == ["/usr/local/bin/k3s server"], "NUL padding dropped")
        guard case .success(let hinted) = ProcessTable.schedulers(procRoot: node.path + "/proc", hint: 812) else { return }
        #expect(hinted.map(\.pid) == [812])
        guard case .success(let stale) = ProcessTable.schedulers(procRoot: node.path + "/proc", hint: 300) else { return }
        #expect(stale.map(\.pid) == [812, 977], "a hint that runs no scheduler means a full scan")
        if case .success = ProcessTable.schedulers(procRoot: node.path + "/nonexistent", hint: nil) {
            Issue.record("a missing /proc is a failure, not an empty table")
        }
    }

    /// The command line outranks the manifest: it is what the process runs with.
    @Test func theCommandLineOutranksTheManifest() throws {
        let manifest = StaticPodManifest(flags: ["bind-address": "127.0.0.1", "profiling": "false", "port": "0",
                                                 "authorization-always-allow-paths": "/healthz"])
        let commandLine = CommandLineEvidence(source: .cmdline, pid: 7, flags: ["bind-address": "0.0.0.0", "profiling": "true",
                                                                                 "authorization-always-allow-paths": "/healthz,/configz"])
        let evidence = SchedulerEvidence(manifest: manifest, kubernetesVersion: KubernetesVersion(major: 1, minor: 22),
                                         commandLine: commandLine)
        let poll = try makePoll([:])
        let context = makeContext(evidence: evidence)
        let bind = BindAddressCheck().evaluate(poll, context: context)
        #expect(bind.finding("bind_address_loopback")?.evidence == "--bind-address=0.0.0.0 per cmdline")
        let profiling = ProfilingCheck().evaluate(poll, context: context)
        #expect(profiling.finding("profiling_disabled")?.status == .fail)
        #expect(profiling.value("kube_scheduler_profiling_enabled", ["source": "cmdline"]) == 1)
        #expect(profiling.value("kube_scheduler_profiling_enabled", ["source": "manifest"]) == 0)
        let bypass = AuthorizationBypassCheck().evaluate(poll, context: context)
        #expect(bypass.finding("authorization_not_bypassed")?.evidence == "always allowed without RBAC: /configz (cmdline)")
        // 1.22 serves the insecure port unless --port=0: the command line sets none, so it is open.
        var target = TargetConfig(name: "t", url: "https://127.0.0.1:10259")
        target.security.insecurePort = 0
        let insecure = InsecurePortCheck().evaluate(poll, context: makeContext(target, evidence: evidence))
        #expect(insecure.finding("insecure_port_closed")?.status == .fail)
        #expect(insecure.finding("insecure_port_closed")?.evidence == "the command line sets no --port, so v1.22.0 serves plain HTTP on 10251 (open by default up to 1.22)")
        var closed = evidence
        closed.commandLine?.flags["port"] = "0"
        #expect(InsecurePortCheck().evaluate(poll, context: makeContext(target, evidence: closed)).finding("insecure_port_closed")?.evidence
                == "probe disabled; the command line sets --port=0")
        var opened = evidence
        opened.commandLine?.flags["port"] = "10251"
        #expect(InsecurePortCheck().evaluate(poll, context: makeContext(target, evidence: opened)).finding("insecure_port_closed")?.evidence
                == "--port=10251 on the command line (running v1.22.0, which serves the insecure port unless --port=0)")
    }

    /// `--profiling` is ignored next to `--config`: the file decides, or nothing does.
    @Test func aConfigFileOverridesTheProfilingFlags() throws {
        let unread = SchedulerEvidence(commandLine: CommandLineEvidence(source: .cmdline, flags: ["config": "/etc/c.yaml", "profiling": "false"]))
        #expect(unread.configurableFlag("profiling", \.enableProfiling).isEmpty, "the flag does not count and the file was not read")
        let read = SchedulerEvidence(commandLine: CommandLineEvidence(
            source: .cmdline, flags: ["config": "/etc/c.yaml", "profiling": "false"],
            config: try SchedulerConfigFile(yaml: "enableProfiling: true\n")))
        #expect(read.configurableFlag("profiling", \.enableProfiling).map(\.enabled) == [true])
        let plain = SchedulerEvidence(manifest: StaticPodManifest(flags: ["contention-profiling": "false"]))
        #expect(plain.configurableFlag("contention-profiling", \.enableContentionProfiling).map(\.source) == ["manifest"])
    }

    @Test func k3sConfigFiles() {
        #expect(K3sConfig.kubeSchedulerArguments(["kube-scheduler-arg: profiling=true\n"]) == ["profiling": "true"])
        #expect(K3sConfig.kubeSchedulerArguments(["token: x\n"]) == nil)
        #expect(K3sConfig.kubeSchedulerArguments(["kube-scheduler-arg: [a=1, b=2]\n", "kube-scheduler-arg: [a=3]\n"]) == ["a": "3"],
                "a drop-in replaces the key")
        #expect(K3sConfig.kubeSchedulerArguments(["kube-scheduler-arg: [a=1]\n", "kube-scheduler-arg+: [b=2]\n"]) == ["a": "1", "b": "2"])
        #expect(K3sConfig.kubeSchedulerArguments([": : :\n", "- not a map\n", "kube-scheduler-arg: {a: 1}\n"]) == nil, "never a trap")
    }
}
