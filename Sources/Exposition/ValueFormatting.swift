/// Formats a value as Go's `strconv.FormatFloat(v, 'g', -1, 64)`, which is what the Go
/// Prometheus client writes: shortest round-trip digits; exponent form (`1e+06`, `1.5e-05`)
/// when the decimal exponent is below -4 or at least 6; `+Inf`, `-Inf`, `NaN`.
func appendGoFloat(_ value: Double, to buffer: inout [UInt8]) {
    if value.isNaN { return buffer.append(contentsOf: "NaN".utf8) }
    if value.isInfinite { return buffer.append(contentsOf: (value < 0 ? "-Inf" : "+Inf").utf8) }
    if value == 0 { return buffer.append(contentsOf: (value.sign == .minus ? "-0" : "0").utf8) }
    // Integers that fit are the common case and need no digit extraction.
    if value == value.rounded(.towardZero), abs(value) < 1e6 {
        return buffer.append(contentsOf: String(Int64(value)).utf8)
    }
    let (digits, decimalPoint) = shortestDigits(abs(value))
    if value < 0 { buffer.append(UInt8(ascii: "-")) }
    // Go's 'g' with the shortest precision fixes the exponent threshold at 6.
    let exponent = decimalPoint - 1
    if exponent < -4 || exponent >= 6 {
        buffer.append(digits[0])
        if digits.count > 1 {
            buffer.append(UInt8(ascii: "."))
            buffer.append(contentsOf: digits[1...])
        }
        buffer.append(UInt8(ascii: "e"))
        buffer.append(exponent < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
        let magnitude = abs(exponent)
        if magnitude < 10 { buffer.append(UInt8(ascii: "0")) }
        buffer.append(contentsOf: String(magnitude).utf8)
        return
    }
    if decimalPoint <= 0 {
        buffer.append(contentsOf: "0.".utf8)
        buffer.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: -decimalPoint))
        buffer.append(contentsOf: digits)
    } else if decimalPoint >= digits.count {
        buffer.append(contentsOf: digits)
        buffer.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: decimalPoint - digits.count))
    } else {
        buffer.append(contentsOf: digits[..<decimalPoint])
        buffer.append(UInt8(ascii: "."))
        buffer.append(contentsOf: digits[decimalPoint...])
    }
}

/// The shortest round-trip decimal digits of a positive finite value (no leading or trailing
/// zeros) and the decimal point position: value = 0.DIGITS * 10^decimalPoint. Swift's
/// `description` already prints the shortest round-trip digits; this only re-reads them.
func shortestDigits(_ value: Double) -> (digits: [UInt8], decimalPoint: Int) {
    var mantissa: [UInt8] = []
    var pointIndex: Int?
    var exponent = 0
    var utf8 = Array(value.description.utf8)[...]
    while let c = utf8.first {
        utf8 = utf8.dropFirst()
        if c == UInt8(ascii: ".") {
            pointIndex = mantissa.count
        } else if c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
            exponent = Int(String(decoding: utf8, as: UTF8.self).replacingPlus()) ?? 0
            break
        } else {
            mantissa.append(c)
        }
    }
    var decimalPoint = (pointIndex ?? mantissa.count) + exponent
    while mantissa.first == UInt8(ascii: "0") {
        mantissa.removeFirst()
        decimalPoint -= 1
    }
    while mantissa.last == UInt8(ascii: "0") { mantissa.removeLast() }
    return (mantissa, decimalPoint)
}

extension String {
    fileprivate func replacingPlus() -> String { first == "+" ? String(dropFirst()) : self }
}
