import Foundation

/// A test server script run as a child process: it binds an ephemeral port, prints it as its first
/// stdout line and exits by itself when its stdin closes, so a test process that dies takes its
/// servers with it. `stop()` (or deinit) ends it at once.
/// Unchecked: besides constants it holds the Process and a Pipe, which are only killed, waited for
/// and closed, and Foundation allows that from any thread.
public final class PortPrintingServer: @unchecked Sendable {
    public let port: Int
    private let process: Process
    private let stdinPipe: Pipe

    /// Starts `python3 script arguments...` off the cooperative pool (Python takes a while to start
    /// when hundreds of tests spawn at once) and waits for the port line.
    public static func startPython(script: String, arguments: [String]) async throws -> PortPrintingServer {
        try await offCooperativePool { try PortPrintingServer(command: ["/usr/bin/env", "python3", script] + arguments) }
    }

    private init(command: [String]) throws {
        let stdoutPipe: Pipe
        (process, stdinPipe, stdoutPipe) = try spawnLongLived {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: command[0])
            process.arguments = Array(command.dropFirst())
            let stdinPipe = Pipe()
            let stdoutPipe = Pipe()
            process.standardInput = stdinPipe
            process.standardOutput = stdoutPipe
            try process.run()
            return (process, stdinPipe, stdoutPipe)
        }
        // Up to the first newline only, never to end of file: the server keeps stdout open.
        var firstLine = Data()
        while !firstLine.contains(UInt8(ascii: "\n")) {
            let chunk = stdoutPipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            firstLine.append(chunk)
        }
        guard let port = Int(String(decoding: firstLine, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw SetupFailure(description: "server did not print its port: \(command.joined(separator: " "))")
        }
        self.port = port
    }

    public func stop() {
        try? stdinPipe.fileHandleForWriting.close()
        if process.isRunning {
            // SIGKILL: SIGTERM can be blocked in a child (it inherits the spawning thread's mask).
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}
