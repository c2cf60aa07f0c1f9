import Foundation
import Testing
import TestSupport
@testable import SchedulerSimulator

@Suite(.serialized) struct TLSTests {
    func openssl(_ arguments: [String]) async throws -> FinishedProcess { try await runProcess("/usr/bin/openssl", arguments) }

    @Test func servingCertificateCoversLoopbackNamesAndIsCASigned() async throws {
        let running = try await RunningSimulator.start { $0.bindAddresses = ["127.0.0.1", "127.0.0.2"] }
        defer { running.cleanUp() }
        let text = try await openssl(["x509", "-in", running.material.certificatePath, "-noout", "-text"]).stdoutText
        for name in ["IP Address:127.0.0.1", "IP Address:127.0.0.2", "DNS:localhost", "DNS:kube-scheduler"] {
            #expect(text.contains(name), "SAN \(name)")
        }
        let ca = try #require(running.material.caCertificatePath)
        #expect(try await openssl(["verify", "-CAfile", ca, running.material.certificatePath]).status == 0)
        // Full verification (chain + name) through each listener, by IP and by DNS name.
        #expect(running.listeners.count == 2)
        for listener in running.listeners {
            #expect(try await running.curl.fetch(listener.url + "/healthz").status == 200)
        }
        let port = running.listeners[0].port
        let byName = try await running.curl.fetch(
            "https://localhost:\(port)/healthz", arguments: ["--resolve", "localhost:\(port):127.0.0.1"])
        #expect(byName.status == 200)
        try await running.stop()
    }

    @Test func expiredCertificateFailsVerification() async throws {
        let running = try await RunningSimulator.start { $0.certificateExpired = true }
        defer { running.cleanUp() }
        #expect(try await openssl(["x509", "-in", running.material.certificatePath, "-noout", "-checkend", "0"]).status != 0)
        #expect(try await running.curl.exitStatus(running.baseURL + "/healthz") == 60)
        #expect(try await running.curl.fetch(running.baseURL + "/healthz", arguments: ["--insecure"]).status == 200)
        try await running.stop()
    }

    @Test func validDaysSetsNotAfterAndReuseFollowsTheKnob() async throws {
        let scratch = try ScratchDirectory()
        func start(days: Int?) async throws -> RunningSimulator {
            try await RunningSimulator.start {
                $0.certificateDirectory = scratch.file("certs")
                $0.certificateValidDays = days
            }
        }
        let soon = try await start(days: 5)
        let path = soon.material.certificatePath
        #expect(try await openssl(["x509", "-in", path, "-noout", "-checkend", String(4 * 86400)]).status == 0)
        #expect(try await openssl(["x509", "-in", path, "-noout", "-checkend", String(6 * 86400)]).status != 0)
        let firstBytes = FileManager.default.contents(atPath: path)
        try await soon.stop()

        let again = try await start(days: 5)
        #expect(FileManager.default.contents(atPath: path) == firstBytes, "same knobs reuse the cert dir")
        try await again.stop()

        let longer = try await start(days: nil)
        #expect(FileManager.default.contents(atPath: path) != firstBytes, "changed knobs remake the serving cert")
        #expect(try await openssl(["x509", "-in", path, "-noout", "-checkend", String(300 * 86400)]).status == 0)
        #expect(try await longer.curl.fetch(longer.baseURL + "/healthz").status == 200)
        try await longer.stop()
    }

    @Test func tls11OnlyListener() async throws {
        let running = try await RunningSimulator.start { $0.tlsMaximumVersion = .tls11 }
        defer { running.cleanUp() }
        // Debian's OpenSSL refuses TLS 1.1 at its default security level: the handshake fails.
        #expect(try await running.curl.exitStatus(running.baseURL + "/healthz") == 35)
        let legacy = try await running.curl.fetch(
            running.baseURL + "/healthz",
            arguments: ["--tlsv1.1", "--tls-max", "1.1", "--ciphers", "DEFAULT@SECLEVEL=0"])
        #expect(legacy.status == 200)
        try await running.stop()
    }

    /// kube-scheduler refuses TLS < 1.2 unless started with --tls-min-version; so does the simulator.
    @Test func tlsBelow12IsRefusedByDefault() async throws {
        let running = try await RunningSimulator.start()
        defer { running.cleanUp() }
        let legacy = ["--tlsv1.0", "--tls-max", "1.1", "--ciphers", "DEFAULT@SECLEVEL=0"]
        #expect(try await running.curl.exitStatus(running.baseURL + "/healthz", arguments: legacy) == 35)
        #expect(try await running.curl.fetch(running.baseURL + "/healthz").status == 200)
        try await running.stop()
    }

    /// --tls-min-version=VersionTLS10: TLS 1.0 and 1.1 are accepted, and 1.3 is still preferred.
    @Test func tls10MinimumAcceptsLegacyClientsAndPrefersTLS13() async throws {
        let running = try await RunningSimulator.start { $0.tlsMinimumVersion = .tls10 }
        defer { running.cleanUp() }
        let legacy = try await running.curl.fetch(
            running.baseURL + "/healthz", arguments: ["--tlsv1.0", "--tls-max", "1.0", "--ciphers", "DEFAULT@SECLEVEL=0"])
        #expect(legacy.status == 200)
        #expect(try await running.curl.exitStatus(running.baseURL + "/healthz", arguments: ["--tlsv1.3"]) == 0)
        try await running.stop()
    }

    @Test func tls12MaximumRefusesTLS13OnlyClients() async throws {
        let running = try await RunningSimulator.start { $0.tlsMaximumVersion = .tls12 }
        defer { running.cleanUp() }
        #expect(try await running.curl.exitStatus(running.baseURL + "/healthz", arguments: ["--tlsv1.3"]) == 35)
        #expect(try await running.curl.fetch(running.baseURL + "/healthz", arguments: ["--tls-max", "1.2"]).status == 200)
        try await running.stop()
    }

    @Test func clientCertificatesFromTheConfiguredCAOnly() async throws {
        let scratch = try ScratchDirectory()
        let tool = OpenSSLCertificateTool()
        let now = Date()
        for name in ["trusted", "foreign"] {
            try await tool.makeCertificateAuthority(
                certificatePath: scratch.file("\(name)-ca.crt"), keyPath: scratch.file("\(name)-ca.key"),
                commonName: "\(name) client CA")
            try await tool.issueCertificate(
                caCertificatePath: scratch.file("\(name)-ca.crt"), caKeyPath: scratch.file("\(name)-ca.key"),
                certificatePath: scratch.file("\(name).crt"), keyPath: scratch.file("\(name).key"),
                commonName: "exporter", subjectAltNames: [], usage: .client,
                notBefore: now.addingTimeInterval(-60), notAfter: now.addingTimeInterval(86400))
        }
        let running = try await RunningSimulator.start { $0.clientCAFile = scratch.file("trusted-ca.crt") }
        defer { running.cleanUp() }
        #expect(running.material.exporterClientCertificatePath == nil)
        let trusted = try await running.curl.fetch(
            running.baseURL + "/metrics", arguments: ["--cert", scratch.file("trusted.crt"), "--key", scratch.file("trusted.key")])
        #expect(trusted.status == 200)
        #expect(trusted.httpVersion == "2")
        // Like Go's VerifyClientCertIfGiven: a certificate from another CA fails the handshake.
        let foreign = try await running.curl.exitStatus(
            running.baseURL + "/metrics", arguments: ["--cert", scratch.file("foreign.crt"), "--key", scratch.file("foreign.key")])
        #expect(foreign != 0)
        // A valid client certificate outranks a bad token, as x509 runs before token authentication.
        let both = try await running.curl.fetch(running.baseURL + "/metrics", arguments: [
            "--cert", scratch.file("trusted.crt"), "--key", scratch.file("trusted.key"),
            "-H", "Authorization: Bearer \(RunningSimulator.badToken)",
        ])
        #expect(both.status == 200)
        let log = running.simulator.recordedRequests()
        #expect(log.filter(\.clientCertificate).count == 2)
        try await running.stop()
    }

    @Test func providedServingCertificateIsUsed() async throws {
        let scratch = try ScratchDirectory()
        let tool = OpenSSLCertificateTool()
        try await tool.makeCertificateAuthority(
            certificatePath: scratch.file("ca.crt"), keyPath: scratch.file("ca.key"), commonName: "own CA")
        try await tool.issueCertificate(
            caCertificatePath: scratch.file("ca.crt"), caKeyPath: scratch.file("ca.key"),
            certificatePath: scratch.file("own.crt"), keyPath: scratch.file("own.key"), commonName: "own",
            subjectAltNames: ["IP:127.0.0.1"], usage: .server, notBefore: Date().addingTimeInterval(-60),
            notAfter: Date().addingTimeInterval(86400))
        let running = try await RunningSimulator.start {
            $0.tlsCertificateFile = scratch.file("own.crt")
            $0.tlsPrivateKeyFile = scratch.file("own.key")
        }
        defer { running.cleanUp() }
        #expect(running.material.caCertificatePath == nil)
        let curl = Curl(caFile: scratch.file("ca.crt"), scratch: scratch)
        #expect(try await curl.fetch(running.baseURL + "/healthz").status == 200)
        try await running.stop()
    }
}

@Suite struct TemporaryMaterialTests {
    @Test func withoutCertDirTheGeneratedMaterialLivesUntilStop() async throws {
        var configuration = SimulatorConfiguration()
        configuration.securePort = 0
        let simulator = SchedulerSimulator(configuration: configuration)
        let listeners = try await simulator.start()
        let material = try #require(simulator.servingMaterial)
        let directory = URL(fileURLWithPath: material.certificatePath).deletingLastPathComponent().path
        #expect(FileManager.default.fileExists(atPath: material.certificatePath))
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let curl = Curl(caFile: try #require(material.caCertificatePath), scratch: scratch)
        #expect(try await curl.fetch(listeners[0].url + "/livez").status == 200)
        try await simulator.stop()
        #expect(!FileManager.default.fileExists(atPath: directory))
        #expect(simulator.servingMaterial == nil)
    }
}

@Suite struct CertificateToolTests {
    /// The stall that failed two CI runs: Foundation's Process lists a child's inherited descriptors
    /// before spawning it, so descriptors another thread opened meanwhile leaked into that child,
    /// including the socket Process watches to learn that its own child exited; openssl runs then
    /// waited until an unrelated test server died. Here a thread keeps spawning children that
    /// inherit every descriptor not marked close-on-exec and live until killed, while the tool makes
    /// certificates. The tool must finish before those children are killed; the watchdog that kills
    /// them after 120 s only keeps a regression from hanging the suite.
    @Test func finishesWhileChildrenInheritingOpenDescriptorsLive() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let holders = DescriptorInheritingChildren()
        defer { holders.killAll() }
        Thread { holders.spawnUntilKilled() }.start()
        let watchdog = Task {
            try? await Task.sleep(for: .seconds(120))
            holders.killAll()
        }
        let tool = OpenSSLCertificateTool()
        for index in 0..<20 {
            try await tool.makeCertificateAuthority(
                certificatePath: scratch.file("ca\(index).crt"), keyPath: scratch.file("ca\(index).key"), commonName: "CA \(index)")
        }
        let killedFirst = holders.killAll()
        watchdog.cancel()
        #expect(holders.spawnedCount > 0)
        #expect(!killedFirst, "a certificate call waited for a child holding one of its descriptors")
    }
}

/// Children (`sleep infinity`) spawned every 2 ms with no file actions, so each inherits every
/// descriptor of this process not marked close-on-exec, until killed. Spawned under
/// `spawnLongLived`'s lock so they take nothing from another test's long-lived children.
private final class DescriptorInheritingChildren: @unchecked Sendable {
    // @unchecked: all state is touched under `lock`.
    private let lock = NSLock()
    private var pids: [pid_t] = []
    private var killed = false
    private var count = 0

    var spawnedCount: Int { lock.withLock { count } }

    func spawnUntilKilled() {
        while lock.withLock({ !killed && count < 200 }) {
            var pid: pid_t = 0
            let spawned: Int32 = spawnLongLived {
                var argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sleep"), strdup("infinity"), nil]
                defer { argv.forEach { free($0) } }
                return posix_spawn(&pid, "/bin/sleep", nil, nil, &argv, environ)
            }
            guard spawned == 0 else { return }
            let keep = lock.withLock {
                count += 1
                if killed { return false }
                pids.append(pid)
                return true
            }
            if !keep { kill(pid, SIGKILL); waitpid(pid, nil, 0) }
            usleep(2_000)
        }
    }

    /// Kills and reaps every child; returns whether they had been killed already.
    @discardableResult
    func killAll() -> Bool {
        let (wasKilled, victims) = lock.withLock {
            defer { killed = true; pids = [] }
            return (killed, pids)
        }
        for pid in victims {
            kill(pid, SIGKILL)
            waitpid(pid, nil, 0)
        }
        return wasKilled
    }
}
