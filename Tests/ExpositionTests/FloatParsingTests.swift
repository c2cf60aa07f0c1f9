import Testing
@testable import Exposition

/// SplitMix64: a seeded generator, so failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct FloatParsingTests {
    static func randomNumberText(_ random: inout SeededGenerator) -> String {
        func digits(_ count: Int) -> String {
            String((0..<count).map { _ in Character(String(Int.random(in: 0...9, using: &random))) })
        }
        var text = ["", "-", "+"].randomElement(using: &random)!
        switch Int.random(in: 0..<6, using: &random) {
        case 0: text += digits(Int.random(in: 1...20, using: &random))
        case 1: text += digits(Int.random(in: 0...12, using: &random)) + "." + digits(Int.random(in: 1...20, using: &random))
        case 2: text += digits(Int.random(in: 1...17, using: &random)) + ["e", "E"].randomElement(using: &random)!
            + ["", "+", "-"].randomElement(using: &random)! + digits(Int.random(in: 1...3, using: &random))
        case 3: text += digits(Int.random(in: 1...3, using: &random)) + "." + digits(Int.random(in: 0...8, using: &random))
            + "e" + ["+", "-"].randomElement(using: &random)! + digits(2)
        case 4: text = Double(bitPattern: random.next()).description
        default: text += String(Double.random(in: -1e9...1e9, using: &random))
        }
        return text
    }

    @Test func bitIdenticalToDoubleFromString() {
        var random = SeededGenerator(state: 0x5EED_2026)
        var checked = 0
        for _ in 0..<200_000 {
            let text = Self.randomNumberText(&random)
            let expected = Double(text)
            let actual = parseExpositionFloat(text)
            if let expected, !expected.isNaN {
                #expect(actual?.bitPattern == expected.bitPattern, "\(text)")
                checked += 1
            } else if expected == nil {
                #expect(actual == nil, "\(text)")
            } else {
                #expect(actual?.isNaN == true, "\(text)")
            }
        }
        #expect(checked > 180_000)
    }

    @Test func sampleValuesMatchDoubleFromString() throws {
        var random = SeededGenerator(state: 42)
        var texts: [String] = []
        for _ in 0..<5_000 {
            let text = Self.randomNumberText(&random)
            if let value = Double(text), !value.isNaN { texts.append(text) }
        }
        let body = texts.enumerated().map { "v{i=\"\($0.offset)\"} \($0.element)\n" }.joined()
        let samples = try #require(try parse(body).family(named: "v")?.samples)
        #expect(samples.count == texts.count)
        for (sample, text) in zip(samples, texts) {
            #expect(sample.value.bitPattern == Double(text)!.bitPattern, "\(text)")
        }
    }

    @Test(arguments: [
        "0", "-0", "+0", "1", "0.1", "1e6", "1.6384e+07", "1E-5", "123456789012345678", "9007199254740993",
        "1e22", "1e23", "1e-22", "1e-23", "4.9e-324", "1.7976931348623157e308", "1e309", "2.2250738585072014e-308",
        "0.000122963", "00012", ".5", "5.", "Inf", "+Inf", "-Inf", "NaN", "infinity",
    ])
    func edgeValues(text: String) {
        let expected = Double(text)!
        let actual = parseExpositionFloat(text)
        #expect(actual?.bitPattern == expected.bitPattern || (expected.isNaN && actual?.isNaN == true))
    }

    @Test(arguments: ["", "abc", "1e", "e5", "--1", "1.2.3", "0x1p3", "nan(1)", "snan", "1_0", " 1", "."])
    func rejectsNonGoFloats(text: String) {
        #expect(parseExpositionFloat(text) == nil)
    }
}
