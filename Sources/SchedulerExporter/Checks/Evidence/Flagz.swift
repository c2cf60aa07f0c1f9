/// The `/flagz` z-page: a blank line, a title (`kube-scheduler flagz`), a warning, then one
/// `name<delimiter>value` line per flag. Upstream (k8s.io/component-base/zpages/flagz) picks the
/// delimiter at random from `:`, `: `, `=` and ` ` — one process answers `bind-address=127.0.0.1`,
/// the next `bind-address 127.0.0.1` — precisely so that nobody parses it; yet it is the only
/// place a running scheduler states `--authorization-always-allow-paths`. So the delimiter is
/// determined per body from the flag lines themselves, and everything else is ignored.
public struct Flagz: Sendable, Equatable {
    public var flags: [String: String]

    public init(flags: [String: String]) {
        self.flags = flags
    }

    /// Upstream's set; longest first where one is a prefix of another.
    static let delimiters = [": ", ":", "=", " "]

    public init?(text: String) {
        let lines = Self.flagLines(text)
        guard let delimiter = Self.delimiter(of: lines) else { return nil }
        let scalars = Array(delimiter.unicodeScalars)
        // `name:` / `name` with nothing after it: an empty value whose trailing space was cut.
        let trimmed = Array(scalars.reversed().drop { $0 == " " }.reversed())
        var flags: [String: String] = [:]
        for line in lines {
            guard let (name, rest) = Self.splitName(line) else { continue }
            if rest.starts(with: scalars) {
                flags[String(name)] = String(rest.dropFirst(scalars.count))
            } else if rest.elementsEqual(trimmed) {
                flags[String(name)] = ""
            }
        }
        guard !flags.isEmpty else { return nil }
        self.flags = flags
    }

    public subscript(_ name: String) -> String? { flags[name] }

    /// A flag of the form `[a,b,c]` (how flagz prints string slices) or `a,b,c` as a list.
    public func list(_ name: String) -> [String]? {
        guard var value = flags[name] else { return nil }
        if value.hasPrefix("["), value.hasSuffix("]") { value = String(value.dropFirst().dropLast()) }
        return value.split(separator: ",").map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty }
    }

    /// The body's lines after the header. The title line (`kube-scheduler flagz`) would otherwise
    /// read as a flag `kube-scheduler` under the space delimiter.
    static func flagLines(_ text: String) -> [Substring] {
        let lines = text.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline)
        let header = lines.prefix(3)
        if let warning = header.firstIndex(where: { $0.hasPrefix("Warning:") }) {
            return Array(lines[(warning + 1)...])
        }
        if let title = header.first, title.hasSuffix(" flagz") || title.hasSuffix(" flags") {
            return Array(lines.dropFirst())
        }
        return lines
    }

    /// The delimiter most flag lines use: a flag value rarely starts with a delimiter character,
    /// and when one does (`feature-gates::ComponentFlagz=true` under `:`) the other lines outvote it.
    static func delimiter(of lines: [Substring]) -> String? {
        var votes = [Int](repeating: 0, count: delimiters.count)
        for line in lines {
            guard let (_, rest) = splitName(line) else { continue }
            if let index = delimiters.firstIndex(where: { rest.starts(with: $0.unicodeScalars) }) { votes[index] += 1 }
        }
        guard let best = votes.indices.max(by: { votes[$0] < votes[$1] || (votes[$0] == votes[$1] && $0 > $1) }),
              votes[best] > 0 else { return nil }
        return delimiters[best]
    }

    /// A pflag-style name (`[a-z][a-z0-9-]*`) at the start of the line and what follows it, as
    /// scalars so that no input can make the split land inside a character.
    static func splitName(_ line: Substring) -> (name: Substring.UnicodeScalarView, rest: Substring.UnicodeScalarView)? {
        let scalars = line.unicodeScalars
        guard let first = scalars.first, ("a"..."z").contains(first) else { return nil }
        let end = scalars.firstIndex { !(("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-") } ?? scalars.endIndex
        return (scalars[..<end], scalars[end...])
    }
}
