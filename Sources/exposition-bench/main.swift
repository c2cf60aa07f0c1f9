// Parser throughput: `exposition-bench [--lazy] FILE...` prints `FILE BYTES MB/s` per file.
// By default every parse does the work a consumer that needs the data does, as Go's
// expfmt.TextParser does: every family name, every sample's name, label names and values and
// value are materialised and folded into a checksum. `--lazy` measures the parse alone (samples
// indexed, labels and values decoded only when asked for). Build with `-c release`.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Exposition

func readFile(_ path: String) -> [UInt8]? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var contents: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let read = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
        if read == 0 { break }
        contents.append(contentsOf: chunk[0..<read])
    }
    return ferror(file) == 0 ? contents : nil
}

/// Parses once and returns something derived from every sample, so the work cannot be elided.
@inline(never)
func parseLazily(_ bytes: [UInt8], _ options: ParseOptions) throws(ParseError) -> Int {
    let document = try ExpositionDocument(bytes: bytes, options: options)
    return document.sampleCount &+ document.familyCount
}

@inline(__always)
func fold(_ hash: Int, _ text: String) -> Int {
    var text = text
    return text.withUTF8 { fold(hash, $0) }
}

/// Folds every byte into the checksum, eight at a time (the checksum is bookkeeping; what is
/// measured is that each byte is read).
@inline(__always)
func fold(_ hash: Int, _ bytes: UnsafeBufferPointer<UInt8>) -> Int {
    var hash = UInt64(truncatingIfNeeded: hash) ^ UInt64(bytes.count)
    guard let base = bytes.baseAddress else { return Int(truncatingIfNeeded: hash) }
    let raw = UnsafeRawPointer(base)
    var i = 0
    while i + 8 <= bytes.count {
        hash = (hash ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
        i += 8
    }
    while i < bytes.count {
        hash = (hash ^ UInt64(base[i])) &* 0x100_0000_01B3
        i += 1
    }
    return Int(truncatingIfNeeded: hash)
}

/// Parses once and touches what Go's TextParser builds: every family name (as a String), and
/// every sample's name, label names, escape-decoded label values (as bytes) and value.
@inline(never)
func parseWithEqualWork(_ bytes: [UInt8], _ options: ParseOptions) throws(ParseError) -> Int {
    let document = try ExpositionDocument(bytes: bytes, options: options)
    var hash = 0
    for family in document.families {
        hash = fold(hash, family.name)
        for sample in family.samples {
            hash = sample.withNameBytes { fold(hash, $0) }
            sample.forEachLabel { name, value in hash = fold(fold(hash, name), value) }
            hash = hash &* 31 &+ Int(truncatingIfNeeded: sample.value.bitPattern)
        }
    }
    return hash
}

func printToStandardError(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

func threadCPUSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

func seconds(_ duration: Duration) -> Double {
    let (whole, attoseconds) = duration.components
    return Double(whole) + Double(attoseconds) / 1e18
}

var paths = Array(CommandLine.arguments.dropFirst())
let lazy = paths.first == "--lazy"
if lazy { paths.removeFirst() }
if paths.isEmpty {
    print("usage: exposition-bench [--lazy] FILE...")
    exit(2)
}
let parseOnce = lazy ? parseLazily : parseWithEqualWork
// EXPOSITION_BENCH_FAMILIES=a,b measures a selective parse that skips all other families.
let selectedFamilies = getenv("EXPOSITION_BENCH_FAMILIES").map { String(cString: $0) } ?? ""
let options = ParseOptions(families: selectedFamilies.isEmpty ? nil : Set(selectedFamilies.split(separator: ",").map(String.init)))
var failed = false
for path in paths {
    guard let bytes = readFile(path) else {
        print("\(path): cannot read")
        failed = true
        continue
    }
    do {
        let clock = ContinuousClock()
        var checksum = 0
        // A fixed count makes profiles (valgrind --tool=callgrind) comparable between builds.
        if let fixed = getenv("EXPOSITION_BENCH_ITERATIONS").flatMap({ Int(String(cString: $0)) }) {
            for _ in 0..<fixed { checksum &+= try parseOnce(bytes, options) }
            print("\(path) \(bytes.count) \(fixed) parses (checksum \(checksum % 1000))")
            continue
        }
        // Warm up caches and allocator, and size the batch so one batch takes ~0.1 s.
        var iterations = 1
        while true {
            let elapsed = try clock.measure {
                for _ in 0..<iterations { checksum &+= try parseOnce(bytes, options) }
            }
            if seconds(elapsed) >= 0.1 { break }
            iterations *= 2
        }
        var total = Duration.zero
        var runs = 0
        let cpuStart = threadCPUSeconds()
        while seconds(total) < 1.0 {
            total += try clock.measure {
                for _ in 0..<iterations { checksum &+= try parseOnce(bytes, options) }
            }
            runs += iterations
        }
        let cpuSeconds = threadCPUSeconds() - cpuStart
        let megabytesPerSecond = Double(bytes.count) * Double(runs) / seconds(total) / 1e6
        // On a shared machine wall time includes waiting for a core; CPU time does not.
        let megabytesPerCPUSecond = Double(bytes.count) * Double(runs) / cpuSeconds / 1e6
        let perParse = seconds(total) / Double(runs) * 1e6
        let tenths = Int((megabytesPerSecond * 10).rounded())
        print("\(path) \(bytes.count) \(tenths / 10).\(tenths % 10)")
        // Details go to stderr so stdout stays three columns: FILE BYTES MB/s.
        printToStandardError("\(path): \(Int(perParse.rounded())) us/parse over \(runs) parses, \(Int(megabytesPerCPUSecond.rounded())) MB per CPU second (checksum \(checksum % 1000))")
    } catch {
        print("\(path): parse error \(error)")
        failed = true
    }
}
exit(failed ? 1 : 0)
