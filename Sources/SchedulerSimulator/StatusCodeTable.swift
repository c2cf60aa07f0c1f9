import Foundation

/// Who is calling, as the captures' `status-codes-table.txt` columns name it.
public enum CredentialKind: String, Sendable, CaseIterable, Codable {
    case anonymous = "anonymous"
    case badToken = "bad-token"
    case nobodyToken = "nobody-tok"
    case exporterToken = "exporter"
    case exporterCertificate = "exp-cert"
}

/// A parsed `status-codes-table.txt`: the captured HTTP status per request target and credential, plus the
/// captured bind probes (`anonymous GET https://127.0.0.1:10259/healthz -> 000`, 000 = refused).
public struct StatusCodeTable: Sendable, Equatable {
    public struct BindProbe: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var path: String
        /// 0 when the connection was refused.
        public var status: Int
    }

    /// Request targets (path plus query) in table order.
    public var targets: [String]
    public var statuses: [String: [CredentialKind: Int]]
    public var bindProbes: [BindProbe]
    /// The `# kube-scheduler extra flags:` comment.
    public var extraFlags: String

    public func status(target: String, credential: CredentialKind) -> Int? {
        statuses[target]?[credential]
    }

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case missingHeader
        case unknownColumn(String)
        case malformedRow(line: Int)

        public var description: String {
            switch self {
            case .missingHeader: return "status-codes-table: no PATH header line"
            case .unknownColumn(let name): return "status-codes-table: unknown credential column \(name)"
            case .malformedRow(let line): return "status-codes-table: malformed row at line \(line)"
            }
        }
    }

    public init(parsing text: String) throws {
        var columns: [CredentialKind]?
        var targets: [String] = []
        var statuses: [String: [CredentialKind: Int]] = [:]
        var probes: [BindProbe] = []
        var extraFlags = ""
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                if let colon = line.firstIndex(of: ":") {
                    extraFlags = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                continue
            }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            if fields.first == "PATH" {
                columns = try fields.dropFirst().map { name in
                    guard let kind = CredentialKind(rawValue: name) else { throw ParseError.unknownColumn(name) }
                    return kind
                }
                continue
            }
            if fields.count == 5, fields[1] == "GET", fields[3] == "->" {
                guard let probe = Self.bindProbe(url: fields[2], status: fields[4]) else {
                    throw ParseError.malformedRow(line: index + 1)
                }
                probes.append(probe)
                continue
            }
            guard let columns else { throw ParseError.missingHeader }
            guard fields.count == columns.count + 1, fields[0].hasPrefix("/") else {
                throw ParseError.malformedRow(line: index + 1)
            }
            var row: [CredentialKind: Int] = [:]
            for (kind, field) in zip(columns, fields.dropFirst()) {
                guard let code = Int(field) else { throw ParseError.malformedRow(line: index + 1) }
                row[kind] = code
            }
            targets.append(fields[0])
            statuses[fields[0]] = row
        }
        guard columns != nil else { throw ParseError.missingHeader }
        self.targets = targets
        self.statuses = statuses
        self.bindProbes = probes
        self.extraFlags = extraFlags
    }

    private static func bindProbe(url: String, status: String) -> BindProbe? {
        guard url.hasPrefix("https://"), let code = Int(status) else { return nil }
        let rest = url.dropFirst("https://".count)
        let hostPort = rest.prefix(while: { $0 != "/" })
        let path = rest.dropFirst(hostPort.count)
        guard let colon = hostPort.lastIndex(of: ":"), let port = Int(hostPort[hostPort.index(after: colon)...]) else {
            return nil
        }
        return BindProbe(host: String(hostPort[..<colon]), port: port, path: path.isEmpty ? "/" : String(path), status: code)
    }
}
