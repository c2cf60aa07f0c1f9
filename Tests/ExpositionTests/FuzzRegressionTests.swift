import Foundation
import Testing
@testable import Exposition

/// Inputs the libFuzzer harness (Fuzz/exposition, run by scripts/fuzz) found, fed back byte for
/// byte, plus the smallest text showing each bug.
@Suite struct FuzzRegressionTests {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/regressions/exposition")

    static func input(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    /// Every kept input: lenient parsing succeeds and every family it keeps can be written.
    @Test(arguments: ["invalid-unit", "haslabel-invalid-utf8"])
    func keptInputParsesAndRenders(_ name: String) throws {
        let bytes = try Self.input(name)
        let document = try ExpositionDocument(bytes: bytes, options: ParseOptions(lenient: true))
        for family in document.families {
            let output = OutputFamily(
                name: family.name, help: family.help ?? "", type: family.type, unit: family.unit,
                samples: family.samples.map { OutputSample(suffix: $0.suffix.text, labels: $0.labels, value: $0.value) })
            #expect(ExpositionWriter.problems(in: output).isEmpty, "\(family.name)")
            _ = ExpositionWriter.render([output], format: .openMetrics)
        }
    }

    /// A UNIT the writer would refuse (a control byte) crashed the writer when a parsed family was
    /// rendered again; the parser now rejects it as OpenMetrics does.
    @Test func unitWithControlByteIsRejected() throws {
        let bytes = try Self.input("invalid-unit")
        #expect(throws: ParseError.self) { try ExpositionDocument(bytes: bytes) }

        let error = try #require(strictError("# TYPE req counter\n# UNIT req s\u{11}econds\nreq_total 1\n"))
        #expect(error.line == 2)
        #expect(error.column == 13)
        #expect(error.reason.hasPrefix("invalid unit"))

        let lenient = try parse("# TYPE req counter\n# UNIT req s\u{11}econds\nreq_total 1\n", ParseOptions(lenient: true))
        #expect(lenient.errors.map(\.line) == [2])
        #expect(lenient.family(named: "req")?.unit == nil)
        #expect(lenient.family(named: "req")?.samples.count == 1)

        #expect(try parse("# UNIT req seconds_total:x9\nreq 1\n").family(named: "req")?.unit == "seconds_total:x9")
    }

    /// `label(_:)` decodes invalid UTF-8 to U+FFFD while `hasLabel` compared raw bytes, so
    /// `hasLabel(n, equalTo: label(n)!)` was false for such a value.
    @Test func hasLabelAgreesWithLabelOnInvalidUTF8() throws {
        let document = try ExpositionDocument(bytes: Array(#"x{le="1"#.utf8) + [0xE9] + Array("\"} 1\n".utf8))
        let sample = try #require(document.family(named: "x")?.samples.first)
        let value = try #require(sample.label("le"))
        #expect(value == "1\u{FFFD}")
        #expect(sample.hasLabel("le", equalTo: value))
        #expect(!sample.hasLabel("le", equalTo: "1"))
        #expect(!sample.hasLabel("le", equalTo: "1\u{E9}"))

        let kept = try ExpositionDocument(bytes: try Self.input("haslabel-invalid-utf8"), options: ParseOptions(lenient: true))
        var checked = 0
        for family in kept.families {
            for sample in family.samples {
                guard let le = sample.label("le") else { continue }
                #expect(sample.hasLabel("le", equalTo: le))
                checked += 1
            }
        }
        #expect(checked > 0)
    }

    /// Found reviewing the float path while fuzzing: Double(String) stops at a NUL, so a value
    /// like `1<NUL>junk` parsed as 1 instead of being rejected as Go's parser rejects it.
    @Test func valueWithNULIsRejected() throws {
        let error = try #require(strictError("a 1\u{0}junk\n"))
        #expect(error.reason.hasPrefix("invalid value"))
        #expect(error.column == 3)
        #expect(parseExpositionFloat("1\u{0}") == nil)
        #expect(parseExpositionFloat("1e5\u{0}9") == nil)

        let document = try parse("# TYPE h histogram\nh_bucket{le=\"1\u{0}x\"} 1\nh_bucket{le=\"+Inf\"} 2\n")
        let series = try #require(document.family(named: "h")?.histograms().first)
        #expect(series.buckets.map(\.upperBound) == [.infinity])
    }
}
