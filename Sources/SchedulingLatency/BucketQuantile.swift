/// One cumulative histogram bucket: observations `<= upperBound`.
public struct HistogramBucket: Sendable, Hashable {
    public var upperBound: Double
    public var cumulativeCount: Double

    public init(upperBound: Double, cumulativeCount: Double) {
        self.upperBound = upperBound
        self.cumulativeCount = cumulativeCount
    }
}

/// The φ-quantile of classic cumulative buckets, with the same results as PromQL's
/// `histogram_quantile` (bucketQuantile), so a dashboard built on Prometheus and this exporter agree.
///
/// - Buckets may come in any order; equal upper bounds are merged.
/// - NaN for: q is NaN, no `+Inf` bucket, fewer than two buckets, zero observations.
/// - q < 0 gives -Inf, q > 1 gives +Inf.
/// - A rank in the `+Inf` bucket gives the highest finite upper bound.
/// - The first bucket interpolates from 0 when its upper bound is positive, else returns that bound.
public func bucketQuantile(_ q: Double, _ unsortedBuckets: [HistogramBucket]) -> Double {
    if q.isNaN { return .nan }
    if q < 0 { return -.infinity }
    if q > 1 { return .infinity }
    guard !unsortedBuckets.isEmpty else { return .nan }

    var buckets = unsortedBuckets.sorted { $0.upperBound < $1.upperBound }
    guard let last = buckets.last, last.upperBound == .infinity else { return .nan }

    buckets = coalesced(buckets)
    correctPrecisionErrors(&buckets, tolerance: 1e-12)
    ensureMonotonic(&buckets)

    guard buckets.count >= 2 else { return .nan }
    let observations = buckets[buckets.count - 1].cumulativeCount
    if observations == 0 { return .nan }

    var rank = q * observations
    // First bucket (excluding +Inf) whose cumulative count reaches the rank; +Inf's index when none does.
    var index = buckets.count - 1
    for candidate in 0..<(buckets.count - 1) where buckets[candidate].cumulativeCount >= rank {
        index = candidate
        break
    }
    if index == buckets.count - 1 {
        return buckets[buckets.count - 2].upperBound
    }
    if index == 0 && buckets[0].upperBound <= 0 {
        return buckets[0].upperBound
    }
    var bucketStart = 0.0
    let bucketEnd = buckets[index].upperBound
    var countInBucket = buckets[index].cumulativeCount
    if index > 0 {
        bucketStart = buckets[index - 1].upperBound
        countInBucket -= buckets[index - 1].cumulativeCount
        rank -= buckets[index - 1].cumulativeCount
    }
    return bucketStart + (bucketEnd - bucketStart) * (rank / countInBucket)
}

/// Merges buckets with the same upper bound (input sorted), as Prometheus does for series that
/// differ only in a label that was summed away.
private func coalesced(_ sorted: [HistogramBucket]) -> [HistogramBucket] {
    var result: [HistogramBucket] = []
    result.reserveCapacity(sorted.count)
    for bucket in sorted {
        if let lastIndex = result.indices.last, result[lastIndex].upperBound == bucket.upperBound {
            result[lastIndex].cumulativeCount += bucket.cumulativeCount
        } else {
            result.append(bucket)
        }
    }
    return result
}

/// Float sums of many series can leave a higher bucket a hair below a lower one; such tiny
/// relative differences are snapped to the previous count instead of being treated as data.
private func correctPrecisionErrors(_ buckets: inout [HistogramBucket], tolerance: Double) {
    guard var previous = buckets.first?.cumulativeCount else { return }
    for index in buckets.indices.dropFirst() {
        let current = buckets[index].cumulativeCount
        let delta = abs(current - previous)
        if delta == 0 { continue }
        if delta / current <= tolerance {
            buckets[index].cumulativeCount = previous
        } else {
            previous = current
        }
    }
}

/// Cumulative counts must not decrease with the bound; inconsistent data (e.g. a partially reset
/// histogram) is flattened to its running maximum so the rank search stays meaningful.
private func ensureMonotonic(_ buckets: inout [HistogramBucket]) {
    guard var runningMax = buckets.first?.cumulativeCount else { return }
    for index in buckets.indices.dropFirst() {
        if buckets[index].cumulativeCount > runningMax {
            runningMax = buckets[index].cumulativeCount
        } else if buckets[index].cumulativeCount < runningMax {
            buckets[index].cumulativeCount = runningMax
        }
    }
}
