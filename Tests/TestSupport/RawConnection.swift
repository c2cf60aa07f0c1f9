import Foundation

/// A plain TCP connection with nothing between the test and the bytes: what a hostile or broken
/// client sends (half a request, oversized headers, a request and then a hang-up) goes out as it
/// is. Every call blocks with a bounded wait; call them through `offCooperativePool` from tests.
public final class RawConnection: @unchecked Sendable {
    // @unchecked: one test drives a connection at a time; the descriptor is closed once.
    public let descriptor: Int32
    private var closed = false

    public init(host: String = "127.0.0.1", port: Int, timeout: Double = 10) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw SetupFailure(description: "socket() failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr(host)
        var wait = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else {
            let code = errno
            Foundation.close(descriptor)
            throw SetupFailure(description: "connect to \(host):\(port) failed: errno \(code)")
        }
        self.descriptor = descriptor
    }

    /// Writes all of `bytes`; false when the peer closed or the send timed out.
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Foundation.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return false }
            offset += written
        }
        return true
    }

    @discardableResult
    public func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// What arrives until the peer closes, `limit` bytes are in, `complete` says enough, or
    /// `timeout` seconds pass; `closedByPeer` tells which.
    public func receive(timeout: Double, limit: Int = 1 << 20, until complete: ([UInt8]) -> Bool = { _ in false })
        -> (bytes: [UInt8], closedByPeer: Bool) {
        var bytes: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while bytes.count < limit, !complete(bytes) {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { return (bytes, false) }
            var pollDescriptor = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pollDescriptor, 1, Int32(min(left, 3_600) * 1000) + 1)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { continue }
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return (bytes, true) }
            bytes += chunk[0..<count]
        }
        return (bytes, false)
    }

    /// One HTTP/1.1 response with a Content-Length body: its status and text, nil when the
    /// connection closed or `timeout` passed first.
    public func receiveResponse(timeout: Double) -> (status: Int, head: String, body: String)? {
        let (bytes, _) = receive(timeout: timeout) { RawConnection.completeResponseLength($0) != nil }
        guard let length = RawConnection.completeResponseLength(bytes) else { return nil }
        let text = String(decoding: bytes[..<length], as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { return nil }
        let head = String(text[..<split.lowerBound])
        let statusText = head.split(separator: " ").dropFirst().first.map(String.init) ?? ""
        return (Int(statusText) ?? 0, head, String(text[split.upperBound...]))
    }

    /// The length of the first complete response in `bytes` (head plus Content-Length body).
    static func completeResponseLength(_ bytes: [UInt8]) -> Int? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard bytes.count >= 4, let end = (0...(bytes.count - 4)).first(where: { Array(bytes[$0..<$0 + 4]) == separator }) else { return nil }
        let head = String(decoding: bytes[..<end], as: UTF8.self).lowercased()
        let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
            .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
        let total = end + 4 + length
        return bytes.count >= total ? total : nil
    }

    /// Whether the peer has closed (reading sees end of file or a reset) within `timeout` seconds.
    public func waitForClose(timeout: Double) -> Bool {
        receive(timeout: timeout, limit: .max).closedByPeer
    }

    /// Close with a reset instead of a FIN: a flood of short connections then leaves no
    /// TIME_WAIT behind to exhaust the loopback's ports.
    public func resetOnClose() {
        var linger = Foundation.linger(l_onoff: 1, l_linger: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Foundation.linger>.size))
    }

    public func close() {
        guard !closed else { return }
        closed = true
        Foundation.close(descriptor)
    }

    deinit { close() }
}
