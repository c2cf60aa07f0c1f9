import Yams

/// The kube-scheduler static pod manifest on the node: the scheduler container's command line as
/// flags, the host directories mounted into it, plus the `--config` KubeSchedulerConfiguration when
/// that file is readable too.
public struct StaticPodManifest: Sendable, Equatable {
    /// Flags in command-line order; a repeated flag keeps its last value, as pflag does.
    public var flags: [String: String]
    public var config: SchedulerConfigFile?
    /// The container's hostPath mounts: where a path the scheduler names lies on the node.
    public var mounts: [Mount]

    public struct Mount: Sendable, Equatable {
        public var mountPath: String
        public var hostPath: String
    }

    public init(flags: [String: String], config: SchedulerConfigFile? = nil, mounts: [Mount] = []) {
        self.flags = flags
        self.config = config
        self.mounts = mounts
    }

    public struct ParseFailure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public init(yaml: String) throws(ParseFailure) {
        let pod: PodModel
        do {
            pod = try YAMLDecoder().decode(PodModel.self, from: yaml)
        } catch {
            throw ParseFailure(description: "not a Pod manifest: \(error)")
        }
        let containers = pod.spec?.containers ?? []
        guard let container = containers.first(where: { $0.name == "kube-scheduler" })
                ?? containers.first(where: { ($0.command ?? []).contains { $0.hasSuffix("kube-scheduler") } })
                ?? containers.first else {
            throw ParseFailure(description: "the manifest has no containers")
        }
        var hostPaths: [String: String] = [:]
        for volume in pod.spec?.volumes ?? [] {
            if let name = volume.name, let path = volume.hostPath?.path, path.hasPrefix("/") { hostPaths[name] = path }
        }
        let mounts = (container.volumeMounts ?? []).compactMap { mount -> Mount? in
            guard let name = mount.name, let mountPath = mount.mountPath, mountPath.hasPrefix("/"),
                  var hostPath = hostPaths[name] else { return nil }
            if let subPath = mount.subPath, !subPath.isEmpty { hostPath = Self.join(hostPath, subPath) }
            return Mount(mountPath: mountPath, hostPath: hostPath)
        }
        self.init(flags: Self.flags(from: (container.command ?? []) + (container.args ?? [])), mounts: mounts)
    }

    /// Where a path as the scheduler's container sees it lies on the node: below the hostPath
    /// of the deepest mount that holds it (OpenShift mounts the revision directory
    /// `static-pod-resources/kube-scheduler-pod-N` at `static-pod-resources`); a path no mount
    /// holds is taken as the node's own (kubeadm mounts every file at its own path).
    public func nodePath(for containerPath: String) -> String {
        var best: Mount?
        for mount in mounts where Self.isWithin(containerPath, mount.mountPath) {
            if best.map({ mount.mountPath.count > $0.mountPath.count }) ?? true { best = mount }
        }
        guard let best else { return containerPath }
        let rest = containerPath.dropFirst(best.mountPath.count).drop { $0 == "/" }
        return rest.isEmpty ? best.hostPath : Self.join(best.hostPath, String(rest))
    }

    static func isWithin(_ path: String, _ directory: String) -> Bool {
        let base = directory.hasSuffix("/") && directory.count > 1 ? String(directory.dropLast()) : directory
        if path == base { return true }
        return path.hasPrefix(base == "/" ? "/" : base + "/")
    }

    static func join(_ directory: String, _ rest: String) -> String {
        (directory.hasSuffix("/") ? String(directory.dropLast()) : directory) + "/" + rest.drop { $0 == "/" }
    }

    /// `--flag=value`, `--flag value` and bare boolean `--flag` forms, like pflag.
    public static func flags(from arguments: [String]) -> [String: String] {
        var flags: [String: String] = [:]
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            // pflag stops at `--`: what follows is positional, even when it looks like a flag.
            if argument == "--" { break }
            guard argument.hasPrefix("-") else { continue }
            let name = String(argument.drop(while: { $0 == "-" }))
            // `--=value` has no name; pflag rejects it as bad flag syntax.
            guard !name.isEmpty, !name.hasPrefix("=") else { continue }
            if let equals = name.firstIndex(of: "=") {
                flags[String(name[..<equals])] = String(name[name.index(after: equals)...])
            } else if index < arguments.count, !arguments[index].hasPrefix("-") {
                flags[name] = arguments[index]
                index += 1
            } else {
                flags[name] = "true"
            }
        }
        return flags
    }

    public subscript(_ name: String) -> String? { flags[name] }

    private struct PodModel: Decodable {
        var spec: Spec?
        struct Spec: Decodable {
            var containers: [Container]?
            var volumes: [Volume]?
        }
        struct Container: Decodable {
            var name: String?
            var command: [String]?
            var args: [String]?
            var volumeMounts: [VolumeMount]?
        }
        struct VolumeMount: Decodable {
            var name: String?
            var mountPath: String?
            var subPath: String?
        }
        struct Volume: Decodable {
            var name: String?
            var hostPath: HostPath?
            struct HostPath: Decodable { var path: String? }
        }
    }
}

/// The parts of a KubeSchedulerConfiguration file (`--config`) that the checks read.
public struct SchedulerConfigFile: Sendable, Equatable {
    public var enableProfiling: Bool?
    public var enableContentionProfiling: Bool?
    public var kubeconfig: String?

    public init(yaml: String) throws {
        let model = try YAMLDecoder().decode(Model.self, from: yaml)
        enableProfiling = model.enableProfiling
        enableContentionProfiling = model.enableContentionProfiling
        kubeconfig = model.clientConnection?.kubeconfig
    }

    private struct Model: Decodable {
        var enableProfiling: Bool?
        var enableContentionProfiling: Bool?
        var clientConnection: ClientConnection?
        struct ClientConnection: Decodable { var kubeconfig: String? }
    }
}
