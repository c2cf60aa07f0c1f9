#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 network, for `--probe.allowed-targets`.
public struct CIDR: Sendable, Equatable, CustomStringConvertible {
    let network: [UInt8]  // 4 or 16 bytes
    let prefix: Int

    /// Loopback, always among the node's own addresses.
    public static let loopback: [CIDR] = [
        CIDR(network: [127, 0, 0, 0], prefix: 8),
        CIDR(network: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], prefix: 128),
    ]

    init(network: [UInt8], prefix: Int) {
        self.network = Self.masked(network, prefix)
        self.prefix = prefix
    }

    /// The single address `text` (an IP literal), nil when it is none.
    public static func host(_ text: String) -> CIDR? {
        IPAddress.bytes(text).map { CIDR(network: $0, prefix: $0.count * 8) }
    }

    public init(parsing text: String) throws(ConfigError) {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let address = IPAddress.bytes(String(parts.first ?? "")) else {
            throw ConfigError("invalid CIDR \"\(text)\": not an IP address")
        }
        let bits = address.count * 8
        let prefix = parts.count == 2 ? Int(parts[1]) : bits
        guard let prefix, (0...bits).contains(prefix) else { throw ConfigError("invalid CIDR \"\(text)\": bad prefix length") }
        self.network = Self.masked(address, prefix)
        self.prefix = prefix
    }

    public func contains(_ address: [UInt8]) -> Bool {
        address.count == network.count && Self.masked(address, prefix) == network
    }

    static func masked(_ address: [UInt8], _ prefix: Int) -> [UInt8] {
        address.enumerated().map { index, byte in
            let keep = max(0, min(8, prefix - index * 8))
            return keep == 8 ? byte : byte & ~(UInt8(0xFF) >> keep)
        }
    }

    public var description: String {
        let text = IPAddress.text(network) ?? "?"
        return "\(text)/\(prefix)"
    }
}

enum IPAddress {
    /// The address's bytes when `text` is an IPv4 or IPv6 literal (brackets allowed), else nil.
    static func bytes(_ text: String) -> [UInt8]? {
        // inet_pton reads a C string: "127.0.0.1\0[::1]" (a percent-decoded %00) would pass as
        // 127.0.0.1 while the rest went on into URLs and labels. Found by Fuzz/request.
        guard !text.utf8.contains(0) else { return nil }
        var literal = text
        if literal.hasPrefix("["), literal.hasSuffix("]") { literal = String(literal.dropFirst().dropLast()) }
        var v4 = in_addr()
        if inet_pton(AF_INET, literal, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, literal, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    static func text(_ bytes: [UInt8]) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        let ok = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) } != nil
        return ok ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
    }
}
