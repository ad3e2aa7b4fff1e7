import Foundation
import GGUF
import Kernels

/// The Llama family as llama.cpp runs it (llama-family-spec §3): Llama 2/3, Mistral, SmolLM2, and
/// Qwen2 as a variant (`Qwen2.swift`).
///
///     x = embed(token)                                   (no √D scale)
///     for each layer:
///         h = rmsnorm(x, attn_norm)
///         q, k, v = W_q·h + b_q, W_k·h + b_k, W_v·h + b_v    (biases: Qwen2, optional elsewhere)
///         o = attention(rope(q), rope(k), v) · scale     GQA: query head i reads KV head i / (H/Hkv)
///         x = x + W_o·o + b_o
///         h = rmsnorm(x, ffn_norm)
///         x = x + W_down·(silu(W_gate·h) ⊙ W_up·h)            (+ FFN biases when present)
///     logits = (output ?? token_embd) · rmsnorm(x, output_norm)
///
/// Norm weights are used as stored (no +1, no q/k norms: those are Gemma's). RoPE pairs adjacent
/// elements for `llama` (the converter permuted Q/K so) and halves for Qwen2; angles are divided by
/// `rope_freqs.weight` when the file has it (Llama 3.1+). When the metadata names a sliding window
/// (Mistral 7B v0.1) every layer keeps it, as Mistral's reference does; llama.cpp ignores the key, so
/// its references for such files are full-causal.
public final class Llama: LanguageModel {
    /// What distinguishes the architectures this graph runs.
    public struct Variant: Sendable {
        /// `general.architecture`, also the prefix of the hyperparameter keys.
        public var architecture: String
        public var ropePairing: RotaryEmbedding.Pairing
        /// Q/K/V projection biases are part of the architecture (Qwen2) rather than optional.
        public var requiresProjectionBiases: Bool
        public var defaultRopeBase: Double

        public static let llama = Variant(architecture: "llama", ropePairing: .adjacentPairs, requiresProjectionBiases: false,
                                          defaultRopeBase: 10_000)
    }

    /// The weights of one transformer block; biases are nil where the file has none.
    struct Block {
        var attentionNorm, feedForwardNorm: UnsafePointer<Float>
        var query, key, value, attentionOutput: WeightMatrix
        var queryBias, keyBias, valueBias, outputBias: UnsafePointer<Float>?
        var gate, up, down: WeightMatrix
        var gateBias, upBias, downBias: UnsafePointer<Float>?
    }

    let variant: Variant
    let shape: TransformerHyperparameters
    let rope: RotaryEmbedding
    let attentionScale: Float
    let blocks: [Block]
    let embedding: WeightMatrix
    let outputHead: OutputHead
    let context: ComputeContext
    /// Keeps the mapped file and the matrices re-encoded at load alive: the weights point into them.
    let storage: WeightLoader
    public let description: ModelDescription
    private let buffers: TransformerActivations

    public init(file: GGUFFile, context: ComputeContext, variant: Variant) throws {
        let m = file.metadata, a = variant.architecture + "."
        let s = try TransformerHyperparameters(m, architecture: variant.architecture, defaultEpsilon: 1e-5,
                                               defaultRopeBase: variant.defaultRopeBase)
        self.variant = variant
        self.context = context
        shape = s
        let d = s.embeddingSize
        let weights = WeightLoader(file: file, parallelism: context.parallelism)
        storage = weights

        let factors = try weights.optionalVector("rope_freqs.weight", s.ropeDimensions / 2)
        let frequencyFactors = factors.map { f in (0..<(s.ropeDimensions / 2)).map { Double(f[$0]) } } ?? []
        guard frequencyFactors.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw GGUFError.badTensorShape(path: file.path, tensor: "rope_freqs.weight", reason: "frequency factors must be positive")
        }
        rope = RotaryEmbedding(dimensions: s.ropeDimensions, base: s.ropeBase, scale: s.ropeScale, pairing: variant.ropePairing,
                               frequencyFactors: frequencyFactors)
        let scale = try m.double(a + "attention.scale", default: 1 / Double(s.headDim).squareRoot())
        guard scale > 0 && scale.isFinite else {
            throw ModelError.badHyperparameter(path: file.path, key: a + "attention.scale", reason: "\(scale) is not a positive scale")
        }
        attentionScale = Float(scale)

        blocks = try (0..<s.layers).map { i in
            let p = "blk.\(i)."
            func bias(_ name: String, _ n: Int) throws -> UnsafePointer<Float>? {
                variant.requiresProjectionBiases ? try weights.vector(p + name, n) : try weights.optionalVector(p + name, n)
            }
            return Block(attentionNorm: try weights.vector(p + "attn_norm.weight", d),
                         feedForwardNorm: try weights.vector(p + "ffn_norm.weight", d),
                         query: try weights.matrix(p + "attn_q.weight", rows: s.queryWidth, cols: d),
                         key: try weights.matrix(p + "attn_k.weight", rows: s.kvWidth, cols: d),
                         value: try weights.matrix(p + "attn_v.weight", rows: s.kvWidth, cols: d),
                         attentionOutput: try weights.matrix(p + "attn_output.weight", rows: d, cols: s.queryWidth),
                         queryBias: try bias("attn_q.bias", s.queryWidth),
                         keyBias: try bias("attn_k.bias", s.kvWidth),
                         valueBias: try bias("attn_v.bias", s.kvWidth),
                         outputBias: try weights.optionalVector(p + "attn_output.bias", d),
                         gate: try weights.matrix(p + "ffn_gate.weight", rows: s.feedForwardSize, cols: d),
                         up: try weights.matrix(p + "ffn_up.weight", rows: s.feedForwardSize, cols: d),
                         down: try weights.matrix(p + "ffn_down.weight", rows: d, cols: s.feedForwardSize),
                         gateBias: try weights.optionalVector(p + "ffn_gate.bias", s.feedForwardSize),
                         upBias: try weights.optionalVector(p + "ffn_up.bias", s.feedForwardSize),
                         downBias: try weights.optionalVector(p + "ffn_down.bias", d))
        }
        let head: WeightMatrix
        (embedding, head) = try weights.embeddingAndHead(embeddingSize: d)
        outputHead = OutputHead(norm: try weights.vector("output_norm.weight", d), weights: head, epsilon: s.normEpsilon, softcap: nil)
        buffers = TransformerActivations(s)
        description = ModelDescription(
            architecture: variant.architecture, name: (try? m.string("general.name")) ?? variant.architecture,
            layers: s.layers, embeddingSize: d, queryHeads: s.queryHeads, kvHeads: s.kvHeads, headDim: s.headDim,
            vocabularySize: embedding.rows, trainedContextLength: s.trainedContextLength)
    }

    public func attentionLayerSpecs(maxChunkTokens: Int) -> [AttentionLayerSpec] {
        (0..<shape.layers).map { i in
            AttentionLayerSpec(layerIndex: i, queryHeads: shape.queryHeads, kvHeads: shape.kvHeads, headDim: shape.headDim,
                               rope: rope, slidingWindow: shape.slidingWindow,
                               trainedContextLength: shape.trainedContextLength, maxChunkTokens: maxChunkTokens)
        }
    }

    public func forward(_ tokens: UnsafeBufferPointer<Int32>, state: SequenceState, output: ForwardOutput) {
        let t = tokens.count
        guard t > 0 else { return }
        let s = shape, d = s.embeddingSize, eps = s.normEpsilon
        let b = buffers.ensure(tokens: t, firstPosition: state.position)
        let positions = b.positions(t)
        for (i, token) in tokens.enumerated() { embedding.dequantizeRow(Int(token), into: b.x + i * d) }

        for (i, block) in blocks.enumerated() {
            // Attention block.
            Elementwise.rmsNorm(b.x, rows: t, n: d, weight: block.attentionNorm, eps: eps, into: b.h)
            context.matmul(b.h, rows: t, [MatMulJob(block.query, b.q), MatMulJob(block.key, b.k), MatMulJob(block.value, b.v)])
            if let bias = block.queryBias { Elementwise.addBias(bias, rows: t, n: s.queryWidth, into: b.q) }
            if let bias = block.keyBias { Elementwise.addBias(bias, rows: t, n: s.kvWidth, into: b.k) }
            if let bias = block.valueBias { Elementwise.addBias(bias, rows: t, n: s.kvWidth, into: b.v) }
            // Scaling q before attention equals scaling the scores (RoPE is a rotation).
            Elementwise.scale(b.q, by: attentionScale, count: t * s.queryWidth)
            state.layers[i].attend(queries: b.q, keys: b.k, values: b.v, positions: positions, output: b.attention,
                                   endsInput: output.endsInput, context: context)
            context.matmul(b.attention, rows: t, block.attentionOutput, b.h)
            if let bias = block.outputBias { Elementwise.addBias(bias, rows: t, n: d, into: b.h) }
            Elementwise.add(b.h, into: b.x, count: t * d)

            // Feed-forward block.
            Elementwise.rmsNorm(b.x, rows: t, n: d, weight: block.feedForwardNorm, eps: eps, into: b.h)
            context.matmul(b.h, rows: t, [MatMulJob(block.gate, b.gate), MatMulJob(block.up, b.up)])
            if let bias = block.gateBias { Elementwise.addBias(bias, rows: t, n: s.feedForwardSize, into: b.gate) }
            if let bias = block.upBias { Elementwise.addBias(bias, rows: t, n: s.feedForwardSize, into: b.up) }
            Elementwise.siluGate(b.gate, up: b.up, count: t * s.feedForwardSize)
            context.matmul(b.gate, rows: t, block.down, b.h)
            if let bias = block.downBias { Elementwise.addBias(bias, rows: t, n: d, into: b.h) }
            Elementwise.add(b.h, into: b.x, count: t * d)
        }
        state.position += t

        outputHead.write(output, residual: b.x, rows: t, scratch: b.h, context: context)
    }
}
