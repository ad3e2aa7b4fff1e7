// swift-tools-version:5.9
import PackageDescription

// libFuzzer targets for everything lmbench reads from outside: model files, text through the
// tokenizers, LongBench JSONL, and command-line grids and engine specifications. A package of its
// own so that the main build never needs the fuzzer runtime; `scripts/fuzz` builds it with
// `--sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address` (SwiftPM's two separate `--sanitize`
// flags leave the code without coverage) and runs each target.
let lmbench = "lmbench"

func fuzzTarget(_ name: String, _ products: [String]) -> Target {
    .executableTarget(name: name, dependencies: ["FuzzSupport"] + products.map { .product(name: $0, package: lmbench) })
}

let package = Package(
    name: "lmbench-fuzz",
    dependencies: [.package(name: lmbench, path: "..")],
    targets: [
        // What every target shares: the seed models, a scratch file, and the one-line-error check.
        .target(name: "FuzzSupport", dependencies: [.product(name: "GGUF", package: lmbench), .product(name: "Kernels", package: lmbench),
                                                    .product(name: "Inference", package: lmbench)]),
        fuzzTarget("FuzzModelFile", ["GGUF", "Kernels", "Inference"]),
        fuzzTarget("FuzzTokenizers", ["GGUF", "Inference"]),
        fuzzTarget("FuzzLongBench", ["Inference", "Bench"]),
        fuzzTarget("FuzzGrids", ["Inference", "Bench"]),
    ]
)
