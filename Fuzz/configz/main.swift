import SchedulerExporter

// /configz is JSON from the scheduler; any body must decode or throw, never trap.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfigz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let body = Array(UnsafeBufferPointer(start: data, count: size))
    guard let configz = try? Configz(json: body) else { return 0 }
    // Decoding is a pure function of the bytes.
    check((try? Configz(json: body)) == configz, "decoding the same body twice differs")
    return 0
}
