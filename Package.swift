// swift-tools-version:6.0
// Data flows one way: CurlHTTP (fetch) -> Exposition (parse) -> SchedulerExporter/Checks (derive)
// -> SchedulerExporter/Polling (snapshot) -> SchedulerExporter/Server (serve).
import PackageDescription

let package = Package(
    name: "kube-scheduler-exporter",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "kube-scheduler-exporter", targets: ["kube-scheduler-exporter"]),
        .executable(name: "scheduler-simulator", targets: ["scheduler-simulator"]),
        .executable(name: "exposition-bench", targets: ["exposition-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
    ],
    targets: [
        // libcurl and libssl, imported as they are; shim.h holds typed wrappers for the
        // variadic curl_easy_setopt/getinfo that Swift cannot call.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(name: "CurlHTTP", dependencies: ["CCurl"]),
        // libxcrypt's crypt_rn for the web config's bcrypt hashes, libcrypto's SHA256 for the cache key.
        .systemLibrary(name: "CCrypt", providers: [.apt(["libcrypt-dev", "libssl-dev"])]),
        // glibc's mallopt, for the executable's allocator tuning.
        .systemLibrary(name: "CMalloc"),
        .target(name: "Exposition"),
        .target(name: "SchedulingLatency", dependencies: ["Exposition"]),
        .target(
            name: "SchedulerExporter",
            dependencies: [
                "CurlHTTP", "Exposition", "SchedulingLatency", "CCrypt",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ]
        ),
        .executableTarget(
            name: "kube-scheduler-exporter",
            dependencies: [
                "SchedulerExporter", "CMalloc",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "SchedulerSimulator",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            resources: [.copy("Fixtures")]
        ),
        .executableTarget(
            name: "scheduler-simulator",
            dependencies: [
                "SchedulerSimulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "exposition-bench", dependencies: ["Exposition"]),

        // What tests share: child processes that never stall the test pool, reserved loopback ports.
        .target(name: "TestSupport", dependencies: [
            .product(name: "Subprocess", package: "swift-subprocess"), .product(name: "SystemPackage", package: "swift-system"),
        ], path: "Tests/TestSupport"),
        .testTarget(name: "ExpositionTests", dependencies: ["Exposition", "TestSupport"]),
        // Servers/ holds the Python test servers the tests run as processes (found via #filePath).
        .testTarget(name: "CurlHTTPTests", dependencies: ["CurlHTTP", "TestSupport"], exclude: ["Servers"]),
        .testTarget(name: "SchedulingLatencyTests", dependencies: ["SchedulingLatency", "Exposition", "TestSupport"], exclude: ["Servers"]),
        .testTarget(name: "SchedulerSimulatorTests", dependencies: ["SchedulerSimulator", "TestSupport"]),
        .testTarget(name: "SchedulerExporterTests", dependencies: [
            "SchedulerExporter", "SchedulerSimulator", "CurlHTTP", "Exposition", "TestSupport", .product(name: "CompressNIO", package: "compress-nio"),
        ]),
        .testTarget(name: "IntegrationTests", dependencies: ["SchedulerSimulator", "CurlHTTP", "Exposition", "TestSupport"], exclude: ["Servers"]),
    ]
)
