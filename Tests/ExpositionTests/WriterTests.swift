import Foundation
import TestSupport
import Testing
@testable import Exposition

@Suite struct WriterTests {
    static func rendered(_ families: [OutputFamily], _ format: ExpositionFormat, terminate: Bool = true) -> String {
        String(decoding: ExpositionWriter.render(families, format: format, terminate: terminate), as: UTF8.self)
    }

    // Expected strings are what Go's strconv.FormatFloat(v, 'g', -1, 64) prints.
    @Test(arguments: [
        (1.0, "1"), (0.5, "0.5"), (1e6, "1e+06"), (1.6384e7, "1.6384e+07"), (123456.0, "123456"),
        (1234567.0, "1.234567e+06"), (0.0001, "0.0001"), (1e-5, "1e-05"), (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"), (-0.0, "-0"), (0.0, "0"), (0.1, "0.1"),
        (100.0, "100"), (1e21, "1e+21"), (3.0517578125e-05, "3.0517578125e-05"), (-2.5, "-2.5"),
        (999999.0, "999999"), (0.23614159100000004, "0.23614159100000004"), (1e100, "1e+100"),
        (123.456, "123.456"), (-1234567.5, "-1.2345675e+06"), (.nan, "NaN"), (.infinity, "+Inf"), (-.infinity, "-Inf"),
    ] as [(Double, String)])
    func valuesFormatLikeGo(value: Double, expected: String) {
        var buffer: [UInt8] = []
        appendGoFloat(value, to: &buffer)
        #expect(String(decoding: buffer, as: UTF8.self) == expected)
    }

    @Test func formattedValuesRoundTrip() {
        var random = SeededGenerator(state: 7)
        for _ in 0..<20_000 {
            let value = Double(bitPattern: random.next())
            guard value.isFinite else { continue }
            var buffer: [UInt8] = []
            appendGoFloat(value, to: &buffer)
            #expect(Double(String(decoding: buffer, as: UTF8.self))?.bitPattern == value.bitPattern)
        }
    }

    static let sampleFamilies: [OutputFamily] = [
        OutputFamily(name: "kube_scheduler_up", help: "1 when the last poll worked.", type: .gauge, samples: [
            OutputSample(labels: [("target", "b")], value: 0),
        ]),
        OutputFamily(name: "kube_scheduler_polls_total", help: "Poll cycles run.", type: .counter, samples: [
            OutputSample(labels: [("target", "a")], value: 12),
        ]),
        // Same name again: merged, its HELP ignored.
        OutputFamily(name: "kube_scheduler_up", help: "ignored", type: .counter, samples: [
            OutputSample(labels: [("target", "a")], value: 1),
        ]),
        OutputFamily(name: "kube_scheduler_build_info", help: "Scheduler build with \\ and\nnewline.", type: .info, samples: [
            OutputSample(labels: [("target", "a"), ("git_version", "v1.35.4 \"quoted\" \\ back\nline")], value: 1),
        ]),
        OutputFamily(name: "kube_scheduler_poll_duration_seconds", help: "Poll wall time.", type: .gauge, unit: "seconds", samples: [
            OutputSample(labels: [("target", "a")], value: 0.0125, timestampMs: 1_700_000_000_123),
        ]),
    ]

    @Test func rendersPrometheusTextSortedAndMerged() {
        #expect(Self.rendered(Self.sampleFamilies, .prometheusText) == #"""
        # HELP kube_scheduler_build_info Scheduler build with \\ and\nnewline.
        # TYPE kube_scheduler_build_info gauge
        kube_scheduler_build_info{target="a",git_version="v1.35.4 \"quoted\" \\ back\nline"} 1
        # HELP kube_scheduler_poll_duration_seconds Poll wall time.
        # TYPE kube_scheduler_poll_duration_seconds gauge
        kube_scheduler_poll_duration_seconds{target="a"} 0.0125 1700000000123
        # HELP kube_scheduler_polls_total Poll cycles run.
        # TYPE kube_scheduler_polls_total counter
        kube_scheduler_polls_total{target="a"} 12
        # HELP kube_scheduler_up 1 when the last poll worked.
        # TYPE kube_scheduler_up gauge
        kube_scheduler_up{target="b"} 0
        kube_scheduler_up{target="a"} 1

        """#)
    }

    @Test func rendersOpenMetrics() {
        #expect(Self.rendered(Self.sampleFamilies, .openMetrics) == #"""
        # HELP kube_scheduler_build Scheduler build with \\ and\nnewline.
        # TYPE kube_scheduler_build info
        kube_scheduler_build_info{target="a",git_version="v1.35.4 \"quoted\" \\ back\nline"} 1.0
        # HELP kube_scheduler_poll_duration_seconds Poll wall time.
        # TYPE kube_scheduler_poll_duration_seconds gauge
        # UNIT kube_scheduler_poll_duration_seconds seconds
        kube_scheduler_poll_duration_seconds{target="a"} 0.0125 1700000000.123
        # HELP kube_scheduler_polls Poll cycles run.
        # TYPE kube_scheduler_polls counter
        kube_scheduler_polls_total{target="a"} 12.0
        # HELP kube_scheduler_up 1 when the last poll worked.
        # TYPE kube_scheduler_up gauge
        kube_scheduler_up{target="b"} 0.0
        kube_scheduler_up{target="a"} 1.0
        # EOF

        """#)
        #expect(!Self.rendered(Self.sampleFamilies, .openMetrics, terminate: false).contains("# EOF"))
    }

    @Test func renderingIsStableAcrossInputOrder() {
        let forward = Self.rendered(Self.sampleFamilies, .prometheusText)
        // Reordering distinct families changes nothing; only same-name merges keep input order.
        let shuffled = [Self.sampleFamilies[3], Self.sampleFamilies[0], Self.sampleFamilies[4], Self.sampleFamilies[1], Self.sampleFamilies[2]]
        #expect(Self.rendered(shuffled, .prometheusText) == forward)
    }

    @Test func textRoundTripsThroughTheParser() throws {
        let families = [
            OutputFamily(name: "weird", help: "help \\ with\nescapes", type: .gauge, samples: [
                OutputSample(labels: [("a", "x\\y\"z\nw"), ("b", "")], value: .nan),
                OutputSample(labels: [("a", "ünïcödé ✓")], value: .infinity, timestampMs: -1),
                OutputSample(value: -.infinity),
                OutputSample(labels: [("a", "2")], value: -0.0),
                OutputSample(labels: [("a", "3")], value: 1.6384e7),
            ]),
            OutputFamily(name: "lat_seconds", help: "Latency.", type: .histogram, samples: [
                OutputSample(suffix: "_bucket", labels: [("op", "x"), ("le", "0.5")], value: 1),
                OutputSample(suffix: "_bucket", labels: [("op", "x"), ("le", "+Inf")], value: 2),
                OutputSample(suffix: "_sum", labels: [("op", "x")], value: 0.75),
                OutputSample(suffix: "_count", labels: [("op", "x")], value: 2),
            ]),
            OutputFamily(name: "q", help: "Quantiles.", type: .summary, samples: [
                OutputSample(labels: [("quantile", "0.99")], value: 3),
                OutputSample(suffix: "_sum", value: 10),
                OutputSample(suffix: "_count", value: 4),
            ]),
        ]
        for format in [ExpositionFormat.prometheusText, .openMetrics] {
            // OpenMetrics timestamps are float seconds, which this 0.0.4 parser rejects by design.
            var input = families
            if format == .openMetrics { input[0].samples = input[0].samples.map { var s = $0; s.timestampMs = nil; return s } }
            let document = try ExpositionDocument(bytes: ExpositionWriter.render(input, format: format))
            #expect(document.families.map(\.name) == ["lat_seconds", "q", "weird"])
            let weird = try #require(document.family(named: "weird"))
            #expect(weird.help == "help \\ with\nescapes")
            let parsed = weird.samples
            for (sample, original) in zip(parsed, input[0].samples) {
                #expect(labelsEqual(sample.labels, original.labels))
                #expect(sample.value.bitPattern == original.value.bitPattern || (sample.value.isNaN && original.value.isNaN))
                #expect(sample.timestampMs == original.timestampMs)
            }
            let histogram = try #require(document.family(named: "lat_seconds")?.histograms().first)
            #expect(histogram == HistogramSeries(labels: [("op", "x")], buckets: [(0.5, 1), (.infinity, 2)], sum: 0.75, count: 2))
            let summary = try #require(document.family(named: "q")?.summaries().first)
            #expect(summary == SummarySeries(labels: [], quantiles: [(0.99, 3)], sum: 10, count: 4))
        }
    }

    @Test func counterAndInfoNamesPerFormat() {
        let families = [
            OutputFamily(name: "events_total", help: "Events.", type: .counter, samples: [
                OutputSample(value: 3), OutputSample(suffix: "_created", value: 1_700_000_000),
            ]),
            OutputFamily(name: "plain", help: "A counter without _total.", type: .counter, samples: [OutputSample(value: 1)]),
        ]
        #expect(Self.rendered(families, .prometheusText) == """
        # HELP events_total Events.
        # TYPE events_total counter
        events_total 3
        events_created 1.7e+09
        # HELP plain A counter without _total.
        # TYPE plain counter
        plain 1

        """)
        #expect(Self.rendered(families, .openMetrics) == """
        # HELP events Events.
        # TYPE events counter
        events_total 3.0
        events_created 1.7e+09
        # HELP plain A counter without _total.
        # TYPE plain counter
        plain_total 1.0
        # EOF

        """)
    }

    @Test func nameValidation() {
        #expect(ExpositionWriter.isValidMetricName("kube_scheduler:up_1"))
        #expect(!ExpositionWriter.isValidMetricName("1up"))
        #expect(!ExpositionWriter.isValidMetricName("a-b"))
        #expect(!ExpositionWriter.isValidMetricName(""))
        #expect(ExpositionWriter.isValidLabelName("_target1"))
        #expect(!ExpositionWriter.isValidLabelName("a:b"))
        let bad = OutputFamily(name: "ok", help: "", type: .gauge, samples: [
            OutputSample(labels: [("bad-name", "v"), ("x", "1"), ("x", "2")], value: 1),
            OutputSample(suffix: "-x", value: 1),
        ])
        #expect(ExpositionWriter.problems(in: bad) == [
            "invalid label name 'bad-name' in ok", "duplicate label name 'x' in ok", "invalid suffix '-x' for ok",
        ])
        #expect(ExpositionWriter.problems(in: Self.sampleFamilies[0]).isEmpty)
    }

    @Test(arguments: [
        (nil, ExpositionFormat.prometheusText),
        ("", .prometheusText),
        ("*/*", .prometheusText),
        ("text/plain", .prometheusText),
        ("application/openmetrics-text", .openMetrics),
        ("application/openmetrics-text;version=1.0.0", .openMetrics),
        ("application/openmetrics-text; version=0.0.1", .openMetrics),
        ("application/openmetrics-text;version=2.0.0", .prometheusText),
        ("application/openmetrics-text;version=1.0.0;q=0", .prometheusText),
        ("application/openmetrics-text;version=1.0.0;q=0.2,text/plain;version=0.0.4;q=0.5", .prometheusText),
        ("text/plain;q=0.5, application/openmetrics-text;q=0.5", .openMetrics),
        // Prometheus 2.x scrape Accept header.
        ("application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2", .openMetrics),
        ("APPLICATION/OpenMetrics-Text; Version=\"1.0.0\"; Q=0.9", .openMetrics),
    ] as [(String?, ExpositionFormat)])
    func negotiation(accept: String?, expected: ExpositionFormat) {
        #expect(ExpositionFormat.negotiate(accept: accept) == expected)
    }

    @Test func contentTypes() {
        #expect(ExpositionFormat.prometheusText.contentType == "text/plain; version=0.0.4; charset=utf-8")
        #expect(ExpositionFormat.openMetrics.contentType == "application/openmetrics-text; version=1.0.0; charset=utf-8")
    }
}

/// promtool (Debian package `prometheus`) parses with Go's expfmt and lints; a missing
/// promtool fails these tests rather than skipping them.
@Suite struct PromtoolTests {
    static let promtool = "/usr/bin/promtool"

    /// Runs `promtool check metrics` on `body`.
    static func checkMetrics(_ body: [UInt8]) async throws -> (status: Int32, output: String) {
        let result = try await runProcess(promtool, ["check", "metrics"], input: Data(body), mergeStderr: true)
        return (result.status, result.stdoutText)
    }

    @Test func promtoolIsInstalled() {
        #expect(FileManager.default.isExecutableFile(atPath: Self.promtool), "install the Debian package 'prometheus' for promtool")
    }

    @Test func renderedTextPassesPromtool() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.promtool), "promtool missing")
        var families = WriterTests.sampleFamilies
        families.append(OutputFamily(name: "kube_scheduler_latency_seconds", help: "Latency.", type: .histogram, samples: [
            OutputSample(suffix: "_bucket", labels: [("target", "a"), ("le", "0.1")], value: 1),
            OutputSample(suffix: "_bucket", labels: [("target", "a"), ("le", "+Inf")], value: 3),
            OutputSample(suffix: "_sum", labels: [("target", "a")], value: 1.5),
            OutputSample(suffix: "_count", labels: [("target", "a")], value: 3),
        ]))
        families.append(OutputFamily(name: "kube_scheduler_gc_seconds", help: "GC.", type: .summary, samples: [
            OutputSample(labels: [("quantile", "0.5")], value: 0.001),
            OutputSample(suffix: "_sum", value: 2), OutputSample(suffix: "_count", value: 7),
        ]))
        let (status, output) = try await Self.checkMetrics(ExpositionWriter.render(families, format: .prometheusText))
        #expect(status == 0, "\(output)")
        #expect(output.isEmpty, "\(output)")
    }

    /// Passing a whole real capture through parser and writer keeps it valid: promtool finds
    /// exactly the lint remarks it finds in the original, and no parse error.
    @Test func realCapturePassthroughPassesPromtool() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.promtool), "promtool missing")
        let original = try Fixtures.metrics("default-after-load")
        let document = try ExpositionDocument(bytes: original)
        let families = document.families.map { family in
            OutputFamily(name: family.name, help: family.help ?? "", type: family.type, samples: family.samples.map { sample in
                let suffix = sample.suffix.text
                return OutputSample(suffix: suffix, labels: sample.labels, value: sample.value, timestampMs: sample.timestampMs)
            })
        }
        let rendered = ExpositionWriter.render(families, format: .prometheusText)
        let before = try await Self.checkMetrics(original)
        let after = try await Self.checkMetrics(rendered)
        #expect(before.status == 3)
        #expect(after.status == before.status)
        #expect(Set(after.output.split(separator: "\n")) == Set(before.output.split(separator: "\n")))
        // Values and labels survive the trip.
        let reparsed = try ExpositionDocument(bytes: rendered)
        #expect(reparsed.sampleCount == document.sampleCount)
        for (a, b) in zip(reparsed.families, document.families) {
            #expect(a.name == b.name)
            #expect(a.samples.map(\.value.bitPattern) == b.samples.map(\.value.bitPattern))
        }
    }
}
