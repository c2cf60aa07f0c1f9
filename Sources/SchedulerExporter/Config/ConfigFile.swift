import CurlHTTP
import Yams

/// The YAML config file: defaults under `global`, then one entry per target. Keys follow
/// Prometheus's own config style (snake_case, `tls_config`, durations like `15s`).
///
/// ```yaml
/// global:
///   poll_interval: 15s
///   timeout: 10s
/// targets:
///   - name: control-plane-1
///     url: https://127.0.0.1:10259
///     bearer_token_file: /var/run/secrets/kubernetes.io/serviceaccount/token
///     tls_config: {ca_file: ..., cert_file: ..., key_file: ..., insecure_skip_verify: false, server_name: ...}
///     labels: {cluster: prod}
///     poll_interval: 30s
///     accept_compressed: false
///     security: {insecure_port: 10251, nonloopback_addresses: [10.0.0.5], manifest_file: ..., kubeconfig_file: ...,
///                cert_min_days: 30, host_root: /, platform: auto, evidence_interval: 5m}
///     latency: {window: 5m, quantiles: [0.5, 0.9, 0.99]}
///   - name: eks                          # a managed control plane: only the scheduler's metrics
///     kind: metrics-only
///     url: https://kubernetes.default.svc
///     metrics_path: /apis/metrics.eks.amazonaws.com/v1/ksh/container/metrics
/// ```
public enum ConfigFile {
    public static let example = """
        global:
          poll_interval: 15s
          timeout: 10s
        targets:
          - name: control-plane-1
            url: https://127.0.0.1:10259
            bearer_token_file: /var/run/secrets/kubernetes.io/serviceaccount/token
            tls_config:
              ca_file: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt
              insecure_skip_verify: false
            labels:
              cluster: prod
            security:
              insecure_port: 10251
              manifest_file: /etc/kubernetes/manifests/kube-scheduler.yaml
              kubeconfig_file: /etc/kubernetes/scheduler.conf
              cert_min_days: 30
              host_root: /
              platform: auto
            latency:
              window: 5m
              quantiles: [0.5, 0.9, 0.99]
          - name: eks
            kind: metrics-only
            url: https://kubernetes.default.svc
            metrics_path: /apis/metrics.eks.amazonaws.com/v1/ksh/container/metrics
        """

    public static func load(path: String) throws(ConfigError) -> [TargetConfig] {
        guard let text = FileAccess.readText(path) else { throw ConfigError("cannot read config file \"\(path)\"") }
        return try parse(text, source: path)
    }

    public static func parse(_ text: String, source: String = "config") throws(ConfigError) -> [TargetConfig] {
        let file: FileModel
        do {
            // Unknown keys first: a misspelt `bearer_tokn_file` would otherwise be ignored and the
            // target polled without a token, which looks like an RBAC problem, not a typo.
            if let root = try Yams.compose(yaml: text) { try Self.schema.check(root, at: "", source: source) }
            file = try YAMLDecoder().decode(FileModel.self, from: text)
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError("\(source): \(describe(error))")
        }
        guard let entries = file.targets, !entries.isEmpty else { throw ConfigError("\(source): no targets") }
        return try entries.enumerated().map { (index, entry) throws(ConfigError) in
            try entry.target(index: index, global: file.global ?? GlobalModel(), source: source)
        }
    }

    /// Every key the file may hold, from the models' own coding keys, so the two cannot drift.
    static let schema = KeySchema.mapping(FileModel.CodingKeys.self, [
        "global": .mapping(GlobalModel.CodingKeys.self),
        "targets": .sequence(.mapping(TargetModel.CodingKeys.self, [
            "labels": .anyKeys,
            "tls_config": .mapping(TLSModel.CodingKeys.self),
            "security": .mapping(SecurityModel.CodingKeys.self),
            "latency": .mapping(LatencyModel.CodingKeys.self),
        ])),
    ])

    private static func describe(_ error: any Error) -> String {
        if let yaml = YAMLErrorText.describe(error) { return yaml }
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            return "missing key \"\(key.stringValue)\" at \(path(context))"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
             DecodingError.dataCorrupted(let context):
            return "\(context.debugDescription) at \(path(context))"
        default:
            return "\(error)"
        }
    }

    private static func path(_ context: DecodingError.Context) -> String {
        let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        return keys.isEmpty ? "top level" : String(keys.drop(while: { $0 == "." }))
    }

    private struct FileModel: Decodable {
        var global: GlobalModel?
        var targets: [TargetModel]?
        enum CodingKeys: String, CodingKey, CaseIterable { case global, targets }
    }

    private struct GlobalModel: Decodable {
        var poll_interval: String?
        var timeout: String?
        enum CodingKeys: String, CodingKey, CaseIterable { case poll_interval, timeout }
    }

    private struct TLSModel: Decodable {
        var ca_file: String?
        var cert_file: String?
        var key_file: String?
        var insecure_skip_verify: Bool?
        var server_name: String?
        enum CodingKeys: String, CodingKey, CaseIterable { case ca_file, cert_file, key_file, insecure_skip_verify, server_name }
    }

    private struct SecurityModel: Decodable {
        var insecure_port: Int?
        var nonloopback_addresses: [String]?
        var manifest_file: String?
        var kubeconfig_file: String?
        var cert_min_days: Int?
        var host_root: String?
        var platform: String?
        var evidence_interval: String?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case insecure_port, nonloopback_addresses, manifest_file, kubeconfig_file, cert_min_days, host_root, platform, evidence_interval
        }
    }

    private struct LatencyModel: Decodable {
        var window: String?
        var quantiles: [Double]?
        enum CodingKeys: String, CodingKey, CaseIterable { case window, quantiles }
    }

    private struct TargetModel: Decodable {
        var name: String?
        var url: String
        var labels: [String: String]?
        var bearer_token_file: String?
        var tls_config: TLSModel?
        var poll_interval: String?
        var timeout: String?
        var max_body_bytes: Int?
        var accept_compressed: Bool?
        var security: SecurityModel?
        var latency: LatencyModel?
        var kind: String?
        var metrics_path: String?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case name, url, labels, bearer_token_file, tls_config, poll_interval, timeout, max_body_bytes, accept_compressed, security, latency
            case kind, metrics_path
        }

        func target(index: Int, global: GlobalModel, source: String) throws(ConfigError) -> TargetConfig {
            var target = TargetConfig(name: name ?? URLParts(url)?.authority ?? "target\(index)", url: url)
            let prefix = "\(source): targets[\(index)]"
            do {
                if let text = poll_interval ?? global.poll_interval { target.pollInterval = try PrometheusDuration.parse(text) }
                if let text = timeout ?? global.timeout { target.timeout = try PrometheusDuration.parse(text) }
                if let text = latency?.window { target.latency.window = try PrometheusDuration.parse(text) }
                if let text = security?.evidence_interval { target.security.evidenceInterval = try PrometheusDuration.parse(text) }
            } catch {
                throw ConfigError("\(prefix): \(error.message)")
            }
            target.labels = labels ?? [:]
            target.bearerTokenFile = bearer_token_file
            if let max_body_bytes { target.maxBodyBytes = max_body_bytes }
            if let accept_compressed { target.acceptCompressed = accept_compressed }
            if let tls = tls_config {
                target.tls = TLSOptions(caFile: tls.ca_file, certFile: tls.cert_file, keyFile: tls.key_file,
                                        insecureSkipVerify: tls.insecure_skip_verify ?? false, serverName: tls.server_name)
            }
            if let security {
                if let port = security.insecure_port { target.security.insecurePort = port }
                if let addresses = security.nonloopback_addresses { target.security.nonLoopbackAddresses = addresses }
                if let file = security.manifest_file { target.security.manifestFile = file }
                if let file = security.kubeconfig_file { target.security.kubeconfigFile = file }
                if let days = security.cert_min_days { target.security.certMinDays = days }
                if let root = security.host_root { target.security.hostRoot = root }
                if let text = security.platform {
                    guard let choice = PlatformChoice(text) else {
                        throw ConfigError("\(prefix): security.platform must be one of \(PlatformChoice.allNames.joined(separator: ", ")), got \"\(text)\"")
                    }
                    target.security.platform = choice
                }
            }
            if let kind {
                guard let value = TargetKind(rawValue: kind) else {
                    throw ConfigError("\(prefix): kind must be one of \(TargetKind.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(kind)\"")
                }
                target.kind = value
            }
            if let metrics_path { target.metricsPath = metrics_path }
            if target.kind == .metricsOnly { target.applyInClusterDefaults() }
            if let quantiles = latency?.quantiles { target.latency.quantiles = quantiles }
            return target
        }
    }
}

/// The keys a YAML document may hold, checked on the composed tree before decoding: decoding
/// alone skips keys it does not know, so a typo would silently fall back to a default.
indirect enum KeySchema: Sendable {
    /// A mapping with exactly these keys (any subset); `children` says what some values hold.
    case keys(Set<String>, children: [String: KeySchema])
    case sequence(KeySchema)
    /// A mapping whose keys are data (labels): any key.
    case anyKeys

    static func mapping<Keys: CodingKey & CaseIterable>(_ keys: Keys.Type, _ children: [String: KeySchema] = [:]) -> KeySchema {
        .keys(Set(keys.allCases.map(\.stringValue)), children: children)
    }

    /// Throws for the first unknown key, named by its path (`targets[0].bearer_tokn_file`).
    func check(_ node: Node, at path: String, source: String) throws(ConfigError) {
        switch (self, node) {
        case (.keys(let allowed, let children), .mapping(let mapping)):
            for (key, value) in mapping {
                let name = key.string ?? "\(key)"
                let keyPath = path.isEmpty ? name : "\(path).\(name)"
                guard allowed.contains(name) else {
                    throw ConfigError("\(source): \(keyPath): unknown key (expected one of \(allowed.sorted().joined(separator: ", ")))")
                }
                try children[name]?.check(value, at: keyPath, source: source)
            }
        case (.sequence(let element), .sequence(let sequence)):
            for (index, value) in sequence.enumerated() { try element.check(value, at: "\(path)[\(index)]", source: source) }
        default:
            // Wrong shapes (a list where a mapping belongs) are the decoder's to report, with types.
            break
        }
    }
}
