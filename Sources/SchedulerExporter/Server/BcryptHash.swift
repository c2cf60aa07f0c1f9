import CCrypt

#if canImport(Glibc)
import Glibc
#endif

/// bcrypt through libxcrypt's `crypt_rn` (thread-safe: all state lives in the caller's buffer).
/// Slow by design (cost 10 is ~50-100 ms), so callers run it off the event loops and cache hits.
enum BcryptHash {
    static func isWellFormed(_ hash: String) -> Bool {
        let bytes = Array(hash.utf8)
        // $2y$10$ + 22 salt + 31 hash characters.
        guard bytes.count == 60, hash.hasPrefix("$2a$") || hash.hasPrefix("$2b$") || hash.hasPrefix("$2y$"), bytes[6] == UInt8(ascii: "$"),
              let cost = Int(String(decoding: bytes[4..<6], as: UTF8.self)), (4...31).contains(cost) else { return false }
        return crypt_checksalt(hash) == CRYPT_SALT_OK
    }

    /// Whether `password` hashes to `hash`; the hash comparison does not stop at the first difference.
    static func verify(password: [UInt8], hash: String) -> Bool {
        // C strings end at NUL: a password with one could only ever match a prefix of itself.
        guard !password.contains(0), let computed = crypt(password: password, setting: hash) else { return false }
        return constantTimeEqual(computed, Array(hash.utf8))
    }

    /// A new hash of `password` with a random salt at `cost` (for tests and tooling).
    static func make(password: String, cost: Int = 10) -> String? {
        var setting = [CChar](repeating: 0, count: Int(CRYPT_GENSALT_OUTPUT_SIZE))
        guard crypt_gensalt_rn("$2y$", UInt(cost), nil, 0, &setting, Int32(setting.count)) != nil else { return nil }
        let settingText = String(decoding: setting.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return crypt(password: Array(password.utf8), setting: settingText).map { String(decoding: $0, as: UTF8.self) }
    }

    private static func crypt(password: [UInt8], setting: String) -> [UInt8]? {
        let size = Int(ccrypt_data_size())
        let data = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        data.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        defer {
            // The buffer held password-derived state.
            explicit_bzero(data, size)
            data.deallocate()
        }
        let phrase = password.map { CChar(bitPattern: $0) } + [0]
        guard let result = crypt_rn(phrase, setting, data, Int32(size)) else { return nil }
        return Array(UnsafeRawBufferPointer(start: result, count: strlen(result)))
    }
}

/// Equal bytes, in time that depends on the lengths only, not on where the first difference is.
func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    var difference = UInt(lhs.count ^ rhs.count)
    let length = max(lhs.count, rhs.count)
    for index in 0..<length {
        let left = index < lhs.count ? lhs[index] : 0
        let right = index < rhs.count ? rhs[index] : 0
        difference |= UInt(left ^ right)
    }
    return difference == 0
}
