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
        let poll = try makePoll([:])
        let context = makeContext(target)
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
        let evidence = SchedulerEvidence(configz: Configz(kubeconfig: "/srv/sched.conf"))
        #expect(FilePermissionsCheck.kubeconfigPath(makeContext(evidence: evidence)) == "/srv/sched.conf")
        #expect(FilePermissionsCheck.kubeconfigPath(makeContext()) == "/etc/kubernetes/scheduler.conf")
    }
}
