import SchedulerExporter

// /flagz text from the scheduler: `name<delimiter>value` lines (the delimiter is chosen at random
// by upstream, one of `:`, `: `, `=`, ` `), names are pflag-style.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFlagz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let flagz = Flagz(text: text) else { return 0 }
    check(!flagz.flags.isEmpty, "a Flagz without flags")
    for (name, value) in flagz.flags {
        check(name.utf8.first.map { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") } == true,
              "flag name does not start with a letter: \(name.debugDescription)")
        check(flagz[name] == value, "subscript disagrees for \(name)")
        if let list = flagz.list(name) {
            check(list.allSatisfy { !$0.isEmpty }, "empty list element in \(name)")
        }
    }
    return 0
}
