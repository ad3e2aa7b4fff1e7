import Kernels

/// Qwen2 (llama-family-spec §4): the Llama graph with Q/K/V projection biases added before RoPE and
/// RoPE rotating halves (NEOX), since its converter does not permute Q/K. Bases are around 10⁶ and
/// small models tie the head; both are read from the file.
extension Llama.Variant {
    public static let qwen2 = Llama.Variant(architecture: "qwen2", ropePairing: .halves, requiresProjectionBiases: true,
                                            defaultRopeBase: 1_000_000)
}
