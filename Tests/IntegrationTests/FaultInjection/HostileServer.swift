import Foundation
import TestSupport

/// `Servers/hostile_server.py` as a real process on 127.0.0.1 or 127.0.0.2, with the log it
/// writes of what it answered. Killed by `stop()` or when the last reference goes.
final class HostileServer: Sendable {
    let host: String
    let logFile: String
    private let server: PortPrintingServer
    var port: Int { server.port }

    static let scriptPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Servers/hostile_server.py").path

    /// - Parameter tls: serving certificate and key; nil serves plain HTTP.
    static func start(mode: String, in dir: TempDirectory, bind: String = "127.0.0.1", tls: (cert: String, key: String)? = nil,
                      arguments extra: [String] = []) async throws -> HostileServer {
        let logFile = "\(dir.path)/hostile-\(mode)-\(UUID().uuidString).jsonl"
        var arguments = ["--mode", mode, "--bind", bind, "--log", logFile] + extra
        if let tls { arguments += ["--cert", tls.cert, "--key", tls.key] }
        let server = try await PortPrintingServer.startPython(script: scriptPath, arguments: arguments)
        return HostileServer(server: server, host: bind, logFile: logFile)
    }

    private init(server: PortPrintingServer, host: String, logFile: String) {
        self.server = server
        self.host = host
        self.logFile = logFile
    }

    func url(scheme: String = "https") -> String { "\(scheme)://\(host):\(port)" }

    /// One record per request the server answered (or, in `hang` mode, per accepted connection).
    var requests: [[String: Any]] {
        guard let text = try? String(contentsOfFile: logFile, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    func stop() { server.stop() }
}
