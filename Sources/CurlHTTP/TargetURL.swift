internal import CCurl

/// A request URL checked and, for `TLSOptions.serverName`, rewritten with libcurl's own URL parser,
/// so what is checked is exactly what libcurl will use.
struct TargetURL {
    /// What libcurl is given as CURLOPT_URL.
    var url: String
    /// For error messages: user info removed.
    var display: String
    /// CURLOPT_CONNECT_TO entry when a server name override is in effect.
    var connectTo: String?

    static func parse(_ text: String, serverName: String?) -> Result<TargetURL, HTTPClientError> {
        guard let handle = curl_url() else {
            return .failure(HTTPClientError(kind: .other, message: "curl_url failed"))
        }
        defer { curl_url_cleanup(handle) }
        let parseCode = curl_url_set(handle, CURLUPART_URL, text, 0)
        guard parseCode == CURLUE_OK else {
            return .failure(HTTPClientError(
                kind: .badURL, message: "\(String(cString: curl_url_strerror(parseCode))) (\(redactedForError(text)))"))
        }
        let display = displayForm(of: handle)
        let scheme = part(handle, CURLUPART_SCHEME)?.lowercased()
        guard scheme == "http" || scheme == "https" else {
            return .failure(HTTPClientError(kind: .badURL, message: "only http and https URLs are supported (\(display))"))
        }
        guard let host = part(handle, CURLUPART_HOST), !host.isEmpty,
            let port = part(handle, CURLUPART_PORT, flags: CCURLU_DEFAULT_PORT)
        else {
            return .failure(HTTPClientError(kind: .badURL, message: "URL has no host (\(display))"))
        }
        guard let serverName, !serverName.isEmpty else {
            return .success(TargetURL(url: part(handle, CURLUPART_URL) ?? text, display: display, connectTo: nil))
        }
        guard !serverName.contains(where: { $0 == ":" || $0 == "/" || $0.isWhitespace }) else {
            return .failure(HTTPClientError(kind: .badURL, message: "invalid TLS server name '\(serverName)' (\(display))"))
        }
        // The URL names serverName (so SNI and certificate name checks use it) while CONNECT_TO
        // sends the connection to the original host and port.
        guard curl_url_set(handle, CURLUPART_HOST, serverName, 0) == CURLUE_OK,
            let rewritten = part(handle, CURLUPART_URL)
        else {
            return .failure(HTTPClientError(kind: .badURL, message: "invalid TLS server name '\(serverName)' (\(display))"))
        }
        return .success(TargetURL(url: rewritten, display: display, connectTo: "\(serverName):\(port):\(host):\(port)"))
    }

    /// The URL without user info, for messages; the request itself keeps what the caller wrote.
    private static func displayForm(of handle: OpaquePointer) -> String {
        guard let copy = curl_url_dup(handle) else { return "<url>" }
        defer { curl_url_cleanup(copy) }
        _ = curl_url_set(copy, CURLUPART_USER, nil, 0)
        _ = curl_url_set(copy, CURLUPART_PASSWORD, nil, 0)
        return part(copy, CURLUPART_URL) ?? "<url>"
    }

    private static func part(_ handle: OpaquePointer, _ which: CURLUPart, flags: UInt32 = 0) -> String? {
        var value: UnsafeMutablePointer<CChar>?
        guard curl_url_get(handle, which, &value, flags) == CURLUE_OK, let value else { return nil }
        defer { curl_free(value) }
        return String(cString: value)
    }

    /// An unparsable URL is cut at '@' so user info in it does not reach the message.
    private static func redactedForError(_ text: String) -> String {
        guard let at = text.lastIndex(of: "@"), let schemeEnd = text.firstRange(of: "://") else { return text }
        return String(text[..<schemeEnd.upperBound]) + "<redacted>" + String(text[at...])
    }
}
