import Foundation
import Testing
import TestSupport
@testable import SchedulerSimulator

/// Every variant served over real HTTPS and checked with the real curl CLI against the capture files.
@Suite(.serialized) struct VariantWireTests {
    @Test(arguments: SimulatorVariant.allCases)
    func everyTableCellOverTheWire(variant: SimulatorVariant) async throws {
        let running = try await RunningSimulator.start { $0.variant = variant }
        defer { running.cleanUp() }
        let table = try Captures.table(variant)
        let urls = table.targets.map { running.baseURL + $0 }
        for kind in CredentialKind.allCases {
            let transfers = try await running.curl.fetch(urls, arguments: running.caller(kind).curlArguments)
            for (target, transfer) in zip(table.targets, transfers) {
                #expect(transfer.status == table.status(target: target, credential: kind),
                        "\(variant.rawValue) \(target) as \(kind.rawValue)")
                #expect(transfer.httpVersion == "2", "\(target) negotiated HTTP/\(transfer.httpVersion)")
            }
        }
        try await running.stop()
    }

    @Test(arguments: SimulatorVariant.allCases)
    func capturedBodiesByteForByte(variant: SimulatorVariant) async throws {
        let running = try await RunningSimulator.start { $0.variant = variant }
        defer { running.cleanUp() }
        let files: [(path: String, file: String)] = [
            ("/metrics", "metrics.txt"), ("/metrics/slis", "metrics-slis.txt"),
            ("/healthz?verbose", "healthz-verbose.txt"), ("/livez?verbose", "livez-verbose.txt"),
            ("/readyz?verbose", "readyz-verbose.txt"), ("/configz", "configz.json"),
            ("/debug/pprof/", "pprof-index.html"), ("/flagz", "flagz.txt"), ("/statusz", "statusz.txt"),
        ]
        for kind in [CredentialKind.exporterToken, .exporterCertificate] {
            let transfers = try await running.curl.fetch(
                files.map { running.baseURL + $0.path }, arguments: running.caller(kind).curlArguments)
            for (entry, transfer) in zip(files, transfers) {
                let expected = try Captures.file(variant, entry.file)
                #expect(transfer.body == expected, "\(variant.rawValue) \(entry.path) differs from \(entry.file)")
            }
        }
        let plain = try await running.curl.fetch(["/healthz", "/livez", "/readyz"].map { running.baseURL + $0 })
        #expect(plain.map { String(decoding: $0.body, as: UTF8.self) } == ["ok", "ok", "ok"])
        try await running.stop()
    }

    @Test func metricsHeadersAsCaptured() async throws {
        let running = try await RunningSimulator.start()
        defer { running.cleanUp() }
        let transfer = try await running.curl.fetch(
            running.baseURL + "/metrics", arguments: running.caller(.exporterToken).curlArguments)
        let captured = FixtureCatalog.parseHeaders([UInt8](try Captures.file(.default, "metrics-headers.txt")))
        #expect(captured.count == 3)
        for (name, value) in captured {
            #expect(transfer.headers[name] == value, "header \(name)")
        }
        #expect(transfer.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8; escaping=underscores")
        #expect(transfer.headers["date"]?.hasSuffix(" GMT") == true)
        #expect(transfer.httpVersion == "2")

        let notFound = try await running.curl.fetch(
            running.baseURL + "/no/such/path", arguments: running.caller(.exporterToken).curlArguments)
        #expect(notFound.status == 403)
        let version = try await running.curl.fetch(running.baseURL + "/version")
        #expect(version.status == 404)
        #expect(version.body == Data("404 page not found\n".utf8))
        #expect(version.headers["content-type"] == "text/plain; charset=utf-8")

        let forbidden = try await running.curl.fetch(running.baseURL + "/metrics")
        #expect(forbidden.headers["content-type"] == "application/json")
        let status = try JSONSerialization.jsonObject(with: forbidden.body) as? [String: Any]
        #expect(status?["kind"] as? String == "Status")
        #expect(status?["code"] as? Int == 403)
        #expect(status?["message"] as? String == #"forbidden: User "system:anonymous" cannot get path "/metrics""#)

        let unauthorized = try await running.curl.fetch(
            running.baseURL + "/healthz", arguments: running.caller(.badToken).curlArguments)
        let unauthorizedStatus = try JSONSerialization.jsonObject(with: unauthorized.body) as? [String: Any]
        #expect(unauthorizedStatus?["reason"] as? String == "Unauthorized")
        try await running.stop()
    }

    @Test func http11ServesTheSameAsHTTP2() async throws {
        let running = try await RunningSimulator.start()
        defer { running.cleanUp() }
        let arguments = running.caller(.exporterToken).curlArguments
        let h1 = try await running.curl.fetch(running.baseURL + "/metrics", arguments: arguments + ["--http1.1"])
        let h2 = try await running.curl.fetch(running.baseURL + "/metrics", arguments: arguments)
        #expect(h1.httpVersion == "1.1")
        #expect(h2.httpVersion == "2")
        #expect(h1.status == 200)
        #expect(h1.body == h2.body)
        #expect(h1.body == (try Captures.file(.default, "metrics.txt")))
        #expect(h1.headers["content-type"] == h2.headers["content-type"])
        try await running.stop()
    }

    @Test func bind127002RefusesLoopback127001() async throws {
        // Held so that no other test's listener on 127.0.0.1 can answer on this port.
        let refusing = try RefusingPort(host: "127.0.0.1")
        let running = try await RunningSimulator.start {
            $0.variant = .bind127002
            $0.securePort = refusing.port
        }
        defer { running.cleanUp() }
        #expect(running.listeners.map(\.host) == ["127.0.0.2"])
        let port = running.secure.port
        #expect(port == refusing.port)
        let table = try Captures.table(.bind127002)
        for probe in table.bindProbes {
            // The capture probed port 10259; ours is ephemeral, the host is what matters.
            let url = "https://\(probe.host):\(port)\(probe.path)"
            let transfer = try await running.curl.fetch(url)
            #expect(transfer.status == probe.status, "\(url)")
        }
        #expect(try await running.curl.exitStatus("https://127.0.0.1:\(port)/healthz") == 7)
        try await running.stop()
    }

    @Test func defaultBindRefuses127002() async throws {
        // Held so that no other test's listener on 127.0.0.2 can answer on this port.
        let refusing = try RefusingPort(host: "127.0.0.2")
        let running = try await RunningSimulator.start { $0.securePort = refusing.port }
        defer { running.cleanUp() }
        #expect(running.listeners.map(\.host) == ["127.0.0.1"])
        let port = running.secure.port
        #expect(port == refusing.port)
        for probe in try Captures.table(.default).bindProbes {
            let transfer = try await running.curl.fetch("https://\(probe.host):\(port)\(probe.path)")
            #expect(transfer.status == probe.status)
        }
        try await running.stop()
    }
}
