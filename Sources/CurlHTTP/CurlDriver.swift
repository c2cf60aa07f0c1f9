internal import CCurl
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The multi handle crosses threads only to be woken: `curl_multi_wakeup` is the one multi call
/// libcurl documents as safe from any thread. It is called under the inbox lock, and the driver
/// clears the handle under the same lock before `curl_multi_cleanup`, so it is never used freed.
struct MultiHandle: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer
}

/// What a caller hands to the driver thread.
enum Job: Sendable {
    case http(HTTPRequest, CheckedContinuation<Result<HTTPResponse, HTTPClientError>, Never>)
    case probe(host: String, port: Int, timeout: Duration, CheckedContinuation<TCPProbeResult, Never>)
    /// Answered by the driver loop as soon as it takes its next submissions: proof it is turning.
    case ping(PingReply)

    func fail(_ error: HTTPClientError) {
        switch self {
        case .http(_, let continuation): continuation.resume(returning: .failure(error))
        case .probe(_, _, _, let continuation): continuation.resume(returning: .error(error.message))
        case .ping(let reply): reply.resume(false)
        }
    }
}

/// A ping's continuation, resumed exactly once: by the driver (true), by shutdown or by the
/// caller's cancellation (false), whichever comes first, so a stuck driver never holds a
/// cancelled caller.
final class PingReply: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Bool, Never>?
        var answer: Bool?
    }
    private let state = Mutex(State())

    func wait(_ continuation: CheckedContinuation<Bool, Never>) {
        let answered: Bool? = state.withLock { state in
            if let answer = state.answer { return answer }
            state.continuation = continuation
            return nil
        }
        if let answered { continuation.resume(returning: answered) }
    }

    func resume(_ answer: Bool) {
        let continuation: CheckedContinuation<Bool, Never>? = state.withLock { state in
            guard state.answer == nil else { return nil }
            state.answer = answer
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(returning: answer)
    }
}

/// The only state shared between callers and the driver thread.
final class DriverInbox: Sendable {
    /// Where a request is in its life, so a cancellation arriving before the driver has the
    /// request is not lost and one arriving after completion is a no-op.
    enum Phase {
        case allocated
        case cancelledEarly
        case live
    }

    struct State {
        var submissions: [(id: UInt64, job: Job)] = []
        var cancellations: [UInt64] = []
        var phases: [UInt64: Phase] = [:]
        var nextID: UInt64 = 1
        var stopping = false
        var multi: MultiHandle?

        func wakeDriver() {
            if let multi { curl_multi_wakeup(multi.raw) }
        }
    }

    let state: Mutex<State>

    init(multi: MultiHandle) {
        state = Mutex(State(multi: multi))
    }

    /// nil once the client is shut down.
    func allocateID() -> UInt64? {
        state.withLock { state in
            guard !state.stopping else { return nil }
            let id = state.nextID
            state.nextID += 1
            state.phases[id] = .allocated
            return id
        }
    }

    func submit(id: UInt64, job: Job) {
        let rejection: HTTPClientError? = state.withLock { state in
            if state.stopping {
                state.phases[id] = nil
                return HTTPClientError(kind: .cancelled, message: "HTTP client is shut down")
            }
            if state.phases[id] == .cancelledEarly {
                state.phases[id] = nil
                return HTTPClientError(kind: .cancelled, message: "request cancelled before it started")
            }
            state.phases[id] = .live
            state.submissions.append((id, job))
            state.wakeDriver()
            return nil
        }
        if let rejection { job.fail(rejection) }
    }

    func cancel(id: UInt64) {
        state.withLock { state in
            switch state.phases[id] {
            case .allocated:
                state.phases[id] = .cancelledEarly
            case .live:
                state.cancellations.append(id)
                state.wakeDriver()
            case .cancelledEarly, nil:
                break
            }
        }
    }

    func finished(id: UInt64) {
        _ = state.withLock { $0.phases.removeValue(forKey: id) }
    }

    func stop() {
        state.withLock { state in
            state.stopping = true
            state.wakeDriver()
        }
    }
}

/// Runs libcurl's multi interface on its own thread. Owns the multi handle and every easy handle;
/// nothing here is touched from any other thread.
final class DriverLoop {
    /// Upper bound on one wait while transfers run; libcurl shortens it to its own next timeout.
    private static let maxPollMilliseconds: Int32 = 1_000
    /// Wait with nothing to do: new work and shutdown arrive through `curl_multi_wakeup`.
    private static let idlePollMilliseconds: Int32 = 30_000

    private let inbox: DriverInbox
    private let multi: UnsafeMutableRawPointer
    private var active: [UInt64: Transfer] = [:]
    private var idsByHandle: [UnsafeMutableRawPointer: UInt64] = [:]

    init(inbox: DriverInbox, multi: UnsafeMutableRawPointer) {
        self.inbox = inbox
        self.multi = multi
    }

    func run() {
        while true {
            let (submissions, cancellations, stopping) = inbox.state.withLock { state in
                defer {
                    state.submissions.removeAll()
                    state.cancellations.removeAll()
                }
                return (state.submissions, state.cancellations, state.stopping)
            }
            if stopping {
                let shutdownError = HTTPClientError(kind: .cancelled, message: "HTTP client is shut down")
                for submission in submissions { submission.job.fail(shutdownError) }
                break
            }
            for submission in submissions { start(submission.id, submission.job) }
            for id in cancellations { cancel(id) }

            var running: Int32 = 0
            _ = curl_multi_perform(multi, &running)
            collectFinished()
            let waitMilliseconds = expireOverdue()
            var readyDescriptors: Int32 = 0
            _ = curl_multi_poll(multi, nil, 0, waitMilliseconds, &readyDescriptors)
        }
        shutDown()
    }

    private func start(_ id: UInt64, _ job: Job) {
        let built: Result<Transfer, HTTPClientError>
        switch job {
        case .ping(let reply):
            inbox.finished(id: id)
            reply.resume(true)
            return
        case .http(let request, let continuation):
            built = Transfer.http(request: request, continuation: continuation)
        case .probe(let host, let port, let timeout, let continuation):
            built = Transfer.probe(host: host, port: port, timeout: timeout, continuation: continuation)
        }
        switch built {
        case .failure(let error):
            inbox.finished(id: id)
            job.fail(error)
        case .success(let transfer):
            let code = curl_multi_add_handle(multi, transfer.easy)
            guard code == CURLM_OK else {
                inbox.finished(id: id)
                transfer.fail(HTTPClientError(
                    kind: .other, message: "\(String(cString: curl_multi_strerror(code))) (\(transfer.displayURL))"))
                return
            }
            active[id] = transfer
            idsByHandle[transfer.easy] = id
        }
    }

    private func cancel(_ id: UInt64) {
        guard let transfer = active.removeValue(forKey: id) else { return }
        idsByHandle[transfer.easy] = nil
        // Removing the handle stops the transfer at once; a connection in mid-response is closed
        // rather than returned to the cache.
        _ = curl_multi_remove_handle(multi, transfer.easy)
        inbox.finished(id: id)
        transfer.fail(HTTPClientError(kind: .cancelled, message: "request cancelled (\(transfer.displayURL))"))
    }

    /// Fails transfers past their deadline and returns how long the next wait may last.
    /// Runs after `collectFinished`, so a transfer libcurl already timed out keeps libcurl's text.
    private func expireOverdue() -> Int32 {
        guard !active.isEmpty else { return Self.idlePollMilliseconds }
        let now = ContinuousClock.now
        var wait = Duration.milliseconds(Self.maxPollMilliseconds)
        for (id, transfer) in active {
            let remaining = transfer.deadline - now
            if remaining <= .zero {
                active[id] = nil
                idsByHandle[transfer.easy] = nil
                _ = curl_multi_remove_handle(multi, transfer.easy)
                inbox.finished(id: id)
                transfer.timedOut()
            } else if remaining < wait {
                wait = remaining
            }
        }
        return Int32(clamping: wait.milliseconds)
    }

    private func collectFinished() {
        var queued: Int32 = 0
        while let message = curl_multi_info_read(multi, &queued) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                let id = idsByHandle.removeValue(forKey: easy), let transfer = active.removeValue(forKey: id)
            else { continue }
            // The message is invalid once its handle is removed: read the result first.
            let code = ccurl_message_result(message)
            inbox.finished(id: id)
            transfer.complete(with: code)
            _ = curl_multi_remove_handle(multi, easy)
        }
    }

    private func shutDown() {
        let shutdownError = HTTPClientError(kind: .cancelled, message: "HTTP client is shut down")
        for transfer in active.values {
            _ = curl_multi_remove_handle(multi, transfer.easy)
            transfer.fail(shutdownError)
        }
        active.removeAll()
        idsByHandle.removeAll()
        let late = inbox.state.withLock { state in
            defer {
                state.submissions.removeAll()
                state.phases.removeAll()
                state.multi = nil
            }
            return state.submissions
        }
        for submission in late { submission.job.fail(shutdownError) }
        curl_multi_cleanup(multi)
        curl_global_cleanup()
    }
}
