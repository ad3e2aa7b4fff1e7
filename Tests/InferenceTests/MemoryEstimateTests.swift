import XCTest
import ModelTestSupport
import Inference

/// The attention-state estimate the memory checks use, worked out from the layer specs without
/// building a state, against built states and against the bytes a state really holds after a run.
final class MemoryEstimateTests: XCTestCase {
    static let chunk = 256

    /// Every strategy of the catalog, with windows small enough that sinks, far keys and InfLLM's
    /// sealed blocks all come into play within a few hundred tokens; plus LM-Infinite's top-k
    /// middle tokens, which keep every key.
    static func policies(_ model: ModelDescription) throws -> [AttentionPolicy] {
        let smallWindows: [String: [String: String]] = [
            "full": [:],
            "lm-infinite": ["n_local": "64"],
            "infllm": ["n_local": "128", "n_init": "16", "block_size": "32"],
            "streaming-llm": ["n_local": "64"],
        ]
        XCTAssertEqual(smallWindows.keys.sorted(), AttentionStrategies.names, "every strategy is covered")
        return try smallWindows.sorted { $0.key < $1.key }.map { try AttentionStrategies.make($0.key, parameters: $0.value, model: model) }
            + [LMInfinite(nGlobal: 4, nLocal: 64, topK: 4), InfLLM()]
    }

    static func label(_ policy: AttentionPolicy) -> String {
        policy.name + " " + policy.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    func testEstimateEqualsTheBuiltStatesFigure() throws {
        let model = try TestModel.require().model
        for policy in try Self.policies(model.description) {
            for reserved in [0, 5000] {
                let state = SequenceState(model: model, policy: policy, maxChunkTokens: Self.chunk, reservedPositions: reserved)
                for positions in [0, 1, 100, 5000, 1 << 20] {
                    XCTAssertEqual(model.attentionStateBytes(policy: policy, maxChunkTokens: Self.chunk, reservedPositions: reserved, afterPositions: positions),
                                   state.attentionStateBytes(afterPositions: positions), "\(Self.label(policy)), \(reserved) reserved, \(positions) positions")
                }
            }
        }
    }

    /// 700 prompt tokens in chunks of 256, then 4 decoded tokens, in a state made with no
    /// reservation (the full-attention stores grow twice) and in one made for the 704 positions the
    /// run reaches: the estimate for each position count is what the state then holds.
    func testEstimateEqualsTheStateAfterARun() throws {
        let loaded = try TestModel.require()
        let model = loaded.model
        let text = String(repeating: "The quick brown fox jumps over the lazy dog near the river bank. ", count: 60)
        let prompt = Array(loaded.tokenizer.encode(text, addSpecial: true, parseSpecial: false).prefix(700))
        XCTAssertEqual(prompt.count, 700)
        let logits = UnsafeMutablePointer<Float>.allocate(capacity: model.description.vocabularySize)
        defer { logits.deallocate() }
        for policy in try Self.policies(model.description) {
            for reserved in [0, prompt.count + 4] {
                let state = SequenceState(model: model, policy: policy, maxChunkTokens: Self.chunk, reservedPositions: reserved)
                func estimate(_ positions: Int) -> Int {
                    model.attentionStateBytes(policy: policy, maxChunkTokens: Self.chunk, reservedPositions: reserved, afterPositions: positions)
                }
                let label = "\(Self.label(policy)), \(reserved) reserved"
                XCTAssertEqual(estimate(0), state.attentionStateBytes, "\(label), new state")
                prompt.withUnsafeBufferPointer { tokens in
                    for start in stride(from: 0, to: tokens.count, by: Self.chunk) {
                        let end = min(tokens.count, start + Self.chunk)
                        model.forward(UnsafeBufferPointer(rebasing: tokens[start..<end]), state: state, logits: end == tokens.count ? logits : nil)
                    }
                }
                XCTAssertEqual(estimate(prompt.count), state.attentionStateBytes, "\(label), after the prompt")
                for token in prompt.prefix(4) {
                    [token].withUnsafeBufferPointer { model.forward($0, state: state, logits: logits) }
                }
                XCTAssertEqual(estimate(prompt.count + 4), state.attentionStateBytes, "\(label), after decoding")
                if reserved > 0 && !(policy is InfLLM) {
                    // Stores and rings made whole up front (InfLLM's representatives alone come as blocks are sealed).
                    XCTAssertEqual(estimate(0), state.attentionStateBytes, "\(label): the state never grew")
                }
            }
        }
    }

    /// A sequence of 8197 positions (an 8k prompt and a few new tokens) made for them holds 8208
    /// slots in each global layer; grown by doubling it held 16384, nearly twice what it needs.
    func testAReservedFullAttentionStateHoldsWhatItNeeds() throws {
        let model = try TestModel.require().model
        let d = model.description
        let globalLayers = model.attentionLayerSpecs(maxChunkTokens: Self.chunk).filter { $0.slidingWindow == nil }.count
        let bytesPerPosition = globalLayers * 2 * d.kvHeads * d.headDim * MemoryLayout<Float16>.size
        let positions = 8197
        func estimate(reserved: Int) -> Int {
            model.attentionStateBytes(policy: FullAttention(), maxChunkTokens: Self.chunk, reservedPositions: reserved, afterPositions: positions)
        }
        XCTAssertEqual(estimate(reserved: 0) - estimate(reserved: positions), (16384 - 8208) * bytesPerPosition)
        // A sequence that outgrows its reservation doubles from it: 112 slots (100 rounded up to a
        // panel) doubled seven times.
        XCTAssertEqual(estimate(reserved: 100) - estimate(reserved: positions), ((112 << 7) - 8208) * bytesPerPosition)
    }

    /// Past a million positions full attention's estimate grows by the keys and values of every
    /// global layer per position, while LM-Infinite's stays what it is once its windows are full
    /// (the sliding-window layers' rings grow to their window, then hold).
    func testFullAttentionGrowsLinearlyAndLMInfiniteStaysConstant() throws {
        let model = try TestModel.require().model
        let d = model.description
        func estimate(_ policy: AttentionPolicy, _ positions: Int) -> Int {
            model.attentionStateBytes(policy: policy, maxChunkTokens: Self.chunk, afterPositions: positions)
        }
        let globalLayers = model.attentionLayerSpecs(maxChunkTokens: Self.chunk).filter { $0.slidingWindow == nil }.count
        XCTAssertGreaterThan(globalLayers, 0)
        let bytesPerPosition = globalLayers * 2 * d.kvHeads * d.headDim * MemoryLayout<Float16>.size
        let n = 1 << 20
        let full = FullAttention()
        XCTAssertEqual(estimate(full, 2 * n) - estimate(full, n), n * bytesPerPosition)
        XCTAssertEqual(estimate(full, 4 * n) - estimate(full, 2 * n), 2 * n * bytesPerPosition)
        let lmInfinite = LMInfinite(nGlobal: 10, nLocal: 256)
        XCTAssertEqual(estimate(lmInfinite, n), estimate(lmInfinite, 1 << 14))
        XCTAssertEqual(estimate(lmInfinite, 4 * n), estimate(lmInfinite, 1 << 14))
        XCTAssertLessThan(estimate(lmInfinite, 0), estimate(lmInfinite, 1 << 14), "a new state holds only what it needs")
        XCTAssertLessThan(estimate(lmInfinite, n), estimate(full, n) / 100)
    }

    /// A check for far more positions than any machine holds fails for full attention and passes for
    /// LM-Infinite, whose state does not grow.
    func testRequireMemoryRefusesWhatCannotFit() throws {
        let generator = Generator(try TestModel.require())
        guard ProcessMemory.availableBytes != nil else { throw XCTSkip("this OS does not report available memory") }
        let positions = 1 << 36
        XCTAssertThrowsError(try generator.requireMemory(forPositions: positions)) { error in
            guard case ModelError.outOfMemory = error else { return XCTFail("expected outOfMemory, got \(error)") }
        }
        XCTAssertNoThrow(try generator.requireMemory(forPositions: positions, policy: LMInfinite(nGlobal: 10, nLocal: 256)))
    }
}
