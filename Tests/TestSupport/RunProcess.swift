import Foundation

/// A child process that ran to completion.
public struct FinishedProcess: Sendable {
    public var status: Int32
    public var stdout: Data
    /// Empty when stderr was merged into stdout.
    public var stderr: Data

    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

public struct SetupFailure: Error, CustomStringConvertible {
    public let description: String
}

/// Runs blocking work (spawning and waiting for processes) on a thread of its own. The tests run in
/// parallel on a cooperative pool as wide as the machine (2 threads here); blocking it stalls every
/// other test, and on a slow CI machine that stall outlasted the test servers' lifetimes.
public func offCooperativePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}

/// Runs a program to completion off the cooperative pool. See `runProcessBlocking`.
public func runProcess(
    _ executable: String, _ arguments: [String], input: Data? = nil, directory: String? = nil, mergeStderr: Bool = false
) async throws -> FinishedProcess {
    try await offCooperativePool {
        try runProcessBlocking(executable, arguments, input: input, directory: directory, mergeStderr: mergeStderr)
    }
}

/// Runs a program to completion and returns its status and output. Input and output go through
/// files, not pipes, so the wait depends on nothing but the child's exit: not on a reader keeping
/// up with a chatty child, nor on every copy of a pipe's write end being closed.
public func runProcessBlocking(
    _ executable: String, _ arguments: [String], input: Data? = nil, directory: String? = nil, mergeStderr: Bool = false
) throws -> FinishedProcess {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("run-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    func handle(_ name: String, contents: Data? = nil, forWriting: Bool) throws -> FileHandle {
        let path = scratch.appendingPathComponent(name).path
        guard FileManager.default.createFile(atPath: path, contents: contents),
              let handle = forWriting ? FileHandle(forWritingAtPath: path) : FileHandle(forReadingAtPath: path)
        else { throw SetupFailure(description: "cannot create \(path)") }
        return handle
    }

    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let stdin = try handle("stdin", contents: input ?? Data(), forWriting: false)
    let stdout = try handle("stdout", forWriting: true)
    let stderr = mergeStderr ? stdout : try handle("stderr", forWriting: true)
    defer { for handle in [stdin, stdout, stderr] { try? handle.close() } }
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = stderr
    do {
        try process.run()
    } catch {
        throw SetupFailure(description: "cannot run \(executable): \(error)")
    }
    process.waitUntilExit()
    let read = { (name: String) in FileManager.default.contents(atPath: scratch.appendingPathComponent(name).path) ?? Data() }
    return FinishedProcess(status: process.terminationStatus, stdout: read("stdout"), stderr: mergeStderr ? Data() : read("stderr"))
}

/// `runProcess` with stderr merged into stdout, as text: what most tests want from a command.
public func runCommand(
    _ executable: String, _ arguments: [String], input: String? = nil, directory: String? = nil
) async throws -> (status: Int32, output: String) {
    let result = try await runProcess(executable, arguments, input: input.map { Data($0.utf8) }, directory: directory, mergeStderr: true)
    return (result.status, result.stdoutText)
}
