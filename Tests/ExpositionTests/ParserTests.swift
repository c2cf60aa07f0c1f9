import Testing
@testable import Exposition

@Suite struct ParserTests {
    @Test func labelEscapesAreDecoded() throws {
        let document = try parse(#"a{l="x\\y\"z\nw",plain="p"} 1"# + "\n")
        let sample = try #require(document.family(named: "a")?.samples.first)
        #expect(sample.label("l") == "x\\y\"z\nw")
        #expect(sample.label("plain") == "p")
        #expect(sample.hasLabel("l", equalTo: "x\\y\"z\nw"))
        #expect(labelsEqual(sample.labels, [("l", "x\\y\"z\nw"), ("plain", "p")]))
    }

    @Test func labelBytesAreDecodedWithoutStrings() throws {
        // Blanks around `=` and `,`, an `=` and escapes inside values, a long value that spans
        // several eight-byte words, and an empty value.
        let text = #"a{ l = "x\\y\"z\nw" ,eq="k=v",long="abcdefghijklmnopqrstuvwxyz0123456789",e="", plain="p" } 1"# + "\n"
        let sample = try #require(try parse(text).family(named: "a")?.samples.first)
        var seen: [Label] = []
        sample.forEachLabel { name, value in
            seen.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        }
        let expected: [Label] = [
            ("l", "x\\y\"z\nw"), ("eq", "k=v"), ("long", "abcdefghijklmnopqrstuvwxyz0123456789"), ("e", ""), ("plain", "p"),
        ]
        #expect(labelsEqual(seen, expected))
        #expect(labelsEqual(sample.labels, expected))
        #expect(sample.label("plain") == "p")
        #expect(sample.withNameBytes { String(decoding: $0, as: UTF8.self) } == "a")
    }

    @Test func helpEscapesAreDecoded() throws {
        let document = try parse("# HELP a line1\\nline2 back\\\\slash \"quoted\"\na 1\n")
        #expect(document.family(named: "a")?.help == "line1\nline2 back\\slash \"quoted\"")
    }

    @Test func specialAndGoSyntaxValues() throws {
        let text = """
        a{v="nan"} NaN
        a{v="pinf"} +Inf
        a{v="ninf"} -Inf
        a{v="inf"} Inf
        a{v="exp"} 1.6384e+07
        a{v="negzero"} -0
        a{v="small"} 3.0517578125e-05
        a{v="int"} 42
        a{v="dot"} .5
        """
        let samples = try #require(try parse(text).family(named: "a")?.samples)
        #expect(samples.count == 9)
        #expect(samples[0].value.isNaN)
        #expect(samples[1].value == .infinity)
        #expect(samples[2].value == -.infinity)
        #expect(samples[3].value == .infinity)
        #expect(samples[4].value == 16_384_000)
        #expect(samples[5].value == 0 && samples[5].value.sign == .minus)
        #expect(samples[6].value == 3.0517578125e-05)
        #expect(samples[7].value == 42)
        #expect(samples[8].value == 0.5)
    }

    @Test func timestamps() throws {
        let samples = try #require(try parse("a 1 1700000000123\na{x=\"1\"} 2 -5\na{x=\"2\"} 3\n").family(named: "a")?.samples)
        #expect(samples.map(\.timestampMs) == [1_700_000_000_123, -5, nil])
        #expect(strictError("a 1 9223372036854775808\n")?.reason == "invalid timestamp '9223372036854775808'")
    }

    @Test func emptyLabelSetTrailingCommaAndBlanks() throws {
        let text = "a{} 1\na{x=\"1\",} 2\na { x = \"2\" , y=\"3\" } 3\n\n   \n# just a comment\n"
        let samples = try #require(try parse(text).family(named: "a")?.samples)
        #expect(samples.count == 3)
        #expect(samples[0].labels.isEmpty)
        #expect(labelsEqual(samples[1].labels, [("x", "1")]))
        #expect(labelsEqual(samples[2].labels, [("x", "2"), ("y", "3")]))
        #expect(samples.map(\.value) == [1, 2, 3])
    }

    @Test func crlfLineEnds() throws {
        let text = "# HELP a some help\r\n# TYPE a gauge\r\na{x=\"1\"} 1\r\na 2 17\r\n"
        let document = try parse(text)
        let family = try #require(document.family(named: "a"))
        #expect(family.help == "some help")
        #expect(family.type == .gauge)
        #expect(family.samples.map(\.value) == [1, 2])
        #expect(family.samples[1].timestampMs == 17)
        #expect(family.samples[0].label("x") == "1")
        #expect(family.byteRange == 0..<text.utf8.count)
    }

    @Test func exemplarsAndEOFAreTolerated() throws {
        let text = """
        # TYPE rpc counter
        rpc_total{code="200"} 5 # {trace_id="abc"} 1 1600000000.000
        rpc_total{code="500"} 1 1700000000000 # {trace_id="def"} 2
        rpc_created 1600000000
        # EOF

        """
        let family = try #require(try parse(text).family(named: "rpc"))
        #expect(family.samples.map(\.value) == [5, 1, 1_600_000_000])
        #expect(family.samples.map(\.suffix) == [.total, .total, .created])
        #expect(family.samples[1].timestampMs == 1_700_000_000_000)
        #expect(strictError("# EOF\na 1\n") == ParseError(line: 2, column: 1, reason: "content after # EOF"))
    }

    @Test func noTrailingNewline() throws {
        let document = try parse("a 1\nb{x=\"y\"} 2")
        #expect(document.family(named: "b")?.samples.first?.value == 2)
        #expect(document.family(named: "b")?.byteRange == 4..<14)
    }

    @Test func groupingFollowsPrometheus() throws {
        let text = """
        # TYPE h histogram
        h_bucket{le="1"} 1
        h_bucket{le="+Inf"} 2
        h_sum 3
        h_count 2
        h_other 7
        # TYPE s summary
        s{quantile="0.5"} 1
        s_sum 4
        s_count 2
        s_bucket 9
        # TYPE g gauge
        g 1
        g_sum 2
        loose 1
        loose_count 2
        # TYPE c counter
        c_total 3
        # HELP only_help has no TYPE
        only_help 1

        """
        let document = try parse(text)
        let summary = document.families.map { "\($0.name):\($0.type.rawValue):\($0.samples.count)" }
        #expect(summary == [
            "h:histogram:4", "h_other:untyped:1", "s:summary:3", "s_bucket:untyped:1", "g:gauge:1", "g_sum:untyped:1",
            "loose:untyped:1", "loose_count:untyped:1", "c:counter:1", "only_help:untyped:1",
        ])
        #expect(document.family(named: "h")?.samples.map(\.suffix) == [.bucket, .bucket, .sum, .count])
        #expect(document.family(named: "c")?.samples.first?.suffix == .total)
        #expect(document.family(named: "c")?.samples.first?.name == "c_total")
    }

    @Test func histogramBucketsAreSortedAndGroupedByLabels() throws {
        let text = """
        # TYPE h histogram
        h_bucket{path="/a",le="+Inf"} 4
        h_bucket{path="/a",le="0.5"} 1
        h_bucket{le="1",path="/a"} 3
        h_bucket{path="/b",le="1"} 7
        h_sum{path="/a"} 2.5
        h_count{path="/a"} 4
        h_bucket{path="/b",le="+Inf"} 8

        """
        let series = try #require(try parse(text).family(named: "h")).histograms()
        #expect(series.count == 2)
        #expect(series[0] == HistogramSeries(labels: [("path", "/a")], buckets: [(0.5, 1), (1, 3), (.infinity, 4)], sum: 2.5, count: 4))
        #expect(series[1] == HistogramSeries(labels: [("path", "/b")], buckets: [(1, 7), (.infinity, 8)]))
    }

    @Test func unitAndOpenMetricsTypes() throws {
        let text = "# TYPE t_seconds gauge\n# UNIT t_seconds seconds\nt_seconds 1\n# TYPE i info\ni_info{v=\"1\"} 1\n# TYPE st stateset\nst{st=\"a\"} 1\n"
        let document = try parse(text)
        #expect(document.family(named: "t_seconds")?.unit == "seconds")
        #expect(document.family(named: "i")?.type == .info)
        #expect(document.family(named: "i")?.samples.first?.suffix == .info)
        #expect(document.family(named: "st")?.type == .stateset)
    }

    @Test(arguments: [
        (#"a{l="x} 1"#, 1, 5, "unterminated label value"),
        ("a abc", 1, 3, "invalid value 'abc'"),
        ("# TYPE x gauge\n# TYPE x counter", 2, 8, "duplicate TYPE for family x"),
        ("# HELP x one\n# HELP x two", 2, 8, "duplicate HELP for family x"),
        ("1abc 2", 1, 1, "invalid metric name"),
        ("a-b 1", 1, 2, "invalid metric name"),
        ("# HELP 9x y", 1, 8, "invalid metric name"),
        ("# TYPE a-b gauge", 1, 9, "invalid metric name"),
        (#"a{1x="v"} 1"#, 1, 3, "invalid label name"),
        (#"a{l-x="v"} 1"#, 1, 4, "invalid label name"),
        (#"a{l="v\q"} 1"#, 1, 7, #"invalid escape sequence '\q' in label value"#),
        (#"a{l="v",l="w"} 1"#, 1, 9, "duplicate label name 'l'"),
        (#"a{l="v" m="w"} 1"#, 1, 9, "expected ',' or '}' after label value"),
        (#"a{l="v"}1"#, 1, 9, "expected a blank before the value"),
        (#"a{l=v} 1"#, 1, 5, "expected '\"' to start label value"),
        (#"a{l"#, 1, 4, "expected '=' after label name"),
        (#"a{l="v""#, 1, 8, "unterminated label set"),
        ("a 1 12x", 1, 5, "invalid timestamp '12x'"),
        ("a 1 2 3", 1, 7, "unexpected text after timestamp"),
        ("a 1 # x", 1, 5, "invalid exemplar"),
        ("a", 1, 2, "missing value"),
        ("a{}", 1, 4, "missing value"),
        ("# TYPE a bogus", 1, 10, "invalid metric type 'bogus'"),
        ("# TYPE a gauge extra", 1, 16, "unexpected text after TYPE"),
        ("# HELP a bad \\x escape", 1, 14, #"invalid escape sequence '\x' in HELP"#),
        ("a 1\nb 1\na 2", 3, 1, "samples for family a after other families (it began on line 1)"),
        ("a 1\n# TYPE a gauge", 2, 8, "TYPE for family a after its samples"),
        ("# TYPE a gauge\na 1\nb 1\n# TYPE a gauge", 4, 8, "duplicate TYPE for family a (it began on line 1)"),
        ("a 1\nb 1\n# HELP a late", 3, 8, "HELP for a family that already ended: a (it began on line 1)"),
        ("ok 1\n\n# EOF\nok 2", 4, 1, "content after # EOF"),
    ] as [(String, Int, Int, String)])
    func malformedInputGivesPreciseError(text: String, line: Int, column: Int, reason: String) {
        #expect(strictError(text) == ParseError(line: line, column: column, reason: reason))
        // Lenient mode reports the same error and keeps going.
        let lenient = try? parse(text, ParseOptions(lenient: true))
        #expect(lenient?.errors == [ParseError(line: line, column: column, reason: reason)])
    }

    @Test func lenientModeSkipsOnlyTheBadLines() throws {
        let text = """
        # HELP a first
        # TYPE a gauge
        a{x="1"} 1
        # HELP b second
        # TYPE b counter
        b_total{x="1"} 1
        b_total{x="2"} oops
        b_total{x="3"} 3
        # TYPE b gauge
        # TYPE c histogram
        c_bucket{le="1"} 1
        c_bucket{le="+Inf} 2
        c_sum 1
        c_count 1
        d 4

        """
        #expect(strictError(text) == ParseError(line: 7, column: 16, reason: "invalid value 'oops'"))
        let document = try parse(text, ParseOptions(lenient: true))
        #expect(document.errors.map(\.line) == [7, 9, 12])
        #expect(document.families.map(\.name) == ["a", "b", "c", "d"])
        #expect(document.family(named: "b")?.samples.map { $0.label("x") } == ["1", "3"])
        #expect(document.family(named: "b")?.type == .counter)
        #expect(document.family(named: "c")?.samples.count == 3)
        #expect(document.family(named: "d")?.samples.first?.value == 4)
    }

    @Test func byteRangesReproduceTheFamilyVerbatim() throws {
        let familyA = "# HELP a help a\n# TYPE a gauge\na{x=\"1\"} 1\n# an ordinary comment\na{x=\"2\"} 2\n"
        let familyB = "b 1 1700000000000\n"
        let familyC = "# TYPE c histogram\nc_bucket{le=\"+Inf\"} 1\nc_sum 0.5\nc_count 1\n"
        let text = "# leading comment\n" + familyA + "\n" + familyB + familyC
        let document = try parse(text)
        #expect(slice(document, try #require(document.family(named: "a")).byteRange) == familyA)
        #expect(slice(document, try #require(document.family(named: "b")).byteRange) == familyB)
        #expect(slice(document, try #require(document.family(named: "c")).byteRange) == familyC)
        #expect(document.family(named: "c")?.firstLine == 9)
    }

    @Test func filteredFamiliesAreSkippedButStillGrouped() throws {
        let text = """
        # TYPE skip histogram
        skip_bucket{le="1"} not-a-number-but-skipped
        skip_sum 1
        # TYPE keep gauge
        keep 2

        """
        let document = try parse(text, ParseOptions(families: ["keep"]))
        #expect(document.families.map(\.name) == ["keep"])
        #expect(document.family(named: "keep")?.samples.first?.value == 2)
        #expect(document.family(named: "skip") == nil)
        // Grouping still sees skipped families, so a later stray sample is still an error.
        #expect(throws: ParseError.self) { try parse(text + "skip 3\n", ParseOptions(families: ["keep"])) }
    }

    @Test func emptyAndCommentOnlyBodies() throws {
        #expect(try parse("").familyCount == 0)
        #expect(try parse("# just\n\n# comments\n").familyCount == 0)
        let announced = try parse("# HELP lonely nothing here\n# TYPE lonely gauge\n")
        #expect(announced.families.map(\.name) == ["lonely"])
        #expect(announced.family(named: "lonely")?.samples.isEmpty == true)
    }

    @Test func errorDescriptionNamesLineAndColumn() {
        #expect(ParseError(line: 3, column: 7, reason: "invalid value 'x'").description == "line 3, column 7: invalid value 'x'")
    }
}

@Suite struct ParserRobustnessTests {
    /// Random mixes of the format's own syntax bytes: parsing must never crash, lenient mode
    /// must never throw, and every error must point into the input.
    @Test func randomSyntaxSoupNeverCrashes() throws {
        var random = SeededGenerator(state: 0xF022)
        let pieces = ["a", "a_bucket", "a_sum", "le", "x", "{", "}", "=", "\"", "\\", ",", " ", "\t", "\r", "\n", "#", " HELP ",
                      " TYPE ", " UNIT ", "histogram", "summary", "counter", "1", "-", "+Inf", "NaN", ".", "e", "9", "EOF", "é"]
        for _ in 0..<3_000 {
            var text = ""
            for _ in 0..<Int.random(in: 0..<40, using: &random) { text += pieces.randomElement(using: &random)! }
            let lineCount = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).count
            let document = try parse(text, ParseOptions(lenient: true))
            for error in document.errors {
                #expect(error.line >= 1 && error.line <= lineCount, "\(text.debugDescription)")
                #expect(error.column >= 1, "\(text.debugDescription)")
            }
            for family in document.families {
                #expect(family.byteRange.upperBound <= text.utf8.count)
                for sample in family.samples {
                    _ = sample.labels
                    _ = sample.name
                }
                _ = family.histograms()
                _ = family.summaries()
            }
            if document.errors.isEmpty {
                #expect(strictError(text) == nil)
            } else {
                #expect(strictError(text) == document.errors.first)
            }
        }
    }
}
