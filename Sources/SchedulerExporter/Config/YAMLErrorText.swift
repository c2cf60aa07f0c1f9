import Yams

/// How a config reader names a YAML syntax error: problem and position, never Yams' own
/// description, which quotes the offending YAML (and so could quote a secret).
enum YAMLErrorText {
    /// nil when `error` is not Yams' syntax error.
    static func describe(_ error: any Error) -> String? {
        guard let error = error as? YamlError else { return nil }
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return "invalid YAML: \(problem) at line \(mark.line), column \(mark.column)"
        case .duplicatedKeysInMapping(let duplicates, let context):
            return "duplicate key \(duplicates.joined(separator: ", ")) at line \(context.mark.line)"
        default:
            return "invalid YAML"
        }
    }
}
