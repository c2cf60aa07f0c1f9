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

    @Test func partOrderIsLineOrderWithinAFamily() {
        let first = RenderedFamilies([.init(name: "g", help: "G.", type: .gauge, samples: [OutputSample(labels: [("t", "1")], value: 1)])])
        let second = RenderedFamilies([.init(name: "g", help: "G.", type: .gauge, samples: [OutputSample(labels: [("t", "2")], value: 2)])])
        var buffer: [UInt8] = []
        ExpositionWriter.render([second, first], format: .prometheusText, into: &buffer, terminate: false)
        #expect(String(decoding: buffer, as: UTF8.self) == "# HELP g G.\n# TYPE g gauge\ng{t=\"2\"} 2\ng{t=\"1\"} 1\n")
    }
}
