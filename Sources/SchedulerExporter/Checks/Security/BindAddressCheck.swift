import Exposition

#if canImport(Glibc)
import Glibc
#endif

/// CIS 1.4.2: `--bind-address=127.0.0.1`. Proven on the wire: a TLS connection to the secure port
/// on each non-loopback address of the node (configured, or read from the host's interfaces when
/// the exporter shares the host network). Refused everywhere = pass; a timeout proves nothing.
public struct BindAddressCheck: Check {
    public static let entry = SecurityChecks.Entry(
        check: "bind_address_loopback", cisID: "1.4.2", severity: .high,
        remediation: "set --bind-address=127.0.0.1 in /etc/kubernetes/manifests/kube-scheduler.yaml")

    public init() {}

    public var entries: [SecurityChecks.Entry] { [Self.entry] }

    public func requests(for target: TargetConfig) -> [ProbeRequest] {
        Self.addresses(for: target).map(Self.request(for:))
    }

    static func request(for address: String) -> ProbeRequest {
        ProbeRequest("nonloopback", path: "/healthz", credential: .anonymous, destination: .address(address))
    }

    /// The poll stage fills in the host's interface addresses when none are configured
    /// (`TargetPoller.plannedTarget`), so planning requests touches no system state here.
    static func addresses(for target: TargetConfig) -> [String] {
        target.security.nonLoopbackAddresses ?? []
    }

    public func evaluate(_ poll: PollResult, context: CheckContext) -> CheckOutput {
        var samples: [OutputSample] = []
        var reachable: [String] = []
        var inconclusive: [String] = []
        // The addresses probed this cycle, read back from the poll rather than listing the
        // host's interfaces a second time.
        let probed = poll.responses.keys.compactMap { request -> String? in
            if case .address(let address) = request.destination { return address } else { return nil }
        }.sorted()
        for address in probed {
            let request = Self.request(for: address)
            if poll.response(request) != nil {
                reachable.append(address)
                samples.append(OutputSample(labels: [("address", address)], value: 1))
            } else if let error = poll.error(request), error.kind == .connectRefused {
                samples.append(OutputSample(labels: [("address", address)], value: 0))
            } else if poll.error(request) != nil {
                inconclusive.append(address)
            }
        }
        let configured = Self.configuredBindAddress(context.evidence)
        let targetHost = URLParts(context.target.url)?.host ?? ""

        let finding: SecurityFinding
        if !reachable.isEmpty {
            finding = SecurityFinding(Self.entry, .fail, "secure port accepts TLS on \(reachable.joined(separator: ", "))")
        } else if let configured, !InterfaceAddresses.isLoopback(configured.address) {
            finding = SecurityFinding(Self.entry, .fail, "--bind-address=\(configured.address) per \(configured.source)")
        } else if !targetHost.isEmpty, !InterfaceAddresses.isLoopback(targetHost), poll.response(.metrics) != nil {
            finding = SecurityFinding(Self.entry, .fail, "the target itself answers on non-loopback \(targetHost)")
        } else if !inconclusive.isEmpty {
            finding = SecurityFinding(Self.entry, .unknown, "no answer (not refused) on \(inconclusive.joined(separator: ", "))")
        } else if !samples.isEmpty || configured != nil {
            finding = SecurityFinding(Self.entry, .pass, configured.map { "--bind-address=\($0.address) per \($0.source)" }
                                          ?? "refused on every non-loopback address")
        } else {
            finding = SecurityFinding(Self.entry, .unknown, "no non-loopback address to probe and no flagz, command line or manifest")
        }
        return CheckOutput(families: [
            .gauge("kube_scheduler_nonloopback_bind",
                   "1 when the scheduler's secure port accepts TLS connections on this non-loopback address of the node; 1 is bad (CIS 1.4.2): set --bind-address=127.0.0.1.",
                   samples),
        ], findings: [finding])
    }

    static func configuredBindAddress(_ evidence: SchedulerEvidence) -> (address: String, source: String)? {
        if let value = evidence.flagz?["bind-address"], !value.isEmpty { return (value, "flagz") }
        // The running process's command line, else the manifest.
        if let flag = evidence.flag("bind-address"), !flag.value.isEmpty { return (flag.value, flag.source) }
        return nil
    }
}

/// The host's own addresses, for the non-loopback probe when none are configured.
enum InterfaceAddresses {
    static func isLoopback(_ address: String) -> Bool {
        address.hasPrefix("127.") || address == "::1" || address == "localhost" || address == "[::1]"
    }

    /// IPv4 and global IPv6 addresses of interfaces that are up and not loopback.
    static func nonLoopback() -> [String] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return [] }
        defer { freeifaddrs(list) }
        var addresses: [String] = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            let flags = Int32(entry.pointee.ifa_flags)
            guard flags & Int32(IFF_UP) != 0, flags & Int32(IFF_LOOPBACK) == 0, let socketAddress = entry.pointee.ifa_addr else { continue }
            let family = Int32(socketAddress.pointee.sa_family)
            guard family == AF_INET || family == AF_INET6 else { continue }
            var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            let length = socklen_t(family == AF_INET ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size)
            guard getnameinfo(socketAddress, length, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0 else { continue }
            let text = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.lowercased().hasPrefix("fe80") { continue }  // link-local needs a zone; not where clients come from
            if !addresses.contains(text) { addresses.append(text) }
        }
        return addresses
    }
}
