import Exposition
import Foundation
import Testing
@testable import SchedulerExporter

/// The pure request path (what `Fuzz/request` runs): target decoding and route decisions.
@Suite struct RequestRoutingTests {
    let policy = ProbePolicy(allowedTargets: [try! CIDR(parsing: "127.0.0.0/8"), try! CIDR(parsing: "::1/128")],
                             allowedPorts: [10259, 10251], maxTimeout: .seconds(10))

    func route(_ uri: String, method: String = "GET", headers: [String: String] = [:], probe: Bool = true) -> Route {
        Route.decide(method: method, uri: uri, header: { name in headers.first { $0.key.lowercased() == name.lowercased() }?.value },
                     probe: probe ? policy : nil)
    }

    @Test func targetsAreSplitAndDecoded() {
        let (path, query) = RequestTarget.parse("/scheduler/metrics?target=cp%2D1+a&x&=v&target=second")
        #expect(path == "/scheduler/metrics")
        #expect(query.map(\.name) == ["target", "x", "", "target"])
        #expect(query.map(\.value) == ["cp-1 a", "", "v", "second"])
        #expect(RequestTarget.parse("/a%2Fb").path == "/a/b")
        #expect(RequestTarget.parse("/a%+1b").path == "/a", "a sign is no hex digit: the component ends")
        #expect(RequestTarget.parse("/a%4").path == "/a")
        #expect(RequestTarget.parse("/%FF").path == "/\u{FFFD}", "invalid UTF-8 is replaced, never trusted")
    }

    @Test func routes() {
        #expect(route("/metrics") == .metrics(.prometheusText))
        #expect(route("/metrics", headers: ["Accept": "application/openmetrics-text; version=1.0.0"]) == .metrics(.openMetrics))
        #expect(route("/scheduler/metrics?target=a", headers: ["Accept-Encoding": "gzip"]) == .passthrough(target: "a", gzip: true))
        #expect(route("/scheduler/metrics/resources?target=a", headers: ["Accept-Encoding": "gzip"]) == .passthroughResources(target: "a", gzip: true))
        #expect(route("/scheduler/metrics/resources") == .passthroughResources(target: nil, gzip: false))
        #expect(route("/healthz", method: "HEAD") == .healthz)
        #expect(route("/") == .landing)
        #expect(route("/nope") == .notFound)
        #expect(route("/metrics", method: "POST") == .methodNotAllowed)
    }

    @Test func probes() {
        #expect(route("/probe?target=127.0.0.1", headers: ["X-Prometheus-Scrape-Timeout-Seconds": "5"])
                == .probe(host: "127.0.0.1", port: 10259, timeout: .milliseconds(4_500)))
        #expect(route("/probe?target=[::1]:10251") == .probe(host: "::1", port: 10251, timeout: .milliseconds(9_500)))
        #expect(route("/probe?target=127.0.0.1:22") == .probeRefused(.portNotAllowed(22)))
        #expect(route("/probe?target=127.0.0.1:%2B10259") == .probeRefused(.notAnAddress("127.0.0.1:+10259")), "Int() would take the sign")
        #expect(route("/probe?target=[::1]x") == .probeRefused(.notAnAddress("[::1]x")))
        #expect(route("/probe?target=127.0.0.1%00[::1]") == .probeRefused(.notAnAddress("127.0.0.1\0[::1]")),
                "inet_pton stops at NUL: the rest would have gone into the URL (Fuzz/regressions/request/nul-in-probe-target)")
        #expect(route("/probe?target=10.0.0.1") == .probeRefused(.notAllowed("10.0.0.1")))
        #expect(route("/probe") == .probeRefused(.missingTarget))
        #expect(route("/probe?target=127.0.0.1", headers: ["X-Prometheus-Scrape-Timeout-Seconds": "nan"])
                == .probeRefused(.badTimeout(.notANumber("nan"))))
        #expect(route("/probe?target=127.0.0.1", probe: false) == .notFound, "off: no different from an unknown path")
    }

    /// Every input the request harness ever crashed on, through the same path and property.
    @Test func fuzzRegressionsStayInsideThePolicy() throws {
        let directory = repositoryRootForFuzz + "/Fuzz/regressions/request"
        let files = try FileManager.default.contentsOfDirectory(atPath: directory)
        #expect(!files.isEmpty)
        for file in files {
            let text = String(decoding: try #require(FileManager.default.contents(atPath: "\(directory)/\(file)")), as: UTF8.self)
            let requestLine = text.split(separator: "\n", omittingEmptySubsequences: false).first ?? ""
            let parts = requestLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            let uri = parts.count > 1 ? String(parts[1]) : ""
            if case .probe(let host, _, _) = route(uri, method: String(parts[0])) {
                #expect(!host.contains("\0") && IPAddress.bytes(host) != nil, "\(file): probe of \(host.debugDescription)")
            }
        }
    }

    @Test func headLimits() {
        let limits = ServerLimits()
        #expect(limits.check(uri: "/metrics", headers: [("Host", "x")]) == nil)
        #expect(limits.check(uri: "/" + String(repeating: "a", count: 8_192), headers: []) == .uriTooLong)
        #expect(limits.check(uri: "/", headers: [("X", String(repeating: "b", count: 16_380))]) == .headersTooLarge)
        #expect(limits.check(uri: "/", headers: (0...100).map { ("X-\($0)", "v") }) == .headersTooLarge)
    }
}

let repositoryRootForFuzz: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(4)  // Tests/SchedulerExporterTests/Server/RequestRoutingTests.swift
    return parts.joined(separator: "/")
}()
