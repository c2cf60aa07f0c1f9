import Exposition

// The fuzz build compiles the real parser files of SchedulerExporter without the rest of the
// module (NIO, Logging, the poller). HealthCheck.swift conforms to `Check` and names these
// types in its signatures, so minimal stand-ins let it compile unchanged; none of them is
// read by parseVerbose or by evaluate's family building.
public protocol Check: Sendable {
    func requests(for target: TargetConfig) -> [ProbeRequest]
    func evaluate(_ poll: PollResult, context: CheckContext) -> CheckOutput
}

public struct TargetConfig: Sendable {
    public init() {}
}

public struct CheckContext: Sendable {
    public init() {}
}

public struct CheckOutput: Sendable {
    public var families: [OutputFamily]
    public var dropped: DroppedTargetData

    public init(families: [OutputFamily] = [], dropped: DroppedTargetData = DroppedTargetData()) {
        self.families = families
        self.dropped = dropped
    }
}
