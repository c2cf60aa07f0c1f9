import Foundation
import Testing
@testable import SchedulerExporter

@Suite struct WebConfigParsingTests {
    static let hash = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi"

    @Test func theFullFormatWithRelativePathsResolvedAgainstTheFilesDirectory() throws {
        let config = try WebConfig.parse("""
            tls_server_config:
              cert_file: server.crt
              key_file: /abs/server.key
              min_version: TLS13
              client_auth_type: RequireAndVerifyClientCert
              client_ca_file: ca.crt
            http_server_config:
              headers:
                Strict-Transport-Security: max-age=31536000
                X-Content-Type-Options: nosniff
                X-Frame-Options: DENY
              http2: true
            basic_auth_users:
              alice: \(Self.hash)
            """, directory: "/etc/web")
        let tls = try #require(config.tls)
        #expect(tls.certFile == "/etc/web/server.crt")
        #expect(tls.keyFile == "/abs/server.key")
        #expect(tls.clientCAFile == "/etc/web/ca.crt")
        #expect(tls.minVersion == .tls13)
        #expect(tls.maxVersion == nil)
        #expect(tls.clientAuth == .requireAndVerifyClientCert)
        #expect(config.headers == ["Strict-Transport-Security": "max-age=31536000", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"])
        #expect(config.basicAuthUsers == ["alice": Self.hash])
        #expect(config.referencedFiles(configPath: "/etc/web/web.yml") == ["/etc/web/web.yml", "/etc/web/server.crt", "/abs/server.key", "/etc/web/ca.crt"])
    }

    @Test func defaultsAndEmptyFiles() throws {
        #expect(try WebConfig.parse("") == WebConfig())
        #expect(try WebConfig.parse("tls_server_config:\nbasic_auth_users:\n") == WebConfig())
        let tls = try #require(try WebConfig.parse("tls_server_config: {cert_file: a, key_file: b}").tls)
        #expect(tls.minVersion == .tls12)
        #expect(tls.clientAuth == .noClientCert)
        #expect(tls.certFile == "./a")
    }

    @Test(arguments: [
        ("tls_server_config: {cert_file: a}", "missing key_file"),
        ("tls_server_config: {key_file: a}", "missing cert_file"),
        ("tls_server_config: {cert_file: a, key_file: b, min_version: TLS14}", "min_version: expected one of TLS10, TLS11, TLS12, TLS13"),
        ("tls_server_config: {cert_file: a, key_file: b, min_version: TLS13, max_version: TLS12}", "max_version TLS12 is below min_version TLS13"),
        ("tls_server_config: {cert_file: a, key_file: b, client_auth_type: Sometimes}", "client_auth_type: expected one of NoClientCert"),
        ("tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireAndVerifyClientCert}", "needs client_ca_file"),
        ("tls_server_config: {cert_file: a, key_file: b, client_auth_type: VerifyClientCertIfGiven}", "needs client_ca_file"),
        ("tls_server_config: {cert_file: a, key_file: b, client_ca_file: c}", "client_ca_file is set but client_auth_type is NoClientCert"),
        ("tls_server_config: {cert_file: a, key_file: b, cipher_suites: [TLS_AES_128_GCM_SHA256]}", "cipher_suites is not supported"),
        ("tls_server_config: {cert_file: a, key_file: b, certfile: c}", "tls_server_config.certfile: unknown key"),
        ("web: {}", "web: unknown key"),
        ("http_server_config: {header: {X-Frame-Options: deny}}", "http_server_config.header: unknown key"),
        ("http_server_config: {headers: {Server: nginx}}", "header \"Server\" cannot be configured"),
        ("http_server_config: {headers: {X-Content-Type-Options: sniff}}", "X-Content-Type-Options must be one of nosniff"),
        ("http_server_config: {headers: {X-Frame-Options: allow}}", "X-Frame-Options must be one of deny, sameorigin"),
        ("basic_auth_users: [alice]", "basic_auth_users: expected a mapping"),
        ("basic_auth_users: {alice: {nested: 1}}", "basic_auth_users.alice: expected a string"),
        ("- just\n- a list", "top level: expected a mapping"),
    ])
    func invalidFilesSayWhatIsWrong(yaml: String, message: String) {
        #expect {
            _ = try WebConfig.parse(yaml, source: "web.yml")
        } throws: { error in
            let text = (error as? ConfigError)?.message ?? ""
            return text.hasPrefix("web.yml: ") && text.contains(message)
        }
    }

    @Test func aHashThatIsNotBcryptIsRejectedWithoutQuotingIt() {
        for hash in ["plaintext-password", "$6$saltsalt$Xy1UlB0B3w8F1Vh8mYxR4u6SgB6s0wz1Z5QhgLc3t8E/", "$2y$10$tooshort", "$2y$99$" + String(repeating: "a", count: 53)] {
            #expect {
                _ = try WebConfig.parse("basic_auth_users:\n  alice: '\(hash)'\n", source: "web.yml")
            } throws: { error in
                let text = (error as? ConfigError)?.message ?? ""
                return text.contains("basic_auth_users.alice: not a bcrypt hash") && !text.contains(hash)
            }
        }
    }

    @Test func yamlSyntaxErrorsGivePositionsButNeverTheFileContent() {
        let secretLooking = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi"
        #expect {
            _ = try WebConfig.parse("basic_auth_users:\n  alice: \(secretLooking)\n   bob: [unclosed\n", source: "web.yml")
        } throws: { error in
            let text = (error as? ConfigError)?.message ?? ""
            return text.hasPrefix("web.yml: invalid YAML") && text.contains("line") && !text.contains("QOauh")
        }
    }

    @Test func loadReportsAnUnreadableFile() {
        #expect(throws: ConfigError.self) { try WebConfig.load(path: "/nonexistent/web.yml") }
    }
}

@Suite struct BcryptTests {
    @Test func theOpenwallTestVectorVerifies() {
        // From the crypt_blowfish test suite (John the Ripper / Openwall).
        #expect(BcryptHash.verify(password: Array("U*U".utf8), hash: "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"))
        #expect(!BcryptHash.verify(password: Array("U*V".utf8), hash: "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"))
        #expect(BcryptHash.isWellFormed("$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"))
    }

    @Test func hashesMadeByPythonsCryptVerify() async throws {
        let hash = try await pythonBcrypt("correct horse")
        #expect(BcryptHash.isWellFormed(hash))
        #expect(BcryptHash.verify(password: Array("correct horse".utf8), hash: hash))
        #expect(!BcryptHash.verify(password: Array("correct horsf".utf8), hash: hash))
        #expect(!BcryptHash.verify(password: [], hash: hash))
    }

    @Test func aPasswordWithANulByteNeverMatchesItsPrefix() throws {
        let hash = try #require(BcryptHash.make(password: "abc", cost: 4))
        #expect(BcryptHash.verify(password: Array("abc".utf8), hash: hash))
        #expect(!BcryptHash.verify(password: Array("abc".utf8) + [0, 65], hash: hash))
    }

    @Test func madeHashesAreSaltedAndHaveTheCost() throws {
        let first = try #require(BcryptHash.make(password: "pw", cost: 5))
        let second = try #require(BcryptHash.make(password: "pw", cost: 5))
        #expect(first != second)
        #expect(first.hasPrefix("$2y$05$"))
        #expect(BcryptHash.verify(password: Array("pw".utf8), hash: second))
    }

    @Test func constantTimeEqualIsPlainEquality() {
        #expect(constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!constantTimeEqual([1, 2, 3], [1, 2]))
        #expect(!constantTimeEqual([1, 2], [1, 2, 0]))
        #expect(constantTimeEqual([], []))
    }
}

@Suite struct BasicAuthHeaderTests {
    @Test func base64AgreesWithFoundation() {
        for text in ["", "a", "ab", "abc", "alice:s3cret", "ünïcode:пароль", String(repeating: "x:y", count: 50)] {
            let encoded = Data(text.utf8).base64EncodedString()
            #expect(Base64.decode(encoded[...]) == Array(text.utf8), "\(encoded)")
            #expect(Base64.decode(encoded.replacingOccurrences(of: "=", with: "")[...]) == Array(text.utf8))
        }
        #expect(Base64.decode("a$bc") == nil)
        #expect(Base64.decode("YQ==YQ") == nil)
        #expect(Base64.decode("Y") == nil)
    }

    @Test func credentialsSplitAtTheFirstColon() throws {
        let credentials = try #require(BasicAuthenticator.credentials(fromHeader: "Basic " + Data("bob:pass:word".utf8).base64EncodedString()))
        #expect(credentials.user == Array("bob".utf8))
        #expect(credentials.password == Array("pass:word".utf8))
        #expect(BasicAuthenticator.credentials(fromHeader: "basic " + Data("bob:".utf8).base64EncodedString())?.password == [])
        #expect(BasicAuthenticator.credentials(fromHeader: "Bearer abc") == nil)
        #expect(BasicAuthenticator.credentials(fromHeader: "Basic " + Data("no-colon".utf8).base64EncodedString()) == nil)
        #expect(BasicAuthenticator.credentials(fromHeader: nil) == nil)
    }

    @Test func anUnknownUserIsCheckedAgainstARealHashAndNeverKnown() {
        let authenticator = BasicAuthenticator(users: ["bob": "$2y$04$b", "alice": "$2y$04$a"])
        #expect(authenticator.hashToCheck(for: Array("bob".utf8)) == ("$2y$04$b", true))
        #expect(authenticator.hashToCheck(for: Array("alice".utf8)) == ("$2y$04$a", true))
        #expect(authenticator.hashToCheck(for: Array("alic".utf8)) == ("$2y$04$a", false))
        #expect(authenticator.hashToCheck(for: Array("bobby".utf8)).known == false)
    }

    @Test func theCacheKeyDependsOnEveryPartAndTheCacheIsBounded() {
        let cache = VerifiedCredentialCache(capacity: 3)
        let base = cache.key(user: Array("a".utf8), hash: "h", password: Array("p".utf8))
        #expect(base == cache.key(user: Array("a".utf8), hash: "h", password: Array("p".utf8)))
        #expect(base != cache.key(user: Array("a".utf8), hash: "h", password: Array("q".utf8)))
        #expect(base != cache.key(user: Array("b".utf8), hash: "h", password: Array("p".utf8)))
        #expect(base != cache.key(user: Array("a".utf8), hash: "i", password: Array("p".utf8)))
        // "ab"+"c" and "a"+"bc" must not collide.
        #expect(cache.key(user: Array("ab".utf8), hash: "h", password: Array("c".utf8)) != cache.key(user: Array("a".utf8), hash: "h", password: Array("bc".utf8)))
        #expect(VerifiedCredentialCache().key(user: Array("a".utf8), hash: "h", password: Array("p".utf8)) != base, "salted per cache")

        let keys = (0..<5).map { cache.key(user: Array("u\($0)".utf8), hash: "h", password: []) }
        for key in keys { cache.insert(key) }
        #expect(cache.count == 3)
        #expect(!cache.contains(keys[0]) && !cache.contains(keys[1]))
        #expect(cache.contains(keys[2]) && cache.contains(keys[4]))
        cache.removeAll()
        #expect(cache.count == 0)
    }
}
