import Inference

/// The native engine as a server drives it: raw token ids in, the generation result out, with a
/// callback per new token, under the engine's prompt policy (truncation) and attention strategy.
extension NativeEngine {
    public struct Completion {
        public var result: GenerationResult
        /// The tokens the model read (after the prompt policy).
        public var promptTokens: Int
        public var truncated: Bool
    }

    public func complete(_ tokens: [Int32], maxNewTokens: Int, stopTokens: Set<Int32>?, stopStrings: [String],
                         onOutput: (@Sendable (_ outputSoFar: [UInt8]) -> Bool)? = nil) throws -> Completion {
        let (kept, truncated) = prompt.apply(tokens, maxNewTokens: maxNewTokens)
        let result = try generator.generate(GenerationRequest(promptTokens: kept, maxNewTokens: maxNewTokens, stopTokens: stopTokens,
                                                              stopStrings: stopStrings, onOutput: onOutput),
                                            attention: attention)
        return Completion(result: result, promptTokens: kept.count, truncated: truncated)
    }

    public var trainedContextLength: Int { generator.loaded.model.description.trainedContextLength }
    public var vocabularySize: Int { generator.loaded.model.description.vocabularySize }
}
