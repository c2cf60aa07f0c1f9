import CurlHTTP
import Foundation
import TestSupport
import Testing

/// Real processes for the integration tests: the built `scheduler-simulator` and
/// `kube-scheduler-exporter` executables, talking real HTTPS/HTTP on 127.0.0.1/127.0.0.2 only.
enum Binaries {
    /// The build's bin directory (where the test bundle itself lives), or $KSE_BIN_DIR.
    static let directory: String = {
        if let dir = ProcessInfo.processInfo.environment["KSE_BIN_DIR"] { return dir }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
    }()

    static func path(_ name: String) throws -> String {
        let path = "\(directory)/\(name)"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw HarnessError("\(path) is missing: build all products first (swift build --build-tests)")
        }
        return path
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A child process whose stdout and stderr are collected; killed when the test is done.
final class ChildProcess: @unchecked Sendable {
    // @unchecked: output is appended by the reader thread and read under `lock`.
    let process: Process
    private let lock = NSLock()
    private var output = ""

    init(_ executable: String, _ arguments: [String]) throws {
        let pipe: Pipe
        (process, pipe) = try spawnLongLived {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            return (process, pipe)
        }
        // Blocking reads on a thread of its own until end of file, not `readabilityHandler`: on
        // Linux, tearing down the dispatch read source behind it can crash libdispatch's event loop
        // (swift-corelibs-libdispatch#949), which took down a whole test run here once.
        let output = pipe.fileHandleForReading
        Thread { [weak self] in
            while true {
                let data = output.availableData
                guard !data.isEmpty, let self else { return }
                self.lock.withLock { self.output += String(decoding: data, as: UTF8.self) }
            }
        }.start()
    }

    var text: String { lock.withLock { output } }

    /// Waits until the output contains a match of `pattern` and returns its first capture group.
    func await(_ pattern: String, timeout: Double = 120) async throws -> String {
        let regex = try NSRegularExpression(pattern: pattern)
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            // Check once more after the deadline: a busy test pool may wake this task late.
            let expired = Date() >= deadline
            let current = text
            if let match = regex.firstMatch(in: current, range: NSRange(current.startIndex..., in: current)) {
                let range = match.numberOfRanges > 1 ? match.range(at: 1) : match.range
                return String(current[Range(range, in: current)!])
            }
            if !process.isRunning { throw HarnessError("process exited (\(process.terminationStatus)) before printing /\(pattern)/:\n\(current)") }
            if expired { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw HarnessError("timed out waiting for /\(pattern)/ in:\n\(text)")
    }

    /// SIGTERM (graceful shutdown is part of what is tested), then SIGKILL after 5 s: a child
    /// spawned from Swift concurrency may inherit a blocked SIGTERM.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        for _ in 0..<100 where process.isRunning { usleep(50_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}

/// A temp directory removed at the end.
struct TempDirectory {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "kse-it-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func write(_ name: String, _ text: String, mode: Int = 0o600) throws -> String {
        let file = "\(path)/\(name)"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: file)
        return file
    }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A running simulator plus the files an exporter needs to talk to it.
struct Simulator {
    let child: ChildProcess
    let url: String
    let caFile: String
    let tokenFile: String
    let requestLog: String
    /// The simulator's port held (bound, not listening) on the other loopback address, so that what
    /// a test expects refused there (the non-loopback bind probe) is not answered by another
    /// test's listener that happened to get the same port number.
    let portOnTheOtherAddress: RefusingPort

    static func start(in dir: TempDirectory, variant: String = "default", extra: [String] = [], bindAddress: String = "127.0.0.1") async throws -> Simulator {
        let token = "exporter-\(UUID().uuidString)"
        let tokenFile = try dir.write("token-\(variant)", token)
        let log = "\(dir.path)/requests-\(UUID().uuidString).jsonl"
        var attempt = 1
        while true {
            // The port is free on the other address; on this one another listener may hold it.
            let reserved = try RefusingPort(host: bindAddress == "127.0.0.1" ? "127.0.0.2" : "127.0.0.1")
            let child = try ChildProcess(try Binaries.path("scheduler-simulator"), [
                "--variant", variant, "--secure-port", String(reserved.port), "--bind-address", bindAddress,
                "--cert-dir", "\(dir.path)/pki", "--token-file", tokenFile, "--request-log", log,
            ] + extra)
            do {
                let url = try await child.await("listening on (https://[0-9.]+:[0-9]+)")
                return Simulator(child: child, url: url, caFile: "\(dir.path)/pki/ca.crt", tokenFile: tokenFile,
                                 requestLog: log, portOnTheOtherAddress: reserved)
            } catch where attempt < 5 && !child.process.isRunning && child.text.contains("in use") {
                attempt += 1
            }
        }
    }

    var port: String { String(url.split(separator: ":").last!) }
}

/// A running exporter on an ephemeral port.
struct Exporter {
    let child: ChildProcess
    let address: String

    static func start(_ arguments: [String]) async throws -> Exporter {
        let child = try ChildProcess(try Binaries.path("kube-scheduler-exporter"),
                                     ["--web.listen-address", "127.0.0.1:0", "--poll-interval", "500ms", "--log.level", "debug"] + arguments)
        let address = try await child.await("msg=listening address=([0-9.]+:[0-9]+)")
        return Exporter(child: child, address: address)
    }

    func get(_ path: String, accept: String? = nil) async throws -> HTTPResponse {
        var request = HTTPRequest(url: "http://\(address)\(path)")
        if let accept { request.headers = [("Accept", accept)] }
        return try await IntegrationClient.shared.perform(request)
    }

    /// Scrapes /metrics until `predicate` holds on the body (polls are asynchronous).
    func scrape(until predicate: (String) -> Bool, timeout: Double = 60) async throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var body = ""
        while Date() < deadline {
            body = String(decoding: try await get("/metrics").body, as: UTF8.self)
            if predicate(body) { return body }
            try await Task.sleep(for: .milliseconds(200))
        }
        // The poll bookkeeping first: it says why a condition on errors or polls was not met.
        let bookkeeping = body.split(separator: "\n").filter {
            $0.hasPrefix("kube_scheduler_up") || $0.hasPrefix("kube_scheduler_poll") || $0.hasPrefix("kube_scheduler_last_successful")
        }
        throw HarnessError("condition not met within \(timeout)s; last scrape's poll series:\n\(bookkeeping.joined(separator: "\n"))\nlast scrape:\n\(body.prefix(4000))")
    }
}

enum IntegrationClient {
    static let shared = CurlClient()
}

/// The value of the first sample line whose name and labels contain all `fragments`.
func sampleValue(_ body: String, _ name: String, _ fragments: String...) -> Double? {
    for line in body.split(separator: "\n") where line.hasPrefix(name + "{") || line.hasPrefix(name + " ") {
        if fragments.allSatisfy({ line.contains($0) }), let value = line.split(separator: " ").last {
            return Double(value)
        }
    }
    return nil
}
