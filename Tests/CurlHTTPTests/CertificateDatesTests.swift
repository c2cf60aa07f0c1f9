@testable import CurlHTTP
import Glibc
import Testing

@Suite struct CertificateDatesTests {
    /// Reference values from Python's calendar.timegm.
    @Test(arguments: [
        ("Nov 26 17:48:11 2026 GMT", 1_795_715_291.0),
        ("Jan  5 00:00:00 2000 GMT", 947_030_400.0),
        ("Feb 29 23:59:59 2024 GMT", 1_709_251_199.0),
        ("Dec 31 23:59:59 1969 GMT", -1.0),
        ("Nov 26 17:48:11.5 2026 GMT", 1_795_715_291.5),
    ])
    func parsesOpenSSLPrintedTimes(text: String, expected: Double) {
        #expect(CertificateDates.unixSeconds(fromOpenSSLTime: text) == expected)
    }

    @Test(arguments: ["", "Nov 26 2026", "Foo 26 17:48:11 2026 GMT", "Nov 32 17:48:11 2026 GMT", "Nov 26 25:00:00 2026 GMT",
                      "Nov 26 17:48:11 2026 PST"])
    func rejectsOtherShapes(text: String) {
        #expect(CertificateDates.unixSeconds(fromOpenSSLTime: text) == nil)
    }

    @Test func agreesWithTimegmAcrossCenturies() {
        for year in stride(from: 1950, through: 2150, by: 7) {
            for month in 1...12 {
                for day in [1, 15, 28] {
                    var parts = tm()
                    parts.tm_year = Int32(year - 1900)
                    parts.tm_mon = Int32(month - 1)
                    parts.tm_mday = Int32(day)
                    parts.tm_hour = 13
                    let expected = timegm(&parts)
                    #expect(CertificateDates.daysSinceEpoch(year: year, month: month, day: day) * 86_400 + 13 * 3_600 == expected)
                }
            }
        }
    }
}
