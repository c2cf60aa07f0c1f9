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
