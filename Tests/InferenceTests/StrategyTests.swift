import XCTest
import Inference
import Kernels
import ModelTestSupport

/// The long-context strategies: hand-built cases that pin the masks, the distance cap and InfLLM's
/// block selection against a direct computation, and the real model, where a window at least as long
/// as the prompt must give full attention's logits.
final class StrategyTests: XCTestCase {
    // MARK: A direct computation to compare with

    /// Deterministic small numbers.
    struct Numbers {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 1000
        }
    }

    static let headDim = 16
    static let rope = RotaryEmbedding(dimensions: 16, base: 10_000)

    static func rotate(_ v: [Float], at position: Int) -> [Float] {
        var out = v
        let table = UnsafeMutablePointer<Float>.allocate(capacity: rope.dimensions)
        defer { table.deallocate() }
        [position].withUnsafeBufferPointer { rope.fillTable(positions: $0, into: table) }
        out.withUnsafeMutableBufferPointer {
            rope.apply($0.baseAddress!, positionCount: 1, positionStride: 0, vectorsPerPosition: 1, headStride: headDim, table: table)
        }
        return out
    }

    static func dot(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) } }

    /// softmax over the given (logit, value) pairs, weighted sum of values.
    static func softmaxSum(_ terms: [(Double, [Float])]) -> [Float] {
        let m = terms.map(\.0).max()!
        let weights = terms.map { Foundation.exp($0.0 - m) }
        let total = weights.reduce(0, +)
        return (0..<headDim).map { d in Float(zip(weights, terms).reduce(0) { $0 + $1.0 * Double($1.1.1[d]) } / total) }
    }

    /// Runs `layer` over `keys`/`values`/`queries` (one head each, raw) in forward calls of `chunk`
    /// positions; returns every position's output.
    static func run(_ layer: AttentionLayer, queries: [[Float]], keys: [[Float]], values: [[Float]], chunk: Int) -> [[Float]] {
        let context = ComputeContext(parallelism: Parallelism(threads: 2))
        var outputs: [[Float]] = []
        var start = 0
        while start < queries.count {
            let n = min(chunk, queries.count - start)
            var q = Array(queries[start..<(start + n)].joined()), k = Array(keys[start..<(start + n)].joined())
            let v = Array(values[start..<(start + n)].joined())
            var out = [Float](repeating: 0, count: n * headDim)
            let positions = Array(start..<(start + n))
            q.withUnsafeMutableBufferPointer { qp in
                k.withUnsafeMutableBufferPointer { kp in
                    v.withUnsafeBufferPointer { vp in
                        positions.withUnsafeBufferPointer { pp in
                            out.withUnsafeMutableBufferPointer { op in
                                layer.attend(queries: qp.baseAddress!, keys: kp.baseAddress!, values: vp.baseAddress!, positions: pp,
                                             output: op.baseAddress!, endsInput: start + n == queries.count, context: context)
                            }
                        }
                    }
                }
            }
            for i in 0..<n { outputs.append(Array(out[(i * headDim)..<((i + 1) * headDim)])) }
            start += n
        }
        return outputs
    }

    static func spec(chunk: Int) -> AttentionLayerSpec {
        AttentionLayerSpec(layerIndex: 5, queryHeads: 1, kvHeads: 1, headDim: headDim, rope: rope, slidingWindow: nil,
                           trainedContextLength: 64, maxChunkTokens: chunk)
    }

    static func randomVectors(_ count: Int, seed: UInt64, scale: Float = 1) -> [[Float]] {
        var numbers = Numbers(state: seed)
        return (0..<count).map { _ in (0..<headDim).map { _ in numbers.next() * scale } }
    }

    /// Each position's output under a window of `window` true-distance keys plus the far keys
    /// `farLogit(p, j)` admits (nil: invisible), in one softmax.
    static func expected(q: [[Float]], k: [[Float]], v: [[Float]], window: Int, farLogit: (Int, Int) -> Double?) -> [[Float]] {
        (0..<q.count).map { p in
            var terms: [(Double, [Float])] = []
            for j in 0...p {
                if p - j < window {
                    terms.append((dot(rotate(q[p], at: p), rotate(k[j], at: j)), v[j]))
                } else if let logit = farLogit(p, j) {
                    terms.append((logit, v[j]))
                }
            }
            return softmaxSum(terms)
        }
    }

    func assertClose(_ a: [[Float]], _ b: [[Float]], tolerance: Float = 2e-3, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        for (i, (x, y)) in zip(a, b).enumerated() {
            let worst = zip(x, y).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(worst, tolerance, "position \(i)", file: file, line: line)
        }
    }

    // MARK: Masks and distance cap

    /// LM-Infinite with 3 global tokens and a window of 8, over 40 positions in chunks of 16: a key is
    /// near (true distance) when p − j < 8, far (query rotated at 8, key unrotated) when j < 3 and p − j ≥ 8,
    /// and invisible otherwise.
    func testLMInfiniteMaskAndDistanceCap() {
        let n = 40, window = 8, globals = 3
        let q = Self.randomVectors(n, seed: 1), k = Self.randomVectors(n, seed: 2), v = Self.randomVectors(n, seed: 3)
        let layer = LMInfinite(nGlobal: globals, nLocal: window).makeLayer(Self.spec(chunk: 16), ropeTables: RotaryTableCache())
        let got = Self.run(layer, queries: q, keys: k, values: v, chunk: 16)
        assertClose(got, Self.expected(q: q, k: k, v: v, window: window) { p, j in
            j < globals ? Self.dot(Self.rotate(q[p], at: window), k[j]) : nil
        })
        // The state is the window ring plus the globals: it does not grow with the sequence.
        XCTAssertEqual(layer.stateBytes(afterPositions: 1 << 20), layer.stateBytes)
    }

    /// LM-Infinite's top-k middle tokens: only the last row of the input (position 39) also sees,
    /// per head, the 2 middle tokens (2 ≤ j ≤ 39 − 8) whose raw keys best match the query rotated at
    /// position 4, scored at that rotation; rows that end earlier chunks (15, 31) do not.
    func testLMInfiniteTopKMiddleTokens() {
        let n = 40, window = 8, globals = 2, k = 2, insertAt = 4
        let q = Self.randomVectors(n, seed: 11), keys = Self.randomVectors(n, seed: 12), v = Self.randomVectors(n, seed: 13)
        let layer = LMInfinite(nGlobal: globals, nLocal: window, topK: k, topKInsertAt: insertAt)
            .makeLayer(Self.spec(chunk: 16), ropeTables: RotaryTableCache())
        let got = Self.run(layer, queries: q, keys: keys, values: v, chunk: 16)
        let plain = Self.expected(q: q, k: keys, v: v, window: window) { p, j in
            j < globals ? Self.dot(Self.rotate(q[p], at: window), keys[j]) : nil
        }
        assertClose(Array(got[..<(n - 1)]), Array(plain[..<(n - 1)]))
        let last = n - 1
        let middle = Array(globals...(last - window)).sorted {
            Self.dot(Self.rotate(q[last], at: insertAt), keys[$0]) > Self.dot(Self.rotate(q[last], at: insertAt), keys[$1])
        }.prefix(k)
        let withTopK = Self.expected(q: q, k: keys, v: v, window: window) { p, j in
            if j < globals { return Self.dot(Self.rotate(q[p], at: window), keys[j]) }
            return p == last && middle.contains(j) ? Self.dot(Self.rotate(q[p], at: insertAt), keys[j]) : nil
        }
        assertClose([got[last]], [withTopK[last]])
        XCTAssertGreaterThan(zip(got[last], plain[last]).map { abs($0 - $1) }.max()!, 1e-3, "the middle tokens change the last row")
    }

    /// StreamingLLM with 2 sinks and a window of 8: sink j, once outside the window, sits at distance
    /// (2 + 8 − 1) − j, its position inside the cache.
    func testStreamingLLMPositionsInsideTheCache() {
        let n = 30, window = 8, sinks = 2
        let q = Self.randomVectors(n, seed: 4), k = Self.randomVectors(n, seed: 5), v = Self.randomVectors(n, seed: 6)
        let layer = StreamingLLM(nSink: sinks, nLocal: window).makeLayer(Self.spec(chunk: 16), ropeTables: RotaryTableCache())
        let got = Self.run(layer, queries: q, keys: k, values: v, chunk: 16)
        assertClose(got, Self.expected(q: q, k: k, v: v, window: window) { p, j in
            // The query at cache position sinks + window − 1, the sink at its own position j.
            j < sinks ? Self.dot(Self.rotate(q[p], at: sinks + window - 1), Self.rotate(k[j], at: j)) : nil
        })
    }

    // MARK: InfLLM

    /// n_init 16, blocks of 16, window 32, top-1 block, lookups per 16 queries. One block's keys all
    /// point along u; the last chunk's queries, rotated at the far position (31), point along u too.
    /// The lookup must pick that block, and the output must be the joint softmax over the window (true
    /// distances), the initial tokens, the chosen block and the remainder (query rotated at 31, keys raw).
    func testInfLLMSelectsTheMatchingBlockAndAttendsAsSpecified() throws {
        var policy = InfLLM()
        policy.nInit = 16; policy.blockSize = 16; policy.nLocal = 32; policy.topK = 1; policy.lookupChunk = 16; policy.representatives = 4
        let n = 160, chosen = 3
        var k = Self.randomVectors(n, seed: 7, scale: 0.3), q = Self.randomVectors(n, seed: 8, scale: 0.3)
        let v = Self.randomVectors(n, seed: 9)
        let u: [Float] = (0..<Self.headDim).map { $0 % 3 == 0 ? 1 : 0 }
        for j in (16 + chosen * 16)..<(16 + chosen * 16 + 16) { k[j] = u.map { $0 * 2 } }
        for p in (n - 16)..<n { q[p] = Self.rotate(u, at: -(policy.nLocal - 1)) }   // far query = u
        let layer = try XCTUnwrap(policy.makeLayer(Self.spec(chunk: 16), ropeTables: RotaryTableCache()) as? InfLLMAttention)
        let got = Self.run(layer, queries: q, keys: k, values: v, chunk: 16)
        XCTAssertEqual(layer.lastSelection, [chosen])

        // The last chunk, p in 144..<160: blocks sealed so far are those ending at or before 128 − 32 = 96
        // at the previous lookup end (144 − 32 = 112): blocks [16,32) … [96,112): 6 blocks; remainder [112, p − 32].
        let chosenBlock = (16 + chosen * 16)..<(16 + chosen * 16 + 16)
        let expected = Self.expected(q: q, k: k, v: v, window: policy.nLocal) { p, j in
            j < 16 || chosenBlock.contains(j) || j >= 112 ? Self.dot(Self.rotate(q[p], at: policy.nLocal - 1), k[j]) : nil
        }
        assertClose(Array(got[(n - 16)...]), Array(expected[(n - 16)...]), tolerance: 3e-3)
    }

    /// Each sealed block's representative is the mean raw key of its 4 tokens with the highest score,
    /// the paper's: token m's key · the sum of the queries of its window, q_m … q_(m+nLocal−1), rotated
    /// at the far position, computed here directly.
    func testInfLLMRepresentativesAreTheMeanKeysOfTheBestScoredTokens() throws {
        var policy = InfLLM()
        policy.nInit = 16; policy.blockSize = 16; policy.nLocal = 32; policy.topK = 2; policy.lookupChunk = 16; policy.representatives = 4
        let n = 160
        let q = Self.randomVectors(n, seed: 10), k = Self.randomVectors(n, seed: 11), v = Self.randomVectors(n, seed: 12)
        let layer = try XCTUnwrap(policy.makeLayer(Self.spec(chunk: 16), ropeTables: RotaryTableCache()) as? InfLLMAttention)
        _ = Self.run(layer, queries: q, keys: k, values: v, chunk: 16)
        // Sealed at the last lookup end, 160 − 32 = 128: the blocks [16, 32) … [112, 128).
        XCTAssertEqual(layer.representatives.count, 7 * Self.headDim)
        let farQueries = q.map { Self.rotate($0, at: policy.nLocal - 1) }
        for block in 0..<7 {
            let tokens = (16 + block * 16)..<(16 + block * 16 + 16)
            let scored = tokens.map { m in (m, (m..<(m + policy.nLocal)).reduce(0.0) { $0 + Self.dot(farQueries[$1], k[m]) }) }
            let best = scored.sorted { $0.1 > $1.1 }.prefix(4).map(\.0)
            let expected = (0..<Self.headDim).map { d in best.reduce(Float(0)) { $0 + k[$1][d] } / 4 }
            let got = Array(layer.representatives[(block * Self.headDim)..<((block + 1) * Self.headDim)])
            // The layer keeps keys in f16 (±2.5e-4 here); another choice of tokens moves a lane by ~0.1.
            for d in 0..<Self.headDim { XCTAssertEqual(got[d], expected[d], accuracy: 1e-3, "block \(block), lane \(d)") }
        }
    }

    // MARK: The real model

    /// With windows at least as long as the prompt, every strategy is full attention: same logits.
    func testLongWindowsGiveFullAttentionLogits() throws {
        try assertLongWindowsGiveFullAttentionLogits(try TestModel.require())
    }

    /// SmolLM2's 30 layers are all global, so every strategy acts on every layer.
    func testLongWindowsGiveFullAttentionLogitsOnAnAllGlobalModel() throws {
        try assertLongWindowsGiveFullAttentionLogits(try TestModel.requireSmolLM2())
    }

    func assertLongWindowsGiveFullAttentionLogits(_ loaded: LoadedModel) throws {
        let text = String(repeating: "The quick brown fox jumps over the lazy dog near the river bank. ", count: 60)
        let tokens = loaded.tokenizer.encode(text, addSpecial: true, parseSpecial: false)
        XCTAssertGreaterThan(tokens.count, 700, "two prefill chunks")
        let generator = Generator(loaded)
        func logits(_ policy: AttentionPolicy) throws -> [Int32: Float] {
            let result = try generator.generate(GenerationRequest(promptTokens: tokens, maxNewTokens: 1, topLogits: 40), attention: policy)
            return Dictionary(uniqueKeysWithValues: result.topLogits.map { ($0.token, $0.logit) })
        }
        let full = try logits(FullAttention())
        var infllm = InfLLM()
        infllm.nLocal = 2048
        for policy: AttentionPolicy in [LMInfinite(nGlobal: 10, nLocal: 2048), StreamingLLM(nSink: 4, nLocal: 2048), infllm] {
            let other = try logits(policy)
            for (token, logit) in full.sorted(by: { $0.value > $1.value }).prefix(20) {
                XCTAssertEqual(other[token] ?? -.infinity, logit, accuracy: 1e-3, "\(loaded.model.description.name): \(policy.name), token \(token)")
            }
        }
        // Windows shorter than the prompt do change the logits on global layers.
        let short = try logits(StreamingLLM(nSink: 4, nLocal: 256))
        let moved = full.map { abs((short[$0.key] ?? -100) - $0.value) }.max() ?? 0
        XCTAssertGreaterThan(moved, 1e-2, "\(loaded.model.description.name): a 256-token window must change the logits")
    }

    func testLMInfiniteStateDoesNotGrowWithThePrompt() throws {
        let loaded = try TestModel.require()
        let generator = Generator(loaded)
        let unit = loaded.tokenizer.encode(" The grass is green. The sky is blue.", addSpecial: false, parseSpecial: false)
        func stateBytes(_ length: Int, _ policy: AttentionPolicy) throws -> Int {
            var tokens = loaded.tokenizer.encode("", addSpecial: true, parseSpecial: false)
            while tokens.count < length { tokens += unit }
            return try generator.generate(GenerationRequest(promptTokens: Array(tokens.prefix(length)), maxNewTokens: 1),
                                          attention: policy).attentionStateBytes
        }
        let policy = LMInfinite(nGlobal: 10, nLocal: 256)
        XCTAssertEqual(try stateBytes(1024, policy), try stateBytes(2048, policy))
        XCTAssertLessThan(try stateBytes(1024, FullAttention()), try stateBytes(2048, FullAttention()))
    }
}
