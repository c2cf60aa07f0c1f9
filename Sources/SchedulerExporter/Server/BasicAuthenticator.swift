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

    /// What a request carries; nil when the header is missing or not Basic.
    struct Credentials: Sendable {
        var user: [UInt8]
        var password: [UInt8]
    }

    static func credentials(fromHeader header: String?) -> Credentials? {
        guard let header else { return nil }
        let trimmed = header.drop { $0 == " " }
        guard trimmed.count > 6, trimmed.prefix(6).lowercased() == "basic " else { return nil }
        guard let decoded = Base64.decode(trimmed.dropFirst(6).drop { $0 == " " }),
              let colon = decoded.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        return Credentials(user: Array(decoded[..<colon]), password: Array(decoded[(colon + 1)...]))
    }

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

/// Standard base64 (RFC 4648, padding optional), enough for an Authorization header.
enum Base64 {
    static func decode(_ text: Substring) -> [UInt8]? {
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        var padding = 0
        for byte in text.utf8 {
            let value: UInt32
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(byte - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(byte - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(byte - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "+"): value = 62
            case UInt8(ascii: "/"): value = 63
            case UInt8(ascii: "="): padding += 1; continue
            default: return nil
            }
            guard padding == 0 else { return nil }  // data after padding
            accumulator = accumulator << 6 | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                accumulator &= (1 << UInt32(bits)) - 1
            }
        }
        guard padding <= 2, bits < 6 else { return nil }
        return output
    }
}
