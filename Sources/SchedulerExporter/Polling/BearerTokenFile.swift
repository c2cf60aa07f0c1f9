import CurlHTTP
import FoundationEssentials
import Logging
import Synchronization

/// A bearer token read from a file and re-read when the file changes: projected service-account
/// tokens are rotated in place (kubelet swaps a symlink), so size, mtime and inode are compared on
/// every poll, which costs one stat(2).
///
/// A file that goes away or turns unreadable (a volume remounted, a secret being replaced, an
/// empty file caught mid-write) does not take the token with it: the last good token is kept while
/// it is valid, until the `exp` claim of its JWT payload (read, not verified: the API server
/// verifies), or for `unverifiableLifetime` after it was read when it is no JWT. Each change of
/// state (fine, keeping the last token, no token) is logged once, not once per request.
public final class BearerTokenFile: Sendable {
    public let path: String
    let target: String
    let logger: Logger?
    let clock: @Sendable () -> Double

    /// How long a token with no readable `exp` is kept after its file went away: projected
    /// tokens live an hour by default.
    public static let unverifiableLifetime: Double = 3_600

    private struct Cached: Sendable {
        var status: FileAccess.Status
        var token: BearerToken
        /// Unix seconds after which the token is no longer used once its file is gone.
        var keepUntil: Double
    }

    /// What the last call found, so that only changes are logged.
    enum Health: Sendable, Equatable {
        case fine
        /// The file is unreadable; the last good token is used.
        case keepingLast
        /// The file is unreadable and no valid token is left.
        case unavailable
    }

    private struct State: Sendable {
        var cached: Cached?
        var health: Health = .fine
    }

    private let state = Mutex(State())

    public init(path: String, target: String = "", logger: Logger? = nil, clock: (@Sendable () -> Double)? = nil) {
        self.path = path
        self.target = target
        self.logger = logger
        self.clock = clock ?? { unixNow() }
    }

    /// The current token; `failure` when the file cannot be read and no valid token is left (the
    /// reason never includes content).
    public func current() -> Result<BearerToken, FileError> {
        let read = readFile()
        let now = clock()
        let (result, transition) = state.withLock { state -> (Result<BearerToken, FileError>, (from: Health, to: Health, keepUntil: Double?)?) in
            let before = state.health
            let result: Result<BearerToken, FileError>
            switch read {
            case .unchanged:
                // Only reached with a cached token for this very file version.
                result = state.cached.map { .success($0.token) } ?? .failure(FileError(path: path, errno: 5))
                state.health = .fine
            case .fresh(let status, let token, let exp):
                state.cached = Cached(status: status, token: token, keepUntil: exp ?? now + Self.unverifiableLifetime)
                state.health = .fine
                result = .success(token)
            case .failed(let error):
                if let cached = state.cached, now < cached.keepUntil {
                    state.health = .keepingLast
                    result = .success(cached.token)
                } else {
                    state.cached = nil
                    state.health = .unavailable
                    result = .failure(error)
                }
            }
            let transition = before == state.health ? nil : (from: before, to: state.health, keepUntil: state.cached?.keepUntil)
            return (result, transition)
        }
        if let transition { log(transition, result: result) }
        return result
    }

    var health: Health { state.withLock { $0.health } }

    private enum Read {
        case unchanged
        /// With the JWT's `exp`, when it has one.
        case fresh(FileAccess.Status, BearerToken, exp: Double?)
        case failed(FileError)
    }

    private func readFile() -> Read {
        let status: FileAccess.Status
        switch FileAccess.status(path) {
        case .success(let value): status = value
        case .failure(let error): return .failed(error)
        }
        if state.withLock({ $0.cached?.status == status }) { return .unchanged }
        guard let text = FileAccess.readText(path, limit: 64 << 10) else {
            return .failed(FileError(path: path, errno: 5 /* EIO */))
        }
        let token = text.trimmingWhitespace()
        // An empty file is a rotation caught between truncate and write, never a token.
        guard !token.isEmpty else { return .failed(FileError(path: path, errno: 61 /* ENODATA */)) }
        return .fresh(status, BearerToken(token), exp: JWTClaims.expiry(token))
    }

    private func log(_ transition: (from: Health, to: Health, keepUntil: Double?), result: Result<BearerToken, FileError>) {
        guard let logger else { return }
        var metadata: Logger.Metadata = ["target": "\(target)", "path": "\(path)"]
        if case .failure(let error) = result { metadata["error"] = "\(error)" }
        switch transition.to {
        case .fine:
            logger.info("bearer token file readable again", metadata: metadata)
        case .keepingLast:
            if let keepUntil = transition.keepUntil { metadata["until"] = "\(Self.rfc3339(keepUntil))" }
            logger.warning("cannot read the bearer token file; using the last token read while it is valid", metadata: metadata)
        case .unavailable:
            logger.warning(transition.from == .keepingLast
                           ? "cannot read the bearer token file and the last token expired; polling without a token"
                           : "cannot read the bearer token file; polling without a token", metadata: metadata)
        }
    }

    static func rfc3339(_ unixSeconds: Double) -> String {
        guard unixSeconds.isFinite, abs(unixSeconds) < 1e11 else { return "\(unixSeconds)" }
        return Date(timeIntervalSince1970: unixSeconds).formatted(.iso8601)
    }
}

/// The `exp` claim of a JWT's payload, read without verifying the signature: only to know how
/// long a token may be kept, never to trust it.
enum JWTClaims {
    private struct Claims: Decodable {
        var exp: Double?
    }

    static func expiry(_ token: String) -> Double? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[1].utf8.count <= 16 << 10, let payload = base64URLDecode(parts[1]),
              let claims = try? JSONDecoder().decode(Claims.self, from: Data(payload)),
              let exp = claims.exp, exp.isFinite else { return nil }
        return exp
    }

    /// RFC 4648 section 5, padding optional.
    static func base64URLDecode(_ text: Substring) -> [UInt8]? {
        var standard = String(text.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
        while standard.utf8.count % 4 != 0 { standard += "=" }
        return Base64.decode(standard[...])
    }
}
