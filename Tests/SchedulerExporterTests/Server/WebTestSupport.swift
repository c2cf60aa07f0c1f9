import Foundation
import TestSupport
import SchedulerSimulator
import Logging
import NIOCore
@testable import SchedulerExporter

/// A scratch directory removed when the value goes away.
final class ScratchDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("kse-web-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        try text.write(toFile: file(name), atomically: true, encoding: .utf8)
        return file(name)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

struct CommandFailure: Error, CustomStringConvertible {
    let description: String
}

/// A throw-away PKI: a CA with a server certificate for 127.0.0.1 and a client certificate, and
/// an unrelated CA with its own server and client certificates. Made by the simulator's
/// openssl-based certificate tool, as every test PKI here is.
final class WebPKI {
    let directory: ScratchDirectory

    init() async throws {
        directory = try ScratchDirectory()
        let tool = OpenSSLCertificateTool()
        for (name, commonName) in [("ca", "Web Test CA"), ("other-ca", "Unrelated CA")] {
            try await tool.makeCertificateAuthority(certificatePath: directory.file("\(name).crt"), keyPath: directory.file("\(name).key"),
                                              commonName: commonName, validDays: 2)
        }
        let now = Date()
        let leaves: [(String, String, OpenSSLCertificateTool.Usage)] = [
            ("server", "ca", .server), ("client", "ca", .client), ("other-server", "other-ca", .server), ("rogue-client", "other-ca", .client),
        ]
        for (name, ca, usage) in leaves {
            try await tool.issueCertificate(caCertificatePath: directory.file("\(ca).crt"), caKeyPath: directory.file("\(ca).key"),
                                      certificatePath: directory.file("\(name).crt"), keyPath: directory.file("\(name).key"),
                                      commonName: name, subjectAltNames: usage == .server ? ["IP:127.0.0.1", "DNS:localhost"] : [],
                                      usage: usage, notBefore: now - 3_600, notAfter: now + 2 * 86_400)
        }
    }

    func file(_ name: String) -> String { directory.file(name) }
}

/// A bcrypt hash made by Python's crypt module (the system libcrypt, not the code under test).
func pythonBcrypt(_ password: String, cost: Int = 4) async throws -> String {
    let script = "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=\(1 << cost))))"
    let result = try await runCommand("/usr/bin/python3", ["-W", "ignore", "-c", script, password])
    let hash = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    guard result.status == 0, hash.hasPrefix("$2") else { throw CommandFailure(description: "python3 crypt: \(result.output)") }
    return hash
}

/// What curl saw: the HTTP status (0 when no response), its headers, body and exit code.
struct CurlResult {
    var exitCode: Int32
    var status: Int
    var headers: [String: String]
    var body: String
    var output: String
}

/// The curl CLI against 127.0.0.1, headers dumped to a file so they can be checked.
func curl(_ url: String, _ options: [String] = [], in directory: ScratchDirectory) async throws -> CurlResult {
    let headerFile = directory.file("headers-\(UUID().uuidString)")
    let bodyFile = directory.file("body-\(UUID().uuidString)")
    let result = try await runCommand("/usr/bin/curl", ["-sS", "--max-time", "10", "-D", headerFile, "-o", bodyFile,
                                               "-w", "\nHTTP_CODE=%{http_code}\n"] + options + [url])
    var headers: [String: String] = [:]
    if let text = try? String(contentsOfFile: headerFile, encoding: .utf8) {
        for line in text.split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
    }
    let status = result.output.split(separator: "\n").first { $0.hasPrefix("HTTP_CODE=") }.flatMap { Int($0.dropFirst(10)) } ?? 0
    let body = (try? String(contentsOfFile: bodyFile, encoding: .utf8)) ?? ""
    return CurlResult(exitCode: result.status, status: status, headers: headers, body: body, output: result.output)
}

/// An in-process HTTPServer guarded by a web config file, answering "hello" on every path.
final class GuardedServer: Sendable {
    let server: HTTPServer
    let channel: Channel
    let web: WebSecurity
    let rejections = RequestRejections()
    let port: Int

    init(webConfig path: String) async throws {
        web = try WebSecurity(path: path)
        server = HTTPServer(router: { _ in .response(ServerResponse(text: "hello\n")) }, web: web,
                            rejections: rejections, logger: Logger(label: "test"))
        channel = try await server.start(host: "127.0.0.1", port: 0)
        port = channel.localAddress!.port!
    }

    var httpURL: String { "http://127.0.0.1:\(port)/metrics" }
    var httpsURL: String { "https://127.0.0.1:\(port)/metrics" }

    func stop() async {
        try? await channel.close()
        try? await server.shutdown()
    }
}
