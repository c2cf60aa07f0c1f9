import CurlHTTP
import Foundation
import Synchronization
import TestSupport
import Testing

/// The exporter process under hostile clients on 127.0.0.1, with its default limits: while each
/// attack runs, a well-behaved scraper (a new connection per scrape, the worst case) keeps being
/// answered, and the exporter's memory stays bounded. Each test prints one line for the record:
///
///     hostile=slowloris good_scrape_ms=12.3 good_scrape_p50_ms=1.9 scrapes=40 peak_rss_mb=31.2
///
/// (`good_scrape_ms` is the slowest good scrape during the attack, `peak_rss_mb` the exporter's
/// VmHWM). Latencies are printed, never asserted: the bounds are safety nets for slow machines.
@Suite(.serialized) struct HostileClientTests {
    /// How long each attack runs while the scraper scrapes.
    static let attackSeconds = 5.0

    @Test func slowloris() async throws {
        let run = try await HostileRun.start()
        defer { run.stop() }
        // More connections than --web.max-connections (512), each sending a header line now and then
        // and never the blank line that ends the head; a closed one is reopened at once.
        let load = HostileLoad(threads: 4) { load in
            let port = run.port
            var connections: [RawConnection?] = Array(repeating: nil, count: Swift.min(150, HostileLoad.descriptorBudget / 4))
            while !load.stopped {
                for index in connections.indices where !load.stopped {
                    if connections[index] == nil {
                        connections[index] = try? RawConnection(port: port, timeout: 1)
                        connections[index]?.send("GET /metrics HTTP/1.1\r\nHost: x\r\n")
                        load.count()
                    }
                    if connections[index]?.send("X-Slow: \(index)\r\n") != true {
                        connections[index]?.close()
                        connections[index] = nil
                    }
                }
                usleep(300_000)
            }
        }
        try await run.measure("slowloris", during: load)
        let body = try await run.exporter.get("/metrics")
        let text = String(decoding: body.body, as: UTF8.self)
        #expect((sampleValue(text, "kube_scheduler_exporter_http_requests_rejected_total", "reason=\"timeout\"") ?? 0)
                + (sampleValue(text, "kube_scheduler_exporter_http_requests_rejected_total", "reason=\"connection_evicted\"") ?? 0) > 0,
                "the slow connections were cut")
    }

    @Test func connectionFlood() async throws {
        let run = try await HostileRun.start()
        defer { run.stop() }
        // New connections as fast as four threads can open them, each held (silent) until the
        // thread has 200 open, then the oldest is reset: far over --web.max-connections.
        let load = HostileLoad(threads: 4) { load in
            let port = run.port
            var held: [RawConnection] = []
            let hold = Swift.min(200, HostileLoad.descriptorBudget / 4)
            while !load.stopped {
                guard let connection = try? RawConnection(port: port, timeout: 1) else { continue }
                connection.resetOnClose()
                load.count()
                held.append(connection)
                if held.count > hold { held.removeFirst().close() }
            }
            for connection in held { connection.close() }
        }
        try await run.measure("connection_flood", during: load, retries: 1)
    }

    @Test func oversizedHeads() async throws {
        let run = try await HostileRun.start()
        defer { run.stop() }
        let huge = String(repeating: "a", count: 64 << 10)
        let requests = [
            "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Huge: \(huge)\r\n\r\n",
            "GET /\(huge) HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /metrics HTTP/1.1\r\n" + (0..<500).map { "X-\($0): v\r\n" }.joined() + "\r\n",
        ]
        let load = HostileLoad(threads: 4) { load in
            let port = run.port
            var index = 0
            while !load.stopped {
                guard let connection = try? RawConnection(port: port, timeout: 1) else { continue }
                connection.resetOnClose()
                connection.send(requests[index % requests.count])
                index += 1
                load.count()
                if let status = connection.receiveResponse(timeout: 5)?.status, status != 414, status != 431 {
                    load.record("unexpected status \(status)")
                }
                connection.close()
            }
        }
        try await run.measure("oversized_heads", during: load)
        #expect(load.problems.isEmpty, "\(load.problems.prefix(3))")
    }

    @Test func bcryptFlood() async throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let hash = try await runCommand("/usr/bin/python3", ["-W", "ignore", "-c",
            "import crypt; print(crypt.crypt('right-password', crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1<<10)))"])
            .output.trimmingCharacters(in: .whitespacesAndNewlines)
        let webConfig = try dir.write("web.yml", "basic_auth_users:\n  prometheus: \"\(hash)\"\n")
        let run = try await HostileRun.start(["--web.config.file", webConfig], authorization: "prometheus:right-password")
        defer { run.stop() }
        // Wrong passwords from 16 keep-alive connections, each sending the next as soon as it
        // is answered (401, or 429 once the bcrypt queue is full).
        let load = HostileLoad(threads: 16) { load in
            let port = run.port
            var connection: RawConnection?
            var attempt = 0
            while !load.stopped {
                if connection == nil { connection = try? RawConnection(port: port, timeout: 1) }
                attempt += 1
                guard let current = connection,
                      current.send("GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Basic \(Data("prometheus:wrong-\(attempt)".utf8).base64EncodedString())\r\n\r\n"),
                      let status = current.receiveResponse(timeout: 30)?.status else {
                    connection?.close()
                    connection = nil
                    continue
                }
                load.count()
                if status != 401 && status != 429 { load.record("unexpected status \(status)") }
            }
            connection?.close()
        }
        try await run.measure("bcrypt_flood", during: load)
        #expect(load.problems.isEmpty, "\(load.problems.prefix(3))")
        let page = try await run.scrape()
        #expect(page.status == 200)
        #expect((sampleValue(page.body, "kube_scheduler_exporter_http_requests_rejected_total", "reason=\"password_check_overload\"") ?? 0) > 0,
                "the queue was full and said so")
    }
}

/// An exporter process against a simulator, with a scraper that plays by the rules.
struct HostileRun: Sendable {
    let dir: TempDirectory
    let simulator: Simulator
    let exporter: Exporter
    let port: Int
    /// `user:password` for basic auth, nil without.
    let authorization: String?

    static func start(_ arguments: [String] = [], authorization: String? = nil) async throws -> HostileRun {
        HostileLoad.raiseDescriptorLimit()
        let dir = try TempDirectory()
        let simulator = try await Simulator.start(in: dir)
        let exporter = try await Exporter.start(["--target", simulator.url, "--ca-file", simulator.caFile,
                                                 "--bearer-token-file", simulator.tokenFile, "--check.nonloopback-address", "127.0.0.2",
                                                 "--check.insecure-port", "0", "--poll-interval", "2s", "--log.level", "info"] + arguments)
        guard let port = exporter.address.split(separator: ":").last.flatMap({ Int($0) }) else {
            throw HarnessError("no port in \(exporter.address)")
        }
        let run = HostileRun(dir: dir, simulator: simulator, exporter: exporter, port: port, authorization: authorization)
        // Until the first poll is in, and (with basic auth) the scraper's credentials are verified once.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let page = try await run.scrape()
            if page.status == 200, sampleValue(page.body, "kube_scheduler_up") == 1 { return run }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw HarnessError("the exporter did not come up: \(exporter.child.text.suffix(2000))")
    }

    /// One scrape of /metrics on a new connection: status (0: no answer), body and milliseconds.
    func scrape(timeout: Double = 30) async throws -> (status: Int, body: String, milliseconds: Double) {
        let port = self.port
        let authorization = self.authorization.map { "Authorization: Basic \(Data($0.utf8).base64EncodedString())\r\n" } ?? ""
        return try await offCooperativePool {
            let started = Date()
            let connection = try RawConnection(port: port, timeout: timeout)
            defer { connection.close() }
            connection.send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Prometheus/3\r\nAccept-Encoding: identity\r\n\(authorization)Connection: close\r\n\r\n")
            let response = connection.receiveResponse(timeout: timeout)
            return (response?.status ?? 0, response?.body ?? "", Date().timeIntervalSince(started) * 1000)
        }
    }

    /// Scrapes every 100 ms while `load` runs for `HostileClientTests.attackSeconds`, then stops
    /// it; every scrape must be answered, and the exporter's peak memory must stay bounded.
    /// `retries`: new connections a scrape may take when one closes unanswered (a flood evicts the
    /// longest-idle connection, and on a saturated machine that can be a scraper's connection
    /// accepted but not yet read); each is counted and printed.
    func measure(_ name: String, during load: HostileLoad, retries: Int = 0) async throws {
        let pid = exporter.child.process.processIdentifier
        try await Task.sleep(for: .milliseconds(500))  // let the attack build up
        var latencies: [Double] = []
        var peakRSS = ProcessMemory.rssKiB(pid) ?? 0
        let end = Date().addingTimeInterval(HostileClientTests.attackSeconds)
        var retried = 0
        while Date() < end {
            var scrape = try await scrape()
            var left = retries
            while scrape.status == 0, left > 0 {
                left -= 1
                retried += 1
                let again = try await self.scrape()
                scrape = (again.status, again.body, scrape.milliseconds + again.milliseconds)
            }
            #expect(scrape.status == 200, "\(name): a good scrape was not answered (status \(scrape.status))")
            #expect(scrape.body.contains("kube_scheduler_up{"), "\(name): the page is whole")
            latencies.append(scrape.milliseconds)
            peakRSS = max(peakRSS, ProcessMemory.rssKiB(pid) ?? 0)
            try await Task.sleep(for: .milliseconds(100))
        }
        let attempts = load.finish()
        let highWater = max(peakRSS, ProcessMemory.highWaterKiB(pid) ?? 0)
        let sorted = latencies.sorted()
        let median = sorted.isEmpty ? 0 : sorted[sorted.count / 2]
        print(String(format: "hostile=%@ good_scrape_ms=%.1f good_scrape_p50_ms=%.1f scrapes=%d retried=%d attack_requests=%d peak_rss_mb=%.1f",
                     name, sorted.last ?? 0, median, latencies.count, retried, attempts, Double(highWater) / 1024))
        #expect(!latencies.isEmpty)
        #expect(attempts > 0, "\(name): the attack ran")
        #expect(highWater < 512 * 1024, "\(name): the exporter's memory stays bounded (\(highWater) KiB)")
        #expect(exporter.child.process.isRunning, "\(name): the exporter survived")
        #expect(try await scrape().status == 200, "\(name): and answers after the attack")
    }

    func stop() {
        exporter.child.stop()
        simulator.child.stop()
        dir.remove()
    }
}

/// Threads running a hostile client until told to stop.
final class HostileLoad: Sendable {
    private let stopFlag = Atomic<Bool>(false)
    private let attempts = Atomic<Int>(0)
    private let done: [DispatchSemaphore]
    private let problemList = Mutex<[String]>([])

    /// Client sockets each attack may hold, from the descriptor limit (the exporter's side is
    /// bounded by --web.max-connections).
    static var descriptorBudget: Int {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        return Int(clamping: min(UInt64(limit.rlim_cur), 1 << 20)) / 2
    }

    static func raiseDescriptorLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }

    init(threads: Int, _ body: @escaping @Sendable (HostileLoad) -> Void) {
        done = (0..<threads).map { _ in DispatchSemaphore(value: 0) }
        for semaphore in done {
            Thread { [self] in
                body(self)
                semaphore.signal()
            }.start()
        }
    }

    var stopped: Bool { stopFlag.load(ordering: .relaxed) }
    func count() { attempts.add(1, ordering: .relaxed) }
    func record(_ problem: String) { problemList.withLock { $0.append(problem) } }
    var problems: [String] { problemList.withLock { $0 } }

    /// Stops the threads, waits for them, and returns how many hostile requests or connections they made.
    func finish() -> Int {
        stopFlag.store(true, ordering: .relaxed)
        for semaphore in done { semaphore.wait() }
        return attempts.load(ordering: .relaxed)
    }
}

/// A child's memory from /proc/PID/status, in KiB.
enum ProcessMemory {
    static func rssKiB(_ pid: Int32) -> Int? { field("VmRSS", pid) }
    static func highWaterKiB(_ pid: Int32) -> Int? { field("VmHWM", pid) }

    static func field(_ name: String, _ pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
            return Int(line.split(separator: " ").dropFirst().first ?? "")
        }
        return nil
    }
}
