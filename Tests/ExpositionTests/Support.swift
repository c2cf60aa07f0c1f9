import Foundation
@testable import Exposition

enum Fixtures {
    /// Sources/SchedulerSimulator/Fixtures/kube-scheduler-1.35, found from this file's path.
    static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/SchedulerSimulator/Fixtures/kube-scheduler-1.35")

    static let captures = ["default", "default-after-load", "profiling-false", "metrics-always-allowed", "bind-127.0.0.2", "zpages-gates"]

    static func metrics(_ capture: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(capture).appendingPathComponent("metrics.txt")))
    }
}

func parse(_ text: String, _ options: ParseOptions = .init()) throws(ParseError) -> ExpositionDocument {
    try ExpositionDocument(bytes: Array(text.utf8), options: options)
}

/// The error strict parsing throws for `text`, or nil when it parses.
func strictError(_ text: String) -> ParseError? {
    do {
        _ = try parse(text)
        return nil
    } catch {
        return error
    }
}

func slice(_ document: ExpositionDocument, _ range: Range<Int>) -> String {
    String(decoding: document.bytes[range], as: UTF8.self)
}
