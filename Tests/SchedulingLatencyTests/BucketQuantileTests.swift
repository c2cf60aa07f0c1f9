import Testing

@testable import SchedulingLatency

private func buckets(_ pairs: [(Double, Double)]) -> [HistogramBucket] {
    pairs.map { HistogramBucket(upperBound: $0.0, cumulativeCount: $0.1) }
}

private func isClose(_ a: Double, _ b: Double) -> Bool {
    abs(a - b) <= 1e-12 * max(1, abs(b))
}

@Suite struct BucketQuantileTests {
    let layout = buckets([(0.1, 2), (0.2, 6), (0.4, 8), (.infinity, 10)])

    @Test func interpolatesLinearlyInsideTheBucket() {
        // rank 5 falls in (0.1, 0.2] holding 4 observations, 3 of them needed: 0.1 + 0.1 * 3/4
        #expect(isClose(bucketQuantile(0.5, layout), 0.175))
        // rank 1 in the first bucket interpolates from 0: 0.1 * 1/2
        #expect(isClose(bucketQuantile(0.1, layout), 0.05))
        #expect(bucketQuantile(0, layout) == 0)
    }

    @Test func rankInInfBucketGivesHighestFiniteBound() {
        #expect(bucketQuantile(0.9, layout) == 0.4)
        #expect(bucketQuantile(1, layout) == 0.4)
        let allInInf = buckets([(0.1, 0), (0.2, 0), (.infinity, 5)])
        #expect(bucketQuantile(0.5, allInInf) == 0.2)
        #expect(bucketQuantile(0.01, allInInf) == 0.2)
    }

    @Test func quantileOutsideZeroOneAndNaN() {
        #expect(bucketQuantile(-0.1, layout) == -.infinity)
        #expect(bucketQuantile(1.1, layout) == .infinity)
        #expect(bucketQuantile(.nan, layout).isNaN)
        // The range check comes before the data check, as in PromQL.
        #expect(bucketQuantile(2, []) == .infinity)
    }

    @Test func noObservationsOrUnusableLayoutsGiveNaN() {
        #expect(bucketQuantile(0.5, buckets([(0.1, 0), (0.2, 0), (.infinity, 0)])).isNaN)
        #expect(bucketQuantile(0.5, buckets([(0.1, 1), (0.2, 2)])).isNaN, "no +Inf bucket")
        #expect(bucketQuantile(0.5, buckets([(.infinity, 7)])).isNaN, "only +Inf")
        #expect(bucketQuantile(0.5, []).isNaN)
        // q = 0 with an empty first bucket divides 0 by 0, which Prometheus returns as NaN too.
        #expect(bucketQuantile(0, buckets([(0.1, 0), (.infinity, 3)])).isNaN)
    }

    @Test func singleFiniteBucket() {
        let single = buckets([(1, 4), (.infinity, 4)])
        #expect(isClose(bucketQuantile(0.5, single), 0.5))
        #expect(isClose(bucketQuantile(0.99, single), 0.99))
    }

    @Test func bucketOrderDoesNotMatter() {
        let shuffled = [layout[2], layout[3], layout[0], layout[1]]
        for q in [0.0, 0.1, 0.5, 0.75, 0.9, 1.0] {
            #expect(bucketQuantile(q, shuffled) == bucketQuantile(q, layout))
        }
    }

    @Test func nonMonotonicCountsAreFlattenedToTheRunningMaximum() {
        // 0.4's count 4 < 8 becomes 8; rank 8.5 then lies in (0.4, 0.8] with 1 observation:
        // 0.4 + 0.4 * 0.5/1 = 0.6 (unfixed it would be 0.4 + 0.4 * 4.5/5 = 0.76).
        let broken = buckets([(0.1, 2), (0.2, 8), (0.4, 4), (0.8, 9), (.infinity, 10)])
        #expect(isClose(bucketQuantile(0.85, broken), 0.6))
    }

    @Test func equalBoundsAreMerged() {
        let duplicated = buckets([(0.1, 1), (0.1, 1), (.infinity, 4)])
        // merged (0.1, 2): rank 2 in the first bucket: 0.1 * 2/2
        #expect(isClose(bucketQuantile(0.5, duplicated), 0.1))
    }

    @Test func nonPositiveFirstBoundIsReturnedAsIs() {
        let negative = buckets([(-1, 2), (1, 4), (.infinity, 4)])
        #expect(bucketQuantile(0.25, negative) == -1)
        // rank 3 in (-1, 1] with 2 observations, 1 needed: -1 + 2 * 1/2
        #expect(isClose(bucketQuantile(0.75, negative), 0))
    }

    @Test func tinyFloatNoiseIsNotTreatedAsData() {
        // 6 - 1e-15 looks like a decrease after 6; it is snapped to 6 before the rank search.
        let noisy = buckets([(0.1, 6), (0.2, 6 - 1e-15), (.infinity, 12)])
        #expect(bucketQuantile(0.5, noisy) == 0.1)
    }

    @Test func quantileLabelsLookLikeGo() {
        #expect(quantileLabelValue(0.5) == "0.5")
        #expect(quantileLabelValue(0.99) == "0.99")
        #expect(quantileLabelValue(1) == "1")
        #expect(quantileLabelValue(0.999) == "0.999")
    }
}
