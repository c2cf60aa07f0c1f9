import CurlHTTP
import FoundationEssentials
import Yams

/// How the exporter reaches the Kubernetes API server for its own requests (the scraper's
/// TokenReview and SubjectAccessReview): a URL, its TLS settings and the exporter's credentials.
public struct APIServerAccess: Sendable {
    public var url: String
    public var tls: TLSOptions
    /// A token written in the kubeconfig.
    public var token: BearerToken?
    /// A token file, re-read when it changes (the in-cluster service-account token rotates).
    public var tokenFile: String?
    /// Where the settings came from, for the start-up log line.
    public var source: String

    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// The pod's own service account, as client-go's rest.InClusterConfig finds it.
    public static func inCluster(environment: [String: String], directory: String = serviceAccountDirectory) throws(ConfigError) -> APIServerAccess {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
              let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty else {
            throw ConfigError("--web.kubernetes-auth: not running in a cluster (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT unset); give --web.kubernetes-auth.kubeconfig")
        }
        let token = "\(directory)/token"
        let ca = "\(directory)/ca.crt"
        guard FileAccess.isReadable(token), FileAccess.isReadable(ca) else {
            throw ConfigError("--web.kubernetes-auth: cannot read the service account's token and ca.crt in \(directory)")
        }
        let authority = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        return APIServerAccess(url: "https://\(authority)", tls: TLSOptions(caFile: ca), token: nil, tokenFile: token, source: "in-cluster")
    }

    /// The current context of a kubeconfig file (token, token file or client certificate users).
    public static func kubeconfig(path: String) throws(ConfigError) -> APIServerAccess {
        guard let text = FileAccess.readText(path, limit: 1 << 20) else {
            throw ConfigError("--web.kubernetes-auth.kubeconfig: cannot read \"\(path)\"")
        }
        let directory = path.contains("/") ? String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]) : "."
        return try parse(text, source: path, directory: directory.isEmpty ? "/" : directory)
    }

    static func parse(_ text: String, source: String, directory: String) throws(ConfigError) -> APIServerAccess {
        func fail(_ message: String) -> ConfigError { ConfigError("\(source): \(message)") }
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { throw fail("empty kubeconfig") }
            root = node
        } catch let error as ConfigError {
            throw error
        } catch {
            throw fail("invalid YAML")
        }
        func string(_ node: Node?, _ key: String) -> String? { node?.mapping?[Node(key)]?.string }
        func named(_ list: String, _ name: String) throws(ConfigError) -> Node {
            guard let entries = root.mapping?[Node(list)]?.sequence,
                  let entry = entries.first(where: { string($0, "name") == name }) else {
                throw fail("no \(list) entry named \"\(name)\"")
            }
            return entry
        }
        var contextName = string(root, "current-context") ?? ""
        if contextName.isEmpty {
            guard let contexts = root.mapping?[Node("contexts")]?.sequence, contexts.count == 1, let only = string(contexts[0], "name") else {
                throw fail("no current-context")
            }
            contextName = only
        }
        let context = try named("contexts", contextName).mapping?[Node("context")]
        guard let clusterName = string(context, "cluster"), let userName = string(context, "user") else {
            throw fail("context \"\(contextName)\" names no cluster or user")
        }
        let cluster = try named("clusters", clusterName).mapping?[Node("cluster")]
        let user = try named("users", userName).mapping?[Node("user")]
        guard let server = string(cluster, "server"), server.hasPrefix("https://") || server.hasPrefix("http://") else {
            throw fail("cluster \"\(clusterName)\": server must be an http(s) URL")
        }
        func file(_ value: String?) -> String? {
            guard let value, !value.isEmpty else { return nil }
            return value.hasPrefix("/") ? value : "\(directory)/\(value)"
        }
        var tls = TLSOptions()
        if let data = string(cluster, "certificate-authority-data") {
            guard let bytes = Base64.decode(data.filter { !$0.isWhitespace }[...]), !bytes.isEmpty else {
                throw fail("cluster \"\(clusterName)\": certificate-authority-data is not base64")
            }
            tls.caData = bytes
        } else if let ca = file(string(cluster, "certificate-authority")) {
            guard FileAccess.isReadable(ca) else { throw fail("cluster \"\(clusterName)\": cannot read certificate-authority \"\(ca)\"") }
            tls.caFile = ca
        }
        tls.insecureSkipVerify = string(cluster, "insecure-skip-tls-verify") == "true"
        tls.serverName = string(cluster, "tls-server-name")
        for unsupported in ["client-certificate-data", "client-key-data", "exec", "auth-provider", "username", "password"]
        where user?.mapping?[Node(unsupported)] != nil {
            throw fail("user \"\(userName)\": \(unsupported) is not supported (use token, tokenFile or client-certificate and client-key files)")
        }
        var access = APIServerAccess(url: server.hasSuffix("/") ? String(server.dropLast()) : server, tls: tls, token: nil, tokenFile: nil,
                                     source: source)
        if let token = string(user, "token"), !token.isEmpty { access.token = BearerToken(token) }
        if let tokenFile = file(string(user, "tokenFile")) {
            guard FileAccess.isReadable(tokenFile) else { throw fail("user \"\(userName)\": cannot read tokenFile \"\(tokenFile)\"") }
            access.tokenFile = tokenFile
        }
        let certificate = file(string(user, "client-certificate"))
        let key = file(string(user, "client-key"))
        if (certificate == nil) != (key == nil) { throw fail("user \"\(userName)\": client-certificate and client-key go together") }
        for path in [certificate, key].compactMap({ $0 }) where !FileAccess.isReadable(path) {
            throw fail("user \"\(userName)\": cannot read \"\(path)\"")
        }
        access.tls.certFile = certificate
        access.tls.keyFile = key
        return access
    }
}
