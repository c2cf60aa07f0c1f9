/// The `/flagz` z-page: a title, a warning, then `name value` lines. Upstream says it is not meant
/// to be machine parseable, so this reads only `name value` pairs and ignores everything else.
public struct Flagz: Sendable, Equatable {
    public var flags: [String: String]

    public init(flags: [String: String]) {
        self.flags = flags
    }

    public init?(text: String) {
        var flags: [String: String] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let space = line.firstIndex(of: " ") else { continue }
            let name = line[..<space]
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }),
                  name.first!.isLetter else { continue }
            flags[String(name)] = String(line[line.index(after: space)...])
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
}
