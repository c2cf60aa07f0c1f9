import Exposition

/// Bounds on what a target controls in the exporter's output: label names and values it sends
/// (build info labels, health check names, feature gate names), and how many of them are kept.
/// A scheduler is trusted to be a scheduler, not to be well-behaved: a buggy or hostile one must
/// not crash the exporter (a duplicate label name stopped the process in the writer's
/// precondition) nor make it serve megabytes per scrape.
public enum TargetDataLimits {
    /// Longer label values are cut (at a UTF-8 boundary); no real scheduler value comes close.
    public static let maxLabelValueBytes = 1024
    /// Named checks kept per health endpoint; kube-scheduler 1.35 has 4 to 7.
    public static let maxHealthChecksPerEndpoint = 256
    /// Feature gates kept; kube-scheduler 1.35 reports 218 and each release adds a few dozen.
    public static let maxFeatureGates = 1024
    /// Samples kept per family derived from a target; the largest real one is the feature gates.
    public static let maxSamplesPerFamily = 10_000
}

/// Why target data was cut, as `reason` values of `kube_scheduler_exporter_target_data_dropped_total`.
public enum TargetDataDrop: String, Sendable, CaseIterable {
    /// A label value over `maxLabelValueBytes`, truncated.
    case labelValueTruncated = "label_value_truncated"
    /// A label from the target named like the target's own labels (`target`, the static labels):
    /// kept as `exported_<name>`, as Prometheus does with `honor_labels: false`.
    case labelRenamed = "label_renamed"
    /// A label name the text format cannot carry, dropped.
    case labelInvalid = "label_invalid"
    /// Health checks beyond `maxHealthChecksPerEndpoint`, or repeated names.
    case healthChecks = "health_checks"
    /// Feature gates beyond `maxFeatureGates`, or repeated names.
    case featureGates = "feature_gates"
    /// Samples beyond `maxSamplesPerFamily`.
    case samples
    /// A family that still could not be written (never expected; dropped rather than crashing).
    case family
}

/// Counts of dropped target data by reason, per poll.
public struct DroppedTargetData: Sendable, Equatable {
    public private(set) var counts: [TargetDataDrop: Int] = [:]

    public init() {}

    public mutating func add(_ reason: TargetDataDrop, _ count: Int = 1) {
        guard count > 0 else { return }
        counts[reason, default: 0] += count
    }

    public mutating func merge(_ other: DroppedTargetData) {
        for (reason, count) in other.counts { add(reason, count) }
    }

    public subscript(reason: TargetDataDrop) -> Int { counts[reason] ?? 0 }
    public var isEmpty: Bool { counts.isEmpty }
}

extension OutputFamily {
    /// The families with `prefix` (the target label and the static labels) first on every sample,
    /// made safe to render whatever the target sent: labels that collide with the prefix (or with
    /// each other) renamed `exported_<name>`, invalid label names dropped, long values truncated,
    /// samples per family capped, and any family the writer would still refuse dropped. What was
    /// cut is counted in `dropped`.
    static func labelled(_ families: [OutputFamily], prefix: [(String, String)], dropped: inout DroppedTargetData) -> [OutputFamily] {
        let prefixNames = Set(prefix.map(\.0))
        var result: [OutputFamily] = []
        result.reserveCapacity(families.count)
        for var family in families {
            if family.samples.count > TargetDataLimits.maxSamplesPerFamily {
                dropped.add(.samples, family.samples.count - TargetDataLimits.maxSamplesPerFamily)
                family.samples.removeLast(family.samples.count - TargetDataLimits.maxSamplesPerFamily)
            }
            family.samples = family.samples.map { sample in
                var sample = sample
                var names = prefixNames
                var labels: [Label] = prefix.map { (name: $0.0, value: $0.1) }
                labels.reserveCapacity(prefix.count + sample.labels.count)
                for label in sample.labels {
                    guard ExpositionWriter.isValidLabelName(label.name) else {
                        dropped.add(.labelInvalid)
                        continue
                    }
                    var name = label.name
                    if names.contains(name) {
                        dropped.add(.labelRenamed)
                        repeat { name = "exported_" + name } while names.contains(name)
                    }
                    names.insert(name)
                    var value = label.value
                    if value.utf8.count > TargetDataLimits.maxLabelValueBytes {
                        dropped.add(.labelValueTruncated)
                        value = value.truncatedToUTF8(TargetDataLimits.maxLabelValueBytes)
                    }
                    labels.append((name: name, value: value))
                }
                sample.labels = labels
                return sample
            }
            guard ExpositionWriter.problems(in: family).isEmpty else {
                dropped.add(.family)
                continue
            }
            result.append(family)
        }
        return result
    }
}

extension String {
    /// The longest prefix of at most `limit` UTF-8 bytes that ends on a character boundary.
    func truncatedToUTF8(_ limit: Int) -> String {
        guard utf8.count > limit else { return self }
        var end = startIndex
        var bytes = 0
        for index in indices {
            let next = self.index(after: index)
            let width = utf8.distance(from: index, to: next)
            if bytes + width > limit { break }
            bytes += width
            end = next
        }
        return String(self[..<end])
    }
}
