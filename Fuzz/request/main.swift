import Exposition
import SchedulerExporter

// A request head as a client writes it, through the exporter's request path: the head limits
// (414/431), the request target's split and percent-decoding, the headers the routes read
// (Accept, Accept-Encoding, Authorization, X-Prometheus-Scrape-Timeout-Seconds) and the route
// decision with a probe policy. NIO's parser sits in front of this in the server and hands it
// method, target and header strings; the input is split the same way here, so the harness sees a
// superset of what NIO can deliver (any bytes, any lengths).

let policy = ProbePolicy(
    allowedTargets: ["127.0.0.0/8", "::1/128", "10.0.0.0/8"].compactMap { try? CIDR(parsing: $0) },
    allowedPorts: [10259, 10251], maxTimeout: .seconds(10))
let limits = ServerLimits()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
    guard let requestLine = lines.first else { return 0 }
    let parts = requestLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
    let method = String(parts[0])
    let uri = parts.count > 1 ? String(parts[1]) : ""
    var headers: [(name: String, value: String)] = []
    for line in lines.dropFirst() {
        if line.isEmpty { break }
        guard let colon = line.firstIndex(of: ":") else { continue }
        headers.append((String(line[..<colon]), String(String(line[line.index(after: colon)...]).trimmingBlanksForFuzz())))
    }
    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    // The head limits: what passes is within them.
    if limits.check(uri: uri, headers: headers) == nil {
        check(uri.utf8.count <= limits.maxURIBytes, "a \(uri.utf8.count)-byte target passed")
        check(headers.count <= limits.maxHeaderFields, "\(headers.count) headers passed")
    }

    // The target: decoding never grows a component, and percent-encoding anything decodes back.
    let (path, query) = RequestTarget.parse(uri)
    let pathPart = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    check(path.utf8.count <= pathPart.utf8.count, "decoded path longer than the raw one")
    for item in query { check(!item.name.contains("&") || uri.contains("%26"), "a query name holds an undecoded separator") }
    var encoded = "/p?v="
    for byte in text.utf8 { encoded += "%" + String(byte, radix: 16, uppercase: byte & 1 == 0).leftPadded(2) }
    let roundTrip = RequestTarget.parse(encoded)
    check(roundTrip.path == "/p" && roundTrip.query.count == 1 && roundTrip.query[0].value == text,
          "percent-encoded input did not decode back")

    // The route: deterministic, and a probe only inside the policy with a sane budget.
    let route = Route.decide(method: method, uri: uri, header: header, probe: policy)
    check(route == Route.decide(method: method, uri: uri, header: header, probe: policy), "route not deterministic")
    if case .probe(let host, let port, let timeout) = route {
        check(policy.allowedPorts?.contains(port) ?? true, "probe of port \(port) outside the policy")
        check((try? policy.resolve("\(host.contains(":") ? "[\(host)]" : host):\(port)"))?.host == host, "probe of \(host) outside the policy")
        check(timeout > .zero && timeout <= policy.maxTimeout, "probe budget \(timeout)")
    }
    if method != "GET" && method != "HEAD" { check(route == .methodNotAllowed, "\(method) routed") }
    if case .probe = Route.decide(method: method, uri: uri, header: header, probe: nil) { fail("probe routed while off") }

    // Every header value as a timeout: a budget is finite, positive and within the maximum.
    for item in headers {
        if case .success(let budget) = ProbeTimeout.budget(header: item.value, maximum: policy.maxTimeout) {
            check(budget > .zero && budget <= policy.maxTimeout, "budget \(budget) from \(item.value.debugDescription)")
        }
        if let credentials = BasicCredentials(header: item.value) {
            check(!credentials.user.contains(UInt8(ascii: ":")), "a user name with a colon")
        }
        _ = Route.acceptsGzip(item.value)
        _ = ExpositionFormat.negotiate(accept: item.value)
    }
    return 0
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }

    func trimmingBlanksForFuzz() -> Substring {
        var result = self[...]
        while let first = result.first, first == " " || first == "\t" { result = result.dropFirst() }
        while let last = result.last, last == " " || last == "\t" { result = result.dropLast() }
        return result
    }
}
