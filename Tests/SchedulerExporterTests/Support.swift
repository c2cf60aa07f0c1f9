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
