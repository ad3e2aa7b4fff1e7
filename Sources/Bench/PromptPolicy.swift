import Inference

/// What happens to a prompt's tokens before the model sees them: kept whole, or truncated to a
/// budget (beside the attention policies, which decide what the model keeps while it reads).
public protocol PromptPolicy: Sendable {
    var name: String { get }
    /// Every parameter it runs with, recorded with the engine.
    var parameters: [String: String] { get }
    /// How many of a prompt's `count` tokens reach the model when `maxNewTokens` follow.
    func keptTokens(_ count: Int, maxNewTokens: Int) -> Int
    func apply(_ tokens: [Int32], maxNewTokens: Int) -> (tokens: [Int32], truncated: Bool)
}

/// The prompt as it is.
public struct WholePrompt: PromptPolicy {
    public init() {}
    public var name: String { "whole" }
    public var parameters: [String: String] { [:] }
    public func keptTokens(_ count: Int, maxNewTokens: Int) -> Int { count }
    public func apply(_ tokens: [Int32], maxNewTokens: Int) -> (tokens: [Int32], truncated: Bool) { (tokens, false) }
}

/// Truncation on token ids, when a prompt is over budget: `middle` keeps the first and last halves
/// (LongBench); `suffix` keeps the first `head` tokens and the tail (InfLLM). Without a budget of
/// its own, the budget is the trained context minus the sample's generation budget (LongBench's rule).
public struct PromptTruncation: PromptPolicy {
    public enum Rule: String, Sendable, CaseIterable { case middle, suffix }
    public var rule: Rule
    /// nil: `trainedContext - maxNewTokens`.
    public var budget: Int?
    public var head: Int
    public var trainedContext: Int

    public init(rule: Rule, budget: Int?, head: Int, trainedContext: Int) {
        self.rule = rule
        self.budget = budget
        self.head = head
        self.trainedContext = trainedContext
    }

    public var name: String { "truncation" }

    public var parameters: [String: String] {
        ["rule": rule.rawValue, "head": String(head), "budget": budget.map(String.init) ?? "\(trainedContext) - max_new_tokens"]
    }

    func budget(maxNewTokens: Int) -> Int { budget ?? max(1, trainedContext - maxNewTokens) }

    public func keptTokens(_ count: Int, maxNewTokens: Int) -> Int { min(count, budget(maxNewTokens: maxNewTokens)) }

    public func apply(_ tokens: [Int32], maxNewTokens: Int) -> (tokens: [Int32], truncated: Bool) {
        let budget = budget(maxNewTokens: maxNewTokens)
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

/// The prompt policies by engine name, as `AttentionStrategies` holds the attention policies. A
/// factory reads the parameters given after the name (unknown ones are errors).
public enum PromptPolicies {
    public typealias Factory = (_ parameters: [String: String], _ model: ModelDescription) throws -> PromptPolicy

    public static let catalog: [String: Factory] = [
        "truncation": { parameters, model in
            var p = StrategyParameters(parameters, strategy: "truncation")
            let rule = try p.choice("rule", default: "middle", PromptTruncation.Rule.allCases.map(\.rawValue))
            let budget = try p.int("budget", default: 0, minimum: 0)
            let head = try p.int("head", default: 128, minimum: 0)
            try p.finish()
            return PromptTruncation(rule: PromptTruncation.Rule(rawValue: rule)!, budget: budget == 0 ? nil : budget, head: head,
                                    trainedContext: model.trainedContextLength)
        },
    ]

    public static var names: [String] { catalog.keys.sorted() }
}
