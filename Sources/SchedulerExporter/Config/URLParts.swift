/// The pieces of a target URL the probes need (scheme, host, port), without Foundation's URL so
/// that IPv6 literals and missing ports follow curl's reading of the same string.
public struct URLParts: Sendable, Equatable {
    public var scheme: String
    public var host: String
    public var port: Int

    public init?(_ text: String) {
        let lower = text.lowercased()
        let scheme: String
        if lower.hasPrefix("https://") { scheme = "https" } else if lower.hasPrefix("http://") { scheme = "http" } else { return nil }
        var rest = text.dropFirst(scheme.count + 3)
        if let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) { rest = rest[..<slash] }
        if rest.contains("@") { return nil }  // credentials in URLs would end up in logs and labels
        var host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty { return nil }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
        }
        guard !host.isEmpty else { return nil }
        let port: Int
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else { return nil }
            port = value
        } else {
            port = scheme == "https" ? 443 : 80
        }
        self.scheme = scheme
        self.host = String(host)
        self.port = port
    }

    /// `host:port` with brackets for IPv6, as used in URLs.
    public var authority: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public func url(path: String) -> String { "\(scheme)://\(authority)\(path)" }
}
