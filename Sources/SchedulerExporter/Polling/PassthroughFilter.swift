import Exposition
import NIOCore
import Synchronization

/// Selects the scheduler's own families for `/scheduler/metrics`. Applied once per poll, so a
/// snapshot keeps only the selected bytes (not the whole parsed document) and scrapes copy nothing.
public final class PassthroughFilter: Sendable {
    let names: FamilyNameFilter

    /// nil for an empty or invalid pattern (validated with the config).
    public init?(pattern: String) {
        guard !pattern.isEmpty, let names = FamilyNameFilter(pattern: pattern) else { return nil }
        self.names = names
    }

    /// The selected families, verbatim, each ending with a newline.
    func select(from document: ExpositionDocument) -> ByteBuffer {
        // Sized exactly: the buffer lives in the snapshot until the next poll, on every target.
        let selected = document.families.filter { names.matches($0.name) }
        var buffer = ByteBuffer()
        buffer.reserveCapacity(selected.reduce(0) { $0 + $1.byteRange.count + 1 })
        document.bytes.withUnsafeBufferPointer { bytes in
            for family in selected {
                let slice = UnsafeBufferPointer(rebasing: bytes[family.byteRange])
                buffer.writeBytes(slice)
                if slice.last != UInt8(ascii: "\n") { buffer.writeInteger(UInt8(ascii: "\n")) }
            }
        }
        return buffer
    }
}

/// A fully anchored name regex with its verdicts remembered: a scheduler exposes the same few
/// hundred family names every poll, so each name is matched once, not once per scrape.
final class FamilyNameFilter: Sendable {
    private struct State {
        var regex: Regex<AnyRegexOutput>
        var verdicts: [String: Bool] = [:]
    }
    private let state: Mutex<State>

    init?(pattern: String) {
        guard let regex = try? Regex(pattern) else { return nil }
        state = Mutex(State(regex: regex))
    }

    func matches(_ name: String) -> Bool {
        state.withLock { state in
            if let verdict = state.verdicts[name] { return verdict }
            let verdict = (try? state.regex.wholeMatch(in: name)) != nil
            if state.verdicts.count < 10_000 { state.verdicts[name] = verdict }
            return verdict
        }
    }
}
