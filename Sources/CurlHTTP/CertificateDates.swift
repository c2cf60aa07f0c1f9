/// Parses the dates libcurl's OpenSSL backend writes into CERTINFO ("Start date", "Expire date").
/// They come from OpenSSL's `ASN1_TIME_print`: `Nov 26 17:48:11 2026 GMT`, day padded with a space,
/// optionally with fractional seconds. Pure arithmetic: no DateFormatter, no locale, no TZ lookup.
enum CertificateDates {
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Unix seconds, or nil when the text does not have the expected shape.
    static func unixSeconds(fromOpenSSLTime text: String) -> Double? {
        let fields = text.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count == 5 ? fields[4] == "GMT" : fields.count == 4 else { return nil }
        guard let monthIndex = months.firstIndex(of: String(fields[0])),
            let day = Int(fields[1]), (1...31).contains(day),
            let year = Int(fields[3])
        else { return nil }
        let clock = fields[2].split(separator: ":", omittingEmptySubsequences: false)
        guard clock.count == 3, let hour = Int(clock[0]), let minute = Int(clock[1]),
            let second = Double(clock[2]),
            (0...23).contains(hour), (0...59).contains(minute), second >= 0, second < 61
        else { return nil }
        let days = daysSinceEpoch(year: year, month: monthIndex + 1, day: day)
        return Double(days * 86_400 + hour * 3_600 + minute * 60) + second
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
