import CurlHTTP
import Exposition
import Logging
import NIOCore
import SchedulingLatency

/// Polls one target forever on its interval and publishes a snapshot after every cycle. Each
/// target has its own poller task, so a slow or dead target never delays another one.
public actor TargetPoller {
    let target: TargetConfig
    let checks: [any Check]
    let cycle: PollCycle
    let store: SnapshotStore
    let passthrough: PassthroughFilter?
    /// Poll `/metrics/resources` too and keep it for `/scheduler/metrics/resources`.
    let passthroughResources: Bool
    let logger: Logger
    /// Told of every completed poll, for `/healthz`.
    let liveness: Liveness?

    // Counters survive across cycles; everything else is derived fresh from each cycle.
    private var polls: Double = 0
    /// Every reason starts at 0, so rate() and increase() work from the first error on.
    private var errorsByReason: [String: Double] = Dictionary(
        uniqueKeysWithValues: (HTTPClientError.Kind.allReasons + ["http_status", "parse"]).map { ($0, 0) })
    /// What the target sent beyond `TargetDataLimits`, by reason, since start; every reason starts at 0.
    private var droppedByReason: [TargetDataDrop: Double] = Dictionary(uniqueKeysWithValues: TargetDataDrop.allCases.map { ($0, 0) })
    private var lastSuccess: Double?
    private var wasUp: Bool?
    private var lastManifestProblem: String?
    private var lastCommandLineProblem: String?
    /// The pid whose command line served this target last poll: read first next time.
    private var schedulerPid: Int?
    /// Bucket counts of earlier polls, for the windowed quantiles and rates.
    private var latency: LatencyTracker
    /// Answers that rarely change, fetched on `evidence_interval` rather than every poll.
    private var evidenceCache: EvidenceCache

    public init(target: TargetConfig, client: CurlClient, store: SnapshotStore, checks: [any Check] = Checks.all,
                passthrough: PassthroughFilter? = nil, passthroughResources: Bool = false, liveness: Liveness? = nil, logger: Logger) {
        self.target = target
        self.checks = checks
        self.store = store
        self.passthrough = passthrough
        self.liveness = liveness
        // A managed control plane serves no /metrics/resources next to its metrics.
        self.passthroughResources = passthroughResources && target.kind == .scheduler
        self.logger = logger
        self.latency = LatencyTracker(configuration: LatencyTrackerConfiguration(
            window: target.latency.window.seconds, quantiles: target.latency.quantiles))
        self.evidenceCache = EvidenceCache(refreshInterval: target.security.evidenceInterval)
        self.cycle = PollCycle(target: target, client: client,
                               token: target.bearerTokenFile.map { BearerTokenFile(path: $0, target: target.name, logger: logger) }, logger: logger)
        // Visible from the first scrape: down until its first poll says otherwise, instead of
        // absent for up to a poll interval plus a timeout (absent series fire no `up == 0` alert).
        if store.snapshot(for: target.name) == nil { store.publish(Self.placeholder(target)) }
    }

    /// What a target shows before its first poll completes: `kube_scheduler_up 0`.
    static func placeholder(_ target: TargetConfig) -> TargetSnapshot {
        var dropped = DroppedTargetData()
        let families = OutputFamily.labelled([
            .gauge("kube_scheduler_up", upHelp, value: 0),
        ], prefix: targetLabels(target), dropped: &dropped)
        return TargetSnapshot(target: target.name, polledAt: 0, families: families)
    }

    static let upHelp = "1 when the last poll of the scheduler's /metrics returned 200 and parsed; 0 means the target is unreachable, refused the exporter's credentials or served garbage (see kube_scheduler_poll_errors_total), or has not been polled yet."

    /// Where target `index` of `count` starts within the interval: evenly spread, the first at
    /// once. Polls in lockstep would hold every target's bodies and parsed documents at the same
    /// moment, and the allocator keeps that peak as resident memory (at 100 targets within 10% of
    /// the interval, most of the exporter's RSS).
    public static func staggeredStart(index: Int, of count: Int, interval: Duration) -> Duration {
        guard count > 1, index > 0 else { return .zero }
        return interval / count * min(index, count - 1)
    }

    /// Runs until the task is cancelled. Without `initialDelay`, the first poll starts after a
    /// random offset within 10% of the interval, so independently started pollers do not poll in
    /// lockstep.
    public func run(initialDelay: Duration? = nil) async {
        let interval = target.pollInterval
        let offset = initialDelay ?? .milliseconds(Int64.random(in: 0..<max(1, interval.milliseconds / 10)))
        var tick = ContinuousClock.now + offset
        while !Task.isCancelled {
            do { try await Task.sleep(until: tick, clock: .continuous) } catch { return }
            await pollOnce()
            tick = Self.nextTick(after: tick, now: .now, interval: interval)
        }
    }

    /// The tick after `tick` on its grid. A poll that ran over (a slow target, a wake-up delayed
    /// on a busy node) is followed by one poll at once, on the newest tick it missed, and the
    /// grid resumes; older missed ticks are dropped, never burst. This is Go's time.Ticker, which
    /// Prometheus' scrape loop uses. (Moving the grid to "now + interval" instead lost a whole
    /// tick whenever a poll ended even 1 ms late: about half the polls at a 100 ms interval under load.)
    static func nextTick(after tick: ContinuousClock.Instant, now: ContinuousClock.Instant, interval: Duration) -> ContinuousClock.Instant {
        let next = tick + interval
        guard interval > .zero, now > next else { return next }
        let missed = ((now - next) / interval).rounded(.down)
        // A process suspended for longer than this many intervals just polls now.
        guard missed < 1e9 else { return now }
        return next + interval * Int(missed)
    }

    /// One full cycle: fetch, parse, derive, publish. Public for tests and `--once` runs.
    @discardableResult
    public func pollOnce() async -> TargetSnapshot {
        let planned = target.kind == .scheduler ? Self.plannedTarget(target) : target
        var requests = Checks.requests(checks, for: target, planned: planned)
        if passthroughResources { requests.insert(.metricsResources) }
        var (fetch, reused) = evidenceCache.plan(requests, now: unixNow())
        var poll = await cycle.run(fetch)
        evidenceCache.record(poll.responses, at: poll.startedAt)
        if poll.error(.metrics) != nil {
            // No scheduler answered: the one that comes back may be another process with other
            // flags, certificate and listeners. An HTTP error (401 while the API server is away)
            // keeps the answers: asking again would only add reviews to an outage.
            evidenceCache.forgetAll()
        } else if evidenceCache.sawRestart(poll.metrics), !reused.isEmpty {
            // Another process answered: what was kept described its predecessor, ask it now.
            let refreshed = await cycle.run(Set(reused.keys))
            evidenceCache.record(refreshed.responses, at: refreshed.startedAt)
            poll.responses.merge(refreshed.responses) { _, new in new }
            poll.duration += refreshed.duration
            reused = [:]
        }
        poll.responses.merge(reused.mapValues(\.outcome)) { current, _ in current }
        let evidenceAges = EvidenceCache.ages(of: poll, reused: reused)
        // A metrics-only target runs on a managed control plane: this node is not its node.
        let evidence = target.kind == .scheduler
            ? poll.observeNodeFiles(for: target, processHint: schedulerPid)
            : SchedulerEvidence.gather(from: poll, target: target)
        noteNodeProblems(evidence)
        let context = CheckContext(target: target, now: poll.startedAt, logger: logger, evidence: evidence)

        var families = pollFamilies(poll)
        families.append(.gauge("kube_scheduler_evidence_age_seconds",
                               "Age of the answer each check read, by endpoint and credential: 0 for what is fetched every poll (/metrics, health), up to evidence_interval for what rarely changes (configz, flagz, pprof, anonymous and invalid-token requests, the legacy port, other addresses, TLS observations).",
                               evidenceAges))
        let output = Checks.evaluate(checks, poll, context: context)
        families += output.families
        families += SecurityFindingFamilies.render(output.findings)
        var dropped = output.dropped
        // The tracker's output is its last recorded poll: reported while `up` is 0 it would show a
        // dead scheduler's last numbers as if it were healthy and idle (Prometheus marks a failed
        // scrape's series stale for the same reason). A partly parsed body is not recorded either:
        // a series missing from a baseline counts from zero, a huge false rate. The history stays,
        // so the window resumes when the target is back (a restart counts as a counter reset).
        if poll.up, let document = poll.metrics {
            latency.record(document, at: poll.startedAt)
            families += latency.report().outputFamilies
        }

        let targetLabels = Self.targetLabels(target)
        // Labels and values from the target are its to write: made safe here, once, for every family.
        var labelled = OutputFamily.labelled(families, prefix: targetLabels, dropped: &dropped)
        for (reason, count) in dropped.counts { droppedByReason[reason, default: 0] += Double(count) }
        if !dropped.isEmpty {
            logger.debug("target data over the exporter's limits dropped", metadata: [
                "target": "\(target.name)",
                "dropped": "\(dropped.counts.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue)=\($0.value)" }.joined(separator: ","))",
            ])
        }
        var ignored = DroppedTargetData()
        labelled += OutputFamily.labelled([droppedFamily()], prefix: targetLabels, dropped: &ignored)
        let snapshot = TargetSnapshot(
            target: target.name, polledAt: poll.startedAt,
            families: labelled,
            passthroughBody: poll.up ? poll.metrics.flatMap { document in passthrough?.select(from: document) } : nil,
            resourcesBody: passthroughResources ? Self.resourcesBody(poll) : nil)
        store.publish(snapshot)
        liveness?.pollCompleted(target.name)
        return snapshot
    }

    /// `target` and the static labels, first on every series of the target.
    static func targetLabels(_ target: TargetConfig) -> [(String, String)] {
        [("target", target.name)] + target.labels.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    private func droppedFamily() -> OutputFamily {
        .counter("kube_scheduler_exporter_target_data_dropped_total",
                 "Data from this target left out of the exporter's output because it exceeded the exporter's limits (label_value_truncated, label_renamed to exported_<name>, label_invalid, health_checks, feature_gates, samples, family); rising means a broken or hostile scheduler.",
                 droppedByReason.sorted { $0.key.rawValue < $1.key.rawValue }.map { OutputSample(labels: [("reason", $0.key.rawValue)], value: $0.value) })
    }

    /// `/metrics/resources` as the scheduler served it, when it answered 200 and parses cleanly:
    /// Prometheus fails a scrape on one bad line, so a body with one is not passed on.
    static func resourcesBody(_ poll: PollResult) -> ByteBuffer? {
        guard let response = poll.response(.metricsResources), response.status == 200,
              let document = try? ExpositionDocument(bytes: response.body, options: ParseOptions(lenient: true)),
              document.errors.isEmpty else { return nil }
        var buffer = ByteBuffer()
        buffer.reserveCapacity(response.body.count + 1)
        buffer.writeBytes(response.body)
        if let last = response.body.last, last != UInt8(ascii: "\n") { buffer.writeInteger(UInt8(ascii: "\n")) }
        return buffer
    }

    /// Logs each new reason the node's files or the scheduler's command line cannot be read, once.
    private func noteNodeProblems(_ evidence: SchedulerEvidence) {
        if let problem = evidence.manifestProblem, problem != lastManifestProblem {
            logger.warning("cannot read the scheduler manifest; file checks report unknown",
                           metadata: ["target": "\(target.name)", "reason": "\(problem)"])
        }
        lastManifestProblem = evidence.manifestProblem
        if let problem = evidence.commandLineProblem, problem != lastCommandLineProblem, target.kind == .scheduler {
            // Debug: without hostPID this is every poll's normal state, not a fault.
            logger.debug("no scheduler command line; flag checks use flagz and the manifest",
                         metadata: ["target": "\(target.name)", "reason": "\(problem)"])
        }
        lastCommandLineProblem = evidence.commandLineProblem
        schedulerPid = evidence.commandLine?.pid
    }

    /// The target with the host's defaults resolved: the non-loopback addresses to try the secure
    /// port on are the node's own interface addresses unless configured. Read here, in the poll
    /// stage, so that the checks only ever see values.
    static func plannedTarget(_ target: TargetConfig) -> TargetConfig {
        var planned = target
        if planned.security.nonLoopbackAddresses == nil {
            planned.security.nonLoopbackAddresses = InterfaceAddresses.nonLoopback()
        }
        return planned
    }

    private func pollFamilies(_ poll: PollResult) -> [OutputFamily] {
        polls += 1
        let up = poll.up
        let reason = up ? nil : failureReason(poll)
        if let reason { errorsByReason[reason, default: 0] += 1 }
        if up { lastSuccess = poll.startedAt }
        if wasUp != up {
            if up {
                logger.info("target is up", metadata: ["target": "\(target.name)"])
            } else {
                logger.warning("target is down", metadata: ["target": "\(target.name)", "reason": "\(reason ?? "")",
                                                            "error": "\(failureDetail(poll))"])
            }
            wasUp = up
        }

        var statuses: [OutputSample] = []
        var durations: [OutputSample] = []
        var sizes: [OutputSample] = []
        // Per-endpoint facts for the exporter's own identity on the secure port; the other
        // identities and ports are reported by the security checks that asked for them.
        for (request, outcome) in poll.responses.sorted(by: { $0.key.endpoint < $1.key.endpoint })
        where request.credential == .exporter && request.destination == .securePort {
            let labels = [("endpoint", request.endpoint)]
            switch outcome {
            case .success(let response):
                statuses.append(OutputSample(labels: labels, value: Double(response.status)))
                durations.append(OutputSample(labels: labels, value: response.duration.seconds))
                sizes.append(OutputSample(labels: labels, value: Double(response.body.count)))
            case .failure:
                statuses.append(OutputSample(labels: labels, value: 0))
            }
        }

        var families: [OutputFamily] = [
            .gauge("kube_scheduler_up", Self.upHelp, value: up.gaugeValue),
            .gauge("kube_scheduler_poll_duration_seconds", "Wall time of the last poll cycle of this target (all endpoints, concurrently); close to the timeout is bad.",
                   value: poll.duration.seconds),
            .counter("kube_scheduler_polls_total", "Poll cycles run against this target.", [OutputSample(value: polls)]),
            .counter("kube_scheduler_poll_errors_total", "Poll cycles whose /metrics poll failed, by reason (connect_refused, timeout, tls_verify, http_status, parse, ...); rising is bad.",
                     errorsByReason.sorted { $0.key < $1.key }.map { OutputSample(labels: [("reason", $0.key)], value: $0.value) }),
            .gauge("kube_scheduler_endpoint_http_status", "HTTP status of the exporter's last request to each scheduler endpoint with its own credentials; 0 = no HTTP answer, 401/403 = credentials or RBAC are wrong.",
                   statuses),
            .gauge("kube_scheduler_endpoint_duration_seconds", "Duration of the exporter's last request to each scheduler endpoint.", durations),
            .gauge("kube_scheduler_endpoint_response_bytes", "Body bytes of the last response of each scheduler endpoint.", sizes),
        ]
        if let lastSuccess {
            families.append(.gauge("kube_scheduler_last_successful_poll_timestamp_seconds",
                                   "Unix time of the last poll with kube_scheduler_up == 1; an old value is bad.", value: lastSuccess))
        }
        return families
    }

    private func failureReason(_ poll: PollResult) -> String {
        if let error = poll.error(.metrics) {
            // A cycle's requests share one connection (PIPEWAIT): when that connection's TLS
            // handshake hangs, the requests waiting for it end in libcurl's connect timeout
            // although the host accepted TCP. Another request of the cycle that got a
            // connection to the same port proves it, and the honest reason is `timeout`.
            if error.kind == .connectTimeout, poll.responses.contains(where: { request, outcome in
                request.destination == .securePort && request.transport == .configured && Self.hostAccepted(outcome)
            }) {
                return HTTPClientError.Kind.timeout.rawValue
            }
            return error.kind.rawValue
        }
        if let status = poll.status(.metrics), status != 200 { return "http_status" }
        if poll.metricsParseError != nil { return "parse" }
        return "other"
    }

    private static func hostAccepted(_ outcome: Result<HTTPResponse, HTTPClientError>) -> Bool {
        switch outcome {
        case .success: true
        case .failure(let error):
            switch error.kind {
            case .dns, .connectRefused, .connectTimeout, .badURL, .cancelled, .other: false
            case .timeout, .tlsHandshake, .tlsVerify, .bodyTooLarge, .protocolError: true
            }
        }
    }

    private func failureDetail(_ poll: PollResult) -> String {
        if let error = poll.error(.metrics) { return error.description }
        if let status = poll.status(.metrics), status != 200 { return "HTTP \(status)" }
        return poll.metricsParseError ?? ""
    }
}

extension HTTPClientError.Kind {
    /// The reasons a request can fail with, as `reason` label values (cancellation is not a failure of the target).
    static let allReasons: [String] = [
        Self.dns, .connectRefused, .connectTimeout, .timeout, .tlsHandshake, .tlsVerify, .bodyTooLarge, .badURL, .protocolError, .other,
    ].map(\.rawValue)
}
