internal import CCurl
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The exporter's HTTP client: libcurl's multi interface driven by one dedicated thread.
///
/// Callers `await` transfers; the driver thread runs every transfer concurrently, so a slow or
/// hanging one never holds up another. Connections (and TLS sessions) are kept in the multi
/// handle's cache and reused across calls; HTTP/2 is used when the server offers it via ALPN.
public final class CurlClient: Sendable {
    private let inbox: DriverInbox
    /// nil once joined (or when the thread could not be started).
    private let driverThread: Mutex<pthread_t?>

    /// - Parameters:
    ///   - maxConnectionsPerHost: libcurl's CURLMOPT_MAX_HOST_CONNECTIONS; more concurrent HTTP/1.1
    ///     requests to one host queue for a free connection (still bounded by their timeout);
    ///     HTTP/2 multiplexes instead.
    ///   - maxIdleConnections: size of the keep-alive cache (CURLMOPT_MAXCONNECTS). libcurl's
    ///     default is 4 per transfer in progress, which with targets polled one at a time keeps
    ///     only 4 connections and makes every poll of a fifth target a new TLS handshake.
    public init(maxConnectionsPerHost: Int = 4, maxIdleConnections: Int = 64) {
        _ = curl_global_init(CCURL_GLOBAL_DEFAULT)
        guard let multi = curl_multi_init() else {
            fatalError("curl_multi_init failed: out of memory")
        }
        _ = ccurl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, max(1, maxConnectionsPerHost))
        _ = ccurl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, max(1, maxIdleConnections))
        _ = ccurl_multi_setopt_long(multi, CURLMOPT_PIPELINING, CCURL_PIPE_MULTIPLEX)
        let inbox = DriverInbox(multi: MultiHandle(raw: multi))
        self.inbox = inbox

        let loop = Unmanaged.passRetained(DriverLoop(inbox: inbox, multi: multi))
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { context in
            let loop = Unmanaged<DriverLoop>.fromOpaque(context!).takeRetainedValue()
            ccurl_name_current_thread("curl-driver")
            loop.run()
            return nil
        }, loop.toOpaque())
        guard created == 0 else {
            loop.release()
            fatalError("could not start the libcurl driver thread: errno \(created)")
        }
        driverThread = Mutex(thread)
    }

    deinit {
        shutdown()
    }

    /// Runs one GET. Task cancellation removes the transfer and throws `.cancelled`.
    ///
    /// A request sent on a kept-alive connection that the server had already closed is retried
    /// once on a new connection, within what is left of its timeout: it never reached the server,
    /// and failing it would fail a whole poll for a routine idle close.
    public func perform(_ request: HTTPRequest) async throws(HTTPClientError) -> HTTPResponse {
        let started = ContinuousClock.now
        do {
            return try await performOnce(request)
        } catch where error.reusedConnectionDied && !request.freshConnection && !request.reconnect {
            let remaining = request.timeout - (ContinuousClock.now - started)
            guard remaining > .milliseconds(1) else { throw error }
            var retry = request
            retry.reconnect = true
            retry.timeout = remaining
            retry.connectTimeout = min(request.connectTimeout, remaining)
            return try await performOnce(retry)
        }
    }

    private func performOnce(_ request: HTTPRequest) async throws(HTTPClientError) -> HTTPResponse {
        guard let id = inbox.allocateID() else {
            throw HTTPClientError(kind: .cancelled, message: "HTTP client is shut down")
        }
        let inbox = self.inbox
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                inbox.submit(id: id, job: .http(request, continuation))
            }
        } onCancel: {
            inbox.cancel(id: id)
        }
        return try result.get()
    }

    /// Whether a TCP connection to host:port can be made (CURLOPT_CONNECT_ONLY, never reused).
    public func probeTCP(host: String, port: Int, timeout: Duration) async -> TCPProbeResult {
        guard let id = inbox.allocateID() else { return .error("HTTP client is shut down") }
        let inbox = self.inbox
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                inbox.submit(id: id, job: .probe(host: host, port: port, timeout: timeout, continuation))
            }
        } onCancel: {
            inbox.cancel(id: id)
        }
    }

    /// Whether the driver thread takes new work: true once it has, false when the client is shut
    /// down or the caller is cancelled first. A stuck driver never answers; the caller decides
    /// how long that may last (the exporter's liveness watchdog).
    public func ping() async -> Bool {
        guard let id = inbox.allocateID() else { return false }
        let inbox = self.inbox
        let reply = PingReply()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                reply.wait(continuation)
                inbox.submit(id: id, job: .ping(reply))
            }
        } onCancel: {
            reply.resume(false)
            inbox.cancel(id: id)
        }
    }

    /// Fails pending and running transfers with `.cancelled` and stops the driver thread.
    /// Idempotent; blocks until the thread has released libcurl's handles.
    public func shutdown() {
        inbox.stop()
        let thread = driverThread.withLock { thread in
            defer { thread = nil }
            return thread
        }
        guard let thread else { return }
        if pthread_equal(thread, pthread_self()) != 0 {
            _ = pthread_detach(thread)
        } else {
            _ = pthread_join(thread, nil)
        }
    }
}
