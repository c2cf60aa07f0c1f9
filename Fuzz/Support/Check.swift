#if canImport(Glibc)
import Glibc
#endif

// scripts/fuzz compiles this file into every harness next to its main.swift.

/// `precondition` drops its message in -O builds; a failed property must say which one.
func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fail(message()) }
}

func fail(_ message: String) -> Never {
    let text = Array("fuzz property failed: \(message)\n".utf8)
    _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    abort()
}
