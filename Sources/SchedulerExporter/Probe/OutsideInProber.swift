import CurlHTTP
import Exposition
import Logging
import Synchronization

/// `/probe?target=HOST[:PORT]`: the network-facing checks run at scrape time against an address
/// as an attacker on the network would see it (blackbox_exporter's multi-target pattern). Only
/// addresses inside `--probe.allowed-targets` are probed and only a bounded number at once, so the
/// exporter cannot be turned into an open proxy or a scanner. No credentials are ever sent.
public final class OutsideInProber: Sendable {
    let config: OutsideInProbeConfig
    let client: CurlClient
    let logger: Logger
    let running = Atomic<Int>(0)

    /// The checks that make sense from outside: no files, no configz, no exporter identity.
    static let checks: [any Check] = [TLSCheck(), AnonymousAccessCheck(), AuthenticationCheck(), InsecurePortCheck()]
    static let reachability = ProbeRequest("reachability", path: "/healthz", credential: .anonymous, transport: .observe)
    public static let reachableEntry = SecurityChecks.Entry(
        check: "not_reachable_from_network", cisID: "1.4.2", severity: .high,
        remediation: "bind the scheduler to 127.0.0.1 (--bind-address=127.0.0.1) or firewall its secure port")

    public init(config: OutsideInProbeConfig, client: CurlClient, logger: Logger) {
        self.config = config
        self.client = client
        self.logger = logger
    }

    public typealias Refusal = ProbePolicy.Refusal

    /// What `/probe` may reach, as values: the configured ranges, or the node's own addresses.
    public var policy: ProbePolicy {
        ProbePolicy(allowedTargets: config.allowedTargets ?? nodeAddresses(), allowedPorts: config.allowedPorts, maxTimeout: config.maxTimeout)
    }

    /// Loopback and the host's interface addresses, looked up again after `nodeAddressesMaxAge`
    /// (an interface can come up later), never per request.
    private func nodeAddresses() -> [CIDR] {
        let now = ContinuousClock.now
        if let cached = nodeAddressCache.withLock({ $0 }), now - cached.readAt < Self.nodeAddressesMaxAge { return cached.addresses }
        let addresses = CIDR.loopback + InterfaceAddresses.nonLoopback().compactMap(CIDR.host)
        nodeAddressCache.withLock { $0 = (now, addresses) }
        return addresses
    }

    static let nodeAddressesMaxAge: Duration = .seconds(30)
    private let nodeAddressCache = Mutex<(readAt: ContinuousClock.Instant, addresses: [CIDR])?>(nil)

    /// Validates the target parameter: an IP literal with optional port, inside the allowed ranges.
    public func resolve(_ parameter: String?) throws(Refusal) -> (host: String, port: Int) {
        try policy.resolve(parameter)
    }

    /// Runs the probe within `timeout` and renders its families (text format).
    public func probe(host: String, port: Int, timeout: Duration) async throws(Refusal) -> [OutputFamily] {
        guard running.add(1, ordering: .relaxed).newValue <= config.maxConcurrent else {
            running.subtract(1, ordering: .relaxed)
            throw .busy
        }
        defer { running.subtract(1, ordering: .relaxed) }

        let authority = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        var target = TargetConfig(name: authority, url: "https://\(authority)")
        target.timeout = timeout
        // An attacker does not verify certificates; the TLS check still reports verification.
        target.tls.insecureSkipVerify = true
        target.security.insecurePort = config.insecurePort
        let cycle = PollCycle(target: target, client: client, token: nil, logger: logger)
        var requests = Set<ProbeRequest>([Self.reachability])
        for check in Self.checks { requests.formUnion(check.requests(for: target)) }
        let poll = await cycle.run(requests)
        let context = CheckContext(target: target, now: poll.startedAt, logger: logger)

        var families: [OutputFamily] = []
        var findings: [SecurityFinding] = []
        for check in Self.checks {
            let output = check.evaluate(poll, context: context)
            families += output.families
            findings += output.findings
        }
        let reached = poll.response(Self.reachability) != nil
        let refused = poll.error(Self.reachability)?.kind == .connectRefused
        if reached {
            findings.append(SecurityFinding(Self.reachableEntry, .fail, "the secure port answers TLS on \(authority)"))
        } else if refused {
            findings.append(SecurityFinding(Self.reachableEntry, .pass, "connection refused on \(authority)"))
        } else {
            findings.append(SecurityFinding(Self.reachableEntry, .unknown, poll.error(Self.reachability)?.kind.rawValue ?? "no answer"))
        }
        if reached || refused {
            families.append(.gauge("kube_scheduler_network_reachable",
                                   "1 when the scheduler's secure port accepts TLS at the probed address from where the exporter stands; 1 from a network address is bad.",
                                   [OutputSample(labels: [("port", String(port))], value: reached.gaugeValue)]))
        }
        families += SecurityFindingFamilies.render(findings)
        // What the probed server sent is its to write: the same limits as for a polled target.
        var dropped = DroppedTargetData()
        families = OutputFamily.labelled(families, prefix: [("target", authority)], dropped: &dropped)
        families.append(.gauge("probe_success", "1 when the probe could tell whether the scheduler is reachable (connected or refused); 0 on timeouts and errors.",
                               value: (reached || refused).gaugeValue))
        families.append(.gauge("probe_duration_seconds", "How long the probe took.", value: poll.duration.seconds))
        return families
    }
}
