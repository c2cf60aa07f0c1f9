import CurlHTTP
import Synchronization

/// A bearer token read from a file and re-read when the file changes: projected service-account
/// tokens are rotated in place (kubelet swaps a symlink), so size, mtime and inode are compared on
/// every poll, which costs one stat(2).
public final class BearerTokenFile: Sendable {
    public let path: String
    private struct Cached: Sendable {
        var status: FileAccess.Status
        var token: BearerToken
    }
    private let cache = Mutex<Cached?>(nil)

    public init(path: String) {
        self.path = path
    }

    /// The current token; `nil` when the file cannot be read (the reason never includes content).
    public func current() -> Result<BearerToken, FileError> {
        let status: FileAccess.Status
        switch FileAccess.status(path) {
        case .success(let value): status = value
        case .failure(let error): return .failure(error)
        }
        if let cached = cache.withLock({ $0 }), cached.status == status { return .success(cached.token) }
        guard let text = FileAccess.readText(path, limit: 64 << 10) else {
            return .failure(FileError(path: path, errno: 5 /* EIO */))
        }
        let token = BearerToken(text.trimmingWhitespace())
        cache.withLock { $0 = Cached(status: status, token: token) }
        return .success(token)
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[first...last])
    }
}
