import Foundation

/// `Servers/hostile_server.py` as a real process on 127.0.0.1 or 127.0.0.2. Stopped by `stop()`;
/// the script also exits when our end of its stdin closes (this process died).
final class HostileServer: @unchecked Sendable {
    // @unchecked: every stored property is immutable after init; Process is only read or stopped.
    let host: String
    let port: Int
    let logFile: String
    private let process: Process
    private let stdinPipe: Pipe

    static let scriptPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Servers/hostile_server.py").path

    /// - Parameter tls: serving certificate and key; nil serves plain HTTP.
    init(mode: String, in dir: TempDirectory, bind: String = "127.0.0.1", tls: (cert: String, key: String)? = nil,
         arguments extra: [String] = []) throws {
        host = bind
        logFile = "\(dir.path)/hostile-\(mode)-\(UUID().uuidString).jsonl"
        var arguments = [Self.scriptPath, "--mode", mode, "--bind", bind, "--log", logFile] + extra
        if let tls { arguments += ["--cert", tls.cert, "--key", tls.key] }
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = arguments
        stdinPipe = Pipe()
        let stdoutPipe = Pipe()
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        try process.run()
        var firstLine = Data()
        while !firstLine.contains(UInt8(ascii: "\n")) {
            let chunk = stdoutPipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            firstLine.append(chunk)
        }
        guard let port = Int(String(decoding: firstLine, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.terminate()
            process.waitUntilExit()
            throw HarnessError("hostile server did not start: python3 \(arguments.joined(separator: " "))")
        }
        self.port = port
    }

    func url(scheme: String = "https") -> String { "\(scheme)://\(host):\(port)" }

    /// One record per request the server answered (or, in `hang` mode, per accepted connection).
    var requests: [[String: Any]] {
        guard let text = try? String(contentsOfFile: logFile, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// Closing stdin comes first: the spawning thread's blocked signals are inherited, so SIGTERM
    /// alone may never arrive, while end-of-input always ends the script.
    func stop() {
        try? stdinPipe.fileHandleForWriting.close()
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}
