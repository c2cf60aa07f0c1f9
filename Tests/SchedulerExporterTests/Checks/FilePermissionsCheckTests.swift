import Testing
@testable import SchedulerExporter

#if canImport(Glibc)
import Glibc
#endif

/// Real files in a temp dir with chmod/chown (the suite runs as root here and in CI; the
/// ownership half is skipped with a message elsewhere rather than asserting the wrong thing).
@Suite struct FilePermissionsCheckTests {
    let directory: String

    init() {
        var template = Array("/tmp/kse-files-XXXXXX".utf8CString)
        directory = String(cString: mkdtemp(&template)!)
    }

    func file(_ name: String, mode: mode_t, owner: uid_t = 0) -> String {
        let path = "\(directory)/\(name)"
        let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
        _ = write(fd, "x", 1)
        close(fd)
        chmod(path, mode)
        if getuid() == 0 { chown(path, owner, owner) }
        return path
    }

    func evaluate(manifest: String, kubeconfig: String? = nil) throws -> CheckOutput {
        var target = TargetConfig(name: "t", url: "https://127.0.0.1:10259")
        target.security.manifestFile = manifest
        target.security.kubeconfigFile = kubeconfig
        var poll = try makePoll([:])
        // The poll stage stats the real files; the checks only read what it found.
        let evidence = poll.observeNodeFiles(for: target)
        let context = makeContext(target, evidence: evidence)
        var output = FilePermissionsCheck(.manifest).evaluate(poll, context: context)
        output.findings += FilePermissionsCheck(.kubeconfig).evaluate(poll, context: context).findings
        return output
    }

    @Test func strictRootOwnedFilesPass() throws {
        let output = try evaluate(manifest: file("kube-scheduler.yaml", mode: 0o600), kubeconfig: file("scheduler.conf", mode: 0o400))
        #expect(output.finding("manifest_permissions")?.status == .pass)
        #expect(output.finding("kubeconfig_permissions")?.status == .pass)
        if getuid() == 0 {
            #expect(output.finding("manifest_ownership")?.status == .pass)
            #expect(output.finding("kubeconfig_ownership")?.status == .pass)
        }
    }

    @Test func looseModeAndForeignOwnerFail() throws {
        guard getuid() == 0 else { print("skipping ownership half: needs root to chown"); return }
        let output = try evaluate(manifest: file("kube-scheduler.yaml", mode: 0o644, owner: 1000), kubeconfig: file("scheduler.conf", mode: 0o640))
        #expect(output.finding("manifest_permissions")?.status == .fail)
        #expect(output.finding("manifest_permissions")?.evidence.hasSuffix("mode 644") == true)
        #expect(output.finding("manifest_ownership")?.status == .fail)
        #expect(output.finding("kubeconfig_permissions")?.status == .fail)
        #expect(output.value("kube_scheduler_file_mode") == Double(0o644))
    }

    @Test func missingFileIsUnknownNeverPass() throws {
        let output = try evaluate(manifest: "\(directory)/absent.yaml", kubeconfig: "\(directory)/absent.conf")
        for check in ["manifest_permissions", "manifest_ownership", "kubeconfig_permissions", "kubeconfig_ownership"] {
            #expect(output.finding(check)?.status == .unknown)
        }
    }

    @Test func kubeconfigPathComesFromTheScheduler() {
        let target = TargetConfig(name: "t", url: "https://127.0.0.1:10259")
        let evidence = SchedulerEvidence(configz: Configz(kubeconfig: "/srv/sched.conf"))
        #expect(FilePermissionsCheck.kubeconfigPath(target: target, evidence: evidence) == "/srv/sched.conf")
        #expect(FilePermissionsCheck.kubeconfigPath(target: target, evidence: SchedulerEvidence()) == "/etc/kubernetes/scheduler.conf")
    }

    /// Checks are pure: handed the stat results a node produced, they judge them without a disk.
    @Test func checksJudgeTheFilesThePollStageFound() throws {
        var target = TargetConfig(name: "t", url: "https://127.0.0.1:10259")
        let manifestPath = "/etc/kubernetes/manifests/kube-scheduler.yaml"
        target.security.manifestFile = manifestPath
        target.security.kubeconfigFile = "/etc/kubernetes/scheduler.conf"
        func status(_ mode: UInt32, uid: UInt32 = 0) -> Result<FileAccess.Status, FileError> {
            .success(FileAccess.Status(mode: mode, uid: uid, gid: 0, size: 1, modified: 0, inode: 1))
        }
        let poll = PollResult(startedAt: 0, files: [
            manifestPath: FileObservation(status: status(0o600)),
            "/etc/kubernetes/scheduler.conf": FileObservation(status: status(0o644, uid: 1000)),
        ])
        let context = makeContext(target)
        let manifest = FilePermissionsCheck(.manifest).evaluate(poll, context: context)
        #expect(manifest.finding("manifest_permissions")?.status == .pass)
        #expect(manifest.finding("manifest_ownership")?.status == .pass)
        let kubeconfig = FilePermissionsCheck(.kubeconfig).evaluate(poll, context: context)
        #expect(kubeconfig.finding("kubeconfig_permissions")?.evidence == "/etc/kubernetes/scheduler.conf has mode 644")
        #expect(kubeconfig.finding("kubeconfig_ownership")?.status == .fail)
        let unobserved = FilePermissionsCheck(.kubeconfig).evaluate(PollResult(startedAt: 0), context: context)
        #expect(unobserved.finding("kubeconfig_permissions")?.status == .unknown)
    }

    /// The manifest and the --config file it names are read by the poll stage, then parsed.
    @Test func manifestAndItsConfigFileFromTheNode() throws {
        let config = "\(directory)/config.yaml"
        try "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nclientConnection:\n  kubeconfig: \(directory)/from-config.conf\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        let manifest = file("kube-scheduler.yaml", mode: 0o600)
        try "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: kube-scheduler\n    command: [kube-scheduler, --config=\(config)]\n"
            .write(toFile: manifest, atomically: true, encoding: .utf8)
        var target = TargetConfig(name: "t", url: "https://127.0.0.1:10259")
        target.security.manifestFile = manifest
        var poll = try makePoll([:])
        let evidence = poll.observeNodeFiles(for: target)
        #expect(evidence.manifest?["config"] == config)
        #expect(poll.files[config]?.text != nil)
        #expect(FilePermissionsCheck.kubeconfigPath(target: target, evidence: evidence) == "\(directory)/from-config.conf")
        #expect(poll.files["\(directory)/from-config.conf"] != nil, "the kubeconfig the scheduler uses was stat'ed too")
        // Parsing again from the same poll needs no disk: the evidence is a function of the poll.
        #expect(SchedulerEvidence.gather(from: poll, target: target).manifest?.config?.kubeconfig == "\(directory)/from-config.conf")
    }
}
