import XCTest
import Inference
import ModelTestSupport

/// Scoring every position (`Generator.scoreNextTokens`, the output head over all rows, folded a
/// vocabulary slice at a time) on the real Gemma 3 model: against the log-softmax of the engine's
/// own next-token logits computed one step at a time, across chunk sizes, and under a strategy.
final class PerplexityTests: XCTestCase {
    static let text = "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be "
        + "in want of a wife. However little known the feelings or views of such a man may be on his first entering a neighbourhood"

    /// Every log-probability `scoreNextTokens` hands out, in position order, with the positions it named.
    static func score(_ tokens: [Int32], chunkSize: Int, policy: AttentionPolicy = FullAttention()) throws -> (values: [Float], positions: [Int]) {
        let generator = Generator(try TestModel.require(), chunkSize: chunkSize)
        var values: [Float] = [], positions: [Int] = []
        let result = try generator.scoreNextTokens(tokens, attention: policy) { first, chunk in
            positions += first..<(first + chunk.count)
            values += chunk
        }
        XCTAssertEqual(result.scoredTokens, tokens.count - 1)
        return (values, positions)
    }

    func testScoresEqualLogSoftmaxOfOneStepLogits() throws {
        let loaded = try TestModel.require()
        let tokens = loaded.tokenizer.encode(Self.text, addSpecial: true, parseSpecial: false)
        XCTAssert((35...60).contains(tokens.count), "\(tokens.count) tokens")
        let scored = try Self.score(tokens, chunkSize: 512)
        XCTAssertEqual(scored.positions, Array(1..<tokens.count))

        // The reference: decode one token at a time, as generation does, and take the log-softmax
        // of the full logits at the next token, in Double.
        let model = loaded.model, vocabulary = model.description.vocabularySize
        let state = SequenceState(model: model, policy: FullAttention(), maxChunkTokens: 1)
        var logits = [Float](repeating: 0, count: vocabulary)
        var largest = 0.0, total = 0.0, referenceTotal = 0.0
        for p in 0..<(tokens.count - 1) {
            logits.withUnsafeMutableBufferPointer { out in
                [tokens[p]].withUnsafeBufferPointer { model.forward($0, state: state, logits: out.baseAddress!) }
            }
            let m = Double(logits.max()!)
            let logSumExp = m + Foundation.log(logits.reduce(0.0) { $0 + Foundation.exp(Double($1) - m) })
            let reference = Double(logits[Int(tokens[p + 1])]) - logSumExp
            XCTAssertLessThan(reference, 0)
            let difference = abs(Double(scored.values[p]) - reference)
            largest = max(largest, difference)
            total += difference
            referenceTotal -= reference
        }
        // The two paths differ only in rounding: decoding feeds each matrix the activations as
        // 16-bit codes (`QuantizedDot`), the chunked pass keeps them in f32.
        XCTAssertLessThan(largest, 0.01, "largest per-token difference")
        XCTAssertLessThan(total / Double(tokens.count - 1), 0.002, "mean per-token difference")
        let meanNLL = -Double(scored.values.reduce(0, +)) / Double(scored.values.count)
        XCTAssertEqual(meanNLL, referenceTotal / Double(tokens.count - 1), accuracy: 0.001)
        // English prose: a base model predicts it far better than chance (log 262,144 ≈ 12.5).
        XCTAssert((1...6).contains(meanNLL), "mean NLL \(meanNLL)")
    }

    func testChunkSizeDoesNotChangeScores() throws {
        let loaded = try TestModel.require()
        let tokens = loaded.tokenizer.encode(Self.text + ". " + Self.text, addSpecial: true, parseSpecial: false)
        let whole = try Self.score(tokens, chunkSize: 512)
        for chunk in [7, 32] {
            let chunked = try Self.score(tokens, chunkSize: chunk)
            XCTAssertEqual(chunked.positions, whole.positions)
            let largest = zip(chunked.values, whole.values).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(largest, 5e-4, "chunks of \(chunk)")
        }
        // The repeated sentence is predicted much better the second time: the scores are of each
        // position in its context, not of one row repeated.
        let half = tokens.count / 2
        let first = whole.values[..<(half - 4)].reduce(0, +) / Float(half - 4)
        let second = whole.values[(half + 4)...].reduce(0, +) / Float(whole.values.count - half - 4)
        XCTAssertGreaterThan(second, first + 1)
    }

    func testStrategyAppliesToScores() throws {
        let loaded = try TestModel.require()
        let tokens = loaded.tokenizer.encode(Self.text + ". " + Self.text, addSpecial: true, parseSpecial: false)
        let full = try Self.score(tokens, chunkSize: 16)
        // Gemma's global layers keep the first 4 and the last 16 positions: no difference while
        // everything is within reach, a clear one once the repeated text's first copy is not.
        let policy = try AttentionStrategies.make("lm-infinite", parameters: ["n_local": "16", "n_global": "4"], model: loaded.model.description)
        let windowed = try Self.score(tokens, chunkSize: 16, policy: policy)
        let early = zip(windowed.values[..<14], full.values[..<14]).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(early, 1e-5)
        let late = zip(windowed.values[40...], full.values[40...]).map { abs($0 - $1) }.max()!
        XCTAssertGreaterThan(late, 0.5)
    }
}
