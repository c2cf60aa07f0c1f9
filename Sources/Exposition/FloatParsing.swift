// Number parsing for sample values and timestamps. The fast path covers what exporters write
// (integers, decimals, decimal exponents); everything else goes through `Double(String)`, so
// every result is bit-identical to `Double(text)`.

/// Exact powers of ten: each is representable in a Double, so one multiply or divide by them
/// rounds once, which is what makes the fast path correctly rounded (Clinger's fast path).
private let exactPowersOfTen: [Double] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
]

/// Parses a Go-syntax float (`1`, `-0`, `0.5`, `1.6384e+07`, `+Inf`, `NaN`, ...).
/// Returns nil for text `Double(String)` rejects, and for hex floats and `nan(...)` payloads,
/// which Go's `ParseFloat` would not produce in an exposition.
@inline(__always)
func parseFloat(_ start: UnsafePointer<UInt8>, _ length: Int) -> Double? {
    if let fast = parseFloatFast(start, length) { return fast }
    return parseFloatSlow(start, length)
}

@inline(__always)
func parseFloatFast(_ start: UnsafePointer<UInt8>, _ length: Int) -> Double? {
    var i = 0
    var negative = false
    guard length > 0 else { return nil }
    var c = start[0]
    if c == UInt8(ascii: "-") {
        negative = true
        i = 1
    } else if c == UInt8(ascii: "+") {
        i = 1
    }
    var mantissa: UInt64 = 0
    var significantDigits = 0
    var digitCount = 0
    var exponent = 0
    while i < length {
        c = start[i] &- 48
        guard c < 10 else { break }
        if mantissa != 0 || c != 0 {
            significantDigits += 1
            mantissa = mantissa &* 10 &+ UInt64(c)
        }
        digitCount += 1
        i += 1
    }
    if i < length && start[i] == UInt8(ascii: ".") {
        i += 1
        while i < length {
            c = start[i] &- 48
            guard c < 10 else { break }
            if mantissa != 0 || c != 0 {
                significantDigits += 1
                mantissa = mantissa &* 10 &+ UInt64(c)
            }
            exponent -= 1
            digitCount += 1
            i += 1
        }
    }
    // More than 19 significant digits may have wrapped the mantissa.
    guard digitCount > 0, significantDigits <= 19 else { return nil }
    if i < length {
        c = start[i]
        guard c == UInt8(ascii: "e") || c == UInt8(ascii: "E") else { return nil }
        i += 1
        var exponentNegative = false
        if i < length && (start[i] == UInt8(ascii: "-") || start[i] == UInt8(ascii: "+")) {
            exponentNegative = start[i] == UInt8(ascii: "-")
            i += 1
        }
        var explicitExponent = 0
        let exponentStart = i
        while i < length {
            c = start[i] &- 48
            guard c < 10, i - exponentStart < 5 else { return nil }
            explicitExponent = explicitExponent * 10 + Int(c)
            i += 1
        }
        guard i > exponentStart else { return nil }
        exponent += exponentNegative ? -explicitExponent : explicitExponent
    }
    if mantissa == 0 { return negative ? -0.0 : 0.0 }
    guard mantissa <= 1 << 53, exponent >= -22, exponent <= 22 else { return nil }
    var value = Double(mantissa)
    if exponent >= 0 {
        value *= exactPowersOfTen[exponent]
    } else {
        value /= exactPowersOfTen[-exponent]
    }
    return negative ? -value : value
}

@inline(never)
func parseFloatSlow(_ start: UnsafePointer<UInt8>, _ length: Int) -> Double? {
    let buffer = UnsafeBufferPointer(start: start, count: length)
    // Double(String) reads through a C string, so it would stop at a NUL and accept "1\0junk" as 1.
    for byte in buffer where byte == UInt8(ascii: "x") || byte == UInt8(ascii: "X") || byte == UInt8(ascii: "(") || byte == 0 {
        return nil
    }
    let text = String(decoding: buffer, as: UTF8.self)
    guard let value = Double(text) else { return nil }
    // Swift also accepts signaling NaN spellings ("snan"); Go does not.
    if value.isSignalingNaN { return nil }
    return value
}

/// Parses a decimal int64 (optional sign), rejecting overflow.
@inline(__always)
func parseInt64(_ start: UnsafePointer<UInt8>, _ length: Int) -> Int64? {
    guard length > 0 else { return nil }
    var i = 0
    var negative = false
    if start[0] == UInt8(ascii: "-") || start[0] == UInt8(ascii: "+") {
        negative = start[0] == UInt8(ascii: "-")
        i = 1
        guard length > 1 else { return nil }
    }
    // Accumulate negatively so Int64.min parses without overflow.
    var result: Int64 = 0
    while i < length {
        let digit = start[i] &- 48
        guard digit < 10 else { return nil }
        let (multiplied, overflow1) = result.multipliedReportingOverflow(by: 10)
        let (subtracted, overflow2) = multiplied.subtractingReportingOverflow(Int64(digit))
        guard !overflow1, !overflow2 else { return nil }
        result = subtracted
        i += 1
    }
    if negative { return result }
    guard result != .min else { return nil }
    return -result
}
