import CurlHTTP
import Synchronization

/// What `/healthz` reports: whether the exporter is still doing its job. A process that serves
/// pages while its pollers or its libcurl driver thread are stuck would serve the same stale
/// snapshot forever and pass a liveness probe that only asks "does the port answer"; this one
/// fails (503 with the reason) so that the kubelet restarts it.
///
/// A target is stuck when no poll of it completed within max(3 × poll interval, timeout + poll
/// interval) plus a grace (a poll lasts at most its timeout, and the next one starts at most an
/// interval after it); the driver is stuck when a ping has gone unanswered for `driverStaleAfter`.
public final class Liveness: Sendable {
    public static let defaultGrace: Duration = .seconds(5)
    /// How often the watchdog pings the driver, and how long an unanswered ping may last.
    public static let driverPingInterval: Duration = .seconds(5)
    public static let defaultDriverStaleAfter: Duration = .seconds(30)

    private struct Target: Sendable {
        var staleAfter: Duration
        var lastProgress: ContinuousClock.Instant
    }
    private struct State: Sendable {
        var targets: [String: Target] = [:]
        var order: [String] = []
        var driverAnswered: ContinuousClock.Instant
    }
    private let state: Mutex<State>
    let driverStaleAfter: Duration

    public init(targets: [TargetConfig], grace: Duration = Liveness.defaultGrace, driverStaleAfter: Duration = Liveness.defaultDriverStaleAfter) {
        let now = ContinuousClock.now
        var state = State(driverAnswered: now)
        for target in targets {
            state.targets[target.name] = Target(staleAfter: Self.staleAfter(target, grace: grace), lastProgress: now)
            state.order.append(target.name)
        }
        self.state = Mutex(state)
        self.driverStaleAfter = driverStaleAfter
    }

    static func staleAfter(_ target: TargetConfig, grace: Duration) -> Duration {
        max(target.pollInterval * 3, target.timeout + target.pollInterval) + grace
    }

    func pollCompleted(_ target: String) {
        state.withLock { $0.targets[target]?.lastProgress = .now }
    }

    func driverAnswered() {
        state.withLock { $0.driverAnswered = .now }
    }

    /// Why the exporter is not live; empty when it is.
    public func problems(now: ContinuousClock.Instant = .now) -> [String] {
        state.withLock { state in
            var problems: [String] = []
            for name in state.order {
                guard let target = state.targets[name] else { continue }
                let age = now - target.lastProgress
                if age > target.staleAfter {
                    problems.append("target \"\(name)\": no poll completed for \(Self.format(age)) (limit \(Self.format(target.staleAfter)))")
                }
            }
            let driverAge = now - state.driverAnswered
            if driverAge > driverStaleAfter {
                problems.append("libcurl driver thread: no answer for \(Self.format(driverAge)) (limit \(Self.format(driverStaleAfter)))")
            }
            return problems
        }
    }

    /// Pings the driver until cancelled; an answer is progress, a stuck driver leaves this
    /// waiting and its last answer ageing.
    func watchDriver(_ client: CurlClient, every interval: Duration = Liveness.driverPingInterval) async {
        while !Task.isCancelled {
            if await client.ping() { driverAnswered() }
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }

    static func format(_ duration: Duration) -> String {
        let seconds = duration.seconds
        return seconds < 10 ? "\((seconds * 10).rounded() / 10)s" : "\(Int(seconds.rounded()))s"
    }
}
