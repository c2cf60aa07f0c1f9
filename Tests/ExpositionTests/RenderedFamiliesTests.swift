import Testing

@testable import Exposition

/// Pre-rendered parts must give exactly what rendering all families at once gives: the page is
/// assembled from them, so any difference would be a difference on the wire.
@Suite struct RenderedFamiliesTests {
    static let targetA: [OutputFamily] = WriterTests.sampleFamilies + [
        OutputFamily(name: "events_total", help: "Events.", type: .counter, samples: [
            OutputSample(labels: [("target", "a")], value: 3), OutputSample(suffix: "_created", labels: [("target", "a")], value: 1_700_000_000),
        ]),
        OutputFamily(name: "lat_seconds", help: "Latency.", type: .gaugehistogram, samples: [
            OutputSample(suffix: "_bucket", labels: [("target", "a"), ("le", "+Inf")], value: 2),
            OutputSample(suffix: "_gsum", labels: [("target", "a")], value: 0.75),
            OutputSample(suffix: "_gcount", labels: [("target", "a")], value: 2),
        ]),
        OutputFamily(name: "empty", help: "", type: .gauge),
    ]

    static let targetB: [OutputFamily] = [
        OutputFamily(name: "kube_scheduler_up", help: "other help, ignored", type: .gauge, samples: [
            OutputSample(labels: [("target", "c"), ("x", "ü \" \\ \n")], value: .nan),
        ]),
        OutputFamily(name: "events_total", help: "Events.", type: .counter, samples: [
            OutputSample(labels: [("target", "c")], value: -.infinity),
        ]),
        OutputFamily(name: "aaa_first", help: "Sorted first.", type: .untyped, samples: [OutputSample(value: 1e-9)]),
        OutputFamily(name: "build_info", help: "Build.", type: .info, samples: [OutputSample(labels: [("v", "1")], value: 1)]),
    ]

    @Test(arguments: [ExpositionFormat.prometheusText, .openMetrics])
    func partsRenderLikeTheConcatenatedFamilies(format: ExpositionFormat) {
        let parts = [RenderedFamilies(Self.targetA), RenderedFamilies([]), RenderedFamilies(Self.targetB)]
        var assembled: [UInt8] = []
        ExpositionWriter.render(parts, format: format, into: &assembled)
        let direct = ExpositionWriter.render(Self.targetA + Self.targetB, format: format)
        #expect(String(decoding: assembled, as: UTF8.self) == String(decoding: direct, as: UTF8.self))
    }

    /// Values and names where the OpenMetrics lines derived from text lines could go wrong.
    static let derivationCases: [OutputFamily] = [
        OutputFamily(name: "values", help: "Values.", type: .gauge, samples: [
            OutputSample(labels: [("v", "zero")], value: 0), OutputSample(labels: [("v", "negzero")], value: -0.0),
            OutputSample(labels: [("v", "int")], value: -42), OutputSample(labels: [("v", "big")], value: 1e21),
            OutputSample(labels: [("v", "bigint")], value: 123_456_789_012), OutputSample(labels: [("v", "frac")], value: 0.25),
            OutputSample(labels: [("v", "nan")], value: .nan), OutputSample(labels: [("v", "inf")], value: .infinity),
            OutputSample(labels: [("v", "a value with spaces 1 2")], value: 7),
            OutputSample(labels: [("v", "newline\n and \"quote\" 3")], value: 8),
        ]),
        OutputFamily(name: "requests", help: "A counter without _total.", type: .counter, samples: [OutputSample(value: 5)]),
        OutputFamily(name: "stamped", help: "With a timestamp.", type: .gauge, samples: [OutputSample(value: 1, timestampMs: 1_700_000_000_123)]),
        OutputFamily(name: "lat", help: "H.", type: .histogram, samples: [
            OutputSample(suffix: "_bucket", labels: [("le", "1")], value: 3), OutputSample(suffix: "_sum", value: 1.5),
            OutputSample(suffix: "_count", value: 3),
        ]),
        OutputFamily(name: "unlabelled", help: "", type: .untyped, samples: [OutputSample(value: 2)]),
    ]

    @Test(arguments: [ExpositionFormat.prometheusText, .openMetrics])
    func derivedOpenMetricsLinesMatchTheWriter(format: ExpositionFormat) {
        var assembled: [UInt8] = []
        ExpositionWriter.render([RenderedFamilies(Self.derivationCases)], format: format, into: &assembled)
        let direct = ExpositionWriter.render(Self.derivationCases, format: format)
        #expect(String(decoding: assembled, as: UTF8.self) == String(decoding: direct, as: UTF8.self))
    }

    @Test func onlyFamiliesWhoseNamesOrTimestampsDifferKeepOpenMetricsLines() {
        let rendered = RenderedFamilies(Self.derivationCases)
        let kept = rendered.entries.filter { $0.openMetricsLines != nil }.map(\.name)
        #expect(kept == ["requests", "stamped"])
        #expect(rendered.openMetrics.count < rendered.text.count / 4)
    }

    @Test func partOrderIsLineOrderWithinAFamily() {
        let first = RenderedFamilies([.init(name: "g", help: "G.", type: .gauge, samples: [OutputSample(labels: [("t", "1")], value: 1)])])
        let second = RenderedFamilies([.init(name: "g", help: "G.", type: .gauge, samples: [OutputSample(labels: [("t", "2")], value: 2)])])
        var buffer: [UInt8] = []
        ExpositionWriter.render([second, first], format: .prometheusText, into: &buffer, terminate: false)
        #expect(String(decoding: buffer, as: UTF8.self) == "# HELP g G.\n# TYPE g gauge\ng{t=\"2\"} 2\ng{t=\"1\"} 1\n")
    }
}
