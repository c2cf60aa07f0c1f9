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

    static let start = ContinuousClock.now
    static func at(_ milliseconds: Int) -> ContinuousClock.Instant { start + .milliseconds(milliseconds) }

    @Test func aPollThatEndsInTimeWaitsForTheNextTick() {
        let interval = Duration.milliseconds(100)
        #expect(TargetPoller.nextTick(after: Self.at(0), now: Self.at(7), interval: interval) == Self.at(100))
        #expect(TargetPoller.nextTick(after: Self.at(0), now: Self.at(100), interval: interval) == Self.at(100))
    }

    @Test func aPollThatRanOverIsFollowedByOneAtOnceOnTheGrid() {
        let interval = Duration.milliseconds(100)
        // Ended 1 ms after the next tick: that tick still runs (it is in the past, so at once).
        let late = TargetPoller.nextTick(after: Self.at(0), now: Self.at(101), interval: interval)
        #expect(late == Self.at(100))
        // And the one after it is back on the grid.
        #expect(TargetPoller.nextTick(after: late, now: Self.at(104), interval: interval) == Self.at(200))
    }

    @Test func missedTicksAreDroppedNotBurst() {
        let interval = Duration.milliseconds(100)
        // 350 ms late: the ticks at 100 and 200 are dropped, the one at 300 runs at once.
        let caughtUp = TargetPoller.nextTick(after: Self.at(0), now: Self.at(350), interval: interval)
        #expect(caughtUp == Self.at(300))
        #expect(TargetPoller.nextTick(after: caughtUp, now: Self.at(352), interval: interval) == Self.at(400))
        // A suspension of days at a 1 s interval is one poll, not 86,400.
        let resumed = TargetPoller.nextTick(after: Self.at(0), now: Self.at(3 * 86_400_000 + 500), interval: .seconds(1))
        #expect(resumed == Self.at(3 * 86_400_000))
    }
}
