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
    }
    _ = try? SchedulerConfigFile(yaml: text)
    // The same words as a command line, for the flag parser alone.
    let words = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    for name in StaticPodManifest.flags(from: words).keys {
        check(!name.isEmpty && !name.hasPrefix("-") && !name.contains("="), "bad flag name \(name.debugDescription)")
    }
    return 0
}
