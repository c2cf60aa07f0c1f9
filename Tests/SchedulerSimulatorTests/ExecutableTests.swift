import Foundation
import Testing
import TestSupport
@testable import SchedulerSimulator

/// The `scheduler-simulator` binary built next to the test bundle, when it was built.
enum SimulatorBinary {
    static var path: String? {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent(),
        ].map { $0.appendingPathComponent("scheduler-simulator").path }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

@Suite(.serialized) struct ExecutableTests {
    @Test(.enabled(if: SimulatorBinary.path != nil, "scheduler-simulator not built"))
    func printsListenersServesAndExitsOnSIGTERM() async throws {
        let scratch = try ScratchDirectory()
        try Data("\(RunningSimulator.exporterToken)\n".utf8).write(to: URL(fileURLWithPath: scratch.file("token")))
        let binary = try #require(SimulatorBinary.path)
        let (process, stdout) = try spawnLongLived {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = [
                "--variant", "metrics-always-allowed", "--secure-port", "0", "--insecure-port", "0",
                "--cert-dir", scratch.file("certs"), "--token-file", scratch.file("token"),
                "--request-log", scratch.file("requests.jsonl"),
            ]
            let stdout = Pipe()
            process.standardOutput = stdout
            process.standardError = FileHandle.nullDevice
            try process.run()
            return (process, stdout)
        }
        defer { if process.isRunning { process.terminate() } }

        // Read until the listener lines and the certificate line arrived (blocking reads, so off
        // the test pool).
        let output = try await offCooperativePool {
            var output = ""
            while !output.contains("exporter client certificate") {
                let chunk = stdout.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                output += String(decoding: chunk, as: UTF8.self)
            }
            return output
        }
        let lines = output.split(separator: "\n").map(String.init)
        let secure = try #require(lines.first { $0.hasPrefix("scheduler-simulator listening on https://127.0.0.1:") })
        let insecure = try #require(lines.first { $0.hasPrefix("scheduler-simulator listening on http://127.0.0.1:") })
        let secureURL = String(secure.split(separator: " ").last!)
        let insecureURL = String(insecure.split(separator: " ").last!)

        let curl = Curl(caFile: scratch.file("certs/ca.crt"), scratch: scratch)
        let anonymous = try await curl.fetch(secureURL + "/metrics")
        #expect(anonymous.status == 200)
        #expect(anonymous.body == (try Captures.file(.metricsAlwaysAllowed, "metrics.txt")))
        #expect(anonymous.httpVersion == "2")
        let token = try await curl.fetch(
            secureURL + "/configz", arguments: ["-H", "Authorization: Bearer \(RunningSimulator.exporterToken)"])
        #expect(token.status == 200)
        #expect(try await curl.fetch(insecureURL + "/metrics").status == 200)
        let clientLine = try #require(lines.first { $0.hasPrefix("scheduler-simulator exporter client certificate ") })
        let clientFields = clientLine.split(separator: " ").map(String.init)
        let withCertificate = try await curl.fetch(
            secureURL + "/debug/pprof/", arguments: ["--cert", clientFields[4], "--key", clientFields[6]])
        #expect(withCertificate.status == 200)

        process.terminate()  // SIGTERM
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
        let log = String(decoding: FileManager.default.contents(atPath: scratch.file("requests.jsonl")) ?? Data(), as: UTF8.self)
        #expect(log.split(separator: "\n").count == 4)
    }
}
