import Exposition

// Feeds each input to the parser in every mode callers use (strict, lenient, filtered by name
// set and by predicate), walks everything a caller can read, and renders what parsed. Beyond
// "no crash", two properties must hold:
// - a strictly parsed document rendered as text 0.0.4 parses strictly again, with the same
//   samples (labels, value bits, timestamps), since the exporter re-serves parsed families;
// - lenient mode keeps exactly the samples strict mode keeps when strict mode succeeds.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzExposition(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))

    let strict = try? ExpositionDocument(bytes: bytes)
    let lenient: ExpositionDocument
    do {
        lenient = try ExpositionDocument(bytes: bytes, options: ParseOptions(lenient: true))
    } catch {
        fail("lenient mode threw: \(error)")
    }
    if let strict {
        check(lenient.errors.isEmpty, "lenient mode found errors where strict mode found none")
        check(sampleKeys(strict) == sampleKeys(lenient), "lenient and strict samples differ")
        roundTrip(strict)
    }
    walk(lenient)

    // A name filter taken from the input itself, so that some families are kept and some not.
    let names = Set(lenient.families.enumerated().filter { $0.offset % 2 == 0 }.map(\.element.name))
    if let filtered = try? ExpositionDocument(bytes: bytes, options: ParseOptions(lenient: true, families: names)) {
        check(filtered.families.allSatisfy { names.contains($0.name) }, "name filter let a family through")
        walk(filtered)
    }
    let odd = ParseOptions(lenient: true, familyPredicate: { $0.count % 2 == 1 })
    if let filtered = try? ExpositionDocument(bytes: bytes, options: odd) {
        check(filtered.families.allSatisfy { $0.name.utf8.count % 2 == 1 }, "predicate let a family through")
        walk(filtered)
    }
    return 0
}

/// Reads every public property, as the checks and the latency tracker do.
func walk(_ document: ExpositionDocument) {
    var total = 0
    for family in document.families {
        check(document.bytes.indices.contains(family.byteRange.lowerBound) || family.byteRange.isEmpty,
                     "byte range outside the body")
        check(family.byteRange.upperBound <= document.bytes.count, "byte range past the body")
        _ = document.family(named: family.name)
        _ = family.help
        _ = family.unit
        for sample in family.samples {
            total += 1
            _ = sample.name
            _ = sample.labels
            let le = sample.label("le")
            if let le { check(sample.hasLabel("le", equalTo: le), "hasLabel disagrees with label") }
            _ = sample.hasLabel("quantile", equalTo: "0.5")
            check(sample.labelBytes.upperBound <= document.bytes.count, "label bytes past the body")
        }
        _ = family.histograms()
        _ = family.summaries()
        _ = render(family, format: .openMetrics)
    }
    check(total == document.sampleCount, "sampleCount disagrees with the families' samples")
}

func outputFamily(_ family: MetricFamily) -> OutputFamily {
    OutputFamily(
        name: family.name, help: family.help ?? "", type: family.type, unit: family.unit,
        samples: family.samples.map {
            OutputSample(suffix: $0.suffix.text, labels: $0.labels, value: $0.value, timestampMs: $0.timestampMs)
        })
}

func render(_ family: MetricFamily, format: ExpositionFormat) -> [UInt8] {
    let output = outputFamily(family)
    let problems = ExpositionWriter.problems(in: output)
    check(problems.isEmpty, "a parsed family is not renderable: \(problems)")
    return ExpositionWriter.render([output], format: format)
}

func roundTrip(_ document: ExpositionDocument) {
    let rendered = ExpositionWriter.render(document.families.map(outputFamily), format: .prometheusText)
    let again: ExpositionDocument
    do {
        again = try ExpositionDocument(bytes: rendered)
    } catch {
        fail("rendered text does not parse: \(error)\n\(String(decoding: rendered, as: UTF8.self))")
    }
    check(sampleKeys(again) == sampleKeys(document),
                 "round trip changed samples:\n\(String(decoding: rendered, as: UTF8.self))")
}

/// Samples as sorted comparable keys: the writer orders families by name, so order may change.
func sampleKeys(_ document: ExpositionDocument) -> [String] {
    var keys: [String] = []
    for family in document.families {
        for sample in family.samples {
            var key = ""
            for label in sample.labels { key += "\(label.name)=\(label.value)\u{0}" }
            key += sample.value.isNaN ? "NaN" : String(sample.value.bitPattern)
            key += "@\(sample.timestampMs.map(String.init) ?? "-")"
            keys.append(key)
        }
    }
    return keys.sorted()
}
