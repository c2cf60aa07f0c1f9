import Testing
@testable import SchedulerExporter

@Suite struct EvidenceTests {
    @Test func flagzFromTheCapture() throws {
        let flagz = try #require(Flagz(text: Capture.text("zpages-gates", "flagz.txt")))
        #expect(flagz["bind-address"] == "127.0.0.1")
        #expect(flagz["profiling"] == "true")
        #expect(flagz["kubeconfig"] == "/etc/kubernetes/scheduler.conf")
        #expect(flagz.list("authorization-always-allow-paths") == ["/healthz", "/readyz", "/livez"])
        #expect(flagz["cert-dir"] == "", "an empty value is still a flag")
        #expect(Flagz(text: Capture.text("default", "flagz.txt")) == nil, "the 404 body has no flags")
    }

    /// The capture was served with a space; upstream picks `:`, `: `, `=` or ` ` at random per
    /// process. Every one of them, rendered from the real capture, must read the same.
    @Test(arguments: [":", ": ", "=", " "])
    func flagzWithEveryDelimiter(_ delimiter: String) throws {
        let captured = try #require(Flagz(text: Capture.text("zpages-gates", "flagz.txt")))
        let text = "\nkube-scheduler flagz\nWarning: This endpoint is not meant to be machine parseable, has no formatting compatibility guarantees and is for debugging purposes only.\n"
            + captured.flags.keys.sorted().map { "\($0)\(delimiter)\(captured.flags[$0] ?? "")\n" }.joined()
        let flagz = try #require(Flagz(text: text), "delimiter \(delimiter.debugDescription)")
        #expect(flagz == captured)
        #expect(flagz["bind-address"] == "127.0.0.1")
        #expect(flagz["allow-metric-labels-manifest"] == "", "an empty value")
        #expect(flagz["allow-metric-labels"] == "[]")
        #expect(flagz.list("allow-metric-labels") == [])
        #expect(flagz.list("authorization-always-allow-paths") == ["/healthz", "/readyz", "/livez"])
        #expect(flagz["feature-gates"] == ":ComponentFlagz=true,:ComponentStatusz=true", "a value starting with a delimiter character")
        #expect(flagz["kube-scheduler"] == nil, "the title line is no flag")
        #expect(flagz["warning"] == nil)

        let check = AuthorizationBypassCheck().evaluate(try makePoll([:]), context: makeContext(evidence: SchedulerEvidence(flagz: flagz)))
        #expect(check.finding("authorization_not_bypassed")?.status == .pass)
    }

    @Test func flagzEdgeCases() {
        // Trailing whitespace cut by something on the way: still an empty value.
        #expect(Flagz(text: "kube-scheduler flagz\nWarning: x\ncert-dir:\nbind-address: 0.0.0.0\nprofiling: true\n")?.flags
                == ["cert-dir": "", "bind-address": "0.0.0.0", "profiling": "true"])
        #expect(Flagz(text: "Warning: x\r\nbind-address=127.0.0.1\r\ncert-dir=\r\n")?.flags == ["bind-address": "127.0.0.1", "cert-dir": ""])
        #expect(Flagz(text: "kube-scheduler flagz\n") == nil, "a title alone has no flags")
        #expect(Flagz(text: "404 page not found\n") == nil)
        #expect(Flagz(text: "") == nil)
        // Combining marks right after a name, NULs, brackets: parsed or not, never a trap.
        _ = Flagz(text: "\u{301}a\u{301}=b\nb\u{301}\u{0}=:\n[=]\na=[\n")
        let mixed = Flagz(text: "a=1\nb=2\nc:3\n")
        #expect(mixed?.flags == ["a": "1", "b": "2"], "the majority delimiter wins; other lines are not guessed at")
    }

    @Test func configzFromTheCaptures() throws {
        let on = try Configz(json: Capture.bytes("default", "configz.json"))
        #expect(on == Configz(enableProfiling: true, enableContentionProfiling: true, kubeconfig: "/etc/kubernetes/scheduler.conf"))
        let off = try Configz(json: Capture.bytes("profiling-false", "configz.json"))
        #expect(off.enableProfiling == false)
        #expect(throws: (any Error).self) { try Configz(json: Array("404 page not found\n".utf8)) }
    }

    @Test func manifestFlagsInEveryForm() throws {
        let manifest = try StaticPodManifest(yaml: """
            apiVersion: v1
            kind: Pod
            metadata: {name: kube-scheduler, namespace: kube-system}
            spec:
              containers:
              - name: kube-scheduler
                image: registry.k8s.io/kube-scheduler:v1.35.4
                command:
                - kube-scheduler
                - --authentication-kubeconfig=/etc/kubernetes/scheduler.conf
                - --bind-address=127.0.0.1
                - --profiling
                - false
                - --leader-elect
                args: ["--port", "0", "--feature-gates=A=true,B=false"]
            """)
        #expect(manifest["bind-address"] == "127.0.0.1")
        #expect(manifest["profiling"] == "false")
        #expect(manifest["leader-elect"] == "true")
        #expect(manifest["port"] == "0")
        #expect(manifest["feature-gates"] == "A=true,B=false")
        #expect(throws: StaticPodManifest.ParseFailure.self) { try StaticPodManifest(yaml: "just: text\n") }
    }

    @Test func verboseHealthBodies() {
        let ready = HealthCheck.parseVerbose(Capture.bytes("default", "readyz-verbose.txt"))
        #expect(ready == [.init(name: "leaderElection", ok: true), .init(name: "shutdown", ok: true), .init(name: "sched-handler-sync", ok: true)])
        let failing = HealthCheck.parseVerbose(Array("[+]ping ok\n[-]leaderElection failed: reason withheld\nhealthz check failed\n".utf8))
        #expect(failing == [.init(name: "ping", ok: true), .init(name: "leaderElection", ok: false)])
        #expect(HealthCheck.parseVerbose(Array("[x]odd\n[+]\n\n[-".utf8)).isEmpty)
    }
}
