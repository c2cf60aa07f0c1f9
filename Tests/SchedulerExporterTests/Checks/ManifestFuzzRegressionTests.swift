import Foundation
import Testing
@testable import SchedulerExporter

/// Inputs the manifest harness (Fuzz/manifest, run by scripts/fuzz) found, fed back byte for byte.
@Suite struct ManifestFuzzRegressionTests {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/regressions/manifest")

    /// `-=-` became a flag with an empty name; pflag rejects `--=value` as bad syntax.
    @Test func nameLessFlagIsIgnored() throws {
        let data = try Data(contentsOf: Self.directory.appendingPathComponent("empty-flag-name"))
        let text = String(decoding: data, as: UTF8.self)
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
        #expect(words.contains("-=-"))
        let flags = StaticPodManifest.flags(from: words)
        #expect(flags[""] == nil)
        #expect(flags.keys.allSatisfy { !$0.isEmpty && !$0.hasPrefix("-") })
        // The file is not a Pod manifest; it must fail cleanly.
        #expect(throws: StaticPodManifest.ParseFailure.self) { try StaticPodManifest(yaml: text) }

        #expect(StaticPodManifest.flags(from: ["--=x", "-=-", "--bind-address=0.0.0.0"]) == ["bind-address": "0.0.0.0"])
    }

    /// Found while reading the flag parser for the harness: after `--` pflag takes everything as
    /// positional arguments, so a later `--profiling=false` is not a flag.
    @Test func flagsStopAtDoubleDash() {
        let flags = StaticPodManifest.flags(from: ["kube-scheduler", "--profiling=true", "--", "--profiling=false", "--port", "0"])
        #expect(flags == ["profiling": "true"])
    }
}
