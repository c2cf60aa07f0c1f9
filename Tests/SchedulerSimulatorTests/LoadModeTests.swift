import Foundation
import Testing
@testable import SchedulerSimulator

/// A deliberately separate, minimal exposition reader, so load-mode checks do not trust the simulator's parser.
struct ExpositionSnapshot {
    struct Series: Hashable {
        var name: String
        var labels: String
    }

    var values: [Series: Double] = [:]
    var lines: [String] = []

    init(_ body: Data) {
        lines = String(decoding: body, as: UTF8.self).components(separatedBy: "\n")
        for line in lines where !line.isEmpty && !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            let series = line[..<space]
            let valueText = String(line[line.index(after: space)...])
            let value = valueText == "+Inf" ? Double.infinity : Double(valueText) ?? .nan
            if let brace = series.firstIndex(of: "{") {
                values[Series(name: String(series[..<brace]), labels: String(series[brace...]))] = value
            } else {
                values[Series(name: String(series), labels: "")] = value
            }
        }
    }

    func value(_ name: String, _ labels: String = "") -> Double? { values[Series(name: name, labels: labels)] }

    /// Buckets of one histogram series in exposition order, as (le, cumulative count).
    func buckets(_ family: String, labelsWithoutLE: String) -> [(Double, Double)] {
        let prefix = labelsWithoutLE.isEmpty ? "{le=\"" : String(labelsWithoutLE.dropLast()) + ",le=\""
        return lines.compactMap { line -> (Double, Double)? in
            guard line.hasPrefix(family + "_bucket" + prefix) else { return nil }
            let afterLE = line.dropFirst((family + "_bucket" + prefix).count)
            let leText = String(afterLE.prefix { $0 != "\"" })
            let le = leText == "+Inf" ? Double.infinity : Double(leText)!
            let count = Double(line[line.index(after: line.lastIndex(of: " ")!)...])!
            return (le, count)
        }
    }
}

@Suite(.serialized) struct LoadModeTests {
    static let histograms: [(family: String, labels: String)] = [
        ("scheduler_scheduling_attempt_duration_seconds", #"{profile="default-scheduler",result="scheduled"}"#),
        ("scheduler_scheduling_attempt_duration_seconds", #"{profile="default-scheduler",result="unschedulable"}"#),
        ("scheduler_pod_scheduling_sli_duration_seconds", #"{attempts="1"}"#),
        ("scheduler_scheduling_algorithm_duration_seconds", ""),
        ("scheduler_framework_extension_point_duration_seconds",
         #"{extension_point="Filter",profile="default-scheduler",status="Success"}"#),
        ("scheduler_framework_extension_point_duration_seconds",
         #"{extension_point="Bind",profile="default-scheduler",status="Success"}"#),
    ]
    static let scheduledAttempts = #"{profile="default-scheduler",result="scheduled"}"#
    static let unschedulableAttempts = #"{profile="default-scheduler",result="unschedulable"}"#
    static let grownFamilies = [
        "scheduler_scheduling_attempt_duration_seconds", "scheduler_pod_scheduling_sli_duration_seconds",
        "scheduler_scheduling_algorithm_duration_seconds", "scheduler_framework_extension_point_duration_seconds",
        "scheduler_schedule_attempts_total",
    ]

    func metrics(_ running: RunningSimulator) async throws -> (ExpositionSnapshot, RunningSimulator.Headers) {
        let transfer = try await running.curl.fetch(
            running.baseURL + "/metrics", arguments: running.caller(.exporterToken).curlArguments)
        try #require(transfer.status == 200)
        return (ExpositionSnapshot(transfer.body), transfer.headers)
    }

    func expectConsistent(_ snapshot: ExpositionSnapshot) {
        for (family, labels) in Self.histograms {
            let buckets = snapshot.buckets(family, labelsWithoutLE: labels)
            #expect(!buckets.isEmpty, "\(family)\(labels) has buckets")
            for (lower, upper) in zip(buckets, buckets.dropFirst()) {
                #expect(lower.0 < upper.0 && lower.1 <= upper.1, "\(family)\(labels) buckets cumulative")
            }
            #expect(buckets.last?.0 == .infinity)
            #expect(buckets.last?.1 == snapshot.value(family + "_count", labels), "\(family) +Inf == _count")
        }
    }

    @Test func ticksGrowHistogramsConsistentlyAndLeaveOtherLinesAlone() async throws {
        let running = try await RunningSimulator.start {
            $0.load = true
            $0.loadInterval = nil
            $0.loadSeed = 42
        }
        defer { running.cleanUp() }
        let captured = try Captures.file(.defaultAfterLoad, "metrics.txt")
        let start = try await running.curl.fetch(
            running.baseURL + "/metrics", arguments: running.caller(.exporterToken).curlArguments)
        #expect(start.body == captured, "tick 0 is the default-after-load capture verbatim")

        var previous = ExpositionSnapshot(captured)
        let untouched = previous.lines.filter { line in !Self.grownFamilies.contains { line.hasPrefix($0) } }
        var grewTotal = 0.0
        for tick in 1...6 {
            running.simulator.advanceLoad()
            #expect(running.simulator.loadTick == tick)
            let (snapshot, _) = try await metrics(running)
            expectConsistent(snapshot)
            for (family, labels) in Self.histograms {
                let before = previous.value(family + "_count", labels)!
                let after = snapshot.value(family + "_count", labels)!
                #expect(after >= before, "\(family)\(labels) count monotonic")
                #expect(snapshot.value(family + "_sum", labels)! >= previous.value(family + "_sum", labels)!)
            }
            let attempt = "scheduler_scheduling_attempt_duration_seconds_count"
            let scheduledDelta = snapshot.value("scheduler_schedule_attempts_total", Self.scheduledAttempts)!
                - previous.value("scheduler_schedule_attempts_total", Self.scheduledAttempts)!
            let unschedulableDelta = snapshot.value("scheduler_schedule_attempts_total", Self.unschedulableAttempts)!
                - previous.value("scheduler_schedule_attempts_total", Self.unschedulableAttempts)!
            #expect(scheduledDelta >= 1, "every tick schedules at least one pod")
            #expect(scheduledDelta == snapshot.value(attempt, Self.scheduledAttempts)!
                - previous.value(attempt, Self.scheduledAttempts)!)
            #expect(unschedulableDelta == snapshot.value(attempt, Self.unschedulableAttempts)!
                - previous.value(attempt, Self.unschedulableAttempts)!)
            let algorithm = "scheduler_scheduling_algorithm_duration_seconds_count"
            #expect(snapshot.value(algorithm)! - previous.value(algorithm)! == scheduledDelta + unschedulableDelta)
            grewTotal += scheduledDelta
            let stillUntouched = snapshot.lines.filter { line in !Self.grownFamilies.contains { line.hasPrefix($0) } }
            #expect(stillUntouched == untouched, "lines outside the grown families are unchanged")
            #expect(snapshot.lines.count == previous.lines.count)
            previous = snapshot
        }
        #expect(grewTotal >= 6)
        try await running.stop()
    }

    @Test func sameSeedSameLoadOtherSeedOtherLoad() async throws {
        func body(seed: UInt64) async throws -> Data {
            let running = try await RunningSimulator.start {
                $0.load = true
                $0.loadInterval = nil
                $0.loadSeed = seed
            }
            running.simulator.advanceLoad(ticks: 4)
            let transfer = try await running.curl.fetch(
                running.baseURL + "/metrics", arguments: running.caller(.exporterToken).curlArguments)
            try await running.stop()
            return transfer.body
        }
        let first = try await body(seed: 7)
        let again = try await body(seed: 7)
        let other = try await body(seed: 8)
        #expect(first == again)
        #expect(first != other)
    }

    @Test func restartResetsCountersOnceAndMovesTheStartTime() async throws {
        let running = try await RunningSimulator.start {
            $0.load = true
            $0.loadInterval = nil
            $0.restartAtTick = 3
        }
        defer { running.cleanUp() }
        let (initial, initialHeaders) = try await metrics(running)
        let attempts = "scheduler_schedule_attempts_total"
        let histogramCount = "scheduler_scheduling_attempt_duration_seconds_count"
        running.simulator.advanceLoad(ticks: 2)
        let (beforeRestart, _) = try await metrics(running)
        #expect(beforeRestart.value(attempts, Self.scheduledAttempts)! > initial.value(attempts, Self.scheduledAttempts)!)

        running.simulator.advanceLoad()
        let (restarted, restartedHeaders) = try await metrics(running)
        expectConsistent(restarted)
        #expect(restarted.value(attempts, Self.scheduledAttempts) == 0)
        #expect(restarted.value(histogramCount, Self.scheduledAttempts) == 0)
        for (family, labels) in Self.histograms {
            #expect(restarted.value(family + "_count", labels) == 0)
            #expect(restarted.value(family + "_sum", labels) == 0)
        }
        // Not only the grown series: every counter and histogram of the new process starts at zero.
        let permit = #"{extension_point="Permit",profile="default-scheduler",status="Success"}"#
        #expect(initial.value("scheduler_framework_extension_point_duration_seconds_count", permit) == 30)
        #expect(restarted.value("scheduler_framework_extension_point_duration_seconds_count", permit) == 0)
        #expect(restarted.buckets("scheduler_framework_extension_point_duration_seconds", labelsWithoutLE: permit).allSatisfy { $0.1 == 0 })
        #expect(restarted.value("process_cpu_seconds_total") == 0, "a counter outside the scheduler's own families too")
        #expect(restarted.value("process_start_time_seconds")! > initial.value("process_start_time_seconds")!)
        #expect(restartedHeaders["process-start-time-unix"] != initialHeaders["process-start-time-unix"])
        #expect(restartedHeaders["process-start-time-unix"]
            == String(Int(restarted.value("process_start_time_seconds")!)))

        running.simulator.advanceLoad(ticks: 2)
        let (after, _) = try await metrics(running)
        expectConsistent(after)
        let grown = after.value(attempts, Self.scheduledAttempts)!
        #expect(grown >= 2, "counting resumes from zero after the restart")
        #expect(grown < beforeRestart.value(attempts, Self.scheduledAttempts)!, "and does not reset again")
        #expect(after.value("process_start_time_seconds") == restarted.value("process_start_time_seconds"))
        try await running.stop()
    }

    @Test func timerDrivesTheLoad() async throws {
        let running = try await RunningSimulator.start {
            $0.load = true
            $0.loadInterval = .milliseconds(50)
        }
        defer { running.cleanUp() }
        let capturedCount = ExpositionSnapshot(try Captures.file(.defaultAfterLoad, "metrics.txt"))
            .value("scheduler_schedule_attempts_total", Self.scheduledAttempts)!
        // Bounded wait for the timer; what is asserted is growth, not how fast it came.
        var grown = capturedCount
        for _ in 0..<200 where grown == capturedCount {
            try await Task.sleep(for: .milliseconds(50))
            grown = try await metrics(running).0.value("scheduler_schedule_attempts_total", Self.scheduledAttempts)!
        }
        #expect(grown > capturedCount)
        expectConsistent(try await metrics(running).0)
        try await running.stop()
    }
}

extension RunningSimulator {
    typealias Headers = [String: String]
}
