import Foundation
import Inference

/// InfiniteBench's `kv_retrieval` (benchmark-formats §4.1), generated natively at any length: a JSON
/// object of random uuid → uuid pairs, sized in the model's own tokens, and the question for the
/// value of one key. Without `--depths` the asked pair is uniform among the pairs; with it, the
/// pair sits at each depth of the grid. Scored as InfiniteBench does (`kv_words`). With a chat
/// template the whole prompt is the user message, as InfiniteBench sends it to chat models (no
/// answer prefix), and the template's tokens count in the length.
final class KVRetrievalTask: BenchmarkTask, TaskGenerator {
    static let name = "kv_retrieval"

    struct Configuration: Decodable {
        /// With `{context}` (the JSON data) and `{input}` (the question).
        var template: String
        /// With `{key}`.
        var question: String
        var maxNewTokens: Int
        var metric: String

        enum CodingKeys: String, CodingKey {
            case template, question, metric
            case maxNewTokens = "max_new_tokens"
        }
    }

    let name: String
    var family: String { Self.name }
    let request: TaskRequest
    let tokenizer: Tokenizer
    let configuration: Configuration
    let metric: Metric
    private let format: PromptFormat
    private let head: [Int32], close: [Int32]

    static func make(_ file: TaskFile, request: TaskRequest, catalog: TaskCatalog, tokenizer: Tokenizer) throws -> BenchmarkTask {
        try KVRetrievalTask(file, request: request, tokenizer: tokenizer)
    }

    init(_ file: TaskFile, request: TaskRequest, tokenizer: Tokenizer) throws {
        configuration = try file.decode(Configuration.self)
        name = file.name
        self.request = request
        self.tokenizer = tokenizer
        metric = try MetricRegistry.named(configuration.metric, in: file.path)
        guard let context = configuration.template.range(of: "{context}"), configuration.template.contains("{input}"),
              configuration.template[context.upperBound...].contains("{input}") else {
            throw TaskError("\(file.path): template must contain {context} and then {input}")
        }
        guard configuration.question.contains("{key}") else { throw TaskError("\(file.path): question must contain {key}") }
        format = PromptFormat(request.chatTemplate, tokenizer: tokenizer)
        head = format.headTokens(Self.before(configuration.template) + "JSON data:\n{")
        close = tokenizer.encode("}", addSpecial: false, parseSpecial: false)
        var random = SeededRandom(seed: 0)
        let smallest = head.count + close.count + 3 * questionTokens(Self.uuid(&random)).count
        if let short = request.lengths.first(where: { $0 < smallest }) {
            throw SpecError("--lengths: \(short) tokens is too short for \(name) (the shortest prompt is \(smallest) tokens)")
        }
    }

    var parameters: [String: String] {
        var p = ["template": configuration.template, "question": configuration.question, "max_new_tokens": String(configuration.maxNewTokens),
                 "metric": metric.name, "samples": String(request.samplesPerCell), "lengths": request.lengths.map(String.init).joined(separator: ",")]
        p["depths"] = request.depths.map { $0.map { String(format: "%g", $0) }.joined(separator: ",") } ?? "uniform"
        return p
    }

    /// A random uuid in the 8-4-4-4-12 form, from the sample's generator.
    static func uuid(_ random: inout SeededRandom) -> String {
        let hex = (0..<32).map { _ in String(Int.random(in: 0..<16, using: &random), radix: 16) }.joined()
        let i = hex.startIndex
        func part(_ from: Int, _ to: Int) -> Substring { hex[hex.index(i, offsetBy: from)..<hex.index(i, offsetBy: to)] }
        return [part(0, 8), part(8, 12), part(12, 16), part(16, 20), part(20, 32)].joined(separator: "-")
    }

    /// The template's text before the JSON object (`{{` and `}}` unescaped, as everywhere).
    static func before(_ template: String) -> String {
        fillTemplate(String(template[..<template.range(of: "{context}")!.lowerBound]), [:])
    }

    /// The text after the JSON object: its end of the template, with the question for `key`.
    private func tail(_ key: String) -> String {
        let afterContext = configuration.template[configuration.template.range(of: "{context}")!.upperBound...]
        return fillTemplate(String(afterContext), ["input": configuration.question.replacingOccurrences(of: "{key}", with: key)])
    }

    /// The question and, with a chat template, the template's generation prompt.
    private func questionTokens(_ key: String) -> [Int32] { format.tailTokens(tail(key), answerPrefix: "") }

    func plan() throws -> [PlannedSample] {
        PlannedSample.grid(task: name, request: request, depths: request.depths, maxNewTokens: configuration.maxNewTokens, metric: metric)
    }

    func makeSample(_ planned: PlannedSample) throws -> Sample {
        let length = planned.length
        var random = SeededRandom(seed: request.seed, [0x4B56, length, planned.depth.map { Int($0 * 1000) } ?? -1, planned.index])
        // Pairs in order until the prompt is full, leaving room for the question about the longest key.
        var pairs: [(key: String, value: String, tokens: [Int32])] = []
        var used = head.count + close.count
        var longestQuestion = 0
        while true {
            let key = Self.uuid(&random), value = Self.uuid(&random)
            let text = (pairs.isEmpty ? "" : ", ") + "\"\(key)\": \"\(value)\""
            let tokens = tokenizer.encode(text, addSpecial: false, parseSpecial: false)
            let question = questionTokens(key).count
            guard used + tokens.count + max(longestQuestion, question) <= length else { break }
            pairs.append((key, value, tokens))
            used += tokens.count
            longestQuestion = max(longestQuestion, question)
        }
        guard !pairs.isEmpty else { throw SpecError("--lengths: \(length) tokens is too short for \(name)") }
        let asked = planned.depth.map { Int((Double(pairs.count - 1) * $0 / 100).rounded()) } ?? Int.random(in: 0..<pairs.count, using: &random)
        let tokens = head + pairs.flatMap(\.tokens) + close + questionTokens(pairs[asked].key)
        let prompt = format.headText(Self.before(configuration.template) + "JSON data:\n{")
            + pairs.map { "\"\($0.key)\": \"\($0.value)\"" }.joined(separator: ", ") + "}" + format.tailText(tail(pairs[asked].key), answerPrefix: "")
        var sample = Sample(key: planned.key, id: "\(name)-\(length)-\(planned.index)", dataset: name, prompt: prompt, promptTokens: tokens,
                            answers: [pairs[asked].value], maxNewTokens: configuration.maxNewTokens, length: length, lengthUnit: .tokens,
                            depth: planned.depth ?? (pairs.count > 1 ? 100 * Double(asked) / Double(pairs.count - 1) : 0), metric: metric)
        sample.chatTemplate = format.template
        return sample
    }
}
