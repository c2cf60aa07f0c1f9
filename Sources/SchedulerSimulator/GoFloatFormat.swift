/// Formats a sample value the way Go's Prometheus client writes it (`strconv.AppendFloat(f, 'g', -1, 64)`
/// with the expfmt special cases), so values the load mode rewrites look like the captured ones:
/// `30`, `0.000615326`, `7.1488e-05`, `1.79571530058e+09`.
enum GoFloatFormat {
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value == .infinity { return "+Inf" }
        if value == -.infinity { return "-Inf" }
        if value == 0 { return "0" }
        let negative = value < 0
        let (digits, decimalPointPosition) = shortestDigits(of: negative ? -value : value)
        let exponent = decimalPointPosition - 1
        var out = negative ? "-" : ""
        // Go's 'g' with shortest precision switches to exponent form below 1e-4 and from 1e6 (eprec = 6).
        if exponent < -4 || exponent >= 6 {
            out.append(digits.first!)
            if digits.count > 1 {
                out.append(".")
                out.append(contentsOf: digits.dropFirst())
            }
            out.append(exponent < 0 ? "e-" : "e+")
            let magnitude = abs(exponent)
            if magnitude < 10 { out.append("0") }
            out.append(String(magnitude))
            return out
        }
        if decimalPointPosition <= 0 {
            out.append("0.")
            out.append(String(repeating: "0", count: -decimalPointPosition))
            out.append(contentsOf: digits)
        } else if decimalPointPosition >= digits.count {
            out.append(contentsOf: digits)
            out.append(String(repeating: "0", count: decimalPointPosition - digits.count))
        } else {
            let split = digits.index(digits.startIndex, offsetBy: decimalPointPosition)
            out.append(contentsOf: digits[..<split])
            out.append(".")
            out.append(contentsOf: digits[split...])
        }
        return out
    }

    /// Shortest round-trip decimal digits (no leading/trailing zeros) and the position of the decimal
    /// point relative to the first digit; Swift's `description` already yields the shortest digits.
    private static func shortestDigits(of positive: Double) -> (String, Int) {
        let text = positive.description
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...])!
        }
        var integerPart = mantissa
        var fractionPart: Substring = ""
        if let dot = mantissa.firstIndex(of: ".") {
            integerPart = mantissa[..<dot]
            fractionPart = mantissa[mantissa.index(after: dot)...]
        }
        var digits = String(integerPart) + String(fractionPart)
        var pointPosition = integerPart.count + exponent
        while digits.first == "0" {
            digits.removeFirst()
            pointPosition -= 1
        }
        while digits.last == "0" { digits.removeLast() }
        return (digits, pointPosition)
    }
}
