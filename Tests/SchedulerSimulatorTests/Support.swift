import Foundation
import Testing
import TestSupport
@testable import SchedulerSimulator

/// The captured files, read from the source tree so tests compare against the files themselves rather than
/// against whatever the simulator loaded.
enum Captures {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/SchedulerSimulator/Fixtures/kube-scheduler-1.35")

    static func data(_ variant: SimulatorVariant, _ file: String) -> Data? {
        FileManager.default.contents(atPath: root.appendingPathComponent("\(variant.rawValue)/\(file)").path)
    }

    /// A capture file, falling back to default/ for default-after-load (which captured only /metrics).
    static func file(_ variant: SimulatorVariant, _ file: String) throws -> Data {
        if let data = data(variant, file) { return data }
        if variant == .defaultAfterLoad, let data = data(.default, file) { return data }
        throw TestFailure("capture \(variant.rawValue)/\(file) missing")
    }

    static func table(_ variant: SimulatorVariant) throws -> StatusCodeTable {
        try StatusCodeTable(parsing: String(decoding: try file(variant, "status-codes-table.txt"), as: UTF8.self))
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A scratch directory removed when the test ends.
final class ScratchDirectory: Sendable {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("simulator-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    deinit { remove() }
}

/// A caller as the captures' credential columns name them, with what curl needs to act as it.
struct Caller: Sendable {
    var kind: CredentialKind
    var curlArguments: [String]
}

/// Drives the real curl CLI (real libcurl, OpenSSL, nghttp2).
struct Curl: Sendable {
    struct Transfer: Sendable {
        var status: Int
        var httpVersion: String
        var body: Data
        var headers: [String: String]
    }

    var caFile: String
    var scratch: ScratchDirectory

    /// Fetches `urls` in one curl run (one connection where possible); status 0 = no response.
    func fetch(_ urls: [String], arguments: [String] = []) async throws -> [Transfer] {
        var command = ["-sS", "--max-time", "20", "--cacert", caFile] + arguments
        var bodies: [String] = []
        var headerFiles: [String] = []
        for (index, url) in urls.enumerated() {
            let id = UUID().uuidString
            bodies.append(scratch.file("body-\(id)-\(index)"))
            headerFiles.append(scratch.file("headers-\(id)-\(index)"))
            command += ["-o", bodies[index], "-D", headerFiles[index], "-w", "%{http_code} %{http_version}\\n", url]
        }
        let result = try await runProcess("/usr/bin/curl", command)
        let lines = result.stdoutText.split(separator: "\n")
        return urls.indices.map { index in
            let fields = index < lines.count ? lines[index].split(separator: " ") : []
            let body = FileManager.default.contents(atPath: bodies[index]) ?? Data()
            let headerText = FileManager.default.contents(atPath: headerFiles[index]).map {
                String(decoding: $0, as: UTF8.self)
            } ?? ""
            var headers: [String: String] = [:]
            for line in headerText.split(whereSeparator: \.isNewline) {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...]
                    .trimmingCharacters(in: .whitespaces)
            }
            try? FileManager.default.removeItem(atPath: bodies[index])
            try? FileManager.default.removeItem(atPath: headerFiles[index])
            return Transfer(
                status: fields.first.flatMap { Int($0) } ?? 0,
                httpVersion: fields.count > 1 ? String(fields[1]) : "",
                body: body, headers: headers)
        }
    }

    func fetch(_ url: String, arguments: [String] = []) async throws -> Transfer {
        try await fetch([url], arguments: arguments)[0]
    }

    /// The curl exit code alone (e.g. 7 = connection refused, 60 = certificate verify failed).
    func exitStatus(_ url: String, arguments: [String] = []) async throws -> Int32 {
        try await runProcess(
            "/usr/bin/curl", ["-sS", "--max-time", "20", "--cacert", caFile, "-o", "/dev/null"] + arguments + [url]
        ).status
    }
}

/// A started in-process simulator on ephemeral ports with tokens and TLS material in a scratch directory.
final class RunningSimulator: Sendable {
    static let exporterToken = "exporter-token-7f3a9c"
    static let nobodyToken = "nobody-token-1b2d4e"
    static let badToken = "never-issued-token-0000"

    let simulator: SchedulerSimulator
    let listeners: [SimulatorListener]
    let material: ServingMaterial
    let scratch: ScratchDirectory
    let curl: Curl

    var secure: SimulatorListener { listeners.first { $0.secure }! }
    var baseURL: String { secure.url }

    static func start(_ configure: (inout SimulatorConfiguration) -> Void = { _ in }) async throws -> RunningSimulator {
        let scratch = try ScratchDirectory()
        var configuration = SimulatorConfiguration()
        configuration.securePort = 0
        configuration.certificateDirectory = scratch.file("certs")
        configuration.exporterTokens = [exporterToken]
        configuration.nobodyTokens = [nobodyToken]
        configure(&configuration)
        let simulator = SchedulerSimulator(configuration: configuration)
        let listeners = try await simulator.start()
        let material = try #require(simulator.servingMaterial)
        return RunningSimulator(simulator: simulator, listeners: listeners, material: material, scratch: scratch)
    }

    private init(simulator: SchedulerSimulator, listeners: [SimulatorListener], material: ServingMaterial,
                 scratch: ScratchDirectory) {
        self.simulator = simulator
        self.listeners = listeners
        self.material = material
        self.scratch = scratch
        self.curl = Curl(caFile: material.caCertificatePath ?? material.certificatePath, scratch: scratch)
    }

    /// Stops the simulator and removes its scratch directory before returning (a deinit may come too late:
    /// the test process can exit first).
    func stop() async throws {
        try await simulator.stop()
        scratch.remove()
    }

    /// For `defer`: removes the scratch directory now and stops the simulator in the background, so a test
    /// that throws leaves nothing behind on disk.
    func cleanUp() {
        scratch.remove()
        let simulator = simulator
        Task { try? await simulator.stop() }
    }

    func caller(_ kind: CredentialKind) -> Caller {
        switch kind {
        case .anonymous: return Caller(kind: kind, curlArguments: [])
        case .badToken: return Caller(kind: kind, curlArguments: ["-H", "Authorization: Bearer \(Self.badToken)"])
        case .nobodyToken: return Caller(kind: kind, curlArguments: ["-H", "Authorization: Bearer \(Self.nobodyToken)"])
        case .exporterToken:
            return Caller(kind: kind, curlArguments: ["-H", "Authorization: Bearer \(Self.exporterToken)"])
        case .exporterCertificate:
            return Caller(kind: kind, curlArguments: [
                "--cert", material.exporterClientCertificatePath!, "--key", material.exporterClientKeyPath!,
            ])
        }
    }
}
