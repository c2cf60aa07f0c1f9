import Foundation
import Subprocess
import SystemPackage

/// A child process that ran to completion.
public struct FinishedProcess: Sendable {
    /// The exit code, or 128 + the signal that ended it, as a shell reports it.
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

/// Runs blocking work (spawning long-lived children, reading their first line) on a thread of its
/// own. The tests run in parallel on a cooperative pool as wide as the machine (2 threads here);
/// blocking it stalls every other test.
public func offCooperativePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}

/// Runs a program to completion through swift-subprocess, never Foundation's Process, whose
/// descriptors can leak into children spawned at the same moment and make its wait last until an
/// unrelated child dies (two CI runs stalled so; docs/architecture.md has the rule).
public func runProcess(
    _ executable: String, _ arguments: [String], input: Data? = nil, directory: String? = nil, mergeStderr: Bool = false
) async throws -> FinishedProcess {
    let limit = 256 * 1024 * 1024
    let workingDirectory = directory.map { FilePath($0) }
    do {
        if mergeStderr {
            let result = try await run(
                .path(FilePath(executable)), arguments: Arguments(arguments), workingDirectory: workingDirectory,
                input: .data(input ?? Data()), output: .data(limit: limit), error: .combinedWithOutput)
            return FinishedProcess(status: result.terminationStatus.shellStatus, stdout: result.standardOutput, stderr: Data())
        }
        let result = try await run(
            .path(FilePath(executable)), arguments: Arguments(arguments), workingDirectory: workingDirectory,
            input: .data(input ?? Data()), output: .data(limit: limit), error: .data(limit: limit))
        return FinishedProcess(status: result.terminationStatus.shellStatus, stdout: result.standardOutput, stderr: result.standardError)
    } catch let error as SubprocessError {
        throw SetupFailure(description: "cannot run \(executable): \(error)")
    }
}

/// `runProcess` with stderr merged into stdout, as text: what most tests want from a command.
public func runCommand(
    _ executable: String, _ arguments: [String], input: String? = nil, directory: String? = nil
) async throws -> (status: Int32, output: String) {
    let result = try await runProcess(executable, arguments, input: input.map { Data($0.utf8) }, directory: directory, mergeStderr: true)
    return (result.status, result.stdoutText)
}

extension TerminationStatus {
    var shellStatus: Int32 {
        switch self {
        case .exited(let code): code
        case .signaled(let signal): 128 + signal
        }
    }
}

/// Spawns a long-lived child with Foundation's Process (which, unlike Subprocess, lets a child
/// outlive the call that started it). `spawn` must create the child's pipes and call `run()`: all
/// such spawns take one lock, so no Foundation spawn can list descriptors while another creates its
/// pipes or its exit-watching socket, and none of those leak into an unrelated child. Subprocess's
/// descriptors are close-on-exec and never leak.
public func spawnLongLived<T>(_ spawn: () throws -> T) rethrows -> T {
    try foundationSpawnLock.withLock(spawn)
}

private let foundationSpawnLock = NSLock()
