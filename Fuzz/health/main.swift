import CurlHTTP
import Exposition
import SchedulerExporter

// A `?verbose` health body from the scheduler goes through parseVerbose into label values of
// kube_scheduler_health_check_status, so every name must survive being written and read back.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHealth(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let body = Array(UnsafeBufferPointer(start: data, count: size))
    let checks = HealthCheck.parseVerbose(body)
    let lines = body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true).count
    check(checks.count <= lines, "more checks (\(checks.count)) than lines (\(lines))")
    for named in checks {
        check(!named.name.isEmpty, "empty check name")
        check(!named.name.contains(" ") && !named.name.contains("\n") && !named.name.contains("\r"),
              "check name with a separator: \(named.name.debugDescription)")
    }

    // 200 and 500 bodies are both read; 403 is an API Status object and must be ignored.
    let poll = PollResult(startedAt: 0, responses: [
        .healthz: .success(HTTPResponse(status: 200, body: body)),
        .livez: .success(HTTPResponse(status: 500, body: body)),
        .readyz: .success(HTTPResponse(status: 403, body: body)),
    ])
    let families = HealthCheck().evaluate(poll, context: CheckContext()).families
    for format in [ExpositionFormat.prometheusText, .openMetrics] {
        let rendered = ExpositionWriter.render(families, format: format)
        let document: ExpositionDocument
        do {
            document = try ExpositionDocument(bytes: rendered)
        } catch {
            fail("rendered health families do not parse: \(error)")
        }
        guard let perCheck = document.family(named: "kube_scheduler_health_check_status") else {
            fail("kube_scheduler_health_check_status missing")
        }
        // Each name once per endpoint (the first report wins), at most the limit of them.
        var seen = Set<String>()
        let kept = Array(checks.filter { seen.insert($0.name).inserted }.prefix(TargetDataLimits.maxHealthChecksPerEndpoint))
        check(perCheck.samples.count == 2 * kept.count,
              "\(perCheck.samples.count) per-check samples for \(kept.count) distinct checks in two bodies")
        for (sample, named) in zip(perCheck.samples, kept + kept) {
            check(sample.label("check") == named.name, "check label \(String(describing: sample.label("check"))) != \(named.name)")
            check(sample.value == (named.ok ? 1 : 0), "wrong value for \(named.name)")
        }
    }
    return 0
}
