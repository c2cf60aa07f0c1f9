import Foundation
import NIOCore
import NIOPosix
import Synchronization

public enum SimulatorError: Error, CustomStringConvertible {
    case alreadyStarted
    case notStarted

    public var description: String {
        switch self {
        case .alreadyStarted: return "scheduler-simulator: already started"
        case .notStarted: return "scheduler-simulator: not started"
        }
    }
}

/// Stands in for a kube-scheduler v1.35.4: serves the captured behaviour of one variant over HTTPS
/// (HTTP/2 or HTTP/1.1 by ALPN), and optionally a legacy plain-HTTP port.
public final class SchedulerSimulator: Sendable {
    public let configuration: SimulatorConfiguration

    private struct Running: Sendable {
        var engine: SimulatorEngine
        var group: MultiThreadedEventLoopGroup
        var channels: [Channel]
        var listeners: [SimulatorListener]
        var material: ServingMaterial
        var loadTask: Task<Void, Never>?
    }

    private let running = Mutex<Running?>(nil)
    /// The engine of the latest run, kept after stop() so its recorded requests stay readable.
    private let latestEngine = Mutex<SimulatorEngine?>(nil)

    public init(configuration: SimulatorConfiguration) {
        self.configuration = configuration
    }

    /// Binds every listener and returns them in order: secure ones (one per bind address), then insecure ones.
    @discardableResult
    public func start() async throws -> [SimulatorListener] {
        if running.withLock({ $0 != nil }) { throw SimulatorError.alreadyStarted }
        let engine = try SimulatorEngine(configuration: configuration)
        let material = try await ServingMaterial.prepare(configuration)
        let tls = try SimulatorServer.makeTLSContext(
            material: material, minimumVersion: configuration.tlsMinimumVersion, maximumVersion: configuration.tlsMaximumVersion)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var channels: [Channel] = []
        var listeners: [SimulatorListener] = []
        do {
            for host in engine.settings.bindAddresses {
                let channel = try await SimulatorServer.bindSecure(
                    group: group, host: host, port: configuration.securePort, tls: tls, engine: engine)
                channels.append(channel)
                listeners.append(SimulatorListener(host: host, port: channel.localAddress?.port ?? 0, secure: true))
            }
            if let insecurePort = configuration.insecurePort {
                for host in engine.settings.bindAddresses {
                    let channel = try await SimulatorServer.bindInsecure(
                        group: group, host: host, port: insecurePort, engine: engine)
                    channels.append(channel)
                    listeners.append(SimulatorListener(host: host, port: channel.localAddress?.port ?? 0, secure: false))
                }
            }
        } catch {
            for channel in channels { try? await channel.close() }
            try? await group.shutdownGracefully()
            engine.closeLog()
            if let temporary = material.temporaryDirectory { try? FileManager.default.removeItem(atPath: temporary) }
            throw error
        }

        var loadTask: Task<Void, Never>?
        if configuration.load, let interval = configuration.loadInterval, interval > .zero {
            loadTask = Task.detached {
                while !Task.isCancelled {
                    do { try await Task.sleep(for: interval) } catch { return }
                    engine.advanceLoad(ticks: 1)
                }
            }
        }
        let state = Running(
            engine: engine, group: group, channels: channels, listeners: listeners, material: material,
            loadTask: loadTask)
        running.withLock { $0 = state }
        latestEngine.withLock { $0 = engine }
        return listeners
    }

    /// Closes every listener and connection; the simulator can be started again afterwards.
    public func stop() async throws {
        guard let state = running.withLock({ current -> Running? in
            defer { current = nil }
            return current
        }) else { return }
        state.loadTask?.cancel()
        for channel in state.channels { try? await channel.close() }
        try await state.group.shutdownGracefully()
        state.engine.closeLog()
        if let temporary = state.material.temporaryDirectory {
            try? FileManager.default.removeItem(atPath: temporary)
        }
    }

    public var listeners: [SimulatorListener] { running.withLock { $0?.listeners ?? [] } }

    /// The certificate files in use (generated ones include a ready exporter client certificate).
    public var servingMaterial: ServingMaterial? { running.withLock { $0?.material } }

    /// Every request answered since the latest start (or `clearRecordedRequests()`), oldest first; still
    /// readable after `stop()`.
    public func recordedRequests() -> [RecordedRequest] {
        latestEngine.withLock { $0 }?.recordedRequests() ?? []
    }

    public func clearRecordedRequests() {
        latestEngine.withLock { $0 }?.clearRecordedRequests()
    }

    /// Load mode: advance the load by whole ticks now, independent of the timer.
    public func advanceLoad(ticks: Int = 1) {
        running.withLock { $0?.engine }?.advanceLoad(ticks: ticks)
    }

    /// Load ticks applied so far (0 without `load`).
    public var loadTick: Int { running.withLock { $0?.engine }?.loadTick ?? 0 }
}
