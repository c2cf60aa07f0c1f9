import CurlHTTP
import Exposition
import Logging
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import SchedulerExporter

@Suite struct OutsideInProberTests {
    @Test func cidrMembership() throws {
        let private10 = try CIDR(parsing: "10.0.0.0/8")
        #expect(private10.contains(IPAddress.bytes("10.200.3.4")!))
        #expect(!private10.contains(IPAddress.bytes("11.0.0.1")!))
        let range = try CIDR(parsing: "172.16.0.0/12")
        #expect(range.contains(IPAddress.bytes("172.31.255.255")!))
        #expect(!range.contains(IPAddress.bytes("172.32.0.0")!))
        #expect(try CIDR(parsing: "::1/128").contains(IPAddress.bytes("::1")!))
        #expect(!(try CIDR(parsing: "127.0.0.0/8")).contains(IPAddress.bytes("::1")!), "families never match each other")
        #expect(try CIDR(parsing: "192.168.1.7/16").description == "192.168.0.0/16")
        #expect(throws: ConfigError.self) { try CIDR(parsing: "10.0.0.0/33") }
        #expect(throws: ConfigError.self) { try CIDR(parsing: "scheduler.local/8") }
    }

    @Test func targetsAreIPLiteralsInsideTheAllowedRanges() throws {
        var config = OutsideInProbeConfig()
        config.allowedTargets = [try CIDR(parsing: "127.0.0.0/8"), try CIDR(parsing: "::1/128")]
        config.allowedPorts = [10259, 8443]
        let client = CurlClient()
        defer { client.shutdown() }
        let prober = OutsideInProber(config: config, client: client, logger: Logger(label: "test"))
        #expect(try prober.resolve("127.0.0.2") == ("127.0.0.2", 10259))
        #expect(try prober.resolve("127.0.0.1:8443") == ("127.0.0.1", 8443))
        #expect(try prober.resolve("[::1]:10259") == ("::1", 10259))
        #expect(throws: OutsideInProber.Refusal.notAllowed("192.168.1.1")) { try prober.resolve("192.168.1.1:10259") }
        #expect(throws: OutsideInProber.Refusal.notAnAddress("kube-scheduler:10259")) { try prober.resolve("kube-scheduler:10259") }
        #expect(throws: OutsideInProber.Refusal.notAnAddress("127.0.0.1:99999")) { try prober.resolve("127.0.0.1:99999") }
        #expect(throws: OutsideInProber.Refusal.missingTarget) { try prober.resolve(nil) }
    }

    /// Not all of RFC 1918 by default: the node's own addresses (and loopback), on the
    /// scheduler's two ports.
    @Test func byDefaultOnlyTheNodesOwnAddressesAndTheSchedulersPorts() throws {
        let client = CurlClient()
        defer { client.shutdown() }
        let prober = OutsideInProber(config: OutsideInProbeConfig(), client: client, logger: Logger(label: "test"))
        #expect(try prober.resolve("127.0.0.1") == ("127.0.0.1", 10259))
        #expect(try prober.resolve("[::1]:10251") == ("::1", 10251))
        #expect(throws: OutsideInProber.Refusal.portNotAllowed(22)) { try prober.resolve("127.0.0.1:22") }
        for address in InterfaceAddresses.nonLoopback() {
            let literal = address.contains(":") ? "[\(address)]" : address
            #expect(try prober.resolve(literal).host == address, "the node's own \(address)")
        }
        let own = Set(InterfaceAddresses.nonLoopback())
        for foreign in ["10.255.254.253", "172.16.254.253", "192.168.254.253", "8.8.8.8"] where !own.contains(foreign) {
            #expect(throws: OutsideInProber.Refusal.notAllowed(foreign)) { try prober.resolve(foreign) }
        }
    }

    @Test func concurrentProbesAreCapped() async throws {
        var config = OutsideInProbeConfig()
        config.maxConcurrent = 1
        config.insecurePort = 0
        let client = CurlClient()
        defer { client.shutdown() }
        let prober = OutsideInProber(config: config, client: client, logger: Logger(label: "test"))
        // A listener that never accepts: the kernel completes TCP, TLS then waits for the timeout,
        // so the first probe holds the only slot while the second one asks.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) } }
        listen(listener, 16)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        let port = Int(UInt16(bigEndian: address.sin_port))

        let hanging = Task { await attempt(prober, port: port, timeout: .seconds(3)) }
        while prober.running.load(ordering: .relaxed) == 0 { try await Task.sleep(for: .milliseconds(10)) }
        let refused = await attempt(prober, port: port, timeout: .seconds(3))
        guard case .failure(.busy) = refused else { Issue.record("second concurrent probe ran: \(refused)"); return }
        guard case .success(let families) = await hanging.value else { Issue.record("the first probe was refused"); return }
        #expect(families.first { $0.name == "probe_success" }?.samples.first?.value == 0, "a hung TLS handshake is not a verdict")
        // The slot is free again.
        guard case .success = await attempt(prober, port: 1, timeout: .seconds(2)) else { Issue.record("slot not released"); return }
    }
}

func attempt(_ prober: OutsideInProber, port: Int, timeout: Duration) async -> Result<[OutputFamily], OutsideInProber.Refusal> {
    do throws(OutsideInProber.Refusal) {
        return .success(try await prober.probe(host: "127.0.0.1", port: port, timeout: timeout))
    } catch {
        return .failure(error)
    }
}
