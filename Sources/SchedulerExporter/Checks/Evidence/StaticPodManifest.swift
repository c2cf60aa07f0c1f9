import Yams

/// The kube-scheduler static pod manifest on the node: the scheduler container's command line as
/// flags, plus the `--config` KubeSchedulerConfiguration when that file is readable too.
public struct StaticPodManifest: Sendable, Equatable {
    /// Flags in command-line order; a repeated flag keeps its last value, as pflag does.
    public var flags: [String: String]
    public var config: SchedulerConfigFile?

    public init(flags: [String: String], config: SchedulerConfigFile? = nil) {
        self.flags = flags
        self.config = config
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
        self.init(flags: Self.flags(from: (container.command ?? []) + (container.args ?? [])))
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
        struct Spec: Decodable { var containers: [Container]? }
        struct Container: Decodable {
            var name: String?
            var command: [String]?
            var args: [String]?
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
