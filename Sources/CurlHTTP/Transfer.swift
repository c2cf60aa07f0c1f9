internal import CCurl
#if canImport(Glibc)
import Glibc
#endif

/// One easy handle and everything its callbacks write into. Touched only on the driver thread:
/// libcurl calls the callbacks from `curl_multi_perform`, which only the driver thread calls.
final class Transfer {
    enum Completion {
        case http(CheckedContinuation<Result<HTTPResponse, HTTPClientError>, Never>)
        case probe(CheckedContinuation<TCPProbeResult, Never>)
    }

    /// Guards against a server that streams headers forever; libcurl 7.88 bounds only single lines.
    static let maxHeaderBytes = 256 << 10

    let easy: UnsafeMutableRawPointer
    let completion: Completion
    /// The URL as shown in error messages: user info removed.
    let displayURL: String
    private let tokenForRedaction: String?
    private let maxBodyBytes: Int
    /// libcurl 7.88 does not time out a transfer queued for a free connection
    /// (CURLMOPT_MAX_HOST_CONNECTIONS), so the driver enforces the whole-transfer limit itself.
    let deadline: ContinuousClock.Instant
    private let timeout: Duration
    private var requestHeaders: UnsafeMutablePointer<curl_slist>?
    private var connectTo: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer: UnsafeMutablePointer<CChar>

    private var body: [UInt8] = []
    private var bodyTooLarge = false
    private var headers: [(name: String, value: String)] = []
    private var headerBytes = 0
    private var headersTooLarge = false
    private var tlsVersion: String?
    private var tlsVersionRead = false

    private init(
        easy: UnsafeMutableRawPointer, completion: Completion, displayURL: String,
        tokenForRedaction: String?, maxBodyBytes: Int, timeout: Duration
    ) {
        self.timeout = timeout
        deadline = .now + timeout
        self.easy = easy
        self.completion = completion
        self.displayURL = displayURL
        self.tokenForRedaction = tokenForRedaction
        self.maxBodyBytes = maxBodyBytes
        errorBuffer = .allocate(capacity: Int(CCURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CCURL_ERROR_SIZE))
    }

    deinit {
        // The driver removes the handle from the multi handle before the last reference goes.
        curl_easy_cleanup(easy)
        curl_slist_free_all(requestHeaders)
        curl_slist_free_all(connectTo)
        errorBuffer.deallocate()
    }

    // MARK: - Building

    static func http(
        request: HTTPRequest,
        continuation: CheckedContinuation<Result<HTTPResponse, HTTPClientError>, Never>
    ) -> Result<Transfer, HTTPClientError> {
        let target: TargetURL
        switch TargetURL.parse(request.url, serverName: request.tls.serverName) {
        case .success(let parsed): target = parsed
        case .failure(let error):
            // Only a caller's mistake puts the token into the URL, but the message must not show it.
            return .failure(HTTPClientError(
                kind: error.kind, message: error.message.redacting(request.bearerToken?.value)))
        }
        let token = request.bearerToken?.value
        let displayURL = target.display.redacting(token)
        // A line break would let the value inject further headers (or split the request).
        if let token, token.contains(where: \.isNewline) || token.contains("\0") {
            return .failure(HTTPClientError(kind: .other, message: "bearer token contains a line break (\(displayURL))"))
        }
        for header in request.headers
        where (header.name + header.value).contains(where: \.isNewline) || header.name.contains(":") || header.name.isEmpty {
            return .failure(HTTPClientError(
                kind: .other, message: "invalid request header '\(header.name)' (\(displayURL))".redacting(token)))
        }
        guard let easy = curl_easy_init() else {
            return .failure(HTTPClientError(kind: .other, message: "curl_easy_init failed (\(displayURL))"))
        }
        let transfer = Transfer(
            easy: easy, completion: .http(continuation), displayURL: displayURL,
            tokenForRedaction: request.bearerToken?.value, maxBodyBytes: max(0, request.maxBodyBytes),
            timeout: request.timeout)
        if let failure = transfer.configureHTTP(request, target: target) {
            return .failure(failure)
        }
        return .success(transfer)
    }

    static func probe(
        host: String, port: Int, timeout: Duration,
        continuation: CheckedContinuation<TCPProbeResult, Never>
    ) -> Result<Transfer, HTTPClientError> {
        guard (1...65_535).contains(port), !host.isEmpty else {
            return .failure(HTTPClientError(kind: .badURL, message: "invalid host or port"))
        }
        let bracketedHost = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        let url = "http://\(bracketedHost):\(port)/"
        guard let easy = curl_easy_init() else {
            return .failure(HTTPClientError(kind: .other, message: "curl_easy_init failed"))
        }
        let transfer = Transfer(
            easy: easy, completion: .probe(continuation), displayURL: url, tokenForRedaction: nil,
            maxBodyBytes: 0, timeout: timeout)
        let milliseconds = max(1, timeout.milliseconds)
        var failed = false
        func set(_ code: CURLcode) { if code != CURLE_OK { failed = true } }
        set(ccurl_easy_setopt_string(easy, CURLOPT_URL, url))
        set(ccurl_easy_setopt_long(easy, CURLOPT_CONNECT_ONLY, 1))
        set(ccurl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1))
        // A probe must measure the socket now, never a cached connection.
        set(ccurl_easy_setopt_long(easy, CURLOPT_FRESH_CONNECT, 1))
        set(ccurl_easy_setopt_long(easy, CURLOPT_FORBID_REUSE, 1))
        set(ccurl_easy_setopt_string(easy, CURLOPT_PROXY, ""))
        set(ccurl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, milliseconds))
        set(ccurl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, milliseconds))
        set(ccurl_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, transfer.errorBuffer))
        if failed { return .failure(HTTPClientError(kind: .other, message: "could not configure the probe of \(url)")) }
        return .success(transfer)
    }

    private func configureHTTP(_ request: HTTPRequest, target: TargetURL) -> HTTPClientError? {
        var failedOption: String?
        func set(_ code: CURLcode, _ what: String) {
            if code != CURLE_OK, failedOption == nil { failedOption = what }
        }
        let context = Unmanaged.passUnretained(self).toOpaque()
        set(ccurl_easy_setopt_string(easy, CURLOPT_URL, target.url), "url")
        set(ccurl_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https"), "protocols")
        set(ccurl_easy_setopt_string(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"), "redirect protocols")
        // A 3xx is the caller's information (and must never carry the token to another host).
        set(ccurl_easy_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0), "followlocation")
        set(ccurl_easy_setopt_long(easy, CURLOPT_UNRESTRICTED_AUTH, 0), "unrestricted auth")
        // Signals are process-wide; the driver thread must not install handlers or get SIGALRM.
        set(ccurl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1), "nosignal")
        // Environment proxies would silently reroute scheduler traffic; there is no proxy option.
        set(ccurl_easy_setopt_string(easy, CURLOPT_PROXY, ""), "proxy")
        set(ccurl_easy_setopt_long(easy, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS)), "http version")
        // A cycle's ~15 concurrent requests wait for the first connection to a host to say
        // whether it multiplexes (HTTP/2) instead of opening one connection each: every idle
        // TLS connection costs ~150 KiB, which dominated the exporter's memory at 100 targets.
        set(ccurl_easy_setopt_long(easy, CURLOPT_PIPEWAIT, 1), "pipewait")
        set(ccurl_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1), "tcp keepalive")
        set(ccurl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, max(1, request.connectTimeout.milliseconds)), "connect timeout")
        set(ccurl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, max(1, request.timeout.milliseconds)), "timeout")
        set(ccurl_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer), "error buffer")

        if request.acceptCompressed {
            // "" = every encoding this libcurl decodes; the write callback then sees decoded bytes.
            set(ccurl_easy_setopt_string(easy, CURLOPT_ACCEPT_ENCODING, ""), "accept encoding")
        } else {
            // Lets libcurl refuse a too large body from Content-Length before reading any of it.
            // Not with compression: Content-Length then counts encoded bytes.
            set(ccurl_easy_setopt_off_t(easy, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(maxBodyBytes)), "max file size")
        }

        let tls = request.tls
        set(ccurl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, tls.insecureSkipVerify ? 0 : 1), "verify peer")
        set(ccurl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, tls.insecureSkipVerify ? 0 : 2), "verify host")
        set(ccurl_easy_release_idle_tls_buffers(easy), "release idle TLS buffers")
        if let caData = tls.caData {
            // Copied by libcurl during the call (CURL_BLOB_COPY), so the bytes need not outlive it.
            var bytes = caData
            let code = bytes.withUnsafeMutableBytes { buffer -> CURLcode in
                var blob = curl_blob(data: buffer.baseAddress, len: buffer.count, flags: UInt32(CURL_BLOB_COPY))
                return ccurl_easy_setopt_pointer(easy, CURLOPT_CAINFO_BLOB, &blob)
            }
            set(code, "ca data")
        } else if let caFile = tls.caFile {
            set(ccurl_easy_setopt_string(easy, CURLOPT_CAINFO, caFile), "ca file")
        }
        if let certFile = tls.certFile {
            set(ccurl_easy_setopt_string(easy, CURLOPT_SSLCERT, certFile), "client cert")
            set(ccurl_easy_setopt_string(easy, CURLOPT_SSLCERTTYPE, "PEM"), "client cert type")
        }
        if let keyFile = tls.keyFile {
            set(ccurl_easy_setopt_string(easy, CURLOPT_SSLKEY, keyFile), "client key")
            set(ccurl_easy_setopt_string(easy, CURLOPT_SSLKEYTYPE, "PEM"), "client key type")
        }
        if request.captureCertificates { set(ccurl_easy_setopt_long(easy, CURLOPT_CERTINFO, 1), "certinfo") }
        if request.freshConnection {
            set(ccurl_easy_setopt_long(easy, CURLOPT_FRESH_CONNECT, 1), "fresh connect")
            set(ccurl_easy_setopt_long(easy, CURLOPT_FORBID_REUSE, 1), "forbid reuse")
        } else if request.reconnect {
            set(ccurl_easy_setopt_long(easy, CURLOPT_FRESH_CONNECT, 1), "fresh connect")
        }
        if tls.legacyOnly {
            set(ccurl_easy_setopt_long(easy, CURLOPT_SSLVERSION, CCURL_SSLVERSION_LEGACY_ONLY), "ssl version")
            // OpenSSL 3 refuses TLS < 1.2 (SHA-1/MD5 handshake signatures) above security level 0.
            set(ccurl_easy_setopt_string(easy, CURLOPT_SSL_CIPHER_LIST, "DEFAULT:@SECLEVEL=0"), "cipher list")
            // Go's HTTP/2 server drops a connection below TLS 1.2 (INADEQUATE_SECURITY) after a
            // handshake that did succeed; HTTP/1.1 lets the answer show that it succeeded.
            set(ccurl_easy_setopt_long(easy, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1)), "http version")
        } else if tls.allowLegacyVersions {
            set(ccurl_easy_setopt_long(easy, CURLOPT_SSLVERSION, Int(CURL_SSLVERSION_TLSv1_0)), "ssl version")
            set(ccurl_easy_setopt_string(easy, CURLOPT_SSL_CIPHER_LIST, "DEFAULT:@SECLEVEL=0"), "cipher list")
        }
        if let connectToEntry = target.connectTo {
            connectTo = curl_slist_append(nil, connectToEntry)
            set(ccurl_easy_setopt_slist(easy, CURLOPT_CONNECT_TO, connectTo), "connect to")
        }

        var headerList: UnsafeMutablePointer<curl_slist>?
        if request.method == .post {
            set(ccurl_easy_setopt_long(easy, CURLOPT_POST, 1), "post")
            set(ccurl_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count)), "post size")
            // Copied by libcurl (set after the size, so NUL bytes are data too).
            if request.body.isEmpty {
                set(ccurl_easy_setopt_string(easy, CURLOPT_COPYPOSTFIELDS, ""), "post body")
            } else {
                var body = request.body
                set(body.withUnsafeMutableBytes { ccurl_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, $0.baseAddress) }, "post body")
            }
            // No "Expect: 100-continue" round trip before a small body.
            headerList = curl_slist_append(headerList, "Expect:")
        }
        for header in request.headers {
            // "Name;" is curl's spelling of a header with an empty value ("Name:" would remove it).
            let line = header.value.isEmpty ? "\(header.name);" : "\(header.name): \(header.value)"
            headerList = curl_slist_append(headerList, line)
        }
        if let token = request.bearerToken?.value {
            // Set explicitly (not CURLAUTH_BEARER) so it goes with exactly this one request;
            // with redirects off nothing else ever sees it.
            headerList = curl_slist_append(headerList, "Authorization: Bearer \(token)")
        }
        requestHeaders = headerList
        if let headerList { set(ccurl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, headerList), "headers") }

        set(ccurl_easy_setopt_write_function(easy, CURLOPT_HEADERFUNCTION) { data, size, count, context in
            Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue().receiveHeader(data, size * count)
        }, "header function")
        set(ccurl_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, context), "header data")
        set(ccurl_easy_setopt_write_function(easy, CURLOPT_WRITEFUNCTION) { data, size, count, context in
            Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue().receiveBody(data, size * count)
        }, "write function")
        set(ccurl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, context), "write data")

        if let failedOption {
            return HTTPClientError(kind: .other, message: "libcurl rejected option \(failedOption) (\(displayURL))")
        }
        return nil
    }

    // MARK: - Callbacks

    private func receiveHeader(_ data: UnsafeMutablePointer<CChar>?, _ length: Int) -> Int {
        if !tlsVersionRead {
            // The SSL* is only reachable while the transfer runs; the first header line is the
            // earliest point where the handshake is surely done.
            tlsVersionRead = true
            if let version = ccurl_tls_version(easy) { tlsVersion = String(cString: version) }
        }
        headerBytes += length
        if headerBytes > Self.maxHeaderBytes {
            headersTooLarge = true
            return 0
        }
        guard let data, length > 0 else { return length }
        let bytes = UnsafeRawBufferPointer(start: data, count: length)
        var line = Substring(String(decoding: bytes, as: UTF8.self))
        while let last = line.last, last == "\r" || last == "\n" || last == "\r\n" { line = line.dropLast() }
        if line.hasPrefix("HTTP/") {
            // A new status line (after 1xx) starts a new header block.
            headers.removeAll(keepingCapacity: true)
            return length
        }
        guard let colon = line.firstIndex(of: ":") else { return length }
        let name = line[..<colon].lowercased()
        let value = line[line.index(after: colon)...].trimmingSpaces()
        headers.append((name: name, value: value))
        return length
    }

    private func receiveBody(_ data: UnsafeMutablePointer<CChar>?, _ length: Int) -> Int {
        guard let data, length > 0 else { return length }
        if body.count + length > maxBodyBytes {
            // Returning less than `length` makes libcurl abort with CURLE_WRITE_ERROR.
            bodyTooLarge = true
            return 0
        }
        if body.isEmpty {
            // One allocation for the usual (Content-Length) case instead of repeated doubling.
            // With compression this is the encoded size, an underestimate that is still a start.
            let announced = offInfo(CURLINFO_CONTENT_LENGTH_DOWNLOAD_T)
            if announced > 0 { body.reserveCapacity(Int(min(announced, Int64(maxBodyBytes)))) }
        }
        body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length))
        return length
    }

    // MARK: - Results

    func complete(with code: CURLcode) {
        switch completion {
        case .http(let continuation):
            continuation.resume(returning: httpResult(code))
        case .probe(let continuation):
            continuation.resume(returning: probeResult(code))
        }
    }

    /// Called by the driver when `deadline` passed before libcurl finished the transfer.
    func timedOut() {
        let text = "Operation timed out after \(timeout.milliseconds) milliseconds (\(displayURL))"
        switch completion {
        case .http(let continuation):
            continuation.resume(returning: .failure(HTTPClientError(kind: .timeout, message: text)))
        case .probe(let continuation):
            continuation.resume(returning: .timeout)
        }
    }

    func fail(_ error: HTTPClientError) {
        switch completion {
        case .http(let continuation): continuation.resume(returning: .failure(error))
        case .probe(let continuation): continuation.resume(returning: .error(error.message))
        }
    }

    private func httpResult(_ code: CURLcode) -> Result<HTTPResponse, HTTPClientError> {
        guard code == CURLE_OK else { return .failure(httpError(code)) }
        let body = self.body
        self.body = []
        return .success(HTTPResponse(
            status: longInfo(CURLINFO_RESPONSE_CODE),
            headers: headers,
            body: body,
            httpVersion: httpVersion(),
            tlsVersion: tlsVersion,
            certificates: certificates(),
            newConnection: longInfo(CURLINFO_NUM_CONNECTS) > 0,
            duration: .microseconds(offInfo(CURLINFO_TOTAL_TIME_T)),
            primaryIP: stringInfo(CURLINFO_PRIMARY_IP)))
    }

    private func httpError(_ code: CURLcode) -> HTTPClientError {
        let kind: HTTPClientError.Kind
        let text: String
        if bodyTooLarge || code == CURLE_FILESIZE_EXCEEDED {
            (kind, text) = (.bodyTooLarge, "response body exceeds \(maxBodyBytes) bytes")
        } else if headersTooLarge {
            (kind, text) = (.protocolError, "response headers exceed \(Self.maxHeaderBytes) bytes")
        } else {
            kind = CurlErrorClassifier.kind(
                of: code, osErrno: longInfo(CURLINFO_OS_ERRNO), connected: offInfo(CURLINFO_CONNECT_TIME_T) > 0,
                receivedResponse: longInfo(CURLINFO_RESPONSE_CODE) > 0,
                usedTLS: displayURL.lowercased().hasPrefix("https:"))
            text = errorText(code)
        }
        var error = HTTPClientError(kind: kind, message: "\(text) (\(displayURL))".redacting(tokenForRedaction))
        error.reusedConnectionDied = Self.connectionLevelFailures.contains(code.rawValue)
            && longInfo(CURLINFO_NUM_CONNECTS) == 0 && headers.isEmpty && body.isEmpty && !bodyTooLarge
        return error
    }

    /// Failures of the connection itself rather than of the request (libcurl retries only some of
    /// these itself, and none on HTTP/2). An HTTP/2 stream cut by a dead connection reads as
    /// CURLE_HTTP2_STREAM or, depending on timing, CURLE_PARTIAL_FILE ("not closed cleanly").
    private static let connectionLevelFailures = Set([
        CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_PARTIAL_FILE,
    ].map(\.rawValue))

    private func probeResult(_ code: CURLcode) -> TCPProbeResult {
        if code == CURLE_OK { return .open }
        let osErrno = longInfo(CURLINFO_OS_ERRNO)
        if code == CURLE_OPERATION_TIMEDOUT || osErrno == Int(ETIMEDOUT) { return .timeout }
        if code == CURLE_COULDNT_CONNECT && osErrno == Int(ECONNREFUSED) { return .refused }
        return .error(errorText(code))
    }

    /// libcurl's detailed text when it wrote one, its generic text otherwise.
    private func errorText(_ code: CURLcode) -> String {
        var text = String(cString: errorBuffer)
        if text.isEmpty { text = String(cString: curl_easy_strerror(code)) }
        while let last = text.last, last.isNewline { text.removeLast() }
        return text
    }

    private func httpVersion() -> HTTPVersion {
        switch longInfo(CURLINFO_HTTP_VERSION) {
        case Int(CURL_HTTP_VERSION_1_0): .http1_0
        case Int(CURL_HTTP_VERSION_1_1): .http1_1
        case Int(CURL_HTTP_VERSION_2_0): .http2
        case Int(CURL_HTTP_VERSION_3): .http3
        default: .unknown
        }
    }

    private func certificates() -> [CertificateInfo] {
        guard let info = ccurl_easy_certinfo(easy), info.pointee.num_of_certs > 0,
            let lists = info.pointee.certinfo
        else { return [] }
        var chain: [CertificateInfo] = []
        for index in 0..<Int(info.pointee.num_of_certs) {
            var fields: [Substring: Substring] = [:]
            var node = lists[index]
            while let entry = node {
                if let data = entry.pointee.data {
                    let text = String(cString: data)
                    if let colon = text.firstIndex(of: ":") {
                        fields[text[..<colon]] = text[text.index(after: colon)...]
                    }
                }
                node = entry.pointee.next
            }
            chain.append(CertificateInfo(
                subject: fields["Subject"].map(String.init) ?? "",
                issuer: fields["Issuer"].map(String.init) ?? "",
                notBefore: fields["Start date"].flatMap { CertificateDates.unixSeconds(fromOpenSSLTime: String($0)) },
                notAfter: fields["Expire date"].flatMap { CertificateDates.unixSeconds(fromOpenSSLTime: String($0)) }))
        }
        return chain
    }

    private func longInfo(_ info: CURLINFO) -> Int {
        var value = 0
        return ccurl_easy_getinfo_long(easy, info, &value) == CURLE_OK ? value : 0
    }

    private func offInfo(_ info: CURLINFO) -> Int64 {
        var value: curl_off_t = 0
        return ccurl_easy_getinfo_off_t(easy, info, &value) == CURLE_OK ? Int64(value) : 0
    }

    private func stringInfo(_ info: CURLINFO) -> String? {
        var value: UnsafePointer<CChar>?
        guard ccurl_easy_getinfo_string(easy, info, &value) == CURLE_OK, let value else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }
}

extension Duration {
    /// Whole milliseconds, rounded up so a sub-millisecond limit never becomes "no limit" (0).
    var milliseconds: Int {
        let (seconds, attoseconds) = components
        let fromAttoseconds = (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int(clamping: seconds) &* 1_000 &+ Int(fromAttoseconds)
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}
