import Yams

/// A process the poll stage found under the host's `/proc` that may run the scheduler: its pid and
/// its argv as `/proc/PID/cmdline` holds it (NUL-separated, empty entries dropped). Only processes
/// that `SchedulerCommandLine.parse` recognises are kept: other processes' arguments can hold
/// secrets and are never stored.
public struct ProcessObservation: Sendable, Equatable {
    public var pid: Int
    public var arguments: [String]

    public init(pid: Int, arguments: [String]) {
        self.pid = pid
        self.arguments = arguments
    }
}

/// A scheduler's command line, read the way kube-bench reads `ps`: a `kube-scheduler` process
/// (or `hyperkube kube-scheduler`), or the `k3s server` process that runs the scheduler in-process
/// and passes it `--kube-scheduler-arg=NAME=VALUE`.
public struct SchedulerCommandLine: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case kubeScheduler = "kube-scheduler"
        case k3sServer = "k3s server"
    }

    public var kind: Kind
    /// The scheduler's flags as given (for k3s: its `--kube-scheduler-arg` values, with k3s's own
    /// defaults under them when the whole command line is visible).
    public var flags: [String: String]
    /// false when the process overwrote its argv: k3s does since v1.19 (`gspt.SetProcTitle(os.Args[0]
    /// + " server")`, to hide database credentials from `ps`), leaving only `k3s server`.
    public var argumentsVisible: Bool

    /// The flags k3s starts its embedded scheduler with before the user's `--kube-scheduler-arg`
    /// values (k3s `pkg/daemons/control/server.go`, `scheduler()`), which override them.
    public static let k3sSchedulerDefaults = [
        "bind-address": "127.0.0.1", "secure-port": "10259", "profiling": "false",
        "kubeconfig": "/var/lib/rancher/k3s/server/cred/scheduler.kubeconfig",
        "authentication-kubeconfig": "/var/lib/rancher/k3s/server/cred/scheduler.kubeconfig",
        "authorization-kubeconfig": "/var/lib/rancher/k3s/server/cred/scheduler.kubeconfig",
    ]

    /// nil for a process that does not run a scheduler.
    public init?(arguments raw: [String]) {
        var arguments = raw
        var visible = true
        // A process title written over argv is one string with spaces and nothing after it.
        if arguments.count == 1, arguments[0].contains(" ") {
            arguments = arguments[0].split(separator: " ").map(String.init)
            visible = false
        }
        guard let first = arguments.first else { return nil }
        let program = first.split(separator: "/").last.map(String.init) ?? first
        switch program {
        case "kube-scheduler":
            kind = .kubeScheduler
            flags = StaticPodManifest.flags(from: Array(arguments.dropFirst()))
        case "hyperkube" where arguments.count > 1 && ["kube-scheduler", "scheduler"].contains(arguments[1]):
            kind = .kubeScheduler
            flags = StaticPodManifest.flags(from: Array(arguments.dropFirst(2)))
        case "k3s" where arguments.count > 1 && arguments[1] == "server":
            kind = .k3sServer
            let given = Self.k3sSchedulerArguments(Array(arguments.dropFirst(2)))
            flags = visible ? Self.k3sSchedulerDefaults.merging(given) { _, user in user } : given
        default:
            return nil
        }
        argumentsVisible = visible
    }

    /// The values of `--kube-scheduler-arg` (`=VALUE` or the next argument, repeatable), each
    /// `NAME=VALUE` (or `NAME`, meaning true; a leading `--` is dropped), as k3s's `GetArgs` reads them.
    static func k3sSchedulerArguments(_ arguments: [String]) -> [String: String] {
        var values: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if argument == "--" { break }
            let name = argument.drop { $0 == "-" }
            if name == "kube-scheduler-arg", argument.hasPrefix("-") {
                if index < arguments.count { values.append(arguments[index]); index += 1 }
            } else if name.hasPrefix("kube-scheduler-arg="), argument.hasPrefix("-") {
                values.append(String(name.dropFirst("kube-scheduler-arg=".count)))
            }
        }
        return schedulerFlags(values)
    }

    /// `NAME=VALUE` strings (k3s `--kube-scheduler-arg` values) as flags; a later one wins.
    static func schedulerFlags(_ values: [String]) -> [String: String] {
        var flags: [String: String] = [:]
        for value in values {
            let text = value.drop { $0 == "-" }
            guard !text.isEmpty else { continue }
            if let equals = text.firstIndex(of: "=") {
                let name = String(text[..<equals])
                guard !name.isEmpty else { continue }
                flags[name] = String(text[text.index(after: equals)...])
            } else {
                flags[String(text)] = "true"
            }
        }
        return flags
    }

    /// The port the scheduler serves HTTPS on (`--secure-port`, default 10259); nil when unparsable.
    public var securePort: Int? {
        guard let text = flags["secure-port"] else { return 10259 }
        return Int(text)
    }

    /// Whether this scheduler is the one at `host:port`: the same secure port, and a bind address
    /// that covers the host (unset, a wildcard, or the host itself).
    public func serves(host: String, port: Int) -> Bool {
        guard securePort == port else { return false }
        guard let bind = flags["bind-address"], !bind.isEmpty, !["0.0.0.0", "::", "[::]"].contains(bind) else { return true }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if bind == bare { return true }
        // A name (localhost) is not compared with an address: the port decided.
        return !bare.allSatisfy { $0.isHexDigit || $0 == "." || $0 == ":" }
    }

    /// Picks the process serving the target among those found. nil with the reason when none or
    /// several do (two schedulers on one port cannot both be listening: one is on its way out).
    public static func select(_ processes: [ProcessObservation], host: String, port: Int)
        -> Result<(pid: Int, commandLine: SchedulerCommandLine), SelectionProblem>
    {
        let parsed = processes.compactMap { process in SchedulerCommandLine(arguments: process.arguments).map { (process.pid, $0) } }
        guard !parsed.isEmpty else { return .failure(.noneFound) }
        let serving = parsed.filter { $0.1.serves(host: host, port: port) }
        switch serving.count {
        case 1: return .success((serving[0].0, serving[0].1))
        case 0: return .failure(.noneServes(port: port, pids: parsed.map(\.0)))
        default: return .failure(.several(port: port, pids: serving.map(\.0)))
        }
    }

    public enum SelectionProblem: Error, Sendable, Equatable, CustomStringConvertible {
        case noneFound
        case noneServes(port: Int, pids: [Int])
        case several(port: Int, pids: [Int])

        public var description: String {
            switch self {
            case .noneFound:
                "no kube-scheduler or k3s server process is visible (the exporter needs the host's PID namespace, hostPID: true)"
            case .noneServes(let port, let pids):
                "no scheduler process serves port \(port) (saw pid \(pids.map(String.init).joined(separator: ", ")))"
            case .several(let port, let pids):
                "several scheduler processes claim port \(port) (pid \(pids.map(String.init).joined(separator: ", ")))"
            }
        }
    }
}

/// The scheduler's flags as the running process was started with them: the evidence source
/// `cmdline` (the process's own argv), or `k3s_config` (`/etc/rancher/k3s/config.yaml` and its
/// drop-ins, when k3s has hidden its argv). Preferred over the manifest: a manifest can be edited
/// after the pod started, the command line is what is in force.
public struct CommandLineEvidence: Sendable, Equatable {
    public enum Source: String, Sendable {
        case cmdline
        case k3sConfig = "k3s_config"
    }

    public var source: Source
    public var pid: Int?
    public var kind: SchedulerCommandLine.Kind
    public var flags: [String: String]
    /// The `--config` file, when the flags name one and it was read.
    public var config: SchedulerConfigFile?
    /// Whether an absent flag means the scheduler's default: the whole command line was seen (not
    /// so for the k3s config file, which the unit file's arguments may extend).
    public var complete: Bool

    public init(source: Source, pid: Int? = nil, kind: SchedulerCommandLine.Kind = .kubeScheduler, flags: [String: String],
                config: SchedulerConfigFile? = nil, complete: Bool = true) {
        self.source = source
        self.pid = pid
        self.kind = kind
        self.flags = flags
        self.config = config
        self.complete = complete
    }

    public subscript(_ name: String) -> String? { flags[name] }
}

/// k3s's config file: its keys are the `k3s server` flags without dashes; `kube-scheduler-arg` is a
/// list (or one string). Drop-in files (`config.yaml.d/*.yaml`, in name order) replace a key, or
/// append to it when the key ends in `+`.
public enum K3sConfig {
    /// The scheduler's flags the documents (config.yaml, then its drop-ins) give; nil when none has the key.
    public static func kubeSchedulerArguments(_ documents: [String]) -> [String: String]? {
        var values: [String]?
        for text in documents {
            guard let node = try? Yams.compose(yaml: text), let mapping = node.mapping else { continue }
            for (key, value) in mapping {
                guard let name = key.string else { continue }
                let items: [String]
                if let sequence = value.sequence {
                    items = sequence.compactMap(\.string)
                } else if let single = value.string {
                    items = [single]
                } else {
                    continue
                }
                if name == "kube-scheduler-arg" { values = items } else if name == "kube-scheduler-arg+" { values = (values ?? []) + items }
            }
        }
        return values.map(SchedulerCommandLine.schedulerFlags)
    }
}
