import Foundation

/// The caller after authentication, as the scheduler's delegated authenticator would see it.
enum CallerIdentity: Sendable, Equatable {
    case anonymous
    /// Authenticated, but bound to no role beyond what every authenticated user gets.
    case nobody
    case exporter

    var userName: String {
        switch self {
        case .anonymous: return "system:anonymous"
        case .nobody: return "nobody"
        case .exporter: return "exporter"
        }
    }
}

enum AuthenticationOutcome: Sendable, Equatable {
    case authenticated(CallerIdentity)
    /// A bearer token nobody issued: 401 on every path, always-allowed ones included.
    case rejected
}

/// A nonResourceURLs rule of a ClusterRole: `*` matches everything, a trailing `*` is a prefix match,
/// anything else must match the path exactly (query excluded).
struct NonResourceRule: Sendable {
    var verbs: Set<String>
    var urls: [String]

    func allows(verb: String, path: String) -> Bool {
        guard verbs.contains(verb) || verbs.contains("*") else { return false }
        return urls.contains { NonResourceRule.matches(pattern: $0, path: path) }
    }

    static func matches(pattern: String, path: String) -> Bool {
        if pattern == "*" { return true }
        if pattern.hasSuffix("*") { return path.hasPrefix(pattern.dropLast()) }
        return pattern == path
    }
}

/// Authentication and RBAC as the captured scheduler answered: authentication first (client certificate,
/// then bearer token, else anonymous), then authorization of the path, and only then routing.
struct AccessPolicy: Sendable {
    var exporterTokens: Set<String>
    var nobodyTokens: Set<String>
    /// `--authorization-always-allow-paths`: open to every caller that authenticated (anonymous included).
    var alwaysAllowPaths: [String]

    /// Cluster defaults: `system:public-info-viewer` (anonymous and authenticated).
    static let publicInfoViewer = NonResourceRule(
        verbs: ["get"], urls: ["/healthz", "/livez", "/readyz", "/version", "/version/"])
    /// `system:discovery` (authenticated only).
    static let discovery = NonResourceRule(
        verbs: ["get"],
        urls: ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz",
               "/version", "/version/"])
    /// The exporter's ClusterRole, as in the captures' README.
    static let exporterRole = NonResourceRule(
        verbs: ["get"],
        urls: ["/metrics", "/metrics/*", "/debug/pprof", "/debug/pprof/*", "/configz", "/healthz*", "/livez*",
               "/readyz*", "/flagz", "/statusz"])

    func authenticate(authorization: String?, hasClientCertificate: Bool) -> AuthenticationOutcome {
        // The union authenticator tries x509 before tokens; a verified client cert is the exporter.
        if hasClientCertificate { return .authenticated(.exporter) }
        guard let token = Self.bearerToken(authorization) else { return .authenticated(.anonymous) }
        if exporterTokens.contains(token) { return .authenticated(.exporter) }
        if nobodyTokens.contains(token) { return .authenticated(.nobody) }
        return .rejected
    }

    func authorize(_ identity: CallerIdentity, verb: String, path: String) -> Bool {
        if alwaysAllowPaths.contains(where: { NonResourceRule.matches(pattern: $0, path: path) }) { return true }
        if Self.publicInfoViewer.allows(verb: verb, path: path) { return true }
        switch identity {
        case .anonymous: return false
        case .nobody: return Self.discovery.allows(verb: verb, path: path)
        case .exporter:
            return Self.discovery.allows(verb: verb, path: path) || Self.exporterRole.allows(verb: verb, path: path)
        }
    }

    /// `Authorization: Bearer <token>`; other schemes and empty tokens leave the caller anonymous.
    static func bearerToken(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }

    static func verb(forMethod method: String) -> String {
        switch method.uppercased() {
        case "GET", "HEAD": return "get"
        case "POST": return "create"
        case "PUT": return "update"
        case "PATCH": return "patch"
        case "DELETE": return "delete"
        default: return method.lowercased()
        }
    }
}
