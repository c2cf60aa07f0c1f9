import Foundation
import Subprocess
import SystemPackage

public enum CertificateToolError: Error, CustomStringConvertible {
    case opensslFailed(arguments: [String], status: String, stderr: String)

    public var description: String {
        switch self {
        case .opensslFailed(let arguments, let status, let stderr):
            return "openssl \(arguments.first ?? "") failed (\(status)): \(stderr)"
        }
    }
}

/// Makes certificates with the `openssl` CLI, so the simulator and its tests use real, independently made
/// X.509 material (a CA, serving and client leaves) with chosen validity windows, expired ones included.
public struct OpenSSLCertificateTool: Sendable {
    public enum Usage: Sendable { case server, client }

    public var opensslPath: String

    public init(opensslPath: String = "/usr/bin/openssl") {
        self.opensslPath = opensslPath
    }

    /// A self-signed CA (EC P-256), valid for `validDays` from now.
    public func makeCertificateAuthority(
        certificatePath: String, keyPath: String, commonName: String, validDays: Int = 3650
    ) async throws {
        try await withWorkspace { workspace in
            let config = try writeConfig(in: workspace, usage: .server, subjectAltNames: [])
            try await run([
                "req", "-x509", "-new", "-config", config, "-extensions", "ca_ext", "-newkey", "ec",
                "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", keyPath, "-out", certificatePath,
                "-days", String(validDays), "-subj", "/CN=\(commonName)",
            ])
        }
    }

    /// A leaf signed by the CA with exactly the given validity window (which may lie in the past).
    /// `subjectAltNames` use OpenSSL syntax: `IP:127.0.0.1`, `DNS:localhost`.
    public func issueCertificate(
        caCertificatePath: String, caKeyPath: String, certificatePath: String, keyPath: String,
        commonName: String, subjectAltNames: [String], usage: Usage, notBefore: Date, notAfter: Date
    ) async throws {
        try await withWorkspace { workspace in
            let config = try writeConfig(in: workspace, usage: usage, subjectAltNames: subjectAltNames)
            let csr = workspace + "/leaf.csr"
            try await run([
                "req", "-new", "-config", config, "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", keyPath, "-out", csr, "-subj", "/CN=\(commonName)",
            ])
            try await run([
                "ca", "-batch", "-config", config, "-name", "sim_ca", "-in", csr, "-out", certificatePath,
                "-cert", caCertificatePath, "-keyfile", caKeyPath, "-startdate", Self.generalizedTime(notBefore),
                "-enddate", Self.generalizedTime(notAfter), "-extensions", "leaf_ext", "-notext",
            ])
        }
    }

    static func generalizedTime(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d%02d%02d%02d%02d%02dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }

    private func withWorkspace<T>(_ body: (String) async throws -> T) async throws -> T {
        let workspace = FileManager.default.temporaryDirectory
            .appendingPathComponent("scheduler-simulator-openssl-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: workspace) }
        return try await body(workspace)
    }

    private func writeConfig(in workspace: String, usage: Usage, subjectAltNames: [String]) throws -> String {
        try Data().write(to: URL(fileURLWithPath: workspace + "/index.txt"))
        let serial = (0..<15).map { _ in String(UInt8.random(in: 0...15), radix: 16) }.joined()
        try Data(("1" + serial + "\n").utf8).write(to: URL(fileURLWithPath: workspace + "/serial"))
        var leafExtensions = """
            basicConstraints = critical,CA:FALSE
            keyUsage = critical,digitalSignature,keyEncipherment
            extendedKeyUsage = \(usage == .server ? "serverAuth" : "clientAuth")
            subjectKeyIdentifier = hash
            authorityKeyIdentifier = keyid
            """
        if !subjectAltNames.isEmpty {
            leafExtensions += "\nsubjectAltName = \(subjectAltNames.joined(separator: ","))"
        }
        let config = """
            [ req ]
            distinguished_name = dn
            prompt = no
            [ dn ]
            CN = placeholder
            [ ca_ext ]
            basicConstraints = critical,CA:TRUE
            keyUsage = critical,keyCertSign,cRLSign,digitalSignature
            subjectKeyIdentifier = hash
            [ sim_ca ]
            database = \(workspace)/index.txt
            new_certs_dir = \(workspace)
            serial = \(workspace)/serial
            default_md = sha256
            policy = policy_any
            unique_subject = no
            email_in_dn = no
            copy_extensions = none
            [ policy_any ]
            commonName = supplied
            [ leaf_ext ]
            \(leafExtensions)

            """
        let path = workspace + "/openssl.cnf"
        try Data(config.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Through swift-subprocess, not Foundation's Process: Process lists a child's inherited
    /// descriptors before it spawns, so descriptors another thread opens meanwhile (including the
    /// socket Process watches to learn that a child exited) leak into that other child. Waiting for
    /// openssl then waited for an unrelated long-lived child (a test server, up to its 600 s
    /// lifetime), and with every thread of the test pool waiting so, two CI runs stalled. Subprocess
    /// opens its descriptors close-on-exec, closes the rest in the child and waits on a pidfd.
    private func run(_ arguments: [String]) async throws {
        let result = try await Subprocess.run(
            .path(FilePath(opensslPath)), arguments: Arguments(arguments), output: .discarded, error: .string(limit: 64 * 1024))
        guard case .exited(0) = result.terminationStatus else {
            throw CertificateToolError.opensslFailed(
                arguments: arguments, status: result.terminationStatus.description, stderr: result.standardError)
        }
    }
}

/// The files the secure listener serves with and trusts for client certificates.
public struct ServingMaterial: Sendable, Equatable {
    public var certificatePath: String
    public var keyPath: String
    /// The CA that signed the serving certificate, when the simulator made it (`<cert-dir>/ca.crt`).
    public var caCertificatePath: String?
    /// Client certificates signed by this CA authenticate as the exporter.
    public var clientCACertificatePath: String
    /// A ready exporter client certificate, when the simulator made the client CA.
    public var exporterClientCertificatePath: String?
    public var exporterClientKeyPath: String?
    /// The temporary directory made because no cert dir was configured; removed on stop.
    var temporaryDirectory: String?

    static let servingSubjectAltNames = ["IP:127.0.0.1", "IP:127.0.0.2", "DNS:localhost", "DNS:kube-scheduler"]

    /// Generates into (or reuses from) the configured cert dir: `ca.crt`/`ca.key`, `serving.crt`/`serving.key`
    /// and, unless a client CA file is given, `client-ca.crt`/`client-ca.key` and
    /// `exporter-client.crt`/`exporter-client.key`. The serving pair is remade when its validity knobs change.
    static func prepare(_ configuration: SimulatorConfiguration) async throws -> ServingMaterial {
        let tool = OpenSSLCertificateTool()
        let directory = configuration.certificateDirectory
            ?? FileManager.default.temporaryDirectory.appendingPathComponent(
                "scheduler-simulator-\(UUID().uuidString)"
            ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let fileManager = FileManager.default
        func path(_ name: String) -> String { directory + "/" + name }

        var material = ServingMaterial(
            certificatePath: path("serving.crt"), keyPath: path("serving.key"), caCertificatePath: path("ca.crt"),
            clientCACertificatePath: path("client-ca.crt"))
        if configuration.certificateDirectory == nil { material.temporaryDirectory = directory }

        if let certificate = configuration.tlsCertificateFile, let key = configuration.tlsPrivateKeyFile {
            material.certificatePath = certificate
            material.keyPath = key
            material.caCertificatePath = nil
        } else {
            if !fileManager.fileExists(atPath: path("ca.crt")) || !fileManager.fileExists(atPath: path("ca.key")) {
                try await tool.makeCertificateAuthority(
                    certificatePath: path("ca.crt"), keyPath: path("ca.key"),
                    commonName: "kube-scheduler-simulator-ca")
            }
            let now = Date()
            let window: (Date, Date, String)
            if configuration.certificateExpired {
                window = (now.addingTimeInterval(-30 * 86400), now.addingTimeInterval(-86400), "expired")
            } else {
                let days = configuration.certificateValidDays ?? 365
                window = (now.addingTimeInterval(-3600), now.addingTimeInterval(Double(days) * 86400), "days=\(days)")
            }
            let paramsPath = path("serving.params")
            let previous = fileManager.contents(atPath: paramsPath).map { String(decoding: $0, as: UTF8.self) }
            if previous != window.2 || !fileManager.fileExists(atPath: path("serving.crt"))
                || !fileManager.fileExists(atPath: path("serving.key"))
            {
                try await tool.issueCertificate(
                    caCertificatePath: path("ca.crt"), caKeyPath: path("ca.key"),
                    certificatePath: path("serving.crt"), keyPath: path("serving.key"), commonName: "kube-scheduler",
                    subjectAltNames: servingSubjectAltNames, usage: .server, notBefore: window.0, notAfter: window.1)
                try Data(window.2.utf8).write(to: URL(fileURLWithPath: paramsPath))
            }
        }

        if let clientCA = configuration.clientCAFile {
            material.clientCACertificatePath = clientCA
        } else {
            if !fileManager.fileExists(atPath: path("client-ca.crt")) || !fileManager.fileExists(atPath: path("client-ca.key")) {
                try await tool.makeCertificateAuthority(
                    certificatePath: path("client-ca.crt"), keyPath: path("client-ca.key"),
                    commonName: "kube-scheduler-simulator-client-ca")
            }
            if !fileManager.fileExists(atPath: path("exporter-client.crt")) {
                let now = Date()
                try await tool.issueCertificate(
                    caCertificatePath: path("client-ca.crt"), caKeyPath: path("client-ca.key"),
                    certificatePath: path("exporter-client.crt"), keyPath: path("exporter-client.key"),
                    commonName: "exporter", subjectAltNames: [], usage: .client,
                    notBefore: now.addingTimeInterval(-3600), notAfter: now.addingTimeInterval(365 * 86400))
            }
            material.exporterClientCertificatePath = path("exporter-client.crt")
            material.exporterClientKeyPath = path("exporter-client.key")
        }
        return material
    }
}
