import GGUF

/// A bad strategy name or parameter.
public struct StrategyError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The attention strategies by name, so the harness offers every strategy the engine has without
/// knowing them. A factory takes the parameters given on the command line (strings; missing ones
/// take their defaults, unknown ones are errors) and the model, and returns the policy, whose
/// `parameters` then list every value it runs with.
public enum AttentionStrategies {
    public typealias Factory = (_ parameters: [String: String], _ model: ModelDescription) throws -> AttentionPolicy

    public static let catalog: [String: Factory] = [
        "full": { parameters, _ in
            try StrategyParameters(parameters, strategy: "full").finish()
            return FullAttention()
        },
        "lm-infinite": { parameters, model in
            var p = StrategyParameters(parameters, strategy: "lm-infinite")
            let nLocal = try p.int("n_local", default: model.trainedContextLength, minimum: 1)
            let policy = LMInfinite(nGlobal: try p.int("n_global", default: 10), nLocal: nLocal, topK: try p.int("top_k", default: 0),
                                    topKInsertAt: try p.int("top_k_insert_at", default: nLocal / 2),
                                    topKFromLayer: try p.int("top_k_from_layer", default: 4))
            try p.finish()
            return policy
        },
        "infllm": { parameters, _ in
            var p = StrategyParameters(parameters, strategy: "infllm")
            var policy = InfLLM()
            policy.nInit = try p.int("n_init", default: policy.nInit, minimum: 0)
            policy.nLocal = try p.int("n_local", default: policy.nLocal, minimum: 1)
            policy.blockSize = try p.int("block_size", default: policy.blockSize, minimum: 16)
            policy.representatives = try p.int("repr_topk", default: policy.representatives, minimum: 1)
            policy.topK = try p.int("topk", default: policy.topK, minimum: 0)
            policy.lookupChunk = try p.int("exc_block_size", default: policy.lookupChunk, minimum: 1)
            try p.finish()
            // Memory blocks are read as spans of whole 16-key panels.
            guard policy.nInit % 16 == 0, policy.blockSize % 16 == 0 else {
                throw StrategyError("infllm: n_init and block_size must be multiples of 16")
            }
            guard policy.representatives <= policy.blockSize else { throw StrategyError("infllm: repr_topk must be at most block_size") }
            return policy
        },
        "streaming-llm": { parameters, _ in
            var p = StrategyParameters(parameters, strategy: "streaming-llm")
            let policy = StreamingLLM(nSink: try p.int("n_sink", default: 4), nLocal: try p.int("n_local", default: 2000, minimum: 1))
            try p.finish()
            return policy
        },
    ]

    public static var names: [String] { catalog.keys.sorted() }

    public static func make(_ name: String, parameters: [String: String], model: ModelDescription) throws -> AttentionPolicy {
        guard let factory = catalog[name] else {
            throw StrategyError("unknown attention strategy \(GGUFError.quoted(name)) (strategies: \(names.joined(separator: ", ")))")
        }
        return try factory(parameters, model)
    }
}

/// Reads a strategy's parameters, remembering which were used so that a misspelt one is an error.
public struct StrategyParameters {
    private let given: [String: String]
    private let strategy: String
    private var used: Set<String> = []

    public init(_ given: [String: String], strategy: String) {
        self.given = given
        self.strategy = strategy
    }

    /// Largest value an integer parameter takes: the longest prompt lmbench runs (2^30 tokens), so
    /// that the memory figures worked out from the parameters cannot overflow.
    public static let maximum = 1 << 30

    /// An integer parameter (token counts accept 4k / 1M) from `minimum` to `maximum`.
    public mutating func int(_ name: String, default fallback: Int, minimum: Int = 0) throws -> Int {
        used.insert(name)
        guard let text = given[name] else { return fallback }
        var digits = text
        var multiplier = 1
        if digits.hasSuffix("k") { multiplier = 1024; digits.removeLast() } else if digits.hasSuffix("M") { multiplier = 1 << 20; digits.removeLast() }
        guard let n = Int(digits), n >= 0, n <= Self.maximum / multiplier, n * multiplier >= minimum else {
            throw StrategyError("\(strategy): parameter \(name) must be an integer from \(minimum) to 1024M, not \(GGUFError.quoted(text))")
        }
        return n * multiplier
    }

    /// A parameter that takes one of `choices`.
    public mutating func choice(_ name: String, default fallback: String, _ choices: [String]) throws -> String {
        used.insert(name)
        guard let text = given[name] else { return fallback }
        guard choices.contains(text) else {
            throw StrategyError("\(strategy): parameter \(name) must be one of \(choices.joined(separator: ", ")), not \(GGUFError.quoted(text))")
        }
        return text
    }

    /// Fails on any parameter that was given but never read.
    public func finish() throws {
        if let unknown = given.keys.sorted().first(where: { !used.contains($0) }) {
            let known = used.sorted()
            throw StrategyError("\(strategy): unknown parameter \(GGUFError.quoted(unknown))"
                                + (known.isEmpty ? " (it takes none)" : " (parameters: \(known.joined(separator: ", ")))"))
        }
    }
}
