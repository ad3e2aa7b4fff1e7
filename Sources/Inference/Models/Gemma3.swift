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
///     logits = token_embd · rmsnorm(x, output_norm)     (tied head; soft-capped when the file says so)
///
/// GGUF norm weights already include Gemma's +1, so they are used as stored.
public final class Gemma3: LanguageModel {
    /// Hyperparameters, read once from the metadata: the shared ones, and Gemma's own.
    struct Configuration {
        var shape: TransformerHyperparameters
        var globalRope: RotaryEmbedding
        var localRope: RotaryEmbedding
        var attentionScale: Float
        var finalLogitSoftcap: Float?

        /// llama.cpp hard-codes the sliding-window pattern: 5 local layers, then 1 global. Without a
        /// `sliding_window` key every layer is global.
        func isSliding(_ layer: Int) -> Bool { shape.slidingWindow != nil && layer % 6 < 5 }

        init(_ m: GGUFMetadata) throws {
            let s = try TransformerHyperparameters(m, architecture: "gemma3", defaultEpsilon: 1e-6, defaultRopeBase: 1_000_000)
            shape = s
            globalRope = RotaryEmbedding(dimensions: s.ropeDimensions, base: s.ropeBase, scale: s.ropeScale)
            localRope = RotaryEmbedding(dimensions: s.ropeDimensions, base: 10_000)
            // Gemma 3 27B (62 layers) scales queries by 1/√(D/H) instead of 1/√hd.
            attentionScale = s.layers == 62 ? 1 / Float(s.embeddingSize / s.queryHeads).squareRoot() : 1 / Float(s.headDim).squareRoot()
            let cap = "gemma3.final_logit_softcapping"
            finalLogitSoftcap = m[cap] == nil ? nil : Float(try m.double(cap))
            if let finalLogitSoftcap, !(finalLogitSoftcap > 0 && finalLogitSoftcap.isFinite) {
                throw ModelError.badHyperparameter(path: m.path, key: cap, reason: "\(finalLogitSoftcap) is not a positive cap")
            }
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
    let outputHead: OutputHead
    let context: ComputeContext
    /// Keeps the mapped file and the matrices re-encoded at load alive: the weights point into them.
    let storage: WeightLoader
    public let description: ModelDescription
    private let buffers: TransformerActivations

    public init(file: GGUFFile, context: ComputeContext) throws {
        config = try Configuration(file.metadata)
        self.context = context
        let s = config.shape, d = s.embeddingSize, hd = s.headDim
        let weights = WeightLoader(file: file, parallelism: context.parallelism)
        storage = weights
        blocks = try (0..<s.layers).map { i in
            let p = "blk.\(i)."
            return Block(attentionNorm: try weights.vector(p + "attn_norm.weight", d),
                         queryNorm: try weights.vector(p + "attn_q_norm.weight", hd),
                         keyNorm: try weights.vector(p + "attn_k_norm.weight", hd),
                         postAttentionNorm: try weights.vector(p + "post_attention_norm.weight", d),
                         query: try weights.matrix(p + "attn_q.weight", rows: s.queryWidth, cols: d),
                         key: try weights.matrix(p + "attn_k.weight", rows: s.kvWidth, cols: d),
                         value: try weights.matrix(p + "attn_v.weight", rows: s.kvWidth, cols: d),
                         attentionOutput: try weights.matrix(p + "attn_output.weight", rows: d, cols: s.queryWidth),
                         feedForwardNorm: try weights.vector(p + "ffn_norm.weight", d),
                         postFeedForwardNorm: try weights.vector(p + "post_ffw_norm.weight", d),
                         gate: try weights.matrix(p + "ffn_gate.weight", rows: s.feedForwardSize, cols: d),
                         up: try weights.matrix(p + "ffn_up.weight", rows: s.feedForwardSize, cols: d),
                         down: try weights.matrix(p + "ffn_down.weight", rows: d, cols: s.feedForwardSize))
        }
        let head: WeightMatrix
        (embedding, head) = try weights.embeddingAndHead(embeddingSize: d)
        outputHead = OutputHead(norm: try weights.vector("output_norm.weight", d), weights: head, epsilon: s.normEpsilon,
                                softcap: config.finalLogitSoftcap)
        buffers = TransformerActivations(s)
        description = ModelDescription(
            architecture: "gemma3", name: (try? file.metadata.string("general.name")) ?? "gemma3",
            layers: s.layers, embeddingSize: d, queryHeads: s.queryHeads, kvHeads: s.kvHeads, headDim: hd,
            vocabularySize: embedding.rows, trainedContextLength: s.trainedContextLength)
    }

    public func attentionLayerSpecs(maxChunkTokens: Int) -> [AttentionLayerSpec] {
        let s = config.shape
        return (0..<s.layers).map { i in
            let sliding = config.isSliding(i)
            return AttentionLayerSpec(layerIndex: i, queryHeads: s.queryHeads, kvHeads: s.kvHeads, headDim: s.headDim,
                                      rope: sliding ? config.localRope : config.globalRope,
                                      slidingWindow: sliding ? s.slidingWindow : nil,
                                      trainedContextLength: s.trainedContextLength, maxChunkTokens: maxChunkTokens)
        }
    }

    public func forward(_ tokens: UnsafeBufferPointer<Int32>, state: SequenceState, output: ForwardOutput) {
        let t = tokens.count
        guard t > 0 else { return }
        let c = config, s = c.shape, d = s.embeddingSize, hd = s.headDim, eps = s.normEpsilon
        let b = buffers.ensure(tokens: t, firstPosition: state.position)
        let positions = b.positions(t)

        let embeddingScale = Float(d).squareRoot()
        for (i, token) in tokens.enumerated() {
            embedding.dequantizeRow(Int(token), into: b.x + i * d)
            Elementwise.scale(b.x + i * d, by: embeddingScale, count: d)
        }

        for (i, block) in blocks.enumerated() {
            // Attention block.
            Elementwise.rmsNorm(b.x, rows: t, n: d, weight: block.attentionNorm, eps: eps, into: b.h)
            context.matmul(b.h, rows: t, [MatMulJob(block.query, b.q), MatMulJob(block.key, b.k), MatMulJob(block.value, b.v)])
            Elementwise.rmsNorm(b.q, rows: t * s.queryHeads, n: hd, weight: block.queryNorm, eps: eps, into: b.q)
            Elementwise.rmsNorm(b.k, rows: t * s.kvHeads, n: hd, weight: block.keyNorm, eps: eps, into: b.k)
            Elementwise.scale(b.q, by: c.attentionScale, count: t * s.queryHeads * hd)
            state.layers[i].attend(queries: b.q, keys: b.k, values: b.v, positions: positions, output: b.attention,
                                   endsInput: output.endsInput, context: context)
            context.matmul(b.attention, rows: t, block.attentionOutput, b.h)
            Elementwise.rmsNorm(b.h, rows: t, n: d, weight: block.postAttentionNorm, eps: eps, into: b.h)
            Elementwise.add(b.h, into: b.x, count: t * d)

            // Feed-forward block.
            Elementwise.rmsNorm(b.x, rows: t, n: d, weight: block.feedForwardNorm, eps: eps, into: b.h)
            context.matmul(b.h, rows: t, [MatMulJob(block.gate, b.gate), MatMulJob(block.up, b.up)])
            Elementwise.geluGate(b.gate, up: b.up, count: t * s.feedForwardSize)
            context.matmul(b.gate, rows: t, block.down, b.h)
            Elementwise.rmsNorm(b.h, rows: t, n: d, weight: block.postFeedForwardNorm, eps: eps, into: b.h)
            Elementwise.add(b.h, into: b.x, count: t * d)
        }
        state.position += t

        outputHead.write(output, residual: b.x, rows: t, scratch: b.h, context: context)
    }
}
