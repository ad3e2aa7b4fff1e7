import Foundation
import GGUF
import Kernels

/// Gemma 3 text models as llama.cpp runs them (engine-spec §3).
///
///     x = embed(token) · √D
///     for each layer:
///         h = rmsnorm(x, attn_norm)
///         q, k, v = W_q·h, W_k·h, W_v·h;  q, k = per-head rmsnorm(q_norm, k_norm);  q ·= 1/√hd
///         o = attention(rope(q), rope(k), v)       sliding-window layers: θ = 10 000, window W
///         x = x + rmsnorm(W_o·o, post_attention_norm)
///         h = rmsnorm(x, ffn_norm)
///         x = x + rmsnorm(W_down·(gelu(W_gate·h) ⊙ W_up·h), post_ffw_norm)
///     logits = token_embd · rmsnorm(x, output_norm)     (tied head, last position only)
///
/// GGUF norm weights already include Gemma's +1, so they are used as stored.
public final class Gemma3: LanguageModel {
    /// Hyperparameters, read once from the metadata.
    struct Configuration {
        var embeddingSize: Int
        var layers: Int
        var feedForwardSize: Int
        var queryHeads: Int
        var kvHeads: Int
        var headDim: Int
        var normEpsilon: Float
        var trainedContextLength: Int
        var globalRope: RotaryEmbedding
        var localRope: RotaryEmbedding
        /// nil when the file has no `sliding_window` key: then every layer is global.
        var slidingWindow: Int?
        var attentionScale: Float
        var finalLogitSoftcap: Float?

        /// llama.cpp hard-codes the sliding-window pattern: 5 local layers, then 1 global.
        func isSliding(_ layer: Int) -> Bool { slidingWindow != nil && layer % 6 < 5 }

        init(_ m: GGUFMetadata) throws {
            let a = "gemma3."
            embeddingSize = try m.int(a + "embedding_length")
            layers = try m.int(a + "block_count")
            feedForwardSize = try m.int(a + "feed_forward_length")
            queryHeads = try m.int(a + "attention.head_count")
            kvHeads = try m.int(a + "attention.head_count_kv", default: queryHeads)
            headDim = try m.int(a + "attention.key_length", default: embeddingSize / queryHeads)
            normEpsilon = Float(try m.double(a + "attention.layer_norm_rms_epsilon", default: 1e-6))
            trainedContextLength = try m.int(a + "context_length")
            let rotated = try m.int(a + "rope.dimension_count", default: headDim)
            var scale = 1.0
            if let type = m[a + "rope.scaling.type"]?.stringValue, type == "linear" {
                scale = 1 / (try m.double(a + "rope.scaling.factor", default: 1))
            }
            globalRope = RotaryEmbedding(dimensions: rotated, base: try m.double(a + "rope.freq_base", default: 1_000_000), scale: scale)
            localRope = RotaryEmbedding(dimensions: rotated, base: 10_000)
            slidingWindow = m[a + "attention.sliding_window"] == nil ? nil : try m.int(a + "attention.sliding_window")
            // Gemma 3 27B (62 layers) scales queries by 1/√(D/H) instead of 1/√hd.
            attentionScale = layers == 62 ? 1 / Float(embeddingSize / queryHeads).squareRoot() : 1 / Float(headDim).squareRoot()
            finalLogitSoftcap = m[a + "final_logit_softcapping"] == nil ? nil : Float(try m.double(a + "final_logit_softcapping"))

            let path = m.path
            func check(_ ok: Bool, _ key: String, _ reason: String) throws {
                if !ok { throw ModelError.badHyperparameter(path: path, key: a + key, reason: reason) }
            }
            try check(embeddingSize > 0 && layers > 0 && feedForwardSize > 0, "embedding_length", "sizes must be positive")
            try check(queryHeads > 0 && kvHeads > 0 && queryHeads % kvHeads == 0, "attention.head_count_kv",
                      "\(queryHeads) query heads cannot share \(kvHeads) KV heads")
            try check(headDim % 16 == 0, "attention.key_length", "head size \(headDim) is not a multiple of 16")
            try check(rotated % 2 == 0 && rotated <= headDim, "rope.dimension_count", "must be even and at most the head size")
            try check(slidingWindow.map { $0 > 0 } ?? true, "attention.sliding_window", "must be positive")
        }
    }

    /// The weights of one transformer block.
    struct Block {
        var attentionNorm, queryNorm, keyNorm, postAttentionNorm: UnsafePointer<Float>
        var query, key, value, attentionOutput: WeightMatrix
        var feedForwardNorm, postFeedForwardNorm: UnsafePointer<Float>
        var gate, up, down: WeightMatrix
    }

    let config: Configuration
    let blocks: [Block]
    let embedding: WeightMatrix
    let outputNorm: UnsafePointer<Float>
    let context: ComputeContext
    /// Owns the matrices re-encoded at load (see `ReencodedWeights`).
    let reencoded: ReencodedWeights
    public let description: ModelDescription
    private let buffers = Activations()

    public init(file: GGUFFile, context: ComputeContext) throws {
        config = try Configuration(file.metadata)
        self.context = context
        let c = config
        let weights = WeightLoader(file: file, parallelism: context.parallelism)
        reencoded = weights.reencoded
        func matrix(_ name: String, rows: Int, cols: Int) throws -> WeightMatrix { try weights.matrix(name, rows: rows, cols: cols) }
        func vector(_ name: String, _ n: Int) throws -> UnsafePointer<Float> {
            let t = try file.requireTensor(name)
            guard t.type == .f32, t.elementCount == n else {
                throw GGUFError.badTensorShape(path: file.path, tensor: name, reason: "expected \(n) F32 values, found \(t.elementCount) \(t.type)")
            }
            return t.data.baseAddress!.assumingMemoryBound(to: Float.self)
        }
        let q = c.queryHeads * c.headDim, kv = c.kvHeads * c.headDim, d = c.embeddingSize
        blocks = try (0..<c.layers).map { i in
            let p = "blk.\(i)."
            return Block(attentionNorm: try vector(p + "attn_norm.weight", d),
                         queryNorm: try vector(p + "attn_q_norm.weight", c.headDim),
                         keyNorm: try vector(p + "attn_k_norm.weight", c.headDim),
                         postAttentionNorm: try vector(p + "post_attention_norm.weight", d),
                         query: try matrix(p + "attn_q.weight", rows: q, cols: d),
                         key: try matrix(p + "attn_k.weight", rows: kv, cols: d),
                         value: try matrix(p + "attn_v.weight", rows: kv, cols: d),
                         attentionOutput: try matrix(p + "attn_output.weight", rows: d, cols: q),
                         feedForwardNorm: try vector(p + "ffn_norm.weight", d),
                         postFeedForwardNorm: try vector(p + "post_ffw_norm.weight", d),
                         gate: try matrix(p + "ffn_gate.weight", rows: c.feedForwardSize, cols: d),
                         up: try matrix(p + "ffn_up.weight", rows: c.feedForwardSize, cols: d),
                         down: try matrix(p + "ffn_down.weight", rows: d, cols: c.feedForwardSize))
        }
        let embeddingTensor = try file.requireTensor("token_embd.weight")
        embedding = try matrix("token_embd.weight", rows: embeddingTensor.shape.count > 1 ? embeddingTensor.shape[1] : 0, cols: d)
        outputNorm = try vector("output_norm.weight", d)
        description = ModelDescription(
            architecture: "gemma3", name: (try? file.metadata.string("general.name")) ?? "gemma3",
            layers: c.layers, embeddingSize: d, queryHeads: c.queryHeads, kvHeads: c.kvHeads, headDim: c.headDim,
            vocabularySize: embedding.rows, trainedContextLength: c.trainedContextLength)
    }

    public func attentionLayerSpecs(maxChunkTokens: Int) -> [AttentionLayerSpec] {
        (0..<config.layers).map { i in
            let sliding = config.isSliding(i)
            return AttentionLayerSpec(layerIndex: i, queryHeads: config.queryHeads, kvHeads: config.kvHeads, headDim: config.headDim,
                                      rope: sliding ? config.localRope : config.globalRope,
                                      slidingWindow: sliding ? config.slidingWindow : nil,
                                      trainedContextLength: config.trainedContextLength, maxChunkTokens: maxChunkTokens)
        }
    }

    public func forward(_ tokens: UnsafeBufferPointer<Int32>, state: SequenceState, logits: UnsafeMutablePointer<Float>?) {
        let t = tokens.count
        guard t > 0 else { return }
        let c = config, d = c.embeddingSize, hd = c.headDim
        let b = buffers.ensure(tokens: t, config: c)
        for i in 0..<t { b.positions[i] = state.position + i }
        let positions = UnsafeBufferPointer(start: b.positions, count: t)

        let embeddingScale = Float(d).squareRoot()
        for (i, token) in tokens.enumerated() {
            embedding.dequantizeRow(Int(token), into: b.x + i * d)
            Elementwise.scale(b.x + i * d, by: embeddingScale, count: d)
        }

        for (i, block) in blocks.enumerated() {
            // Attention block.
            Elementwise.rmsNorm(b.x, rows: t, n: d, weight: block.attentionNorm, eps: c.normEpsilon, into: b.h)
            context.matmul(b.h, rows: t, [MatMulJob(block.query, b.q), MatMulJob(block.key, b.k), MatMulJob(block.value, b.v)])
            Elementwise.rmsNorm(b.q, rows: t * c.queryHeads, n: hd, weight: block.queryNorm, eps: c.normEpsilon, into: b.q)
            Elementwise.rmsNorm(b.k, rows: t * c.kvHeads, n: hd, weight: block.keyNorm, eps: c.normEpsilon, into: b.k)
            Elementwise.scale(b.q, by: c.attentionScale, count: t * c.queryHeads * hd)
            state.layers[i].attend(queries: b.q, keys: b.k, values: b.v, positions: positions, output: b.attention,
                                   endsInput: logits != nil, context: context)
            context.matmul(b.attention, rows: t, block.attentionOutput, b.h)
            Elementwise.rmsNorm(b.h, rows: t, n: d, weight: block.postAttentionNorm, eps: c.normEpsilon, into: b.h)
            Elementwise.add(b.h, into: b.x, count: t * d)

            // Feed-forward block.
            Elementwise.rmsNorm(b.x, rows: t, n: d, weight: block.feedForwardNorm, eps: c.normEpsilon, into: b.h)
            context.matmul(b.h, rows: t, [MatMulJob(block.gate, b.gate), MatMulJob(block.up, b.up)])
            Elementwise.geluGate(b.gate, up: b.up, count: t * c.feedForwardSize)
            context.matmul(b.gate, rows: t, block.down, b.h)
            Elementwise.rmsNorm(b.h, rows: t, n: d, weight: block.postFeedForwardNorm, eps: c.normEpsilon, into: b.h)
            Elementwise.add(b.h, into: b.x, count: t * d)
        }
        state.position += t

        if let logits {
            Elementwise.rmsNorm(b.x + (t - 1) * d, rows: 1, n: d, weight: outputNorm, eps: c.normEpsilon, into: b.h)
            context.matmul(b.h, rows: 1, embedding, logits)
            if let cap = c.finalLogitSoftcap {
                for i in 0..<embedding.rows { logits[i] = cap * tanhf(logits[i] / cap) }
            }
        }
    }

    /// Activation buffers for one forward call, grown to the largest chunk seen.
    private final class Activations {
        var capacity = 0
        var x, h, q, k, v, attention, gate, up: UnsafeMutablePointer<Float>!
        var positions: UnsafeMutablePointer<Int>!

        func ensure(tokens: Int, config c: Configuration) -> Activations {
            guard tokens > capacity else { return self }
            release()
            let qn = c.queryHeads * c.headDim, kvn = c.kvHeads * c.headDim
            func make(_ n: Int) -> UnsafeMutablePointer<Float> {
                let p = UnsafeMutablePointer<Float>.allocate(capacity: tokens * n)
                p.initialize(repeating: 0, count: tokens * n)
                return p
            }
            x = make(c.embeddingSize); h = make(c.embeddingSize)
            q = make(qn); k = make(kvn); v = make(kvn); attention = make(qn)
            gate = make(c.feedForwardSize); up = make(c.feedForwardSize)
            positions = .allocate(capacity: tokens)
            capacity = tokens
            return self
        }

        private func release() {
            for p in [x, h, q, k, v, attention, gate, up] { p?.deallocate() }
            positions?.deallocate()
        }

        deinit { release() }
    }
}
