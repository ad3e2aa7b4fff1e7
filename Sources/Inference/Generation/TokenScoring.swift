import Foundation

/// What scoring a token sequence cost.
public struct ScoringResult: Sendable {
    /// Tokens whose log-probability was computed: every one after the first.
    public var scoredTokens: Int
    /// Wall-clock seconds of the whole pass.
    public var seconds: Double
    /// Bytes held by the attention state at the end.
    public var attentionStateBytes: Int
    /// Peak resident set size of the process afterwards (bytes), where the OS reports it.
    public var peakResidentBytes: Int?
}

extension Generator {
    /// Runs `tokens` through the model under `policy` in chunks of `chunkSize`, as a prompt is
    /// prefilled, and hands each chunk's next-token log-probabilities to `body` as it is done:
    /// `logProbabilities[i]` = log p(tokens[p] | tokens[0..<p]) for p = `firstPosition` + i.
    /// Positions 1..<tokens.count are scored; the last token is never input, as nothing follows
    /// it. Only one chunk's values and one slice of its logits (`OutputHead`) exist at a time, so
    /// memory beyond the attention state stays flat at any length. Throws
    /// `GenerationError.timedOut` past `timeLimit` seconds (checked between chunks).
    public func scoreNextTokens(_ tokens: [Int32], attention policy: AttentionPolicy = FullAttention(), timeLimit: Double? = nil,
                                _ body: (_ firstPosition: Int, _ logProbabilities: UnsafeBufferPointer<Float>) throws -> Void) throws -> ScoringResult {
        precondition(tokens.count >= 2, "scoring needs a token to predict after the first")
        try requireInVocabulary(tokens)
        try requireMemory(forPositions: tokens.count, policy: policy)
        let model = loaded.model
        let state = SequenceState(model: model, policy: policy, maxChunkTokens: chunkSize, reservedPositions: tokens.count)
        let values = UnsafeMutablePointer<Float>.allocate(capacity: chunkSize)
        defer { values.deallocate() }
        let start = DispatchTime.now().uptimeNanoseconds
        func seconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        let inputs = tokens.count - 1
        try tokens.withUnsafeBufferPointer { all in
            var offset = 0
            while offset < inputs {
                if let timeLimit, seconds() > timeLimit {
                    throw GenerationError.timedOut(limit: timeLimit, promptTokensDone: offset, newTokens: 0)
                }
                let end = min(inputs, offset + chunkSize)
                model.forward(UnsafeBufferPointer(rebasing: all[offset..<end]), state: state,
                              output: .logProbabilities(targets: UnsafeBufferPointer(rebasing: all[(offset + 1)...end]), into: values))
                try body(offset + 1, UnsafeBufferPointer(start: values, count: end - offset))
                offset = end
            }
        }
        return ScoringResult(scoredTokens: inputs, seconds: seconds(), attentionStateBytes: state.attentionStateBytes,
                             peakResidentBytes: ProcessMemory.peakResidentBytes)
    }
}
