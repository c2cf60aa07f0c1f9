import CCrypt
import Synchronization

/// Checks `Authorization: Basic` against the web config's bcrypt hashes the way exporter-toolkit
/// does: every configured name is compared (timing-safe) so the time taken does not say whether a
/// user exists, an unknown user still costs one bcrypt run, and verified credentials are cached
/// because Prometheus sends the same ones every scrape and bcrypt is slow by design.
struct BasicAuthenticator: Sendable {
    struct User: Sendable {
        var name: [UInt8]
        var hash: String
    }
    let users: [User]

    init(users: [String: String]) {
        self.users = users.sorted { $0.key < $1.key }.map { User(name: Array($0.key.utf8), hash: $0.value) }
    }

    var isEnabled: Bool { !users.isEmpty }

    typealias Credentials = BasicCredentials

    static func credentials(fromHeader header: String?) -> Credentials? { BasicCredentials(header: header) }

    /// The stored hash to check against: the user's own, or for an unknown user the first user's
    /// (same cost, so the same time) with `known` false so the answer is no whatever the password.
    func hashToCheck(for user: [UInt8]) -> (hash: String, known: Bool) {
        var found: Int? = nil
        for (index, candidate) in users.enumerated() {
            // No early exit: every name is compared.
            if constantTimeEqual(candidate.name, user), found == nil { found = index }
        }
        if let found { return (users[found].hash, true) }
        return (users[0].hash, false)
    }
}

/// Credentials that verified recently, keyed by a salted SHA-256 of user, stored hash and password
/// so the cache never holds a password and a changed hash misses. Bounded: the oldest goes first.
final class VerifiedCredentialCache: Sendable {
    struct Key: Hashable, Sendable {
        var words: (UInt64, UInt64, UInt64, UInt64)
        static func == (lhs: Key, rhs: Key) -> Bool { lhs.words == rhs.words }
        func hash(into hasher: inout Hasher) {
            hasher.combine(words.0); hasher.combine(words.1); hasher.combine(words.2); hasher.combine(words.3)
        }
    }
    private struct State {
        var members: Set<Key> = []
        var order: [Key] = []
    }
    private let state = Mutex(State())
    private let salt: [UInt8]
    let capacity: Int

    init(capacity: Int = 100) {
        self.capacity = capacity
        var generator = SystemRandomNumberGenerator()
        salt = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    func key(user: [UInt8], hash: String, password: [UInt8]) -> Key {
        var input = salt
        // Lengths first, so no two (user, hash, password) triples concatenate alike.
        for part in [user, Array(hash.utf8), password] {
            withUnsafeBytes(of: UInt32(part.count).bigEndian) { input.append(contentsOf: $0) }
            input.append(contentsOf: part)
        }
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        input.withUnsafeBufferPointer { bytes in _ = SHA256(bytes.baseAddress, bytes.count, &digest) }
        for index in input.indices { input[index] = 0 }
        func word(_ offset: Int) -> UInt64 { digest[offset..<offset + 8].reduce(0) { $0 << 8 | UInt64($1) } }
        return Key(words: (word(0), word(8), word(16), word(24)))
    }

    func contains(_ key: Key) -> Bool { state.withLock { $0.members.contains(key) } }

    func insert(_ key: Key) {
        state.withLock { state in
            guard state.members.insert(key).inserted else { return }
            state.order.append(key)
            if state.order.count > capacity { state.members.remove(state.order.removeFirst()) }
        }
    }

    func removeAll() { state.withLock { $0 = State() } }

    var count: Int { state.withLock { $0.members.count } }
}
