import FoundationEssentials

/// The facts the checks read from `/configz` (the scheduler's effective KubeSchedulerConfiguration).
public struct Configz: Sendable, Equatable {
    public var enableProfiling: Bool?
    public var enableContentionProfiling: Bool?
    public var kubeconfig: String?

    public init(enableProfiling: Bool? = nil, enableContentionProfiling: Bool? = nil, kubeconfig: String? = nil) {
        self.enableProfiling = enableProfiling
        self.enableContentionProfiling = enableContentionProfiling
        self.kubeconfig = kubeconfig
    }

    public init(json: [UInt8]) throws {
        let document = try JSONDecoder().decode(Document.self, from: Data(json))
        let config = document.componentconfig
        self.init(enableProfiling: config.EnableProfiling, enableContentionProfiling: config.EnableContentionProfiling,
                  kubeconfig: config.ClientConnection?.Kubeconfig)
    }

    private struct Document: Decodable {
        var componentconfig: ComponentConfig
    }

    // Field names as the scheduler's internal config type marshals them (no JSON tags).
    private struct ComponentConfig: Decodable {
        var EnableProfiling: Bool?
        var EnableContentionProfiling: Bool?
        var ClientConnection: ClientConnection?
    }

    private struct ClientConnection: Decodable {
        var Kubeconfig: String?
    }
}
