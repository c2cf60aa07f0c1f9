import CCrypt
import CurlHTTP
import FoundationEssentials
import Logging
import Synchronization

/// `--web.kubernetes-auth`: scrapers authenticate with their own Kubernetes bearer token and are
/// authorized by RBAC, as kube-rbac-proxy does it: a TokenReview says who the token belongs to, a
/// SubjectAccessReview whether that user may `get` the non-resource URL of the request path
/// (`/metrics`, `/scheduler/metrics`, `/probe`). Answers are cached for `ttl`, keyed by a salted
/// SHA-256 of the token (never the token). When the API server cannot answer, a cached answer up to
/// `staleIfError` old stands in; otherwise the request gets 503. Never open.
///
/// The exporter's own identity needs `create` on `tokenreviews` and `subjectaccessreviews`
/// (the `system:auth-delegator` ClusterRole).
public final class KubernetesAuthorizer: Sendable {
    public enum Decision: Sendable, Equatable {
        case allowed
        /// No bearer token, or the API server does not know it: 401.
        case unauthenticated
        /// A known user without RBAC for the path: 403.
        case forbidden
        /// The API server did not answer and nothing cached could stand in: 503.
        case unavailable
        /// Too many reviews in flight: 429.
        case overloaded
    }

    let access: APIServerAccess
    let client: CurlClient
    let logger: Logger
    let tokenFile: BearerTokenFile?
    public static let defaultTTL: Duration = .seconds(10)
    let ttl: Duration
    let staleIfError: Duration
    let maxConcurrentReviews: Int
    let timeout: Duration
    static let cacheCapacity = 1_000

    private struct Entry: Sendable {
        var decision: Decision
        var at: ContinuousClock.Instant
    }
    private struct Cache: Sendable {
        var entries: [String: Entry] = [:]
        var order: [String] = []
    }
    private let cache = Mutex(Cache())
    private let reviewsInFlight = Atomic<Int>(0)
    private let salt: [UInt8]
    /// Whether the API server answered last time, so that an outage is logged once.
    private let apiServerDown = Atomic<Bool>(false)

    public init(access: APIServerAccess, client: CurlClient, logger: Logger, ttl: Duration = KubernetesAuthorizer.defaultTTL,
                staleIfError: Duration = .seconds(300), maxConcurrentReviews: Int = 8, timeout: Duration = .seconds(5)) {
        self.access = access
        self.client = client
        self.logger = logger
        self.ttl = ttl
        self.staleIfError = max(ttl, staleIfError)
        self.maxConcurrentReviews = max(1, maxConcurrentReviews)
        self.timeout = timeout
        self.tokenFile = access.tokenFile.map { BearerTokenFile(path: $0, target: "kubernetes-api", logger: logger) }
        var generator = SystemRandomNumberGenerator()
        salt = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    /// The paths the reviews ask about are the request's path as routed, so RBAC rules name
    /// exactly what is served (`nonResourceURLs: ["/metrics"]`).
    public func authorize(authorization header: String?, path: String) async -> Decision {
        guard let token = Self.bearerToken(header) else { return .unauthenticated }
        let key = cacheKey(token: token, path: path)
        let now = ContinuousClock.now
        let cached = cache.withLock { $0.entries[key] }
        if let cached, now - cached.at < ttl { return cached.decision }
        guard reviewsInFlight.add(1, ordering: .relaxed).newValue <= maxConcurrentReviews else {
            reviewsInFlight.subtract(1, ordering: .relaxed)
            if let cached, now - cached.at < staleIfError { return cached.decision }
            return .overloaded
        }
        defer { reviewsInFlight.subtract(1, ordering: .relaxed) }
        switch await review(token: token, path: path) {
        case .success(let decision):
            if apiServerDown.exchange(false, ordering: .relaxed) { logger.info("Kubernetes API server answers reviews again") }
            store(decision, key: key)
            return decision
        case .failure(let problem):
            if !apiServerDown.exchange(true, ordering: .relaxed) {
                logger.warning("Kubernetes API server did not answer a scraper review; using cached answers, else 503",
                               metadata: ["api_server": "\(access.url)", "error": "\(problem)"])
            }
            if let cached, ContinuousClock.now - cached.at < staleIfError { return cached.decision }
            return .unavailable
        }
    }

    static func bearerToken(_ header: String?) -> String? {
        guard let header else { return nil }
        let trimmed = header.drop { $0 == " " }
        guard trimmed.count > 7, trimmed.prefix(7).lowercased() == "bearer " else { return nil }
        let token = String(trimmed.dropFirst(7)).trimmingWhitespace()
        guard !token.isEmpty, token.utf8.count <= 16 << 10, !token.contains(where: { $0.isNewline || $0 == "\0" }) else { return nil }
        return token
    }

    private func store(_ decision: Decision, key: String) {
        cache.withLock { cache in
            if cache.entries.updateValue(Entry(decision: decision, at: .now), forKey: key) == nil {
                cache.order.append(key)
                if cache.order.count > Self.cacheCapacity { cache.entries[cache.order.removeFirst()] = nil }
            }
        }
    }

    private func cacheKey(token: String, path: String) -> String {
        var input = salt
        for part in [Array(token.utf8), Array(path.utf8)] {
            withUnsafeBytes(of: UInt32(part.count).bigEndian) { input.append(contentsOf: $0) }
            input.append(contentsOf: part)
        }
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        input.withUnsafeBufferPointer { bytes in _ = SHA256(bytes.baseAddress, bytes.count, &digest) }
        for index in input.indices { input[index] = 0 }
        return digest.map { String($0, radix: 16) }.joined(separator: ".")
    }

    // MARK: - The reviews

    struct ReviewFailure: Error, CustomStringConvertible {
        let description: String
    }

    private struct TokenReviewStatus: Decodable {
        struct User: Codable {
            var username: String?
            var uid: String?
            var groups: [String]?
            var extra: [String: [String]]?
        }
        struct Status: Decodable {
            var authenticated: Bool?
            var user: User?
        }
        var status: Status?
    }

    private struct AccessReviewStatus: Decodable {
        struct Status: Decodable {
            var allowed: Bool?
            var denied: Bool?
        }
        var status: Status?
    }

    private func review(token: String, path: String) async -> Result<Decision, ReviewFailure> {
        let tokenBody = Self.json([
            "apiVersion": .string("authentication.k8s.io/v1"), "kind": .string("TokenReview"),
            "spec": .object(["token": .string(token)]),
        ])
        let identity: TokenReviewStatus.User
        switch await post("/apis/authentication.k8s.io/v1/tokenreviews", tokenBody, as: TokenReviewStatus.self) {
        case .failure(let failure): return .failure(failure)
        case .success(let answer):
            guard answer.status?.authenticated == true, let user = answer.status?.user, let name = user.username, !name.isEmpty else {
                return .success(.unauthenticated)
            }
            identity = user
        }
        var spec: [String: JSONValue] = [
            "user": .string(identity.username ?? ""),
            "groups": .array((identity.groups ?? []).map(JSONValue.string)),
            "nonResourceAttributes": .object(["path": .string(path), "verb": .string("get")]),
        ]
        if let uid = identity.uid { spec["uid"] = .string(uid) }
        if let extra = identity.extra { spec["extra"] = .object(extra.mapValues { .array($0.map(JSONValue.string)) }) }
        let accessBody = Self.json([
            "apiVersion": .string("authorization.k8s.io/v1"), "kind": .string("SubjectAccessReview"), "spec": .object(spec),
        ])
        switch await post("/apis/authorization.k8s.io/v1/subjectaccessreviews", accessBody, as: AccessReviewStatus.self) {
        case .failure(let failure): return .failure(failure)
        case .success(let answer):
            return .success(answer.status?.allowed == true && answer.status?.denied != true ? .allowed : .forbidden)
        }
    }

    private func post<Answer: Decodable>(_ path: String, _ body: [UInt8], as: Answer.Type) async -> Result<Answer, ReviewFailure> {
        var request = HTTPRequest(url: access.url + path, tls: access.tls, connectTimeout: min(timeout, .seconds(5)), timeout: timeout,
                                  maxBodyBytes: 1 << 20, captureCertificates: false)
        request.method = .post
        request.body = body
        request.headers = [("Content-Type", "application/json"), ("Accept", "application/json")]
        if let tokenFile, case .success(let token) = tokenFile.current() {
            request.bearerToken = token
        } else {
            request.bearerToken = access.token
        }
        let response: HTTPResponse
        do {
            response = try await client.perform(request)
        } catch {
            return .failure(ReviewFailure(description: error.description))
        }
        // 201 is what the API server answers for a created review object.
        guard (200...299).contains(response.status) else {
            return .failure(ReviewFailure(description: "HTTP \(response.status) from \(path)"))
        }
        do {
            return .success(try JSONDecoder().decode(Answer.self, from: Data(response.body)))
        } catch {
            return .failure(ReviewFailure(description: "unreadable answer from \(path)"))
        }
    }

    /// A JSON value for the request bodies (Encodable dictionaries of mixed types, without Foundation's Any).
    indirect enum JSONValue: Encodable {
        case string(String)
        case array([JSONValue])
        case object([String: JSONValue])

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .string(let value): try container.encode(value)
            case .array(let values): try container.encode(values)
            case .object(let values): try container.encode(values)
            }
        }
    }

    static func json(_ object: [String: JSONValue]) -> [UInt8] {
        (try? Array(JSONEncoder().encode(JSONValue.object(object)))) ?? Array("{}".utf8)
    }
}
