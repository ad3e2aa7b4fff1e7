import Foundation
import Inference
import Results

/// What an engine reports about one sample.
public struct EngineOutput: Sendable {
    public var text: String
    public var promptTokens: Int
    public var truncated: Bool
    public var prefillSeconds: Double
    public var timeToFirstTokenSeconds: Double
    public var decodeSeconds: Double
    public var decodeTokens: Int
    public var decodeTokensPerSecond: Double?
    public var peakRSSBytes: Int?
    public var attentionStateBytes: Int?

    public init(text: String, promptTokens: Int, truncated: Bool, prefillSeconds: Double, timeToFirstTokenSeconds: Double,
                decodeSeconds: Double, decodeTokens: Int, decodeTokensPerSecond: Double?, peakRSSBytes: Int?, attentionStateBytes: Int?) {
        self.text = text
        self.promptTokens = promptTokens
        self.truncated = truncated
        self.prefillSeconds = prefillSeconds
        self.timeToFirstTokenSeconds = timeToFirstTokenSeconds
        self.decodeSeconds = decodeSeconds
        self.decodeTokens = decodeTokens
        self.decodeTokensPerSecond = decodeTokensPerSecond
        self.peakRSSBytes = peakRSSBytes
        self.attentionStateBytes = attentionStateBytes
    }
}

/// An engine declined a sample before running it (it cannot fit in memory, say).
public struct EngineSkip: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// The harness's only view of inference: a prompt in; text, token counts, timings and memory out.
/// A future HTTP engine implements the same protocol.
public protocol Engine: AnyObject {
    var record: EngineRecord { get }
    /// Runs one sample; throws `EngineSkip` when it will not run it, `GenerationError.timedOut`
    /// past `timeLimit` seconds.
    func run(_ sample: Sample, timeLimit: Double?) throws -> EngineOutput
    /// Why a prompt of about `promptTokens` tokens cannot run (it would not fit in memory), or nil.
    /// Asked before the prompt is built, so an impossible length costs nothing.
    func refusal(promptTokens: Int, maxNewTokens: Int) -> String?
}

/// `name[:key=value]...` as written in `--engines` (e.g. `lm-infinite:n_local=4096`). The whole text
/// is the engine's label in results, so one strategy can run with several settings side by side.
public struct EngineSpec: Equatable, Sendable {
    public var label: String
    public var strategy: String
    public var parameters: [String: String]

    public static func parseList(_ text: String) throws -> [EngineSpec] {
        let specs = try text.split(separator: ",", omittingEmptySubsequences: false).map { try parse(String($0)) }
        var labels = Set<String>()
        for spec in specs where !labels.insert(spec.label).inserted {
            throw SpecError("--engines: '\(spec.label)' is listed twice")
        }
        return specs
    }

    public static func parse(_ text: String) throws -> EngineSpec {
        let label = text.trimmingCharacters(in: .whitespaces)
        let parts = label.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard let strategy = parts.first, !strategy.isEmpty else { throw SpecError("--engines: empty engine name in '\(text)'") }
        var parameters: [String: String] = [:]
        for part in parts.dropFirst() {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, !pair[0].isEmpty, !pair[1].isEmpty else {
                throw SpecError("--engines: '\(part)' in '\(label)' is not key=value (write e.g. lm-infinite:n_local=4096)")
            }
            parameters[pair[0]] = pair[1]
        }
        return EngineSpec(label: label, strategy: strategy, parameters: parameters)
    }
}

/// How the `truncation` engine cuts a prompt that is over budget, on token ids: `middle` keeps the
/// first and last halves (LongBench); `suffix` keeps the first `head` tokens and the tail (InfLLM).
public struct PromptTruncation: Sendable, Equatable {
    public enum Rule: String, Sendable { case middle, suffix }
    public var rule: Rule
    public var budget: Int
    public var head: Int

    public init(rule: Rule, budget: Int, head: Int) {
        self.rule = rule
        self.budget = budget
        self.head = head
    }

    public func apply(_ tokens: [Int32]) -> (tokens: [Int32], truncated: Bool) {
        guard tokens.count > budget else { return (tokens, false) }
        switch rule {
        case .middle:
            let half = budget / 2
            return (Array(tokens.prefix(half) + tokens.suffix(half)), true)
        case .suffix:
            let keep = min(head, budget)
            return (Array(tokens.prefix(keep) + tokens.suffix(budget - keep)), true)
        }
    }
}

/// The Swift inference engine: one loaded model, an optional prompt truncation and an attention
/// strategy. `truncation` is full attention on a cut prompt; every other name is an attention
/// strategy of `AttentionStrategies`.
public final class NativeEngine: Engine {
    public let record: EngineRecord
    let generator: Generator
    let policy: AttentionPolicy
    let truncation: PromptTruncation?
    let budgetFromGeneration: Bool

    public static var strategyNames: [String] { (AttentionStrategies.names + ["truncation"]).sorted() }

    public init(_ spec: EngineSpec, generator: Generator) throws {
        self.generator = generator
        let model = generator.loaded.model.description
        var parameters = spec.parameters
        if spec.strategy == "truncation" {
            var p = StrategyParameters(parameters, strategy: "truncation")
            let rule = try p.choice("rule", default: "middle", ["middle", "suffix"])
            let budget = try p.int("budget", default: 0, minimum: 0)
            let head = try p.int("head", default: 128, minimum: 0)
            try p.finish()
            truncation = PromptTruncation(rule: PromptTruncation.Rule(rawValue: rule)!, budget: budget, head: head)
            budgetFromGeneration = budget == 0
            policy = FullAttention()
            parameters = ["rule": rule, "head": String(head),
                          "budget": budget == 0 ? "\(model.trainedContextLength) - max_new_tokens" : String(budget)]
        } else {
            policy = try AttentionStrategies.make(spec.strategy, parameters: spec.parameters, model: model)
            truncation = nil
            budgetFromGeneration = false
            parameters = policy.parameters
        }
        parameters["chunk_size"] = String(generator.chunkSize)
        parameters["threads"] = String(generator.loaded.context.parallelism.threads)
        record = EngineRecord(label: spec.label, strategy: spec.strategy, parameters: parameters)
    }

    public func refusal(promptTokens: Int, maxNewTokens: Int) -> String? {
        var positions = promptTokens
        if let truncation { positions = min(positions, budgetFromGeneration ? generator.loaded.model.description.trainedContextLength : truncation.budget) }
        do {
            try generator.requireMemory(forPositions: positions + maxNewTokens, policy: policy)
            return nil
        } catch {
            return "\(error)"
        }
    }

    public func run(_ sample: Sample, timeLimit: Double?) throws -> EngineOutput {
        let tokenizer = generator.loaded.tokenizer
        var tokens = sample.promptTokens ?? tokenizer.encode(sample.prompt, addSpecial: true, parseSpecial: false)
        var truncated = false
        if var truncation {
            if budgetFromGeneration { truncation.budget = generator.loaded.model.description.trainedContextLength - sample.maxNewTokens }
            (tokens, truncated) = truncation.apply(tokens)
        }
        var stops = tokenizer.stopTokens
        if sample.stopAtNewline { stops.formUnion(tokenizer.encode("\n", addSpecial: false, parseSpecial: false)) }
        if let reason = refusal(promptTokens: tokens.count, maxNewTokens: sample.maxNewTokens) { throw EngineSkip(description: reason) }
        ProcessMemory.resetPeakResident()
        let result = try generator.generate(GenerationRequest(promptTokens: tokens, maxNewTokens: sample.maxNewTokens,
                                                              stopTokens: stops, timeLimit: timeLimit),
                                            attention: policy)
        let t = result.timings
        return EngineOutput(text: result.text, promptTokens: tokens.count, truncated: truncated, prefillSeconds: t.prefill,
                            timeToFirstTokenSeconds: t.timeToFirstToken, decodeSeconds: t.decode, decodeTokens: t.decodedTokens,
                            decodeTokensPerSecond: t.decodeTokensPerSecond, peakRSSBytes: result.peakResidentBytes,
                            attentionStateBytes: result.attentionStateBytes)
    }
}
