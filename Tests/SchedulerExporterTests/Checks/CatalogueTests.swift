import Foundation
import Testing
@testable import SchedulerExporter

/// The catalogue is derived from `Checks.all`: a check declares the entries it judges, and
/// nothing else has to be kept in step with it but the README's table.
@Suite struct CatalogueTests {
    @Test func catalogueFollowsTheChecksInOrder() {
        #expect(SecurityChecks.catalogue.map(\.check) == [
            "profiling_disabled", "contention_profiling_disabled", "bind_address_loopback", "insecure_port_closed",
            "anonymous_access_denied", "authentication_enforced", "authorization_not_bypassed",
            "serving_certificate_valid", "tls_min_version",
            "manifest_permissions", "manifest_ownership", "kubeconfig_permissions", "kubeconfig_ownership",
            "no_alpha_feature_gates",
        ])
    }

    /// Each check returns a verdict for exactly the entries it declares, even with no evidence at all.
    @Test func everyCheckJudgesExactlyItsEntries() throws {
        let poll = try makePoll([:])
        for check in Checks.all {
            let findings = check.evaluate(poll, context: makeContext()).findings
            #expect(findings.map(\.check) == check.entries.map(\.check), "\(type(of: check))")
        }
    }

    @Test func theReadmeTableListsEveryCheck() throws {
        let readme = URL(fileURLWithPath: Capture.root).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("README.md").path
        let text = try #require(FileAccess.readText(readme))
        for entry in SecurityChecks.catalogue {
            #expect(text.contains("| `\(entry.check)` |"), "README's security table has a row for \(entry.check)")
        }
    }

    /// Planning requests reads no system state: the poll stage resolves the host's addresses.
    @Test func nonLoopbackAddressesAreResolvedByThePollStage() {
        var target = TargetConfig(name: "t", url: "https://127.0.0.1:10259")
        #expect(BindAddressCheck().requests(for: target).isEmpty, "unresolved: nothing to try")
        #expect(TargetPoller.plannedTarget(target).security.nonLoopbackAddresses != nil)
        target.security.nonLoopbackAddresses = ["127.0.0.2"]
        #expect(TargetPoller.plannedTarget(target).security.nonLoopbackAddresses == ["127.0.0.2"], "configured ones stay")
        #expect(BindAddressCheck().requests(for: target) == [BindAddressCheck.request(for: "127.0.0.2")])
    }
}
