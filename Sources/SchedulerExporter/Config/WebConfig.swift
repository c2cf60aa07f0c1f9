import Yams

/// `--web.config.file`: TLS, basic auth and extra response headers for the exporter's own endpoint,
/// in the Prometheus exporter-toolkit format, so one file can protect node_exporter and this
/// exporter alike. The exporter's output tells an attacker which weaknesses a scheduler has.
///
/// Like exporter-toolkit: unknown keys are errors, relative file paths are relative to the web
/// config file's directory, and only the security headers exporter-toolkit allows can be set.
/// Stricter than exporter-toolkit: every bcrypt hash is checked at load time, and the verifying
/// client-auth types need a `client_ca_file` instead of falling back to the system roots.
public struct WebConfig: Sendable, Equatable {
    public enum ClientAuth: String, Sendable, CaseIterable {
        case noClientCert = "NoClientCert"
        case requestClientCert = "RequestClientCert"
        case requireAnyClientCert = "RequireAnyClientCert"
        case verifyClientCertIfGiven = "VerifyClientCertIfGiven"
        case requireAndVerifyClientCert = "RequireAndVerifyClientCert"

        public var verifiesCertificates: Bool { self == .verifyClientCertIfGiven || self == .requireAndVerifyClientCert }
    }

    public enum TLSVersionName: String, Sendable, CaseIterable, Comparable {
        case tls10 = "TLS10", tls11 = "TLS11", tls12 = "TLS12", tls13 = "TLS13"

        public static func < (lhs: Self, rhs: Self) -> Bool {
            allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
        }
    }

    public struct TLSServer: Sendable, Equatable {
        public var certFile: String
        public var keyFile: String
        public var clientAuth: ClientAuth = .noClientCert
        public var clientCAFile: String?
        public var minVersion: TLSVersionName = .tls12
        public var maxVersion: TLSVersionName?

        public init(certFile: String, keyFile: String) {
            self.certFile = certFile
            self.keyFile = keyFile
        }
    }

    /// nil: plain HTTP.
    public var tls: TLSServer?
    /// Added to every response, 401s included.
    public var headers: [String: String] = [:]
    /// User name -> bcrypt hash. Empty: no authentication.
    public var basicAuthUsers: [String: String] = [:]

    public init(tls: TLSServer? = nil, headers: [String: String] = [:], basicAuthUsers: [String: String] = [:]) {
        self.tls = tls
        self.headers = headers
        self.basicAuthUsers = basicAuthUsers
    }

    /// The files whose change means the config must be re-read: the config itself and what it names.
    public func referencedFiles(configPath: String) -> [String] {
        [configPath] + [tls?.certFile, tls?.keyFile, tls?.clientCAFile].compactMap { $0 }
    }

    /// exporter-toolkit's allowed headers; nil means any value.
    static let allowedHeaders: [String: Set<String>?] = [
        "Strict-Transport-Security": nil,
        "X-Content-Type-Options": ["nosniff"],
        "X-Frame-Options": ["deny", "sameorigin"],
        "X-XSS-Protection": nil,
        "Content-Security-Policy": nil,
    ]

    public static let example = """
        tls_server_config:
          cert_file: server.crt          # relative to this file's directory
          key_file: server.key
          min_version: TLS12             # TLS10..TLS13; also max_version
          client_auth_type: RequireAndVerifyClientCert   # default NoClientCert
          client_ca_file: clients-ca.crt
        http_server_config:
          headers:
            Strict-Transport-Security: max-age=31536000
            X-Content-Type-Options: nosniff
        basic_auth_users:
          prometheus: $2y$10$...         # bcrypt hash (htpasswd -nBC 10 prometheus)
        """

    public static func load(path: String) throws(ConfigError) -> WebConfig {
        guard let text = FileAccess.readText(path, limit: 1 << 20) else {
            throw ConfigError("cannot read web config file \"\(path)\"")
        }
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        return try parse(text, source: path, directory: directory.isEmpty ? "/" : directory)
    }

    public static func parse(_ text: String, source: String = "web config", directory: String = ".") throws(ConfigError) -> WebConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            // Yams' own description quotes the offending YAML, which may be a password hash.
            throw ConfigError("\(source): \(describe(error))")
        }
        guard let root else { return WebConfig() }  // an empty file asks for nothing, as in exporter-toolkit
        let reader = NodeReader(source: source)
        let top = try reader.mapping(root, at: "", allowed: ["tls_server_config", "http_server_config", "basic_auth_users"])
        var config = WebConfig()
        if let node = top["tls_server_config"] {
            config.tls = try tlsServer(node, reader: reader, directory: directory)
        }
        if let node = top["http_server_config"] {
            let http = try reader.mapping(node, at: "http_server_config", allowed: ["headers", "http2"])
            if let headers = http["headers"] {
                for (name, value) in try reader.stringMapping(headers, at: "http_server_config.headers") {
                    guard let allowed = allowedHeaders[name] else {
                        throw ConfigError("\(source): http_server_config.headers: header \"\(name)\" cannot be configured (allowed: \(allowedHeaders.keys.sorted().joined(separator: ", ")))")
                    }
                    if let allowed, !allowed.contains(value.lowercased()) {
                        throw ConfigError("\(source): http_server_config.headers: \(name) must be one of \(allowed.sorted().joined(separator: ", ")), got \"\(value)\"")
                    }
                    config.headers[name] = value
                }
            }
            // http2 is accepted for compatibility; the exporter serves HTTP/1.1 only.
        }
        if let node = top["basic_auth_users"] {
            for (user, hash) in try reader.stringMapping(node, at: "basic_auth_users") {
                guard !user.isEmpty, !user.contains(":") else {
                    throw ConfigError("\(source): basic_auth_users: user name \"\(user)\" must be non-empty and contain no colon")
                }
                guard BcryptHash.isWellFormed(hash) else {
                    // The hash itself stays out of the message.
                    throw ConfigError("\(source): basic_auth_users.\(user): not a bcrypt hash ($2a$, $2b$ or $2y$ with cost and 53 characters of salt and hash)")
                }
                config.basicAuthUsers[user] = hash
            }
        }
        return config
    }

    private static func tlsServer(_ node: Node, reader: NodeReader, directory: String) throws(ConfigError) -> TLSServer? {
        let at = "tls_server_config"
        let keys = try reader.mapping(node, at: at, allowed: [
            "cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version", "max_version",
            "cipher_suites", "curve_preferences", "prefer_server_cipher_suites", "client_allowed_sans",
        ])
        if keys.isEmpty { return nil }
        for unsupported in ["cipher_suites", "curve_preferences", "prefer_server_cipher_suites", "client_allowed_sans"] where keys[unsupported] != nil {
            throw ConfigError("\(reader.source): \(at).\(unsupported) is not supported by this exporter (its TLS library chooses safe suites and curves)")
        }
        func string(_ key: String) throws(ConfigError) -> String? {
            guard let node = keys[key] else { return nil }
            return try reader.string(node, at: "\(at).\(key)")
        }
        func file(_ key: String) throws(ConfigError) -> String? {
            guard let path = try string(key), !path.isEmpty else { return nil }
            return path.hasPrefix("/") ? path : "\(directory)/\(path)"
        }
        func version(_ key: String) throws(ConfigError) -> TLSVersionName? {
            guard let text = try string(key) else { return nil }
            guard let version = TLSVersionName(rawValue: text) else {
                throw ConfigError("\(reader.source): \(at).\(key): expected one of \(TLSVersionName.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(text)\"")
            }
            return version
        }
        guard let certFile = try file("cert_file") else { throw ConfigError("\(reader.source): \(at): missing cert_file") }
        guard let keyFile = try file("key_file") else { throw ConfigError("\(reader.source): \(at): missing key_file") }
        var tls = TLSServer(certFile: certFile, keyFile: keyFile)
        if let text = try string("client_auth_type") {
            guard let auth = ClientAuth(rawValue: text) else {
                throw ConfigError("\(reader.source): \(at).client_auth_type: expected one of \(ClientAuth.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(text)\"")
            }
            tls.clientAuth = auth
        }
        tls.clientCAFile = try file("client_ca_file")
        if tls.clientAuth.verifiesCertificates, tls.clientCAFile == nil {
            throw ConfigError("\(reader.source): \(at): client_auth_type \(tls.clientAuth.rawValue) needs client_ca_file")
        }
        if tls.clientCAFile != nil, tls.clientAuth == .noClientCert {
            throw ConfigError("\(reader.source): \(at): client_ca_file is set but client_auth_type is NoClientCert (client certificates would not be checked)")
        }
        if let minimum = try version("min_version") { tls.minVersion = minimum }
        tls.maxVersion = try version("max_version")
        if let maximum = tls.maxVersion, maximum < tls.minVersion {
            throw ConfigError("\(reader.source): \(at): max_version \(maximum.rawValue) is below min_version \(tls.minVersion.rawValue)")
        }
        return tls
    }

    private static func describe(_ error: any Error) -> String {
        YAMLErrorText.describe(error) ?? "invalid YAML"
    }
}

/// Reads a composed YAML tree with errors that name the key path, and rejects unknown keys.
private struct NodeReader {
    let source: String

    func mapping(_ node: Node, at path: String, allowed: Set<String>) throws(ConfigError) -> [String: Node] {
        if case .scalar(let scalar) = node, scalar.string.isEmpty || scalar.string == "~" || scalar.string == "null" { return [:] }
        guard let mapping = node.mapping else { throw ConfigError("\(source): \(path.isEmpty ? "top level" : path): expected a mapping") }
        var result: [String: Node] = [:]
        for (key, value) in mapping {
            guard let name = key.string else { throw ConfigError("\(source): \(path): keys must be strings") }
            guard allowed.contains(name) else {
                throw ConfigError("\(source): \(path.isEmpty ? name : "\(path).\(name)"): unknown key (expected one of \(allowed.sorted().joined(separator: ", ")))")
            }
            result[name] = value
        }
        return result
    }

    func stringMapping(_ node: Node, at path: String) throws(ConfigError) -> [(String, String)] {
        if case .scalar(let scalar) = node, scalar.string.isEmpty || scalar.string == "~" || scalar.string == "null" { return [] }
        guard let mapping = node.mapping else { throw ConfigError("\(source): \(path): expected a mapping") }
        var result: [(String, String)] = []
        for (key, value) in mapping {
            guard let name = key.string else { throw ConfigError("\(source): \(path): keys must be strings") }
            result.append((name, try string(value, at: "\(path).\(name)")))
        }
        return result
    }

    func string(_ node: Node, at path: String) throws(ConfigError) -> String {
        guard case .scalar(let scalar) = node else { throw ConfigError("\(source): \(path): expected a string") }
        return scalar.string
    }
}
