internal import CCurl
#if canImport(Glibc)
import Glibc
#endif

/// Maps a failed transfer to the exporter's error reasons.
enum CurlErrorClassifier {
    static func kind(
        of code: CURLcode, osErrno: Int, connected: Bool, receivedResponse: Bool, usedTLS: Bool
    ) -> HTTPClientError.Kind {
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST:
            return .dns
        case CURLE_COULDNT_CONNECT:
            switch Int32(truncatingIfNeeded: osErrno) {
            case ECONNREFUSED: return .connectRefused
            case ETIMEDOUT: return .connectTimeout
            default: return .other
            }
        case CURLE_OPERATION_TIMEDOUT:
            // libcurl reports both limits with one code; a missing TCP connect time tells them apart.
            return connected ? .timeout : .connectTimeout
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR,
            CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CRL_BADFILE:
            return .tlsVerify
        case CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER, CURLE_SSL_ENGINE_NOTFOUND,
            CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_ENGINE_INITFAILED, CURLE_USE_SSL_FAILED:
            return .tlsHandshake
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR:
            // With TLS 1.3 the server checks the client certificate after the client already
            // finished its handshake, so a rejected or missing client certificate surfaces as a
            // failed first read, before any response.
            return usedTLS && !receivedResponse ? .tlsHandshake : .other
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL:
            return .badURL
        case CURLE_FILESIZE_EXCEEDED:
            return .bodyTooLarge
        case CURLE_WEIRD_SERVER_REPLY, CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE,
            CURLE_BAD_CONTENT_ENCODING, CURLE_HTTP3, CURLE_RANGE_ERROR:
            return .protocolError
        case CURLE_ABORTED_BY_CALLBACK:
            return .cancelled
        default:
            return .other
        }
    }
}
