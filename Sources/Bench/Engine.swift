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
    /// Named figures the engine measured itself (a perplexity sample's NLL per position bucket),
    /// stored with the sample's figures.
    public var figures: [String: Double]

    public init(text: String, promptTokens: Int, truncated: Bool, prefillSeconds: Double, timeToFirstTokenSeconds: Double,
                decodeSeconds: Double, decodeTokens: Int, decodeTokensPerSecond: Double?, peakRSSBytes: Int?, attentionStateBytes: Int?,
                figures: [String: Double] = [:]) {
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
        self.figures = figures
    }
}

/// An engine declined a sample before running it (it cannot fit in memory, say).
public struct EngineSkip: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// The harness's only view of inference: a prompt in; text, token counts, timings and memory out.
/// Engine kinds (`EngineKinds`) make them from `--engines` specifications.
public protocol Engine: AnyObject {
    var record: EngineRecord { get }
    /// The tokenizer prompts are sized in: generated tasks count the prompt in these tokens.
    var tokenizer: Tokenizer { get }
    /// The model's file, hashed into the run row (nil when the engine has no local file).
    var modelPath: String? { get }
    var modelName: String { get }
    /// Runs one sample; throws `EngineSkip` when it will not run it, `GenerationError.timedOut`
    /// past `timeLimit` seconds.
    func run(_ sample: Sample, timeLimit: Double?) throws -> EngineOutput
    /// Why a prompt of about `promptTokens` tokens cannot run (it would not fit in memory), or nil.
    /// Asked before the prompt is built, so an impossible length costs nothing.
    func refusal(promptTokens: Int, maxNewTokens: Int) -> String?
    /// The model's own chat template (a GGUF's `tokenizer.chat_template`), which `--chat-template
    /// auto` detects; nil when the model has none.
    var modelChatTemplate: String? { get }
    /// The threads the engine computes on in this process, against which its CPU time says whether
    /// another process took cores from it; nil for an engine whose work happens elsewhere.
    var computeThreads: Int? { get }
    /// How many samples the runner may run through this engine at once, each on a thread of its own:
    /// a remote server's requests in flight; 1 for an engine that computes in this process.
    var maxInFlight: Int { get }
    /// Scores a perplexity sample (`Sample.perplexityBucket` set) instead of generating: the NLL of
    /// every prompt token after the first, as `PerplexityFigures` in the output's figures. Engines
    /// without next-token log-probabilities skip such samples (the default).
    func scorePerplexity(_ sample: Sample, timeLimit: Double?) throws -> EngineOutput
}

extension Engine {
    public var modelChatTemplate: String? { nil }
    public var computeThreads: Int? { nil }
    public var maxInFlight: Int { 1 }

    public func scorePerplexity(_ sample: Sample, timeLimit: Double?) throws -> EngineOutput {
        throw EngineSkip(description: "engine \(record.label) (\(record.kind)) cannot score perplexity: it gives no next-token log-probabilities")
    }

    /// Runs a sample as it asks: scored token by token (perplexity) or generated.
    public func perform(_ sample: Sample, timeLimit: Double?) throws -> EngineOutput {
        sample.perplexityBucket == nil ? try run(sample, timeLimit: timeLimit) : try scorePerplexity(sample, timeLimit: timeLimit)
    }
}

/// `name[:key=value]...` as written in `--engines` (e.g. `lm-infinite:n_local=4096`). The whole text
/// is the engine's label in results, so one strategy can run with several settings side by side.
public struct EngineSpec: Equatable, Sendable {
    public var label: String
    public var name: String
    public var parameters: [String: String]

    public static func parseList(_ text: String) throws -> [EngineSpec] {
        let specs = try text.split(separator: ",", omittingEmptySubsequences: false).map { try parse(String($0)) }
        var labels = Set<String>()
        for spec in specs where !labels.insert(spec.label).inserted {
            throw SpecError("--engines: \(quoted(spec.label)) is listed twice")
        }
        return specs
    }

    public static func parse(_ text: String) throws -> EngineSpec {
        let label = text.trimmingCharacters(in: .whitespaces)
        let parts = label.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard let name = parts.first, !name.isEmpty else { throw SpecError("--engines: empty engine name in \(quoted(text))") }
        var parameters: [String: String] = [:]
        var lastKey: String?
        for part in parts.dropFirst() {
            // A URL's own colons (`url=http://host:8080/v1`) continue the value they split.
            if let key = lastKey, let value = parameters[key], Self.continuesURL(value, with: part) {
                parameters[key] = value + ":" + part
                continue
            }
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, !pair[0].isEmpty, !pair[1].isEmpty else {
                throw SpecError("--engines: \(quoted(part)) in \(quoted(label)) is not key=value (write e.g. lm-infinite:n_local=4096)")
            }
            parameters[pair[0]] = pair[1]
            lastKey = pair[0]
        }
        return EngineSpec(label: label, name: name, parameters: parameters)
    }

    /// Whether `part` is the rest of a URL that `value` starts: `//host` after a scheme, or a port
    /// and path after `scheme://host`.
    static func continuesURL(_ value: String, with part: String) -> Bool {
        let isScheme = !value.isEmpty && value.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+.-".contains($0)) }
        if isScheme && part.hasPrefix("//") { return true }
        guard let schemeEnd = value.range(of: "://")?.upperBound else { return false }
        return !value[schemeEnd...].contains(":") && part.first?.isNumber == true
    }
}

