import Exposition
import Foundation
import Testing
import TestSupport

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

@testable import SchedulingLatency

/// Runs real Prometheus against a local server that serves a prepared sequence of bodies (one per
/// scrape, scrape_interval 1s), feeds the same bodies at the same scrape timestamps to a
/// `LatencyTracker`, and compares every window with the PromQL the tracker claims to equal:
///
///     histogram_quantile(q, sum by (le) (x_bucket - (x_bucket offset W or x_bucket * 0)))
///
/// (`or x * 0` is what "a series that appears inside the window counts from zero" means in PromQL),
/// and `increase(x_bucket[W])` for windows containing the scheduler restart. Queries are evaluated
/// exactly at the newest scrape's timestamp with W = newest - baseline scrape timestamp in ms, so
/// the range starts on a sample and `increase` does not extrapolate. Tolerance: quantiles 1e-12
/// relative (float summation order only; windows are aligned exactly); rates 1e-6 relative,
/// because the tracker takes unix time as a Double, whose resolution near 1.8e9 s is 2^-22 s
/// (0.24 µs), i.e. up to ~1e-7 of a 2-8 s span, while Prometheus divides integer milliseconds.
@Suite(.serialized) struct PrometheusDifferentialTests {
    static let prometheusPath = "/usr/bin/prometheus"
    static let window = 8.0
    static let quantiles = [0.25, 0.5, 0.9, 0.99]

    @Test(.timeLimit(.minutes(2)))
    func trackerMatchesPrometheusHistogramQuantile() async throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: Self.prometheusPath),
            "Prometheus is required at \(Self.prometheusPath) (apt-get install prometheus)")

        let scenario = try DifferentialScenario.make()
        let workDirectory = FileManager.default.temporaryDirectory
            .appendingPathComponent("latency-differential-\(UUID().uuidString)")
        let bodyDirectory = workDirectory.appendingPathComponent("bodies")
        try FileManager.default.createDirectory(at: bodyDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: workDirectory) }
        for (index, body) in scenario.bodies.enumerated() {
            let name = "body-" + String(repeating: "0", count: max(0, 4 - String(index).count)) + String(index) + ".txt"
            try Data(body.utf8).write(to: bodyDirectory.appendingPathComponent(name))
        }

        let portFile = workDirectory.appendingPathComponent("server.port").path
        let server = try startProcess(
            "/usr/bin/env",
            ["python3", serverScriptPath(), bodyDirectory.path, portFile],
            log: workDirectory.appendingPathComponent("server.log"))
        defer { stop(server) }
        let serverPort = try await waitForPortFile(portFile)

        let prometheusPort = try freeLoopbackPort()
        let config = """
            global:
              scrape_interval: 1s
              scrape_timeout: 900ms
              evaluation_interval: 1m
            scrape_configs:
              - job_name: differential
                static_configs:
                  - targets: ['127.0.0.1:\(serverPort)']
            """
        let configPath = workDirectory.appendingPathComponent("prometheus.yml")
        try Data(config.utf8).write(to: configPath)
        let prometheus = try startProcess(
            Self.prometheusPath,
            [
                "--config.file=\(configPath.path)",
                "--storage.tsdb.path=\(workDirectory.appendingPathComponent("data").path)",
                "--web.listen-address=127.0.0.1:\(prometheusPort)",
                "--log.level=warn",
            ],
            log: workDirectory.appendingPathComponent("prometheus.log"))
        defer { stop(prometheus) }
        let api = PrometheusAPI(port: prometheusPort)
        try await api.waitUntilReady()

        // Every body must have been scraped and stored before comparing.
        let lastSequence = Double(scenario.bodies.count - 1)
        var stored = false
        for _ in 0..<Int(Double(scenario.bodies.count) * 1.5 + 20) {
            if let value = try? await api.instant("max(test_body_sequence)").first?.value, value >= lastSequence {
                stored = true
                break
            }
            try await Task.sleep(for: .seconds(1))
        }
        try #require(stored, "Prometheus did not ingest all \(scenario.bodies.count) bodies")

        let scrapes = try await api.storedSequence()
        try #require(scrapes.count >= scenario.bodies.count)

        var tracker = LatencyTracker(configuration: .init(window: Self.window, quantiles: Self.quantiles))
        var compared = 0
        var resetWindows = 0
        var nanValues = 0
        var infBucketWindows = 0
        var appearingSeriesWindows = 0
        for (index, scrape) in scrapes.enumerated() {
            let document = try ExpositionDocument(bytes: Array(scenario.bodies[scrape.sequence].utf8))
            tracker.record(document, at: Double(scrape.milliseconds) / 1000)
            guard index > 0 else { continue }
            let report = tracker.report()
            let windowStart = try #require(report.windowStart)
            let baselineMilliseconds = Int64((windowStart * 1000).rounded())
            let baseline = try #require(scrapes[..<index].first { $0.milliseconds == baselineMilliseconds })
            // The tracker's baseline is the oldest scrape inside the window.
            #expect(scrape.milliseconds - baseline.milliseconds <= Int64(Self.window * 1000))
            if let earlier = scrapes[..<index].last(where: { $0.milliseconds < baselineMilliseconds }) {
                #expect(scrape.milliseconds - earlier.milliseconds >= Int64(Self.window * 1000) - 1)
            }

            let span = scrape.milliseconds - baseline.milliseconds
            let spansRestart = baseline.sequence < scenario.restartStep && scrape.sequence >= scenario.restartStep
            if spansRestart { resetWindows += 1 }
            if baseline.sequence < scenario.errorSeriesFirstStep && scrape.sequence >= scenario.errorSeriesFirstStep {
                appearingSeriesWindows += 1
            }
            func increase(_ selector: String) -> String {
                spansRestart
                    ? "increase(\(selector)[\(span)ms])"
                    : "(\(selector) - (\(selector) offset \(span)ms or \(selector) * 0))"
            }
            let at = scrape.milliseconds
            let bucket = "scheduler_scheduling_attempt_duration_seconds_bucket"
            for quantile in Self.quantiles {
                let label = quantileLabelValue(quantile)
                let all = try await api.instant(
                    "histogram_quantile(\(quantile), sum by (le) (\(increase(bucket))))", at: at)
                expectSame(report.latency("attempt", label), all.first?.value, "attempt q=\(label) window \(baseline.sequence)...\(scrape.sequence)")
                let scheduled = try await api.instant(
                    "histogram_quantile(\(quantile), sum by (le) (\(increase(bucket + "{result=\"scheduled\"}"))))", at: at)
                expectSame(
                    report.latency("attempt", label, result: "scheduled"), scheduled.first?.value,
                    "scheduled q=\(label) window \(baseline.sequence)...\(scrape.sequence)")
                compared += 2
                if all.first?.value.isNaN == true { nanValues += 1 }
                if quantile == 0.5, all.first?.value == 16.384 { infBucketWindows += 1 }
            }
            let seconds = Double(span) / 1000
            let rates = try await api.instant(
                "sum by (result) (\(increase("scheduler_schedule_attempts_total"))) / \(seconds)", at: at)
            for rate in rates {
                expectSame(
                    report.value(LatencyOutputName.scheduleAttemptsRate, ["result": rate.labels["result"] ?? ""]), rate.value,
                    "attempts rate \(rate.labels) window \(baseline.sequence)...\(scrape.sequence)", tolerance: 1e-6)
                compared += 1
            }
            #expect(report.family(named: LatencyOutputName.scheduleAttemptsRate)?.samples.count == rates.count)
            let preemption = try await api.instant(
                "sum(\(increase("scheduler_preemption_attempts_total"))) / \(seconds)", at: at)
            expectSame(report.value(LatencyOutputName.preemptionAttemptsRate), preemption.first?.value, "preemption rate", tolerance: 1e-6)
            compared += 1
        }
        print(
            "differential: \(scrapes.count) scrapes, \(compared) values compared, \(resetWindows) windows with a restart,"
                + " \(appearingSeriesWindows) with a new series, \(nanValues) NaN quantiles, \(infBucketWindows) all-in-+Inf medians")
        // The scenario really exercised the edge cases it was built for.
        #expect(resetWindows >= 3)
        #expect(nanValues >= 12)
        #expect(infBucketWindows >= 1)
        #expect(appearingSeriesWindows >= 1)
        #expect(compared >= 300)
    }

    private func expectSame(_ ours: Double?, _ theirs: Double?, _ what: String, tolerance: Double = 1e-12) {
        switch (ours, theirs) {
        case (nil, nil):
            return
        case let (ours?, theirs?):
            if ours.isNaN || theirs.isNaN {
                #expect(ours.isNaN && theirs.isNaN, "\(what): tracker \(ours), Prometheus \(theirs)")
            } else {
                #expect(
                    abs(ours - theirs) <= tolerance * max(1, abs(theirs)),
                    "\(what): tracker \(ours), Prometheus \(theirs)")
            }
        default:
            Issue.record("\(what): tracker \(String(describing: ours)), Prometheus \(String(describing: theirs))")
        }
    }
}

/// Deterministic bodies of one scheduler over time: normal load, a series that appears late, a
/// restart (every counter and bucket goes down), a stretch of attempts slower than the highest
/// bucket, and a quiet stretch with no attempts at all.
struct DifferentialScenario {
    let bodies: [String]
    let restartStep: Int
    let errorSeriesFirstStep: Int

    static let bounds = (0..<15).map { 0.001 * Double(1 << $0) }
    static let results = ["scheduled", "unschedulable", "error"]

    struct Series {
        var counts = [Double](repeating: 0, count: DifferentialScenario.bounds.count + 1)
        var sum = 0.0

        mutating func observe(_ value: Double) {
            for (index, bound) in DifferentialScenario.bounds.enumerated() where value <= bound { counts[index] += 1 }
            counts[DifferentialScenario.bounds.count] += 1
            sum += value
        }
    }

    static func make() throws -> DifferentialScenario {
        var random = SplitMix64(seed: 20_251_126)
        let restartStep = 15
        let errorSeriesFirstStep = 3
        var series: [String: Series] = ["scheduled": Series(), "unschedulable": Series()]
        var preemptions = 0.0
        var bodies: [String] = []
        for step in 0..<40 {
            if step == errorSeriesFirstStep { series["error"] = Series() }
            if step == restartStep {
                let before = series
                series = ["scheduled": Series(), "unschedulable": Series(), "error": Series()]
                series["scheduled"]!.observe(0.006)
                series["scheduled"]!.observe(0.0061)
                preemptions = 0
                // Every non-zero bucket must go down, or Prometheus (per bucket) and the tracker
                // (per histogram) would legitimately disagree about the reset.
                for (result, after) in series {
                    let old = before[result]!
                    for (index, count) in after.counts.enumerated() {
                        try #require(count < old.counts[index] || (count == 0 && old.counts[index] == 0))
                    }
                }
            } else if step < restartStep || step == 16 {
                for _ in 0..<random.next(upTo: 7) { series["scheduled"]!.observe(random.logNormal(median: 0.008, sigma: 0.7)) }
                for _ in 0..<random.next(upTo: 3) { series["unschedulable"]!.observe(random.logNormal(median: 0.002, sigma: 0.5)) }
                if series["error"] != nil, random.next(upTo: 3) == 0 { series["error"]!.observe(0.3) }
                if random.next(upTo: 3) == 0 { preemptions += 1 }
            } else if step <= 25 {
                // Slower than the highest finite bucket: everything lands in +Inf.
                series["unschedulable"]!.observe(25 + Double(step))
            }
            bodies.append(render(series, preemptions: preemptions, sequence: step))
        }
        return DifferentialScenario(bodies: bodies, restartStep: restartStep, errorSeriesFirstStep: errorSeriesFirstStep)
    }

    static func render(_ series: [String: Series], preemptions: Double, sequence: Int) -> String {
        let family = "scheduler_scheduling_attempt_duration_seconds"
        var lines = [
            "# HELP \(family) Scheduling attempt latency in seconds (scheduling algorithm + binding)",
            "# TYPE \(family) histogram",
        ]
        // Buckets deliberately out of order in the text for one series.
        for result in results {
            guard let values = series[result] else { continue }
            let labels = "profile=\"default-scheduler\",result=\"\(result)\""
            var bucketLines: [String] = []
            for (index, bound) in bounds.enumerated() {
                bucketLines.append("\(family)_bucket{\(labels),le=\"\(bound)\"} \(Int(values.counts[index]))")
            }
            bucketLines.append("\(family)_bucket{\(labels),le=\"+Inf\"} \(Int(values.counts[bounds.count]))")
            lines += result == "unschedulable" ? bucketLines.reversed() : bucketLines
            lines.append("\(family)_sum{\(labels)} \(values.sum)")
            lines.append("\(family)_count{\(labels)} \(Int(values.counts[bounds.count]))")
        }
        lines.append("# TYPE scheduler_schedule_attempts_total counter")
        for result in results {
            guard let values = series[result] else { continue }
            lines.append(
                "scheduler_schedule_attempts_total{profile=\"default-scheduler\",result=\"\(result)\"} \(Int(values.counts[bounds.count]))")
        }
        lines.append("# TYPE scheduler_preemption_attempts_total counter")
        lines.append("scheduler_preemption_attempts_total \(Int(preemptions))")
        lines.append("# TYPE test_body_sequence gauge")
        lines.append("test_body_sequence \(sequence)")
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Seeded, so every run (and Prometheus) sees the same bodies.
struct SplitMix64 {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func next(upTo bound: Int) -> Int { Int(next() % UInt64(bound)) }

    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    mutating func logNormal(median: Double, sigma: Double) -> Double {
        // Box-Muller; the +tiny keeps log away from 0.
        let normal = (-2 * log(unit() + 1e-300)).squareRoot() * cos(2 * Double.pi * unit())
        return median * exp(sigma * normal)
    }
}

struct StoredScrape {
    let milliseconds: Int64
    let sequence: Int
}

struct PrometheusSample {
    let labels: [String: String]
    let value: Double
}

struct PrometheusAPI {
    let port: Int

    func waitUntilReady() async throws {
        for _ in 0..<100 {
            if let (_, response) = try? await URLSession.shared.data(from: url("/-/ready")),
                (response as? HTTPURLResponse)?.statusCode == 200
            {
                return
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw PrometheusFailure(message: "Prometheus on 127.0.0.1:\(port) did not become ready")
    }

    /// Instant query; `at` in unix milliseconds (the API takes seconds with a fraction).
    func instant(_ expression: String, at milliseconds: Int64? = nil) async throws -> [PrometheusSample] {
        var query = [URLQueryItem(name: "query", value: expression)]
        if let milliseconds { query.append(URLQueryItem(name: "time", value: Self.seconds(milliseconds))) }
        let data = try await get("/api/v1/query", query)
        guard let result = data["result"] as? [[String: Any]] else { return [] }
        return try result.map { entry in
            guard let value = entry["value"] as? [Any], value.count == 2, let text = value[1] as? String else {
                throw PrometheusFailure(message: "unexpected vector entry \(entry)")
            }
            return PrometheusSample(labels: entry["metric"] as? [String: String] ?? [:], value: try Self.parse(text))
        }
    }

    /// Every stored `test_body_sequence` sample: the exact scrape timestamps and which body each saw.
    func storedSequence() async throws -> [StoredScrape] {
        let data = try await get("/api/v1/query", [URLQueryItem(name: "query", value: "test_body_sequence[10m]")])
        guard let result = data["result"] as? [[String: Any]], let values = result.first?["values"] as? [[Any]] else {
            throw PrometheusFailure(message: "no test_body_sequence samples")
        }
        return try values.map { pair in
            guard let time = pair.first as? Double, let text = pair.last as? String, let sequence = Int(text) else {
                throw PrometheusFailure(message: "unexpected sample \(pair)")
            }
            return StoredScrape(milliseconds: Int64((time * 1000).rounded()), sequence: sequence)
        }
    }

    private func get(_ path: String, _ query: [URLQueryItem]) async throws -> [String: Any] {
        var components = URLComponents(url: url(path), resolvingAgainstBaseURL: false)!
        components.queryItems = query
        // `+` is legal in a query but Prometheus's form decoding reads it as a space.
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        let (body, _) = try await URLSession.shared.data(from: components.url!)
        guard let json = try JSONSerialization.jsonObject(with: body) as? [String: Any],
            json["status"] as? String == "success", let data = json["data"] as? [String: Any]
        else {
            throw PrometheusFailure(message: "query failed: \(String(decoding: body, as: UTF8.self))")
        }
        return data
    }

    private func url(_ path: String) -> URL { URL(string: "http://127.0.0.1:\(port)\(path)")! }

    private static func seconds(_ milliseconds: Int64) -> String {
        let fraction = String(milliseconds % 1000)
        return "\(milliseconds / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }

    private static func parse(_ text: String) throws -> Double {
        switch text {
        case "NaN": return .nan
        case "+Inf": return .infinity
        case "-Inf": return -.infinity
        default:
            guard let value = Double(text) else { throw PrometheusFailure(message: "not a number: \(text)") }
            return value
        }
    }
}

struct PrometheusFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

private func serverScriptPath() -> String {
    let directory = #filePath.split(separator: "/").dropLast().joined(separator: "/")
    return "/" + directory + "/Servers/advancing_metrics_server.py"
}

private func startProcess(_ executable: String, _ arguments: [String], log: URL) throws -> Process {
    FileManager.default.createFile(atPath: log.path, contents: nil)
    let output = try FileHandle(forWritingTo: log)
    return try spawnLongLived {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = output
        try process.run()
        return process
    }
}

/// SIGTERM, then SIGKILL after 5 s; never waits unbounded.
private func stop(_ process: Process) {
    guard process.isRunning else { return }
    process.terminate()
    for _ in 0..<100 where process.isRunning { usleep(50_000) }
    if process.isRunning {
        kill(process.processIdentifier, SIGKILL)
        for _ in 0..<40 where process.isRunning { usleep(50_000) }
    }
}

private func waitForPortFile(_ path: String) async throws -> Int {
    for _ in 0..<100 {
        if let text = try? String(contentsOfFile: path, encoding: .utf8), let port = Int(text) { return port }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw PrometheusFailure(message: "the body server did not start")
}

/// A port that was free a moment ago on 127.0.0.1 (Prometheus cannot report a port it picked).
private func freeLoopbackPort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw PrometheusFailure(message: "socket failed") }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(descriptor, pointer, length) == 0 && getsockname(descriptor, pointer, &length) == 0
        }
    }
    guard bound else { throw PrometheusFailure(message: "bind failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}
