import Exposition

/// Shorthands for building our own families; every family the exporter writes goes through these,
/// so names, HELP texts and types are declared once, next to their samples.
extension OutputFamily {
    static func gauge(_ name: String, _ help: String, _ samples: [OutputSample]) -> OutputFamily {
        OutputFamily(name: name, help: help, type: .gauge, samples: samples)
    }

    static func counter(_ name: String, _ help: String, _ samples: [OutputSample]) -> OutputFamily {
        OutputFamily(name: name, help: help, type: .counter, samples: samples)
    }

    static func gauge(_ name: String, _ help: String, value: Double, labels: [(String, String)] = []) -> OutputFamily {
        gauge(name, help, [OutputSample(labels: labels, value: value)])
    }

    /// An info-style gauge: value 1, the facts in its labels (kube-state-metrics `_info` convention).
    static func info(_ name: String, _ help: String, labels: [(String, String)]) -> OutputFamily {
        gauge(name, help, [OutputSample(labels: labels, value: 1)])
    }
}

extension Bool {
    var gaugeValue: Double { self ? 1 : 0 }
}
