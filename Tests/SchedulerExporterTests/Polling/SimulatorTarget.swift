import CurlHTTP
import Exposition
import Foundation
import Logging
import SchedulerSimulator
@testable import SchedulerExporter

/// An in-process scheduler simulator on 127.0.0.1 (ephemeral port) and a target config for it
/// with the exporter's token and the simulator's CA: real HTTPS, real handshakes, no stubs.
final class SimulatorTarget: Sendable {
    static let token = "exporter-token-unit-4c1e"

    let simulator: SchedulerSimulator
    let url: String
    let caFile: String
    /// The legacy plain-HTTP listener's port, when the configuration asked for one.
    let insecurePort: Int?
    let directory: String

    static func start(_ configure: (inout SimulatorConfiguration) -> Void = { _ in }) async throws -> SimulatorTarget {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kse-sim-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var configuration = SimulatorConfiguration()
        configuration.securePort = 0
        configuration.certificateDirectory = directory + "/certs"
        configuration.exporterTokens = [token]
        configure(&configuration)
        let simulator = SchedulerSimulator(configuration: configuration)
        let listeners = try await simulator.start()
        guard let secure = listeners.first(where: \.secure), let material = simulator.servingMaterial else {
            try? await simulator.stop()
            throw SimulatorTargetError("the simulator started without a secure listener")
        }
        try token.write(toFile: directory + "/token", atomically: true, encoding: .utf8)
        return SimulatorTarget(simulator: simulator, url: secure.url, caFile: material.caCertificatePath ?? material.certificatePath,
                               insecurePort: listeners.first { !$0.secure }?.port, directory: directory)
    }

    private init(simulator: SchedulerSimulator, url: String, caFile: String, insecurePort: Int?, directory: String) {
        self.simulator = simulator
        self.url = url
        self.caFile = caFile
        self.insecurePort = insecurePort
        self.directory = directory
    }

    /// A target with no insecure-port or non-loopback probes, so every request goes to the simulator.
    func target(name: String = "sim") -> TargetConfig {
        var target = TargetConfig(name: name, url: url)
        target.tls.caFile = caFile
        target.bearerTokenFile = directory + "/token"
        target.security.insecurePort = 0
        target.security.nonLoopbackAddresses = []
        target.security.manifestFile = directory + "/absent-manifest.yaml"
        // The node is the scratch directory: no file or process of the machine running the tests counts.
        target.security.hostRoot = directory
        return target
    }

    /// `target(name:)` as a managed control plane exposes it: only the metrics, on EKS's path.
    func metricsOnlyTarget(name: String = "eks") -> TargetConfig {
        var target = target(name: name)
        target.kind = .metricsOnly
        target.metricsPath = TargetConfig.eksSchedulerMetricsPath
        return target
    }

    func stop() async throws {
        try await simulator.stop()
    }

    /// Removes the scratch directory now and stops the simulator in the background (for `defer`).
    func cleanUp() {
        try? FileManager.default.removeItem(atPath: directory)
        let simulator = simulator
        Task { try? await simulator.stop() }
    }
}

struct SimulatorTargetError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension TargetSnapshot {
    func family(_ name: String) -> OutputFamily? { families.first { $0.name == name } }

    /// The status (pass, fail, unknown) whose state-set series is 1 for `check`.
    func status(_ check: String) -> String? {
        family("kube_scheduler_security_check")?.samples.first { sample in
            sample.value == 1 && sample.labels.contains { $0.0 == "check" && $0.1 == check }
        }?.labels.first { $0.0 == "status" }?.1
    }

    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        family(name)?.samples.first { sample in
            labels.allSatisfy { key, value in sample.labels.contains { $0.0 == key && $0.1 == value } }
        }?.value
    }
}

/// A poller for `target` that publishes into a store of its own.
func makePoller(_ target: TargetConfig, client: CurlClient) -> TargetPoller {
    TargetPoller(target: target, client: client, store: SnapshotStore(targetOrder: [target.name]), logger: Logger(label: "test"))
}
