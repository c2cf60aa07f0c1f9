import CurlHTTP
import Foundation
import Testing
import TestSupport

enum TestSupportError: Error, CustomStringConvertible {
    case commandFailed(String)

    var description: String {
        switch self {
        case .commandFailed(let text): "command failed: \(text)"
        }
    }
}

/// A scratch directory removed when the value goes away.
final class TemporaryDirectory: Sendable {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("curlhttp-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }

    func file(_ name: String) -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

@discardableResult
func run(_ arguments: [String], in directory: String) async throws -> String {
    let result = try await runProcess("/usr/bin/env", arguments, directory: directory, mergeStderr: true)
    guard result.status == 0 else {
        throw TestSupportError.commandFailed("\(arguments.joined(separator: " ")): \(result.stdoutText)")
    }
    return result.stdoutText
}

/// A throw-away PKI made with the openssl CLI: a CA, an unrelated CA, a server certificate for
/// 127.0.0.1 / localhost / kube-scheduler.test, an expired one with the same names, a client cert.
final class TestPKI: Sendable {
    let directory: TemporaryDirectory
    var caFile: String { directory.file("ca.pem") }
    var otherCAFile: String { directory.file("other-ca.pem") }
    var serverCert: String { directory.file("server.pem") }
    var serverKey: String { directory.file("server.key") }
    var expiredCert: String { directory.file("expired.pem") }
    var expiredKey: String { directory.file("expired.key") }
    var clientCert: String { directory.file("client.pem") }
    var clientKey: String { directory.file("client.key") }

    static func make() async throws -> TestPKI {
        let pki = try TestPKI()
        try await pki.makeCertificates()
        return pki
    }

    private init() throws {
        directory = try TemporaryDirectory()
        try """
            [req]
            distinguished_name = dn
            [dn]
            [v3_ca]
            basicConstraints = critical,CA:TRUE
            keyUsage = critical,keyCertSign,cRLSign
            subjectKeyIdentifier = hash
            """.write(toFile: directory.file("ca.cnf"), atomically: true, encoding: .utf8)
        try """
            basicConstraints = CA:FALSE
            keyUsage = critical,digitalSignature
            extendedKeyUsage = serverAuth
            subjectAltName = IP:127.0.0.1,DNS:localhost,DNS:kube-scheduler.test
            """.write(toFile: directory.file("server.ext"), atomically: true, encoding: .utf8)
        try """
            basicConstraints = CA:FALSE
            keyUsage = critical,digitalSignature
            extendedKeyUsage = clientAuth
            """.write(toFile: directory.file("client.ext"), atomically: true, encoding: .utf8)
    }

    private func makeCertificates() async throws {
        let dir = directory.path
        for (name, subject) in [("ca", "/CN=CurlHTTP Test CA"), ("other-ca", "/CN=Unrelated Test CA")] {
            try await run([
                "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", "\(name).key", "-out", "\(name).pem", "-days", "3", "-subj", subject,
                "-config", "ca.cnf", "-extensions", "v3_ca",
            ], in: dir)
        }
        let leaves = [
            ("server", "/CN=kube-scheduler", "server.ext", "2"),
            ("expired", "/CN=kube-scheduler-expired", "server.ext", "-1"),
            ("client", "/CN=exporter", "client.ext", "2"),
        ]
        for (name, subject, extensions, days) in leaves {
            try await run([
                "openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", "\(name).key", "-out", "\(name).csr", "-subj", subject,
            ], in: dir)
            try await run([
                "openssl", "x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-set_serial", "\(Int.random(in: 1000...1_000_000))", "-days", days, "-extfile", extensions,
                "-out", "\(name).pem",
            ], in: dir)
        }
    }

    /// notBefore / notAfter of a certificate as unix seconds, read by openssl itself (ISO 8601).
    func validity(of certificate: String) async throws -> (notBefore: Double, notAfter: Double) {
        let text = try await run(
            ["openssl", "x509", "-in", certificate, "-noout", "-startdate", "-enddate", "-dateopt", "iso_8601"],
            in: directory.path)
        var values: [String: Double] = [:]
        let parser = ISO8601DateFormatter()
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let iso = parts[1].replacingOccurrences(of: " ", with: "T")
            if let date = parser.date(from: iso) { values[String(parts[0])] = date.timeIntervalSince1970 }
        }
        guard let notBefore = values["notBefore"], let notAfter = values["notAfter"] else {
            throw TestSupportError.commandFailed("cannot read dates: \(text)")
        }
        return (notBefore, notAfter)
    }
}

/// A Python server from Tests/CurlHTTPTests/Servers (test_server.py, reset_proxy.py) as a real
/// process, with the log it writes of what it saw. Killed by `stop()` or when the last reference goes.
final class TestServer: Sendable {
    let host: String
    let logFile: String
    private let server: PortPrintingServer
    var port: Int { server.port }

    static func script(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Servers/\(name)").path
    }

    static func start(
        in directory: TemporaryDirectory, bind: String = "127.0.0.1", cert: String? = nil, key: String? = nil,
        clientCA: String? = nil, tls12Only: Bool = false, acceptTLS10: Bool = false, name: String = "server"
    ) async throws -> TestServer {
        let logFile = directory.file("\(name)-\(UUID().uuidString).log")
        var arguments = ["--bind", bind, "--log", logFile, "--max-lifetime", "600"]
        if let cert, let key { arguments += ["--cert", cert, "--key", key] }
        if let clientCA { arguments += ["--client-ca", clientCA] }
        if tls12Only { arguments.append("--tls12-only") }
        if acceptTLS10 { arguments.append("--accept-tls10") }
        let server = try await PortPrintingServer.startPython(script: script("test_server.py"), arguments: arguments)
        return TestServer(server: server, host: bind, logFile: logFile)
    }

    /// reset_proxy.py in front of 127.0.0.1:`upstreamPort`: resets a kept-alive connection reused
    /// after an idle pause.
    static func startResetProxy(in directory: TemporaryDirectory, upstreamPort: Int) async throws -> TestServer {
        let logFile = directory.file("reset-proxy-\(UUID().uuidString).log")
        let arguments = ["--upstream", String(upstreamPort), "--log", logFile, "--max-lifetime", "600"]
        let server = try await PortPrintingServer.startPython(script: script("reset_proxy.py"), arguments: arguments)
        return TestServer(server: server, host: "127.0.0.1", logFile: logFile)
    }

    private init(server: PortPrintingServer, host: String, logFile: String) {
        self.server = server
        self.host = host
        self.logFile = logFile
    }

    func url(_ path: String, scheme: String = "https") -> String { "\(scheme)://\(host):\(port)\(path)" }

    func stop() { server.stop() }

    var logLines: [String] {
        guard let text = try? String(contentsOfFile: logFile, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map(String.init)
    }

    /// Waits (bounded) for the server to log a matching line; the bound is a safety net, not an
    /// assertion, so it is generous: CI machines can be several times slower than this one.
    func waitForLog(_ matches: (String) -> Bool) async -> String? {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let line = logLines.first(where: matches) { return line }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return logLines.first(where: matches)
    }
}

/// Runs a request that must fail and returns its error.
func expectFailure(
    _ client: CurlClient, _ request: HTTPRequest, sourceLocation: SourceLocation = #_sourceLocation
) async -> HTTPClientError? {
    do {
        let response = try await client.perform(request)
        Issue.record("expected an error, got HTTP \(response.status)", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

/// A port on 127.0.0.1 where a TCP connect hangs: a listener with backlog 0 whose single queue
/// slot is taken by a connection nobody accepts, so the kernel drops further SYNs.
final class BlackholePort {
    let port: Int
    private let listener: Int32
    private let filler: Int32

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ready = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 0) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        let filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.filler = filler
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(filler, $0, length) == 0 }
        }
        guard ready, connected else { throw TestSupportError.commandFailed("cannot set up a blackhole port") }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit {
        close(filler)
        close(listener)
    }
}
