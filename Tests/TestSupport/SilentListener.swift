import Foundation

/// A loopback port that listens but never accepts: the kernel completes TCP handshakes into the
/// backlog and nothing ever answers, so a TLS handshake or HTTP request to it hangs until the
/// client gives up. What a probe of a black-holed scheduler looks like.
public final class SilentListener: Sendable {
    public let host: String
    public let port: Int
    private let descriptor: Int32

    public init(host: String = "127.0.0.1", backlog: Int32 = 64) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw SetupFailure(description: "socket() failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr(host)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && listen(descriptor, backlog) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard bound else {
            close(descriptor)
            throw SetupFailure(description: "cannot listen on \(host): errno \(errno)")
        }
        self.host = host
        self.descriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(descriptor) }
}
