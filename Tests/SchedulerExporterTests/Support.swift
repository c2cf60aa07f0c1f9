import CurlHTTP
import Exposition
import Logging
@testable import SchedulerExporter

/// The real kube-scheduler v1.35.4 captures, read from the repository (the simulator's resources).
enum Capture {
    static let root: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(2)  // SchedulerExporterTests/Support.swift
        parts.removeLast()   // Tests
        return parts.joined(separator: "/") + "/Sources/SchedulerSimulator/Fixtures/kube-scheduler-1.35"
    }()

    static func bytes(_ variant: String, _ file: String) -> [UInt8] {
        guard let bytes = FileAccess.read("\(root)/\(variant)/\(file)", limit: 8 << 20) else {
            fatalError("missing capture \(variant)/\(file)")
        }
        return bytes
    }

    static func text(_ variant: String, _ file: String) -> String {
        String(decoding: bytes(variant, file), as: UTF8.self)
    }
}

/// A poll result assembled from given responses, as the poll cycle would produce it.
func makePoll(_ responses: [ProbeRequest: Result<HTTPResponse, HTTPClientError>], metrics: [UInt8]? = nil) throws -> PollResult {
    var poll = PollResult(startedAt: 1_800_000_000, responses: responses)
    if let metrics {
        poll.responses[.metrics] = .success(HTTPResponse(status: 200, body: metrics))
        poll.metrics = try ExpositionDocument(bytes: metrics, options: ParseOptions(lenient: true))
    }
    return poll
}

func ok(_ status: Int, _ body: [UInt8] = []) -> Result<HTTPResponse, HTTPClientError> {
    .success(HTTPResponse(status: status, body: body))
}

func failed(_ kind: HTTPClientError.Kind) -> Result<HTTPResponse, HTTPClientError> {
    .failure(HTTPClientError(kind: kind, message: "test"))
}

func makeContext(_ target: TargetConfig = TargetConfig(name: "t", url: "https://127.0.0.1:10259"),
                 evidence: SchedulerEvidence = SchedulerEvidence(), now: Double = 1_800_000_000) -> CheckContext {
    CheckContext(target: target, now: now, logger: Logger(label: "test"), evidence: evidence)
}

extension CheckOutput {
    func finding(_ check: String) -> SecurityFinding? { findings.first { $0.check == check } }

    func family(_ name: String) -> OutputFamily? { families.first { $0.name == name } }

    /// The value of the sample whose labels include all of `labels`.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        family(name)?.samples.first { sample in
            labels.allSatisfy { key, value in sample.labels.contains { $0.0 == key && $0.1 == value } }
        }?.value
    }
}

import Synchronization

/// A swift-log handler that keeps what is logged, for tests that count log lines.
struct CapturedLog: LogHandler {
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    final class Store: Sendable {
        let entries = Mutex<[Entry]>([])
        var all: [Entry] { entries.withLock { $0 } }
        func count(_ level: Logger.Level, containing text: String) -> Int {
            all.filter { $0.level == level && $0.message.contains(text) }.count
        }
    }

    let store: Store
    var logLevel: Logger.Level = .debug
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        store.entries.withLock {
            $0.append(Entry(level: event.level, message: "\(event.message)", metadata: merged.mapValues { "\($0)" }))
        }
    }

    /// A logger writing into a new store.
    static func make() -> (Logger, Store) {
        let store = Store()
        return (Logger(label: "test") { _ in CapturedLog(store: store) }, store)
    }
}
