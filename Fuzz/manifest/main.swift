import SchedulerExporter

// The static pod manifest and the --config file are YAML files on the node, read through Yams.
// A malformed file must become a ParseFailure (logged as manifestProblem), never a trap.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzManifest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let manifest = try? StaticPodManifest(yaml: text) {
        for (name, value) in manifest.flags {
            check(!name.isEmpty, "empty flag name")
            check(manifest[name] == value, "subscript disagrees for \(name)")
        }
        // Its hostPath mounts map any path the scheduler names onto the node.
        for mount in manifest.mounts {
            check(manifest.nodePath(for: mount.mountPath) == mount.hostPath, "a mount's own path maps to its hostPath")
            _ = manifest.nodePath(for: mount.mountPath + "/" + text)
        }
        _ = manifest.nodePath(for: text)
    }
    // k3s's config file is YAML on the node too; its kube-scheduler-arg values become flags.
    for name in (K3sConfig.kubeSchedulerArguments([text]) ?? [:]).keys {
        check(!name.isEmpty && !name.hasPrefix("-") && !name.contains("="), "bad k3s flag name \(name.debugDescription)")
    }
    // The same bytes as /proc/PID/cmdline: NUL-separated arguments of a process.
    let argv = UnsafeBufferPointer(start: data, count: size).split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    if let line = SchedulerCommandLine(arguments: argv) {
        for name in line.flags.keys {
            check(!name.isEmpty && !name.hasPrefix("-") && !name.contains("="), "bad cmdline flag name \(name.debugDescription)")
        }
        _ = line.serves(host: text, port: size)
    }
    _ = try? SchedulerConfigFile(yaml: text)
    // The same words as a command line, for the flag parser alone.
    let words = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    for name in StaticPodManifest.flags(from: words).keys {
        check(!name.isEmpty && !name.hasPrefix("-") && !name.contains("="), "bad flag name \(name.debugDescription)")
    }
    return 0
}
