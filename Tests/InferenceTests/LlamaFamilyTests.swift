import XCTest
import Foundation
import GGUF
import GGUFTestSupport
import Inference
import Kernels

/// The `llama` and `qwen2` graphs on small synthetic GGUF files, against a direct Double-precision
/// transcription of llama-family-spec §3.3: RoPE pairing per architecture, GQA, projection biases,
/// rope frequency factors, tied and separate heads, and a Mistral-style sliding window. The real
/// SmolLM2 model is checked against llama.cpp in ReferenceLogitsTests.
final class LlamaFamilyTests: XCTestCase {
    /// A tiny model's hyperparameters and F32 weights (row-major: W[r][c] = values[r · cols + c]).
    struct TinyModel {
        var architecture = "llama"
        var d = 64, heads = 4, kvHeads = 2, headDim = 16, ff = 48, layers = 2, vocabulary = 40
        var ropeBase = 10_000.0
        var epsilon = 1e-5
        var slidingWindow: Int?
        var withBiases = false
        var withFrequencyFactors = false
        var separateHead = false
        var weights: [String: [Float]] = [:]
        var shapes: [String: [Int]] = [:]

        init(seed: UInt64, configure: (inout TinyModel) -> Void = { _ in }) {
            configure(&self)
            var state = seed
            func random(_ n: Int, scale: Float) -> [Float] {
                (0..<n).map { _ in
                    state = state &* 6364136223846793005 &+ 1442695040888963407
                    return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
                }
            }
            func matrix(_ name: String, rows: Int, cols: Int) { weights[name] = random(rows * cols, scale: 0.4); shapes[name] = [cols, rows] }
            func vector(_ name: String, _ n: Int, around: Float = 0, scale: Float = 0.3) {
                weights[name] = random(n, scale: scale).map { $0 + around }; shapes[name] = [n]
            }
            matrix("token_embd.weight", rows: vocabulary, cols: d)
            vector("output_norm.weight", d, around: 1)
            if separateHead { matrix("output.weight", rows: vocabulary, cols: d) }
            if withFrequencyFactors { vector("rope_freqs.weight", headDim / 2, around: 2, scale: 1) }
            for l in 0..<layers {
                let p = "blk.\(l)."
                vector(p + "attn_norm.weight", d, around: 1)
                vector(p + "ffn_norm.weight", d, around: 1)
                matrix(p + "attn_q.weight", rows: heads * headDim, cols: d)
                matrix(p + "attn_k.weight", rows: kvHeads * headDim, cols: d)
                matrix(p + "attn_v.weight", rows: kvHeads * headDim, cols: d)
                matrix(p + "attn_output.weight", rows: d, cols: heads * headDim)
                matrix(p + "ffn_gate.weight", rows: ff, cols: d)
                matrix(p + "ffn_up.weight", rows: ff, cols: d)
                matrix(p + "ffn_down.weight", rows: d, cols: ff)
                if withBiases {
                    vector(p + "attn_q.bias", heads * headDim, scale: 0.5)
                    vector(p + "attn_k.bias", kvHeads * headDim, scale: 0.5)
                    vector(p + "attn_v.bias", kvHeads * headDim, scale: 0.5)
                }
            }
        }

        func gguf(overriding overrides: [(String, GGUFWriter.Value)] = []) -> GGUFWriter {
            var w = GGUFWriter()
            let a = architecture + "."
            var keys: [(String, GGUFWriter.Value)] = [
                ("general.architecture", .string(architecture)),
                (a + "embedding_length", .u32(UInt32(d))), (a + "block_count", .u32(UInt32(layers))),
                (a + "feed_forward_length", .u32(UInt32(ff))), (a + "attention.head_count", .u32(UInt32(heads))),
                (a + "attention.head_count_kv", .u32(UInt32(kvHeads))), (a + "context_length", .u32(64)),
                (a + "rope.freq_base", .f32(Float(ropeBase))), (a + "attention.layer_norm_rms_epsilon", .f32(Float(epsilon))),
            ]
            if let slidingWindow { keys.append((a + "attention.sliding_window", .u32(UInt32(slidingWindow)))) }
            for (key, value) in overrides {
                keys.removeAll { $0.0 == key }
                keys.append((key, value))
            }
            for (key, value) in keys { w.add(key, value) }
            for name in weights.keys.sorted() { w.addF32Tensor(name, shape: shapes[name]!, values: weights[name]!) }
            return w
        }

        /// Logits after the last of `tokens`, computed position by position in Double.
        func referenceLogits(_ tokens: [Int], pairing: RotaryEmbedding.Pairing) -> [Double] {
            func w(_ name: String) -> [Double] { weights[name]!.map(Double.init) }
            func matvec(_ name: String, _ x: [Double]) -> [Double] {
                let m = w(name), cols = x.count, rows = m.count / cols
                return (0..<rows).map { r in (0..<cols).reduce(0.0) { $0 + m[r * cols + $1] * x[$1] } }
            }
            func rmsnorm(_ x: [Double], _ name: String) -> [Double] {
                let g = w(name), rms = (x.reduce(0) { $0 + $1 * $1 } / Double(x.count) + epsilon).squareRoot()
                return x.indices.map { x[$0] / rms * g[$0] }
            }
            func add(_ a: [Double], _ b: [Double]) -> [Double] { zip(a, b).map(+) }
            let factors = withFrequencyFactors ? w("rope_freqs.weight") : [Double](repeating: 1, count: headDim / 2)
            func rope(_ v: inout [Double], head: Int, position p: Int) {
                for i in 0..<(headDim / 2) {
                    let theta = Double(p) * pow(ropeBase, -2 * Double(i) / Double(headDim)) / factors[i]
                    let (x, y) = pairing == .adjacentPairs ? (head * headDim + 2 * i, head * headDim + 2 * i + 1)
                                                           : (head * headDim + i, head * headDim + i + headDim / 2)
                    let a = v[x], b = v[y]
                    v[x] = a * cos(theta) - b * sin(theta)
                    v[y] = a * sin(theta) + b * cos(theta)
                }
            }
            var keys = [[[Double]]](repeating: [], count: layers), values = keys
            var x: [Double] = []
            for (p, token) in tokens.enumerated() {
                let e = w("token_embd.weight")
                x = Array(e[(token * d)..<((token + 1) * d)])
                for l in 0..<layers {
                    let b = "blk.\(l)."
                    let h = rmsnorm(x, b + "attn_norm.weight")
                    var q = matvec(b + "attn_q.weight", h), k = matvec(b + "attn_k.weight", h), v = matvec(b + "attn_v.weight", h)
                    if withBiases { q = add(q, w(b + "attn_q.bias")); k = add(k, w(b + "attn_k.bias")); v = add(v, w(b + "attn_v.bias")) }
                    for i in 0..<heads { rope(&q, head: i, position: p) }
                    for i in 0..<kvHeads { rope(&k, head: i, position: p) }
                    keys[l].append(k); values[l].append(v)
                    var o = [Double](repeating: 0, count: heads * headDim)
                    for i in 0..<heads {
                        let g = i / (heads / kvHeads)
                        let visible = (0...p).filter { j in slidingWindow.map { p - j < $0 } ?? true }
                        let scores = visible.map { j in
                            (0..<headDim).reduce(0.0) { $0 + q[i * headDim + $1] * keys[l][j][g * headDim + $1] } / Double(headDim).squareRoot()
                        }
                        let top = scores.max()!, exps = scores.map { exp($0 - top) }, total = exps.reduce(0, +)
                        for (n, j) in visible.enumerated() {
                            for c in 0..<headDim { o[i * headDim + c] += exps[n] / total * values[l][j][g * headDim + c] }
                        }
                    }
                    x = add(x, matvec(b + "attn_output.weight", o))
                    let h2 = rmsnorm(x, b + "ffn_norm.weight")
                    let gate = matvec(b + "ffn_gate.weight", h2), up = matvec(b + "ffn_up.weight", h2)
                    x = add(x, matvec(b + "ffn_down.weight", zip(gate, up).map { $0 / (1 + exp(-$0)) * $1 }))
                }
            }
            return matvec(separateHead ? "output.weight" : "token_embd.weight", rmsnorm(x, "output_norm.weight"))
        }
    }

    static let prompt = [3, 17, 5, 39, 0, 22, 8, 8, 31, 12, 2, 27]

    /// The engine's logits after `prompt`, fed in chunks of 5 so that prefill (GEMM) and
    /// single-token (mat-vec) paths both run.
    func engineLogits(_ tiny: TinyModel, variant: Llama.Variant) throws -> [Float] {
        let url = try makeTemporaryDirectory().appendingPathComponent("tiny.gguf")
        try tiny.gguf().write(to: url)
        let model = try Llama(file: try GGUFFile(path: url.path), context: ComputeContext(parallelism: Parallelism(threads: 2)), variant: variant)
        let state = SequenceState(model: model, policy: FullAttention(), maxChunkTokens: 5)
        var logits = [Float](repeating: .nan, count: tiny.vocabulary)
        let tokens = Self.prompt.map(Int32.init)
        for start in stride(from: 0, to: tokens.count, by: 5) {
            let end = min(tokens.count, start + 5)
            tokens[start..<end].withUnsafeBufferPointer { chunk in
                logits.withUnsafeMutableBufferPointer { model.forward(chunk, state: state, logits: end == tokens.count ? $0.baseAddress : nil) }
            }
        }
        return logits
    }

    func assertMatches(_ tiny: TinyModel, variant: Llama.Variant, _ what: String) throws {
        let ours = try engineLogits(tiny, variant: variant)
        let reference = tiny.referenceLogits(Self.prompt, pairing: variant.ropePairing)
        let other: RotaryEmbedding.Pairing = variant.ropePairing == .halves ? .adjacentPairs : .halves
        let wrongPairing = tiny.referenceLogits(Self.prompt, pairing: other)
        var worst = 0.0, pairingEffect = 0.0
        for i in 0..<tiny.vocabulary {
            worst = max(worst, abs(Double(ours[i]) - reference[i]))
            pairingEffect = max(pairingEffect, abs(wrongPairing[i] - reference[i]))
        }
        // K and V are cached in f16 (relative rounding 2⁻¹¹), so agreement is judged against the
        // logits' own scale.
        let scale = reference.map(abs).max()!
        XCTAssertLessThan(worst, 1e-3 * scale, "\(what): logits (up to \(scale)) differ from the reference by \(worst)")
        XCTAssertGreaterThan(pairingEffect, 20 * max(worst, 1e-4), "\(what): the other RoPE pairing would have passed too")
    }

    func testLlamaRotatesAdjacentPairsWithGroupedQueryAttention() throws {
        try assertMatches(TinyModel(seed: 1), variant: .llama, "llama")
    }

    func testLlamaWithFrequencyFactorsAndASeparateHead() throws {
        let tiny = TinyModel(seed: 2) { $0.withFrequencyFactors = true; $0.separateHead = true; $0.kvHeads = 1 }
        try assertMatches(tiny, variant: .llama, "llama with rope_freqs and output.weight")
    }

    func testQwen2AddsProjectionBiasesAndRotatesHalves() throws {
        let tiny = TinyModel(seed: 3) { $0.architecture = "qwen2"; $0.withBiases = true; $0.ropeBase = 1_000_000 }
        try assertMatches(tiny, variant: .qwen2, "qwen2")
        // Qwen2 without its biases is not Qwen2.
        var missing = tiny
        missing.withBiases = false
        missing.weights = tiny.weights.filter { !$0.key.hasSuffix(".bias") }
        XCTAssertThrowsError(try engineLogits(missing, variant: .qwen2)) { XCTAssertTrue("\($0)".contains("attn_q.bias"), "\($0)") }
    }

    func testMistralSlidingWindowMasksOldPositions() throws {
        let windowed = TinyModel(seed: 4) { $0.slidingWindow = 4 }
        try assertMatches(windowed, variant: .llama, "llama with a 4-position window")
        var unwindowed = windowed
        unwindowed.slidingWindow = nil
        let a = try engineLogits(windowed, variant: .llama), b = try engineLogits(unwindowed, variant: .llama)
        XCTAssertGreaterThan(zip(a, b).map { abs($0 - $1) }.max()!, 1e-2, "the window changes what the last position sees")
    }

    /// Numbers a file may carry that once trapped or ran away (head_count 0 divided by zero; negative
    /// rope dimensions allocated without bound): each is an error naming its key.
    func testImpossibleHyperparametersAreErrorsNamingTheKey() throws {
        let tiny = TinyModel(seed: 5)
        let cases: [(String, GGUFWriter.Value)] = [
            ("llama.attention.head_count", .u32(0)), ("llama.attention.head_count_kv", .u32(3)),
            ("llama.rope.dimension_count", .i32(-2)), ("llama.attention.key_length", .i32(-16)),
            ("llama.embedding_length", .u64(1 << 62)), ("llama.block_count", .i64(-1)),
            ("llama.attention.layer_norm_rms_epsilon", .f32(-1)), ("llama.rope.freq_base", .f32(.nan)),
            ("llama.attention.sliding_window", .u32(0)),
        ]
        for (key, value) in cases {
            let url = try makeTemporaryDirectory().appendingPathComponent("bad.gguf")
            try tiny.gguf(overriding: [(key, value)]).write(to: url)
            XCTAssertThrowsError(try Llama(file: try GGUFFile(path: url.path), context: ComputeContext(), variant: .llama), key) { error in
                XCTAssertTrue("\(error)".contains(key), "\(key): \(error)")
            }
        }
    }
}
