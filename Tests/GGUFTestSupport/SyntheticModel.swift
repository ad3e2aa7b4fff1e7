/// Complete model files as small as lmbench loads: a tokenizer (SentencePiece with its 256 byte
/// tokens, or byte-level BPE with merges) and one transformer block of F32 weights, for tests that
/// need a whole file to corrupt and for the fuzz targets' seed corpus (`Fuzz/corpus/modelfile`).
public enum SyntheticModel {
    public enum Architecture: String, CaseIterable {
        /// Gemma 3's graph with a SentencePiece vocabulary, as lmbench's main model.
        case gemma3
        /// The llama graph with a byte-level BPE vocabulary, as SmolLM2.
        case llama
        /// Qwen2: the llama graph with projection biases, byte-level BPE.
        case qwen2
    }

    /// Embedding width, one head of 16 (the kernels' multiple), feed-forward width.
    public static let width = 16, feedForward = 16

    public static func gguf(_ architecture: Architecture) -> GGUFWriter {
        var w = GGUFWriter()
        let a = architecture.rawValue + "."
        w.add("general.architecture", .string(architecture.rawValue))
        w.add("general.name", .string("synthetic-\(architecture.rawValue)"))
        for (key, value) in [("embedding_length", width), ("block_count", 1), ("feed_forward_length", feedForward),
                             ("attention.head_count", 1), ("attention.head_count_kv", 1), ("context_length", 64)] {
            w.add(a + key, .u32(UInt32(value)))
        }
        w.add(a + "rope.freq_base", .f32(10_000))
        w.add(a + "attention.layer_norm_rms_epsilon", .f32(1e-6))
        if architecture == .gemma3 { w.add(a + "attention.sliding_window", .u32(8)) }

        let vocabulary = architecture == .gemma3 ? sentencePiece(&w) : bytePair(&w)
        var state: UInt64 = 0x5EED
        func values(_ n: Int, around center: Float = 0) -> [Float] {
            (0..<n).map { _ in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return center + (Float(state >> 40) / Float(1 << 24) - 0.5) * 0.2
            }
        }
        func matrix(_ name: String, rows: Int) { w.addF32Tensor(name, shape: [width, rows], values: values(width * rows)) }
        func vector(_ name: String, _ n: Int = width, around center: Float = 1) { w.addF32Tensor(name, shape: [n], values: values(n, around: center)) }
        matrix("token_embd.weight", rows: vocabulary)
        vector("output_norm.weight")
        let p = "blk.0."
        vector(p + "attn_norm.weight")
        vector(p + "ffn_norm.weight")
        for name in ["attn_q", "attn_k", "attn_v", "attn_output"] { matrix(p + name + ".weight", rows: width) }
        for name in ["ffn_gate", "ffn_up"] { matrix(p + name + ".weight", rows: feedForward) }
        w.addF32Tensor(p + "ffn_down.weight", shape: [feedForward, width], values: values(feedForward * width))
        switch architecture {
        case .gemma3:
            for name in ["attn_q_norm", "attn_k_norm", "post_attention_norm", "post_ffw_norm"] { vector(p + name + ".weight") }
        case .qwen2:
            for name in ["attn_q", "attn_k", "attn_v"] { vector(p + name + ".bias", around: 0) }
        case .llama:
            break
        }
        return w
    }

    /// `<unk> <s> </s>`, the byte tokens `<0x00>`…`<0xFF>`, a control token and a few pieces of
    /// "hello world"; returns the vocabulary size.
    private static func sentencePiece(_ w: inout GGUFWriter) -> Int {
        let bytes = (0..<256).map { b -> String in
            let hex = String(b, radix: 16, uppercase: true)
            return "<0x" + (hex.count == 1 ? "0" + hex : hex) + ">"
        }
        let pieces = ["▁", "h", "e", "l", "o", "w", "r", "d", "he", "ll", "llo", "hello", "▁hello", "▁w", "or", "▁world"]
        let tokens = ["<unk>", "<s>", "</s>"] + bytes + ["<start_of_turn>", "<end_of_turn>"] + pieces
        let types = [2, 3, 3] + [Int32](repeating: 6, count: 256) + [3, 3] + [Int32](repeating: 1, count: pieces.count)
        w.add("tokenizer.ggml.model", .string("llama"))
        w.add("tokenizer.ggml.tokens", .array(8, tokens.map { .string($0) }))
        w.add("tokenizer.ggml.token_type", .array(5, types.map { .i32($0) }))
        w.add("tokenizer.ggml.scores", .array(6, tokens.indices.map { .f32(-Float($0)) }))
        w.add("tokenizer.ggml.bos_token_id", .u32(1))
        w.add("tokenizer.ggml.eos_token_id", .u32(2))
        w.add("tokenizer.ggml.add_bos_token", .bool(true))
        return tokens.count
    }

    /// GPT-2-style byte characters for "hello world" and newline (`Ċ`), their merges, and the
    /// ChatML control tokens; returns the vocabulary size.
    private static func bytePair(_ w: inout GGUFWriter) -> Int {
        let tokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "h", "e", "l", "o", "w", "r", "d", "Ġ", "Ċ",
                      "he", "ll", "hell", "hello", "Ġw", "or", "Ġwor", "ld", "Ġworld"]
        let types = [Int32](repeating: 3, count: 3) + [Int32](repeating: 1, count: tokens.count - 3)
        w.add("tokenizer.ggml.model", .string("gpt2"))
        w.add("tokenizer.ggml.pre", .string("smollm"))
        w.add("tokenizer.ggml.tokens", .array(8, tokens.map { .string($0) }))
        w.add("tokenizer.ggml.token_type", .array(5, types.map { .i32($0) }))
        w.add("tokenizer.ggml.merges", .array(8, ["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "l d", "Ġwor ld"].map { .string($0) }))
        w.add("tokenizer.ggml.bos_token_id", .u32(1))
        w.add("tokenizer.ggml.eos_token_id", .u32(2))
        w.add("tokenizer.ggml.add_bos_token", .bool(false))
        return tokens.count
    }
}
