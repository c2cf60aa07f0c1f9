import Exposition
import NIOCore

/// The immutable outcome of a target's latest poll, as the server reads it: our families already
/// labelled with the target, and the scheduler's own selected families for passthrough.
public struct TargetSnapshot: Sendable {
    public var target: String
    public var polledAt: Double
    public var families: [OutputFamily]
    public var passthroughBody: ByteBuffer?
    /// The scheduler's `/metrics/resources`, verbatim, when `--passthrough.resources` asked for it.
    public var resourcesBody: ByteBuffer?

    public init(target: String, polledAt: Double, families: [OutputFamily], passthroughBody: ByteBuffer? = nil,
                resourcesBody: ByteBuffer? = nil) {
        self.target = target
        self.polledAt = polledAt
        self.families = families
        self.passthroughBody = passthroughBody
        self.resourcesBody = resourcesBody
    }
}
