import CurlHTTP
import Exposition
import Testing
@testable import SchedulerExporter

@Suite struct ProfilingCheckTests {
    @Test func pprofAnsweringMeansEnabled() throws {
        let output = ProfilingCheck().evaluate(try makePoll([.pprof: ok(200)]), context: makeContext())
        #expect(output.finding("profiling_disabled")?.status == .fail)
        #expect(output.finding("profiling_disabled")?.cisID == "1.4.1")
        #expect(output.value("kube_scheduler_profiling_enabled", ["source": "pprof"]) == 1)
    }

    @Test func pprof404AndConfigzFalseMeanDisabled() throws {
        let evidence = SchedulerEvidence(configz: try Configz(json: Capture.bytes("profiling-false", "configz.json")))
        let output = ProfilingCheck().evaluate(try makePoll([.pprof: ok(404)]), context: makeContext(evidence: evidence))
        #expect(output.finding("profiling_disabled")?.status == .pass)
        #expect(output.value("kube_scheduler_profiling_enabled", ["source": "configz"]) == 0)
        #expect(output.value("kube_scheduler_profiling_enabled", ["source": "pprof"]) == 0)
    }

    @Test func forbiddenPprofProvesNothing() throws {
        let output = ProfilingCheck().evaluate(try makePoll([.pprof: ok(403)]), context: makeContext())
        #expect(output.finding("profiling_disabled")?.status == .unknown)
        #expect(output.family("kube_scheduler_profiling_enabled")?.samples.isEmpty == true, "absent when unknown")
    }

    @Test func contentionProfilingIsInertWithoutProfiling() throws {
        let evidence = SchedulerEvidence(configz: try Configz(json: Capture.bytes("profiling-false", "configz.json")))
        let inert = ContentionProfilingCheck().evaluate(try makePoll([.pprof: ok(404)]), context: makeContext(evidence: evidence))
        #expect(inert.finding("contention_profiling_disabled")?.status == .pass)
        let active = ContentionProfilingCheck().evaluate(try makePoll([.pprof: ok(200)]),
                                                         context: makeContext(evidence: SchedulerEvidence(configz: try Configz(json: Capture.bytes("default", "configz.json")))))
        #expect(active.finding("contention_profiling_disabled")?.status == .fail)
    }
}

@Suite struct AccessCheckTests {
    func anonymous(_ statuses: [String: Result<HTTPResponse, HTTPClientError>]) -> [ProbeRequest: Result<HTTPResponse, HTTPClientError>] {
        var responses: [ProbeRequest: Result<HTTPResponse, HTTPClientError>] = [:]
        for (path, request) in zip(AnonymousAccessCheck.paths, AnonymousAccessCheck.requests) {
            responses[request] = statuses[path] ?? ok(403)
        }
        return responses
    }

    @Test func deniedEverywherePasses() throws {
        let output = AnonymousAccessCheck().evaluate(try makePoll(anonymous([:])), context: makeContext())
        #expect(output.finding("anonymous_access_denied")?.status == .pass)
        #expect(output.value("kube_scheduler_anonymous_access", ["path": "/metrics"]) == 0)
    }

    @Test func anonymousMetricsFails() throws {
        let output = AnonymousAccessCheck().evaluate(try makePoll(anonymous(["/metrics": ok(200)])), context: makeContext())
        #expect(output.finding("anonymous_access_denied")?.status == .fail)
        #expect(output.value("kube_scheduler_anonymous_access", ["path": "/metrics"]) == 1)
        #expect(output.value("kube_scheduler_anonymous_access", ["path": "/configz"]) == 0)
    }

    @Test func noAnswerIsUnknown() throws {
        let output = AnonymousAccessCheck().evaluate(try makePoll(anonymous(["/flagz": failed(.timeout)])), context: makeContext())
        #expect(output.finding("anonymous_access_denied")?.status == .unknown)
    }

    @Test func invalidTokenMustGet401() throws {
        let enforced = AuthenticationCheck().evaluate(try makePoll([AuthenticationCheck.request: ok(401)]), context: makeContext())
        #expect(enforced.finding("authentication_enforced")?.status == .pass)
        #expect(enforced.value("kube_scheduler_authentication_enforced") == 1)
        let open = AuthenticationCheck().evaluate(try makePoll([AuthenticationCheck.request: ok(200)]), context: makeContext())
        #expect(open.finding("authentication_enforced")?.status == .fail)
        let silent = AuthenticationCheck().evaluate(try makePoll([AuthenticationCheck.request: failed(.connectRefused)]), context: makeContext())
        #expect(silent.finding("authentication_enforced")?.status == .unknown)
    }

    @Test func alwaysAllowPathsHoldOnlyHealth() throws {
        let captured = try #require(Flagz(text: Capture.text("zpages-gates", "flagz.txt")))
        let pass = AuthorizationBypassCheck().evaluate(try makePoll([:]), context: makeContext(evidence: SchedulerEvidence(flagz: captured)))
        #expect(pass.finding("authorization_not_bypassed")?.status == .pass)
        var widened = captured
        widened.flags["authorization-always-allow-paths"] = "[/healthz,/readyz,/livez,/metrics]"
        let fail = AuthorizationBypassCheck().evaluate(try makePoll([:]), context: makeContext(evidence: SchedulerEvidence(flagz: widened)))
        #expect(fail.finding("authorization_not_bypassed")?.status == .fail)
        #expect(fail.finding("authorization_not_bypassed")?.evidence.contains("/metrics") == true)
        let manifest = StaticPodManifest(flags: ["authorization-always-allow-paths": "/healthz,/livez/*"])
        let subpaths = AuthorizationBypassCheck().evaluate(try makePoll([:]), context: makeContext(evidence: SchedulerEvidence(manifest: manifest)))
        #expect(subpaths.finding("authorization_not_bypassed")?.status == .pass)
        let none = AuthorizationBypassCheck().evaluate(try makePoll([:]), context: makeContext())
        #expect(none.finding("authorization_not_bypassed")?.status == .unknown)
    }
}

@Suite struct ExposureCheckTests {
    var target: TargetConfig {
        var target = TargetConfig(name: "t", url: "https://127.0.0.1:10259")
        target.security.nonLoopbackAddresses = ["127.0.0.2"]
        return target
    }

    @Test func bindAddress() throws {
        let request = BindAddressCheck.request(for: "127.0.0.2")
        let refused = BindAddressCheck().evaluate(try makePoll([request: failed(.connectRefused)]), context: makeContext(target))
        #expect(refused.finding("bind_address_loopback")?.status == .pass)
        #expect(refused.value("kube_scheduler_nonloopback_bind", ["address": "127.0.0.2"]) == 0)
        let open = BindAddressCheck().evaluate(try makePoll([request: ok(200)]), context: makeContext(target))
        #expect(open.finding("bind_address_loopback")?.status == .fail)
        #expect(open.value("kube_scheduler_nonloopback_bind", ["address": "127.0.0.2"]) == 1)
        let hang = BindAddressCheck().evaluate(try makePoll([request: failed(.connectTimeout)]), context: makeContext(target))
        #expect(hang.finding("bind_address_loopback")?.status == .unknown)
        let flagged = BindAddressCheck().evaluate(try makePoll([request: failed(.connectRefused)]),
                                                  context: makeContext(target, evidence: SchedulerEvidence(flagz: Flagz(flags: ["bind-address": "0.0.0.0"]))))
        #expect(flagged.finding("bind_address_loopback")?.status == .fail)
    }

    @Test func insecurePort() throws {
        var responses: [ProbeRequest: Result<HTTPResponse, HTTPClientError>] = [:]
        for path in InsecurePortCheck.paths { responses[InsecurePortCheck.request(path: path, port: 10251)] = failed(.connectRefused) }
        let closed = InsecurePortCheck().evaluate(try makePoll(responses), context: makeContext(target))
        #expect(closed.finding("insecure_port_closed")?.status == .pass)
        #expect(closed.value("kube_scheduler_insecure_port_open", ["port": "10251"]) == 0)

        for path in InsecurePortCheck.paths { responses[InsecurePortCheck.request(path: path, port: 10251)] = ok(path == "/debug/pprof/" ? 404 : 200) }
        let open = InsecurePortCheck().evaluate(try makePoll(responses), context: makeContext(target))
        #expect(open.finding("insecure_port_closed")?.status == .fail)
        #expect(open.value("kube_scheduler_insecure_port_open", ["port": "10251"]) == 1)
        #expect(open.value("kube_scheduler_insecure_port_exposes", ["path": "/metrics"]) == 1)
        #expect(open.value("kube_scheduler_insecure_port_exposes", ["path": "/debug/pprof/"]) == 0)

        for path in InsecurePortCheck.paths { responses[InsecurePortCheck.request(path: path, port: 10251)] = failed(.timeout) }
        let silent = InsecurePortCheck().evaluate(try makePoll(responses), context: makeContext(target))
        #expect(silent.finding("insecure_port_closed")?.status == .unknown)
        #expect(silent.family("kube_scheduler_insecure_port_open") == nil)
    }

    @Test func tlsCertificateAndVersion() throws {
        let now = 1_800_000_000.0
        func poll(daysLeft: Double, version: String, verified: Bool, selfSigned: Bool = false,
                  legacy: Result<HTTPResponse, HTTPClientError> = refusedLegacy) throws -> PollResult {
            let leaf = CertificateInfo(subject: "CN = kube-scheduler", issuer: selfSigned ? "CN = kube-scheduler" : "CN = ca",
                                       notBefore: now - 86_400, notAfter: now + daysLeft * 86_400)
            return try makePoll([
                TLSCheck.observe: .success(HTTPResponse(status: 200, tlsVersion: version, certificates: [leaf])),
                TLSCheck.verify: verified ? ok(200) : failed(.tlsVerify),
                TLSCheck.legacy: legacy,
            ])
        }
        let good = TLSCheck().evaluate(try poll(daysLeft: 300, version: "TLSv1.3", verified: true), context: makeContext(now: now))
        #expect(good.finding("serving_certificate_valid")?.status == .pass)
        #expect(good.finding("tls_min_version")?.status == .pass)
        #expect(good.finding("tls_min_version")?.evidence == "refuses TLS 1.0 and 1.1: a handshake offering only them failed; negotiates TLSv1.3")
        #expect(good.value("kube_scheduler_tls_verified") == 1)
        #expect(good.value("kube_scheduler_tls_cert_not_after_timestamp_seconds") == now + 300 * 86_400)
        #expect(good.value("kube_scheduler_tls_version_info", ["version": "TLSv1.3"]) == 1)

        let expiring = TLSCheck().evaluate(try poll(daysLeft: 5, version: "TLSv1.2", verified: true), context: makeContext(now: now))
        #expect(expiring.finding("serving_certificate_valid")?.status == .fail)
        let expired = TLSCheck().evaluate(try poll(daysLeft: -2, version: "TLSv1.2", verified: true), context: makeContext(now: now))
        #expect(expired.finding("serving_certificate_valid")?.evidence.hasPrefix("expired") == true)
        let untrusted = TLSCheck().evaluate(try poll(daysLeft: 300, version: "TLSv1.3", verified: false, selfSigned: true), context: makeContext(now: now))
        #expect(untrusted.finding("serving_certificate_valid")?.status == .fail)
        #expect(untrusted.value("kube_scheduler_tls_cert_self_signed") == 1)
        #expect(untrusted.value("kube_scheduler_tls_verified") == 0)

        // Negotiating 1.3 proves nothing about 1.0: the legacy-only handshake decides.
        let acceptsOld = TLSCheck().evaluate(try poll(daysLeft: 300, version: "TLSv1.3", verified: true,
                                                      legacy: .success(HTTPResponse(status: 200, tlsVersion: "TLSv1"))), context: makeContext(now: now))
        #expect(acceptsOld.finding("tls_min_version")?.status == .fail)
        #expect(acceptsOld.finding("tls_min_version")?.evidence == "accepts TLSv1.0: a handshake offering only TLS 1.0 and 1.1 succeeded")
        #expect(acceptsOld.value("kube_scheduler_tls_version_info", ["version": "TLSv1.3"]) == 1, "the version info stays the preferred one")
        let localOpenSSL = TLSCheck().evaluate(try poll(daysLeft: 300, version: "TLSv1.3", verified: true,
                                                        legacy: .failure(HTTPClientError(kind: .tlsHandshake, message: "OpenSSL/3.0.22: error:0A0000BF:SSL routines::no protocols available"))),
                                               context: makeContext(now: now))
        #expect(localOpenSSL.finding("tls_min_version")?.status == .unknown, "the server was never asked")
        let timedOut = TLSCheck().evaluate(try poll(daysLeft: 300, version: "TLSv1.3", verified: true, legacy: failed(.timeout)), context: makeContext(now: now))
        #expect(timedOut.finding("tls_min_version")?.status == .unknown)
        #expect(timedOut.finding("tls_min_version")?.evidence == "no answer to a handshake offering only TLS 1.0 and 1.1: timeout")
        let nothing = TLSCheck().evaluate(try makePoll([TLSCheck.observe: failed(.connectRefused), TLSCheck.verify: failed(.connectRefused),
                                                        TLSCheck.legacy: failed(.connectRefused)]), context: makeContext(now: now))
        #expect(nothing.finding("serving_certificate_valid")?.status == .unknown)
        #expect(nothing.finding("tls_min_version")?.status == .unknown)

        #expect(TLSCheck.observationStands(TLSCheck.legacy, refusedLegacy), "a refusal is the answer, kept like a success")
        #expect(!TLSCheck.observationStands(TLSCheck.legacy, failed(.connectRefused)))
        #expect(!TLSCheck.observationStands(TLSCheck.verify, failed(.tlsHandshake)))
    }

    @Test func alphaGatesFromTheCaptures() throws {
        let defaults = AlphaFeatureGatesCheck().evaluate(try makePoll([:], metrics: Capture.bytes("default", "metrics.txt")), context: makeContext())
        #expect(defaults.finding("no_alpha_feature_gates")?.status == .pass)
        #expect(defaults.value("kube_scheduler_alpha_features_enabled") == 0)
        #expect(defaults.family("kube_scheduler_feature_enabled")?.samples.count == 218)
        let gated = AlphaFeatureGatesCheck().evaluate(try makePoll([:], metrics: Capture.bytes("zpages-gates", "metrics.txt")), context: makeContext())
        #expect(gated.finding("no_alpha_feature_gates")?.status == .fail)
        #expect(gated.value("kube_scheduler_alpha_features_enabled") == 2)
        #expect(gated.value("kube_scheduler_feature_enabled", ["name": "ComponentFlagz", "stage": "ALPHA"]) == 1)
        let none = AlphaFeatureGatesCheck().evaluate(try makePoll([:]), context: makeContext())
        #expect(none.finding("no_alpha_feature_gates")?.status == .unknown)
    }
}

let refusedLegacy: Result<HTTPResponse, HTTPClientError> = .failure(HTTPClientError(
    kind: .tlsHandshake, message: "OpenSSL/3.0.22: error:0A00042E:SSL routines::tlsv1 alert protocol version (https://127.0.0.1:10259/healthz)"))

@Suite struct StateSetTests {
    @Test func exactlyOneStatusPerCheck() {
        let families = SecurityFindingFamilies.render([
            SecurityFinding(ProfilingCheck.entry, .fail, "x"),
            SecurityFinding(BindAddressCheck.entry, .pass, "y"),
            SecurityFinding(TLSCheck.versionEntry, .unknown, "z"),
        ])
        let states = families.first { $0.name == "kube_scheduler_security_check" }!
        #expect(states.samples.count == 9)
        for check in ["profiling_disabled", "bind_address_loopback", "tls_min_version"] {
            let ones = states.samples.filter { $0.labels.contains { $0.0 == "check" && $0.1 == check } && $0.value == 1 }
            #expect(ones.count == 1)
        }
        let findings = families.first { $0.name == "kube_scheduler_security_findings" }!
        #expect(findings.samples.first { $0.labels.contains { $0.1 == "medium" } }?.value == 1)
        #expect(findings.samples.first { $0.labels.contains { $0.1 == "high" } }?.value == 0, "unknown and pass are not findings")
    }
}
