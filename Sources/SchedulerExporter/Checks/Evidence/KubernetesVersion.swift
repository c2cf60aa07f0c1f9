import Exposition

/// The scheduler's Kubernetes release, as its own `kubernetes_build_info` states it. Some verdicts
/// depend on it: the insecure port exists only up to 1.22, and endpoints come and go with releases.
public struct KubernetesVersion: Sendable, Comparable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public var patch: Int
    /// As reported (`v1.35.4`, `v1.30.2-gke.1587003`), for evidence texts.
    public var gitVersion: String

    public init(major: Int, minor: Int, patch: Int = 0, gitVersion: String? = nil) {
        self.major = major
        self.minor = minor
        self.patch = patch
        self.gitVersion = gitVersion ?? "v\(major).\(minor).\(patch)"
    }

    /// `v1.35.4`, `1.22.0-rc.1`, `v1.18.20+k3s1`; nil for anything without a major and a minor.
    public init?(gitVersion: String) {
        var text = Substring(gitVersion)
        if text.first == "v" { text = text.dropFirst() }
        let numbers = text.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }.split(separator: ".", omittingEmptySubsequences: false)
        guard numbers.count >= 2, let major = Int(numbers[0]), let minor = Int(numbers[1]) else { return nil }
        let patch = numbers.count >= 3 ? Int(numbers[2]) ?? 0 : 0
        self.init(major: major, minor: minor, patch: patch, gitVersion: gitVersion)
    }

    /// From `kubernetes_build_info`: its `git_version`, else its `major`/`minor` labels (`35+` on
    /// some managed distributions).
    public init?(metrics: ExpositionDocument) {
        guard let sample = metrics.family(named: "kubernetes_build_info")?.samples.first else { return nil }
        if let text = sample.label("git_version"), let version = KubernetesVersion(gitVersion: text) {
            self = version
            return
        }
        guard let major = sample.label("major").flatMap({ Int($0) }),
              let minor = sample.label("minor").flatMap({ Int($0.prefix { $0.isASCII && $0.isNumber }) }) else { return nil }
        self.init(major: major, minor: minor)
    }

    public func isAtLeast(_ major: Int, _ minor: Int) -> Bool { (self.major, self.minor) >= (major, minor) }

    public var description: String { gitVersion }

    public static func < (lhs: KubernetesVersion, rhs: KubernetesVersion) -> Bool {
        (lhs.major, lhs.minor, lhs.patch) < (rhs.major, rhs.minor, rhs.patch)
    }

    public static func == (lhs: KubernetesVersion, rhs: KubernetesVersion) -> Bool {
        (lhs.major, lhs.minor, lhs.patch) == (rhs.major, rhs.minor, rhs.patch)
    }
}
