import Foundation
import Testing
@testable import SchedulerSimulator

@Suite struct StatusTableTests {
    static let variantsWithTables = SimulatorVariant.allCases.filter { $0 != .defaultAfterLoad }

    @Test(arguments: variantsWithTables)
    func parsesEveryRowColumnAndBindProbe(variant: SimulatorVariant) throws {
        let text = String(decoding: try Captures.file(variant, "status-codes-table.txt"), as: UTF8.self)
        let table = try StatusCodeTable(parsing: text)
        let rowLines = text.split(separator: "\n").filter { $0.hasPrefix("/") }
        #expect(table.targets.count == rowLines.count)
        #expect(table.targets.count == 18)
        for target in table.targets {
            #expect(table.statuses[target]?.count == CredentialKind.allCases.count)
        }
        #expect(table.status(target: "/metrics", credential: .badToken) == 401)
        #expect(table.bindProbes.count == 2)
        let reachable = table.bindProbes.filter { $0.status == 200 }.map(\.host)
        #expect(reachable == [variant == .bind127002 ? "127.0.0.2" : "127.0.0.1"])
    }

    @Test func rejectsATableWithoutHeader() {
        #expect(throws: StatusCodeTable.ParseError.missingHeader) {
            try StatusCodeTable(parsing: "/healthz 200 401 200 200 200\n")
        }
    }

    @Test func extraFlagsBecomeSettings() throws {
        let flags = CapturedFlags(parsing: "--feature-gates=ComponentFlagz=true,ComponentStatusz=true\n")
        #expect(flags.featureGates == ["ComponentFlagz": true, "ComponentStatusz": true])
        #expect(CapturedFlags(parsing: "--profiling=false").profiling == false)
        #expect(CapturedFlags(parsing: "--bind-address=127.0.0.2").bindAddress == "127.0.0.2")
        #expect(
            CapturedFlags(parsing: "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics")
                .alwaysAllowPaths == ["/healthz", "/readyz", "/livez", "/metrics"])
        #expect(CapturedFlags(parsing: "\n") == CapturedFlags())
    }

    /// The generic authentication/authorization/routing rules, without the table, give every captured
    /// status: so paths the tables do not list and synthesized overrides follow the same logic.
    @Test(arguments: SimulatorVariant.allCases)
    func rulesReproduceEveryCapturedCell(variant: SimulatorVariant) throws {
        var configuration = SimulatorConfiguration(variant: variant)
        configuration.exporterTokens = ["exp"]
        configuration.nobodyTokens = ["nob"]
        let engine = try SimulatorEngine(configuration: configuration)
        #expect(engine.tableIsAuthoritative)
        let table = try Captures.table(variant)
        let credentials: [CredentialKind: (String?, Bool)] = [
            .anonymous: (nil, false), .badToken: ("Bearer bad", false), .nobodyToken: ("Bearer nob", false),
            .exporterToken: ("Bearer exp", false), .exporterCertificate: (nil, true),
        ]
        for target in table.targets {
            for (kind, credential) in credentials {
                let status = engine.ruleStatus(target: target, authorization: credential.0,
                                               hasClientCertificate: credential.1)
                #expect(status == table.status(target: target, credential: kind), "\(variant) \(target) \(kind)")
                #expect(engine.credentialKind(authorization: credential.0, hasClientCertificate: credential.1) == kind)
            }
        }
    }

    @Test func authorizationPrecedesRouting() throws {
        var configuration = SimulatorConfiguration()
        configuration.exporterTokens = ["exp"]
        let engine = try SimulatorEngine(configuration: configuration)
        // A path nobody serves: forbidden to the anonymous caller, not found for an allowed one.
        #expect(engine.ruleStatus(target: "/metrics/nonexistent", authorization: nil, hasClientCertificate: false) == 403)
        #expect(engine.ruleStatus(target: "/metrics/nonexistent", authorization: "Bearer exp", hasClientCertificate: false) == 404)
        // Health checks by name: leaderElection is a healthz check, ping a livez one.
        #expect(engine.ruleStatus(target: "/healthz/leaderElection", authorization: "Bearer exp", hasClientCertificate: false) == 200)
        #expect(engine.ruleStatus(target: "/livez/ping", authorization: "Bearer exp", hasClientCertificate: false) == 200)
        // Non-GET verbs are not in the exporter's role.
        #expect(engine.ruleStatus(method: "POST", target: "/metrics", authorization: "Bearer exp", hasClientCertificate: false) == 403)
        // Other Authorization schemes leave the caller anonymous.
        #expect(engine.ruleStatus(target: "/healthz", authorization: "Basic Zm9vOmJhcg==", hasClientCertificate: false) == 200)
        #expect(engine.ruleStatus(target: "/metrics", authorization: "Basic Zm9vOmJhcg==", hasClientCertificate: false) == 403)
    }

    @Test func overridesTurnTheTableOffAndTheRulesFollowThem() throws {
        var configuration = SimulatorConfiguration()
        configuration.exporterTokens = ["exp"]
        configuration.profiling = false
        configuration.featureGates = ["ComponentFlagz": true]
        configuration.alwaysAllowPaths = ["/healthz", "/readyz", "/livez", "/metrics"]
        let engine = try SimulatorEngine(configuration: configuration)
        #expect(!engine.tableIsAuthoritative)
        #expect(engine.ruleStatus(target: "/debug/pprof/", authorization: "Bearer exp", hasClientCertificate: false) == 404)
        #expect(engine.ruleStatus(target: "/flagz", authorization: "Bearer exp", hasClientCertificate: false) == 200)
        #expect(engine.ruleStatus(target: "/statusz", authorization: "Bearer exp", hasClientCertificate: false) == 404)
        #expect(engine.ruleStatus(target: "/metrics", authorization: nil, hasClientCertificate: false) == 200)
    }
}
