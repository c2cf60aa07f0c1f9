import Testing
@testable import SchedulerSimulator

@Suite struct GoFloatFormatTests {
    @Test(arguments: [
        (30.0, "30"), (0.0, "0"), (1.0, "1"), (0.000615326, "0.000615326"), (7.1488e-05, "7.1488e-05"),
        (1.79571530058e+09, "1.79571530058e+09"), (0.23614159100000004, "0.23614159100000004"),
        (1234567.0, "1.234567e+06"), (123456.0, "123456"), (0.0001, "0.0001"),
        (2.7232000000000003e-05, "2.7232000000000003e-05"), (-2.5, "-2.5"), (Double.infinity, "+Inf"),
        (1e21, "1e+21"), (0.5, "0.5"), (100.25, "100.25"),
    ])
    func formatsLikeGo(value: Double, expected: String) {
        #expect(GoFloatFormat.format(value) == expected)
    }
}
