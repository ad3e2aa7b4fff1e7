import Foundation
import Inference
import Results

/// The Swift inference engine: one loaded model, a prompt policy (the whole prompt, or truncation)
/// and an attention policy (full, lm-infinite, infllm, streaming-llm). An engine name is either a
/// prompt policy, run with full attention, or an attention strategy, run on the whole prompt.
public final class NativeEngine: Engine, EngineKind {
    public static let kind = "native"
    public static var engineNames: [String] { AttentionStrategies.names + PromptPolicies.names }

    public let record: EngineRecord
    let generator: Generator
    let prompt: PromptPolicy
    let attention: AttentionPolicy

    public static func make(_ spec: EngineSpec, context: EngineContext) throws -> Engine {
        try NativeEngine(spec, generator: try context.nativeGenerator())
    }

    public init(_ spec: EngineSpec, generator: Generator) throws {
        self.generator = generator
        let model = generator.loaded.model.description
        if let makePrompt = PromptPolicies.catalog[spec.name] {
            prompt = try makePrompt(spec.parameters, model)
            attention = FullAttention()
        } else {
            prompt = WholePrompt()
            attention = try AttentionStrategies.make(spec.name, parameters: spec.parameters, model: model)
        }
        var parameters = prompt.parameters.merging(attention.parameters) { a, _ in a }
        parameters["chunk_size"] = String(generator.chunkSize)
        parameters["threads"] = String(generator.loaded.context.parallelism.threads)
        record = EngineRecord(label: spec.label, kind: Self.kind, strategy: spec.name, parameters: parameters)
    }

    public var tokenizer: Tokenizer { generator.loaded.tokenizer }
    public var modelPath: String? { generator.loaded.path }
    public var modelName: String { generator.loaded.model.description.name }
    public var modelChatTemplate: String? { generator.loaded.file.metadata["tokenizer.chat_template"]?.stringValue }
    public var computeThreads: Int? { generator.loaded.context.parallelism.threads }

    /// Most bytes a generated task holds per prompt token while it builds a prompt and the sample
    /// runs (ids, text, the haystack it is cut from). Measured as the peak resident set's growth:
    /// passkey 7.7, kv_retrieval 9.6, needle 16 to 25; PromptMemoryTests keeps each under this.
    public static let promptBytesPerToken = 32

    public func refusal(promptTokens: Int, maxNewTokens: Int) -> String? {
        let positions = prompt.keptTokens(promptTokens, maxNewTokens: maxNewTokens) + maxNewTokens
        do {
            try generator.requireMemory(forPositions: positions, policy: attention, promptBytes: promptTokens * Self.promptBytesPerToken)
            return nil
        } catch {
            return "\(error)"
        }
    }

    public func run(_ sample: Sample, timeLimit: Double?) throws -> EngineOutput {
        let whole = sample.promptTokens ?? tokenizer.encode(sample.prompt, addSpecial: true, parseSpecial: false)
        let (tokens, truncated) = prompt.apply(whole, maxNewTokens: sample.maxNewTokens)
        // A chat template's end-of-turn tokens end generation too.
        let stops = sample.chatTemplate?.stopTokens(in: tokenizer)
        // The generator refuses what cannot fit (`ModelError.outOfMemory`, stored as skipped) before any work.
        ProcessMemory.resetPeakResident()
        let result = try generator.generate(GenerationRequest(promptTokens: tokens, maxNewTokens: sample.maxNewTokens, stopTokens: stops,
                                                              stopStrings: sample.stopStrings, timeLimit: timeLimit),
                                            attention: attention)
        let t = result.timings
        return EngineOutput(text: result.text, promptTokens: tokens.count, truncated: truncated, prefillSeconds: t.prefill,
                            timeToFirstTokenSeconds: t.timeToFirstToken, decodeSeconds: t.decode, decodeTokens: t.decodedTokens,
                            decodeTokensPerSecond: t.decodeTokensPerSecond, peakRSSBytes: result.peakResidentBytes,
                            attentionStateBytes: result.attentionStateBytes)
    }

    /// The prompt's tokens scored in prefill chunks under the engine's attention policy, each
    /// chunk's NLLs folded into position buckets as it is done. A prompt policy (truncation) scores
    /// the tokens it keeps, at their positions in what the model reads.
    public func scorePerplexity(_ sample: Sample, timeLimit: Double?) throws -> EngineOutput {
        guard let bucketSize = sample.perplexityBucket else { return try run(sample, timeLimit: timeLimit) }
        let whole = sample.promptTokens ?? tokenizer.encode(sample.prompt, addSpecial: true, parseSpecial: false)
        let (tokens, truncated) = prompt.apply(whole, maxNewTokens: 0)
        guard tokens.count >= 2 else { throw EngineSkip(description: "a perplexity sample needs at least 2 tokens, not \(tokens.count)") }
        ProcessMemory.resetPeakResident()
        var buckets = PerplexityAccumulator(bucketSize: bucketSize)
        let result = try generator.scoreNextTokens(tokens, attention: attention, timeLimit: timeLimit) { first, logProbabilities in
            buckets.add(firstPosition: first, logProbabilities)
        }
        var figures = buckets.figures
        figures[PerplexityFigures.trainedContext] = Double(generator.loaded.model.description.trainedContextLength)
        let summary = String(format: "perplexity %.4f (mean NLL %.4f nats over %d tokens)", exp(buckets.meanNLL), buckets.meanNLL, result.scoredTokens)
        return EngineOutput(text: summary, promptTokens: tokens.count, truncated: truncated,
                            prefillSeconds: result.seconds, timeToFirstTokenSeconds: result.seconds, decodeSeconds: 0, decodeTokens: 0,
                            decodeTokensPerSecond: nil, peakRSSBytes: result.peakResidentBytes,
                            attentionStateBytes: result.attentionStateBytes, figures: figures)
    }
}
