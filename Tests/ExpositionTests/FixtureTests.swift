import Foundation
import Testing
@testable import Exposition

@Suite struct FixtureTests {
    @Test(arguments: Fixtures.captures)
    func parsesEveryCaptureWithIndependentCounts(capture: String) throws {
        let bytes = try Fixtures.metrics(capture)
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true)
        let sampleLines = lines.filter { !$0.hasPrefix("#") }.count
        let typeLines = lines.filter { $0.hasPrefix("# TYPE ") }.count
        let helpLines = lines.filter { $0.hasPrefix("# HELP ") }.count
        // Every family in these captures has HELP and TYPE, so TYPE lines count the families.
        #expect(typeLines == helpLines)

        let document = try ExpositionDocument(bytes: bytes)
        #expect(document.errors.isEmpty)
        #expect(document.familyCount == typeLines)
        #expect(document.sampleCount == sampleLines)
        let families = document.families
        #expect(families.reduce(0) { $0 + $1.samples.count } == sampleLines)
        #expect(families.allSatisfy { $0.help != nil && $0.samples.count > 0 })

        // The captures hold nothing but families, so their byte ranges tile the body.
        var reassembled: [UInt8] = []
        for family in families { reassembled += bytes[family.byteRange] }
        #expect(reassembled == bytes)
        var position = 0
        for family in families {
            #expect(family.byteRange.lowerBound == position)
            position = family.byteRange.upperBound
        }
    }

    @Test(arguments: Fixtures.captures)
    func labelBytesAgreeWithTheSampleLines(capture: String) throws {
        let bytes = try Fixtures.metrics(capture)
        // Independent of the parser: the captures' label values hold no `,` `"` or `}`, so a
        // sample line splits on them.
        let sampleLines = String(decoding: bytes, as: UTF8.self).split(separator: "\n").filter { !$0.hasPrefix("#") }
        var index = 0
        for family in try ExpositionDocument(bytes: bytes).families {
            for sample in family.samples {
                let line = sampleLines[index]
                index += 1
                var expected: [String] = []
                if let open = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}") {
                    expected = line[line.index(after: open)..<close].split(separator: ",").map { $0.replacingOccurrences(of: "\"", with: "") }
                }
                var seen: [String] = []
                sample.forEachLabel { name, value in seen.append(String(decoding: name, as: UTF8.self) + "=" + String(decoding: value, as: UTF8.self)) }
                #expect(seen == expected, "line \(index): \(line)")
                #expect(sample.withNameBytes { String(decoding: $0, as: UTF8.self) } == String(line.prefix { $0 != "{" && $0 != " " }))
            }
        }
        #expect(index == sampleLines.count)
    }

    @Test func defaultAfterLoadHasTheKnownShape() throws {
        let document = try ExpositionDocument(bytes: Fixtures.metrics("default-after-load"))
        #expect(document.familyCount == 214)
        #expect(document.sampleCount == 2459)
    }

    @Test func buildInfoLabels() throws {
        let document = try ExpositionDocument(bytes: Fixtures.metrics("default-after-load"))
        let family = try #require(document.family(named: "kubernetes_build_info"))
        #expect(family.type == .gauge)
        #expect(family.samples.count == 1)
        let sample = family.samples[0]
        #expect(sample.value == 1)
        #expect(sample.timestampMs == nil)
        #expect(sample.name == "kubernetes_build_info")
        #expect(sample.label("git_version") == "v1.35.4")
        #expect(sample.label("go_version") == "go1.27.3")
        #expect(sample.label("missing") == nil)
        #expect(sample.hasLabel("platform", equalTo: "linux/amd64"))
        #expect(!sample.hasLabel("platform", equalTo: "linux/arm64"))
        let expected: [Label] = [
            ("build_date", "2026-11-26T17:31:33Z"), ("compiler", "gc"), ("git_commit", "unknown-vendored-module"),
            ("git_tree_state", "clean"), ("git_version", "v1.35.4"), ("go_version", "go1.27.3"),
            ("major", "1"), ("minor", "35"), ("platform", "linux/amd64"),
        ]
        #expect(labelsEqual(sample.labels, expected))
    }

    @Test func schedulingAttemptHistogram() throws {
        let document = try ExpositionDocument(bytes: Fixtures.metrics("default-after-load"))
        let family = try #require(document.family(named: "scheduler_scheduling_attempt_duration_seconds"))
        #expect(family.type == .histogram)
        #expect(family.help == "[STABLE] Scheduling attempt latency in seconds (scheduling algorithm + binding)")
        let series = family.histograms()
        #expect(series.count == 2)
        let scheduled = try #require(series.first { $0.label("result") == "scheduled" })
        #expect(labelsEqual(scheduled.labels, [("profile", "default-scheduler"), ("result", "scheduled")]))
        let bounds = [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192, 16.384, .infinity]
        #expect(scheduled.buckets.map(\.upperBound) == bounds)
        #expect(scheduled.buckets.map(\.cumulativeCount) == [0, 0, 5, 22, 27, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30])
        #expect(scheduled.sum == 0.23614159100000004)
        #expect(scheduled.count == 30)
        let unschedulable = try #require(series.first { $0.label("result") == "unschedulable" })
        #expect(unschedulable.sum == 0.000615326)
        #expect(unschedulable.buckets.allSatisfy { $0.cumulativeCount == 3 })
        #expect(family.samples.filter { $0.suffix == .bucket }.count == 32)
    }

    @Test func goGCSummary() throws {
        let document = try ExpositionDocument(bytes: Fixtures.metrics("default-after-load"))
        let family = try #require(document.family(named: "go_gc_duration_seconds"))
        #expect(family.type == .summary)
        let series = family.summaries()
        #expect(series.count == 1)
        #expect(series[0].labels.isEmpty)
        #expect(series[0].quantiles.map(\.quantile) == [0, 0.25, 0.5, 0.75, 1])
        #expect(series[0].quantiles.map(\.value) == [0.000122963, 0.00030923, 0.000425133, 0.000462198, 0.000517451])
        #expect(series[0].sum == 0.001836975)
        #expect(series[0].count == 5)
    }

    @Test func familyFilterKeepsOnlySelectedFamilies() throws {
        let bytes = try Fixtures.metrics("default-after-load")
        let names: Set<String> = ["kubernetes_build_info", "scheduler_pending_pods", "go_gc_duration_seconds", "no_such_family"]
        let filtered = try ExpositionDocument(bytes: bytes, options: ParseOptions(families: names))
        #expect(Set(filtered.families.map(\.name)) == names.subtracting(["no_such_family"]))
        let full = try ExpositionDocument(bytes: bytes)
        for name in names.subtracting(["no_such_family"]) {
            let a = try #require(filtered.family(named: name))
            let b = try #require(full.family(named: name))
            #expect(a.byteRange == b.byteRange)
            #expect(a.samples.map(\.value) == b.samples.map(\.value))
            #expect(a.samples.map { $0.labels.map(\.value) } == b.samples.map { $0.labels.map(\.value) })
        }
        #expect(filtered.family(named: "apiserver_audit_event_total") == nil)

        let byPrefix = try ExpositionDocument(bytes: bytes, options: ParseOptions(familyPredicate: { name in
            name.starts(with: Array("scheduler_".utf8))
        }))
        #expect(byPrefix.familyCount > 10)
        #expect(byPrefix.families.allSatisfy { $0.name.hasPrefix("scheduler_") })
        #expect(byPrefix.familyCount == full.families.filter { $0.name.hasPrefix("scheduler_") }.count)
    }
}
