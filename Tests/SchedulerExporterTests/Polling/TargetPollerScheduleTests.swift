import Testing

@testable import SchedulerExporter

@Suite struct TargetPollerScheduleTests {
    @Test func targetsStartEvenlySpreadOverTheInterval() {
        let interval = Duration.seconds(15)
        let starts = (0..<100).map { TargetPoller.staggeredStart(index: $0, of: 100, interval: interval) }
        #expect(starts.first == .zero)
        #expect(starts.allSatisfy { $0 >= .zero && $0 < interval })
        let gaps = zip(starts.dropFirst(), starts).map { $0 - $1 }
        #expect(gaps.allSatisfy { $0 == .milliseconds(150) })
    }

    @Test func aSingleTargetStartsAtOnce() {
        #expect(TargetPoller.staggeredStart(index: 0, of: 1, interval: .seconds(15)) == .zero)
        // An index past the end (cannot happen from the exporter) still stays inside the interval.
        #expect(TargetPoller.staggeredStart(index: 7, of: 2, interval: .seconds(10)) == .seconds(5))
    }
}
