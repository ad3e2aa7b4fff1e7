// swift-tools-version:5.9
import PackageDescription

// Code is built for the machines lmbench targets (x86-64 with AVX2 + FMA + F16C); the CLI checks the
// CPU before it calls into these targets.
let hostSettings: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
// The hot code (kernels, and the engine whose per-token loops call them) also runs without runtime
// overflow/bounds checks. The file parser (GGUF) keeps them: every number it reads is untrusted.
let uncheckedSettings: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"]),
    .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
]
let kernelSettings: [SwiftSetting] = hostSettings + uncheckedSettings
// The AVX-512 kernels are built for `cascadelake` (AVX-512 F, CD, BW, DQ, VL and VNNI, which Intel
// Xeons since Cascade Lake and AMD Zen 4 have); Kernels calls them only on a CPU that has all of those.
let avx512Settings: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "cascadelake"])] + uncheckedSettings

let package = Package(
    name: "lmbench",
    products: [
        .executable(name: "lmbench", targets: ["lmbench"]),
        // The libraries the fuzz targets (`Fuzz/`, a package of their own) link against.
        .library(name: "GGUF", targets: ["GGUF"]),
        .library(name: "Kernels", targets: ["Kernels"]),
        .library(name: "Inference", targets: ["Inference"]),
        .library(name: "Bench", targets: ["Bench"]),
    ],
    targets: [
        // GGUF file format: mmap reader, metadata, tensor directory, ggml types, reference dequantizers.
        .target(name: "GGUF", swiftSettings: hostSettings),
        // Compute kernels: packed GEMM, quantized mat-vec, norms, RoPE, softmax, attention primitive.
        .target(name: "Kernels", dependencies: ["GGUF", "KernelsAVX512"], swiftSettings: kernelSettings),
        // The AVX-512 path's micro-kernels (GEMM and attention tiles, decoding dot products).
        .target(name: "KernelsAVX512", swiftSettings: avx512Settings),
        // Inference engine: tokenizer, model architectures, attention state, generation.
        .target(name: "Inference", dependencies: ["GGUF", "Kernels"], swiftSettings: kernelSettings),
        // The system SQLite library (Debian: libsqlite3-dev).
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // Results store: a thin SQLite wrapper, one column table per record driving the schema,
        // inserts, reads and exports; migrations of older databases.
        .target(name: "Results", dependencies: ["CSQLite"]),
        // Benchmark core: registries of task generators, metrics and engine kinds; run plans; the runner.
        .target(name: "Bench", dependencies: ["Inference", "Results", "GGUF"]),
        // Reports built from the store alone: one document model rendered as Markdown or XHTML,
        // intervals and paired tests, leaderboards, regressions, SVG plots.
        .target(name: "Reports", dependencies: ["Results"]),
        // `lmbench serve`: a small HTTP/1.1 server on POSIX sockets and the OpenAI API over a native engine.
        .target(name: "Serve", dependencies: ["Bench", "Inference"]),
        // The command-line tool: one file per command, a small shared option parser.
        .executableTarget(name: "lmbench", dependencies: ["GGUF", "Kernels", "Inference", "Results", "Bench", "Reports", "Serve"]),

        // Test support: a GGUF writer and block encoders written from the format description.
        .target(name: "GGUFTestSupport", path: "Tests/GGUFTestSupport"),
        .testTarget(name: "GGUFTests", dependencies: ["GGUF", "GGUFTestSupport"]),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "GGUF", "GGUFTestSupport", "ModelTestSupport"]),
        // Test support: the real model, loaded once per test process, ../shared data, and a test case
        // that runs each test on every kernel path the CPU supports.
        .target(name: "ModelTestSupport", dependencies: ["Inference", "GGUF", "Kernels"], path: "Tests/ModelTestSupport"),
        .testTarget(name: "InferenceTests", dependencies: ["Inference", "Kernels", "GGUF", "ModelTestSupport", "GGUFTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "ResultsTests", dependencies: ["Results", "StoreTestSupport"]),
        .testTarget(name: "BenchTests", dependencies: ["Bench", "Inference", "Results", "ModelTestSupport", "StoreTestSupport"]),
        // Test support: result stores filled with rows the tests write.
        .target(name: "StoreTestSupport", dependencies: ["Results"], path: "Tests/StoreTestSupport"),
        .testTarget(name: "ReportsTests", dependencies: ["Reports", "Results", "StoreTestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["GGUFTestSupport", "StoreTestSupport", "Results", "CSQLite", "Inference", "Kernels", "lmbench"]),
    ]
)
