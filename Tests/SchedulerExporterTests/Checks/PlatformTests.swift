import Testing
@testable import SchedulerExporter

#if canImport(Glibc)
import Glibc
#endif

/// Each platform's own file layout, written with real modes into a temporary host root, and its
/// scheduler's command line in that root's /proc: the platform is detected from the files, the CIS
/// file checks read that platform's manifest and kubeconfig, and the flag checks read the command
/// line (source `cmdline`) before the manifest.
@Suite struct PlatformTests {
    static let kubeadmManifest = """
        apiVersion: v1
        kind: Pod
        metadata:
          labels: {component: kube-scheduler, tier: control-plane}
          name: kube-scheduler
          namespace: kube-system
        spec:
          containers:
          - command:
            - kube-scheduler
            - --authentication-kubeconfig=/etc/kubernetes/scheduler.conf
            - --authorization-kubeconfig=/etc/kubernetes/scheduler.conf
            - --bind-address=127.0.0.1
            - --kubeconfig=/etc/kubernetes/scheduler.conf
            - --leader-elect=true
            image: registry.k8s.io/kube-scheduler:v1.35.4
            name: kube-scheduler
            volumeMounts:
            - mountPath: /etc/kubernetes/scheduler.conf
              name: kubeconfig
              readOnly: true
          hostNetwork: true
          priorityClassName: system-node-critical
          volumes:
          - hostPath:
              path: /etc/kubernetes/scheduler.conf
              type: FileOrCreate
            name: kubeconfig
        """
    static let kubeadmCommandLine = [
        "kube-scheduler", "--authentication-kubeconfig=/etc/kubernetes/scheduler.conf",
        "--authorization-kubeconfig=/etc/kubernetes/scheduler.conf", "--bind-address=127.0.0.1",
        "--kubeconfig=/etc/kubernetes/scheduler.conf", "--leader-elect=true",
    ]

    /// kubeadm, and kind (whose nodes run kubeadm): the manifest in /etc/kubernetes/manifests, scheduler.conf next to it.
    @Test func kubeadmAndKind() throws {
        let node = NodeRoot()
        node.file("/etc/kubernetes/manifests/kube-scheduler.yaml", Self.kubeadmManifest, mode: 0o600)
        node.file("/etc/kubernetes/scheduler.conf", "apiVersion: v1\nkind: Config\n", mode: 0o644)
        // The running scheduler was started with profiling off, which the manifest no longer says.
        node.process(812, Self.kubeadmCommandLine + ["--profiling=false"])
        let result = try node.observe(node.target())

        #expect(result.poll.platform == PlatformObservation(platform: .kubeadm, source: .detected))
        #expect(result.output.value("kube_scheduler_platform_info", ["platform": "kubeadm", "source": "detected"]) == 1)
        #expect(result.status("manifest_permissions") == .pass)
        #expect(result.evidence("manifest_permissions") == "/etc/kubernetes/manifests/kube-scheduler.yaml has mode 600")
        #expect(result.status("kubeconfig_permissions") == .fail, "scheduler.conf at 644 (CIS 1.1.15)")
        let modes = result.output.families.filter { $0.name == "kube_scheduler_file_mode" }.flatMap(\.samples)
        #expect(modes.map(\.value) == [Double(0o600), Double(0o644)])
        #expect(modes.map { $0.labels.first { $0.0 == "file" }?.1 } == ["/etc/kubernetes/manifests/kube-scheduler.yaml", "/etc/kubernetes/scheduler.conf"],
                "labelled with the node's path")
        if getuid() == 0 { #expect(result.status("manifest_ownership") == .pass) }
        #expect(result.evidence.commandLine?.pid == 812)
        #expect(result.status("profiling_disabled") == .pass)
        #expect(result.evidence("profiling_disabled") == "profiling disabled per cmdline")
        #expect(result.output.value("kube_scheduler_profiling_enabled", ["source": "cmdline"]) == 0)
        #expect(result.status("bind_address_loopback") == .pass)
        #expect(result.evidence("bind_address_loopback") == "--bind-address=127.0.0.1 per cmdline")
        #expect(result.status("authorization_not_bypassed") == .pass)
        #expect(result.evidence("authorization_not_bypassed") == "only health paths are always allowed (cmdline default)")
    }

    /// RKE2: the manifest under agent/pod-manifests, the kubeconfig under server/cred.
    @Test func rke2() throws {
        let node = NodeRoot()
        node.file("/var/lib/rancher/rke2/agent/pod-manifests/kube-scheduler.yaml", """
            apiVersion: v1
            kind: Pod
            metadata:
              labels: {component: kube-scheduler, tier: control-plane}
              name: kube-scheduler
              namespace: kube-system
            spec:
              containers:
              - args:
                - --permit-port-sharing=true
                - --authentication-kubeconfig=/var/lib/rancher/rke2/server/cred/scheduler.kubeconfig
                - --authorization-kubeconfig=/var/lib/rancher/rke2/server/cred/scheduler.kubeconfig
                - --bind-address=127.0.0.1
                - --kubeconfig=/var/lib/rancher/rke2/server/cred/scheduler.kubeconfig
                - --profiling=false
                - --secure-port=10259
                command:
                - kube-scheduler
                image: index.docker.io/rancher/hardened-kubernetes:v1.35.4-rke2r1-build20260401
                name: kube-scheduler
                volumeMounts:
                - mountPath: /var/lib/rancher/rke2/server/cred/scheduler.kubeconfig
                  name: file0
                  readOnly: true
              hostNetwork: true
              volumes:
              - hostPath:
                  path: /var/lib/rancher/rke2/server/cred/scheduler.kubeconfig
                  type: File
                name: file0
            """, mode: 0o644)
        node.file("/var/lib/rancher/rke2/server/cred/scheduler.kubeconfig", "apiVersion: v1\nkind: Config\n", mode: 0o600)
        node.process(4021, ["kube-scheduler", "--permit-port-sharing=true",
                            "--authentication-kubeconfig=/var/lib/rancher/rke2/server/cred/scheduler.kubeconfig",
                            "--authorization-kubeconfig=/var/lib/rancher/rke2/server/cred/scheduler.kubeconfig",
                            "--bind-address=127.0.0.1", "--kubeconfig=/var/lib/rancher/rke2/server/cred/scheduler.kubeconfig",
                            "--profiling=false", "--secure-port=10259",
                            "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics"])
        let result = try node.observe(node.target())

        #expect(result.poll.platform == PlatformObservation(platform: .rke2, source: .detected))
        #expect(result.status("manifest_permissions") == .fail)
        #expect(result.evidence("manifest_permissions") == "/var/lib/rancher/rke2/agent/pod-manifests/kube-scheduler.yaml has mode 644")
        #expect(result.status("kubeconfig_permissions") == .pass)
        #expect(result.evidence("kubeconfig_permissions") == "/var/lib/rancher/rke2/server/cred/scheduler.kubeconfig has mode 600")
        #expect(result.status("authorization_not_bypassed") == .fail)
        #expect(result.evidence("authorization_not_bypassed") == "always allowed without RBAC: /metrics (cmdline)",
                "the running process, not the manifest (which lists no extra path)")
        #expect(result.status("profiling_disabled") == .pass)
    }

    /// k3s: no manifest (the scheduler runs inside `k3s server`), the kubeconfig under server/cred,
    /// the flags as `--kube-scheduler-arg` values over k3s's own defaults.
    @Test func k3sWithItsArgumentsVisible() throws {
        let node = NodeRoot()
        node.file("/var/lib/rancher/k3s/server/cred/scheduler.kubeconfig", "apiVersion: v1\nkind: Config\n", mode: 0o600)
        node.process(977, ["/usr/local/bin/k3s", "server", "--cluster-init", "--kube-scheduler-arg=bind-address=0.0.0.0",
                           "--kube-scheduler-arg", "v=2"])
        let result = try node.observe(node.target())

        #expect(result.poll.platform == PlatformObservation(platform: .k3s, source: .detected))
        for check in ["manifest_permissions", "manifest_ownership"] {
            #expect(result.status(check) == .unknown)
            #expect(result.evidence(check) == "k3s runs the scheduler inside the k3s server process: no static pod manifest")
        }
        #expect(result.status("kubeconfig_permissions") == .pass)
        #expect(result.evidence("kubeconfig_permissions") == "/var/lib/rancher/k3s/server/cred/scheduler.kubeconfig has mode 600")
        #expect(result.evidence.commandLine?.kind == .k3sServer)
        #expect(result.evidence.commandLine?["v"] == "2")
        #expect(result.status("bind_address_loopback") == .fail)
        #expect(result.evidence("bind_address_loopback") == "--bind-address=0.0.0.0 per cmdline")
        // k3s starts its scheduler with --profiling=false unless told otherwise.
        #expect(result.status("profiling_disabled") == .pass)
        #expect(result.evidence("profiling_disabled") == "profiling disabled per cmdline")
    }

    /// Since v1.19 k3s writes `k3s server` over its argv (to keep secrets out of `ps`); its config
    /// file, and the drop-ins in name order, then hold the scheduler's arguments.
    @Test func k3sWithItsArgumentsHidden() throws {
        let node = NodeRoot()
        node.file("/var/lib/rancher/k3s/server/cred/scheduler.kubeconfig", "apiVersion: v1\nkind: Config\n", mode: 0o640)
        node.retitledProcess(977, "/usr/local/bin/k3s server")
        node.file("/etc/rancher/k3s/config.yaml", "write-kubeconfig-mode: \"0644\"\nkube-scheduler-arg:\n  - profiling=true\n  - bind-address=0.0.0.0\n")
        node.file("/etc/rancher/k3s/config.yaml.d/20-bind.yaml", "kube-scheduler-arg+: [bind-address=127.0.0.1]\n")
        node.file("/etc/rancher/k3s/config.yaml.d/10-ignored.txt", "kube-scheduler-arg: [profiling=false]\n")
        let result = try node.observe(node.target())

        #expect(result.status("kubeconfig_permissions") == .fail)
        #expect(result.evidence.commandLine?.source == .k3sConfig)
        #expect(result.evidence.commandLine?.complete == false)
        #expect(result.status("profiling_disabled") == .fail)
        #expect(result.evidence("profiling_disabled") == "profiling enabled per k3s_config")
        #expect(result.status("bind_address_loopback") == .pass, "the later drop-in's value wins")
        #expect(result.evidence("bind_address_loopback") == "--bind-address=127.0.0.1 per k3s_config")
        // The config file is no whole command line: an unset path list proves nothing.
        #expect(result.status("authorization_not_bypassed") == .unknown)

        let bare = NodeRoot()
        bare.file("/var/lib/rancher/k3s/server/cred/scheduler.kubeconfig", mode: 0o600)
        bare.retitledProcess(977, "/usr/local/bin/k3s server")
        let hidden = try bare.observe(bare.target())
        #expect(hidden.evidence.commandLine == nil)
        #expect(hidden.evidence.commandLineProblem?.contains("hides its arguments") == true)
        #expect(hidden.status("profiling_disabled") == .unknown)
    }

    /// Talos: its own manifest name in /etc/kubernetes/manifests, secrets and config under /system;
    /// the scheduler runs with --config, which overrides --profiling.
    @Test func talos() throws {
        let node = NodeRoot()
        node.file("/etc/kubernetes/manifests/talos-kube-scheduler.yaml", """
            apiVersion: v1
            kind: Pod
            metadata:
              name: kube-scheduler
              namespace: kube-system
              labels: {k8s-app: kube-scheduler, tier: control-plane}
            spec:
              containers:
              - name: kube-scheduler
                image: registry.k8s.io/kube-scheduler:v1.35.4
                command:
                - /usr/local/bin/kube-scheduler
                - --config=/system/config/kubernetes/kube-scheduler/scheduler-config.yaml
                - --bind-address=127.0.0.1
                - --leader-elect=true
                - --profiling=true
                volumeMounts:
                - {mountPath: /system/secrets/kubernetes/kube-scheduler, name: secrets, readOnly: true}
                - {mountPath: /system/config/kubernetes/kube-scheduler, name: config, readOnly: true}
              hostNetwork: true
              volumes:
              - {name: secrets, hostPath: {path: /system/secrets/kubernetes/kube-scheduler}}
              - {name: config, hostPath: {path: /system/config/kubernetes/kube-scheduler}}
            """, mode: 0o600)
        node.file("/system/config/kubernetes/kube-scheduler/scheduler-config.yaml", """
            apiVersion: kubescheduler.config.k8s.io/v1
            kind: KubeSchedulerConfiguration
            clientConnection:
              kubeconfig: /system/secrets/kubernetes/kube-scheduler/kubeconfig
            enableProfiling: false
            """, mode: 0o600)
        node.file("/system/secrets/kubernetes/kube-scheduler/kubeconfig", "apiVersion: v1\nkind: Config\n", mode: 0o400)
        node.process(2210, ["/usr/local/bin/kube-scheduler", "--config=/system/config/kubernetes/kube-scheduler/scheduler-config.yaml",
                            "--bind-address=127.0.0.1", "--leader-elect=true", "--profiling=true"])
        let result = try node.observe(node.target())

        #expect(result.poll.platform == PlatformObservation(platform: .talos, source: .detected))
        #expect(result.status("manifest_permissions") == .pass)
        #expect(result.evidence("manifest_permissions") == "/etc/kubernetes/manifests/talos-kube-scheduler.yaml has mode 600")
        #expect(result.status("kubeconfig_permissions") == .pass)
        #expect(result.evidence("kubeconfig_permissions") == "/system/secrets/kubernetes/kube-scheduler/kubeconfig has mode 400")
        #expect(result.evidence.commandLine?.config?.enableProfiling == false)
        // --profiling=true is ignored next to --config (as upstream says and the
        // config-profiling-overrides-flag capture shows): the file's false counts, on both sources.
        #expect(result.status("profiling_disabled") == .pass)
        #expect(result.output.value("kube_scheduler_profiling_enabled", ["source": "cmdline"]) == 0)
        #expect(result.output.value("kube_scheduler_profiling_enabled", ["source": "manifest"]) == 0)
    }

    /// The operator's static pod template (openshift/cluster-kube-scheduler-operator
    /// bindata/assets/kube-scheduler/pod.yaml) at revision 7, and the default config it renders.
    static let openShiftManifest = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: openshift-kube-scheduler
          namespace: openshift-kube-scheduler
          labels:
            app: openshift-kube-scheduler
            scheduler: "true"
            revision: "7"
        spec:
          initContainers:
          - name: wait-for-host-port
            image: quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:0
            command: ['/usr/bin/timeout', '30', '/bin/bash', '-c']
            args:
            - |
              echo -n "Waiting for port :10259 and :10251 to be released."
          containers:
          - name: kube-scheduler
            image: quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:0
            command: ["hyperkube", "kube-scheduler"]
            args:
            - --config=/etc/kubernetes/static-pod-resources/configmaps/config/config.yaml
            - --cert-dir=/var/run/kubernetes
            - --authentication-kubeconfig=/etc/kubernetes/static-pod-resources/configmaps/scheduler-kubeconfig/kubeconfig
            - --authorization-kubeconfig=/etc/kubernetes/static-pod-resources/configmaps/scheduler-kubeconfig/kubeconfig
            ports:
            - containerPort: 10259
            volumeMounts:
            - mountPath: /etc/kubernetes/static-pod-resources
              name: resource-dir
            - mountPath: /etc/kubernetes/static-pod-certs
              name: cert-dir
          - name: kube-scheduler-cert-syncer
            image: quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:1
            command: ["cluster-kube-scheduler-operator", "cert-syncer"]
            args:
              - --kubeconfig=/etc/kubernetes/static-pod-resources/configmaps/kube-scheduler-cert-syncer-kubeconfig/kubeconfig
          hostNetwork: true
          priorityClassName: system-node-critical
          volumes:
          - hostPath:
              path: /etc/kubernetes/static-pod-resources/kube-scheduler-pod-7
            name: resource-dir
          - hostPath:
              path: /etc/kubernetes/static-pod-resources/kube-scheduler-certs
            name: cert-dir
        """

    /// OpenShift: the operator's static pod, whose KubeSchedulerConfiguration and kubeconfig live in
    /// the revision directory it mounts; the kubeconfig is found through that mount.
    @Test func openShift() throws {
        let node = NodeRoot()
        node.file("/etc/kubernetes/manifests/kube-scheduler-pod.yaml", Self.openShiftManifest, mode: 0o644)
        let revision = "/etc/kubernetes/static-pod-resources/kube-scheduler-pod-7"
        node.file(revision + "/configmaps/config/config.yaml", """
            apiVersion: kubescheduler.config.k8s.io/v1
            kind: KubeSchedulerConfiguration
            clientConnection:
              kubeconfig: /etc/kubernetes/static-pod-resources/configmaps/scheduler-kubeconfig/kubeconfig
            leaderElection:
              leaderElect: true
              resourceNamespace: "openshift-kube-scheduler"
            enableProfiling: false
            enableContentionProfiling: false
            """, mode: 0o600)
        node.file(revision + "/configmaps/scheduler-kubeconfig/kubeconfig", "apiVersion: v1\nkind: Config\n", mode: 0o600)
        // An older revision's kubeconfig, looser, must not be the one judged.
        node.file("/etc/kubernetes/static-pod-resources/kube-scheduler-pod-6/configmaps/scheduler-kubeconfig/kubeconfig", mode: 0o644)
        // hyperkube execs kube-scheduler, so the process is kube-scheduler with the container's args.
        node.process(3377, ["kube-scheduler", "--config=/etc/kubernetes/static-pod-resources/configmaps/config/config.yaml",
                            "--cert-dir=/var/run/kubernetes",
                            "--authentication-kubeconfig=/etc/kubernetes/static-pod-resources/configmaps/scheduler-kubeconfig/kubeconfig",
                            "--authorization-kubeconfig=/etc/kubernetes/static-pod-resources/configmaps/scheduler-kubeconfig/kubeconfig"])
        let result = try node.observe(node.target())

        #expect(result.poll.platform == PlatformObservation(platform: .openshift, source: .detected))
        #expect(result.status("manifest_permissions") == .fail)
        #expect(result.evidence("manifest_permissions") == "/etc/kubernetes/manifests/kube-scheduler-pod.yaml has mode 644")
        #expect(result.status("kubeconfig_permissions") == .pass)
        #expect(result.evidence("kubeconfig_permissions") == revision + "/configmaps/scheduler-kubeconfig/kubeconfig has mode 600")
        #expect(result.evidence.manifest?.config?.enableProfiling == false, "the --config file read through the revision mount")
        #expect(result.status("profiling_disabled") == .pass)
        #expect(result.evidence("profiling_disabled") == "profiling disabled per cmdline")
        #expect(result.status("contention_profiling_disabled") == .pass)
        #expect(result.status("authorization_not_bypassed") == .pass)
    }

    /// `--platform` wins over detection and says so; configured files win over the platform's.
    @Test func theFlagAndConfiguredPathsWin() throws {
        let node = NodeRoot()
        node.file("/etc/kubernetes/manifests/kube-scheduler.yaml", Self.kubeadmManifest, mode: 0o600)
        node.file("/etc/kubernetes/scheduler.conf", mode: 0o600)
        let forced = try node.observe(node.target(platform: .fixed(.rke2)))
        #expect(forced.output.value("kube_scheduler_platform_info", ["platform": "rke2", "source": "flag"]) == 1)
        #expect(forced.status("manifest_permissions") == .unknown)
        #expect(forced.evidence("manifest_permissions").contains("/var/lib/rancher/rke2/agent/pod-manifests/kube-scheduler.yaml"))

        var configured = node.target(platform: .fixed(.k3s))
        let custom = node.file("/srv/scheduler/manifest.yaml", Self.kubeadmManifest, mode: 0o644)
        configured.security.manifestFile = custom
        configured.security.kubeconfigFile = node.path + "/etc/kubernetes/scheduler.conf"
        let explicit = try node.observe(configured)
        #expect(explicit.status("manifest_permissions") == .fail, "a configured manifest is read even on k3s")
        #expect(explicit.evidence("manifest_permissions") == "\(custom) has mode 644")
        #expect(explicit.status("kubeconfig_permissions") == .pass)

        let empty = NodeRoot()
        let nothing = try empty.observe(empty.target())
        #expect(nothing.poll.platform == PlatformObservation(platform: .kubeadm, source: .default))
        #expect(nothing.status("manifest_permissions") == .unknown)
        #expect(nothing.status("kubeconfig_permissions") == .unknown)
    }

    @Test func detectionPrefersTheMostSpecificPlatform() {
        func detect(_ present: Set<String>) -> Platform? { PlatformLayout.detect { present.contains($0) } }
        #expect(detect([]) == nil)
        #expect(detect(["/etc/kubernetes/scheduler.conf"]) == .kubeadm)
        #expect(detect(["/etc/kubernetes/scheduler.conf", "/etc/kubernetes/manifests/talos-kube-scheduler.yaml"]) == .talos)
        #expect(detect(["/etc/kubernetes/manifests/kube-scheduler-pod.yaml", "/etc/kubernetes/manifests/kube-scheduler.yaml"]) == .openshift)
        #expect(detect(["/var/lib/rancher/rke2/server/cred/scheduler.kubeconfig"]) == .rke2)
        #expect(detect(["/var/lib/rancher/k3s/server/cred/scheduler.kubeconfig"]) == .k3s)
        for platform in Platform.allCases {
            #expect(detect(Set(PlatformLayout.of(platform).markers)) == platform)
        }
    }

    @Test func hostRootPaths() {
        var security = SecurityProbeConfig()
        #expect(security.local("/etc/kubernetes/scheduler.conf") == "/etc/kubernetes/scheduler.conf")
        security.hostRoot = "/host/"
        #expect(security.local("/etc/kubernetes/scheduler.conf") == "/host/etc/kubernetes/scheduler.conf")
        security.hostRoot = "/host"
        #expect(security.local("/proc") == "/host/proc")
    }

    @Test func manifestMountsMapTheSchedulersPathsOntoTheNode() throws {
        let manifest = try StaticPodManifest(yaml: Self.openShiftManifest)
        #expect(manifest.nodePath(for: "/etc/kubernetes/static-pod-resources/configmaps/config/config.yaml")
                == "/etc/kubernetes/static-pod-resources/kube-scheduler-pod-7/configmaps/config/config.yaml")
        #expect(manifest.nodePath(for: "/etc/kubernetes/static-pod-resources") == "/etc/kubernetes/static-pod-resources/kube-scheduler-pod-7")
        #expect(manifest.nodePath(for: "/etc/kubernetes/static-pod-resourcesX/a") == "/etc/kubernetes/static-pod-resourcesX/a", "not a prefix at a component boundary")
        #expect(manifest.nodePath(for: "/var/run/kubernetes/x") == "/var/run/kubernetes/x")
        let kubeadm = try StaticPodManifest(yaml: Self.kubeadmManifest)
        #expect(kubeadm.mounts == [StaticPodManifest.Mount(mountPath: "/etc/kubernetes/scheduler.conf", hostPath: "/etc/kubernetes/scheduler.conf")])
        let sub = try StaticPodManifest(yaml: """
            spec:
              containers:
              - name: kube-scheduler
                command: [kube-scheduler]
                volumeMounts: [{name: etc, mountPath: /config/, subPath: sched}, {name: missing, mountPath: /x}, {name: cm, mountPath: /cm}]
              volumes: [{name: etc, hostPath: {path: /etc/kube/}}, {name: cm, configMap: {name: c}}]
            """)
        #expect(sub.nodePath(for: "/config/a.yaml") == "/etc/kube/sched/a.yaml")
        #expect(sub.nodePath(for: "/cm/a") == "/cm/a", "a configMap volume is not on the node's filesystem as such")
    }
}
