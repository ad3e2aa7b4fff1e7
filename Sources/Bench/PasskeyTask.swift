import Foundation
import Inference

/// Passkey retrieval in LM-Infinite's format (benchmark-formats §4.3): a task line, the filler
/// sentence k times, the key sentence, the filler N − k times, then the question; sized in the
/// model's own tokens, so a `4k` prompt is at most 4096 tokens, question included. Without
/// `--depths` the key position k is uniform in 0…N; with it, k sits at each depth of the grid.
/// The answer is the key (1…10,000,000), scored by the first integer in the output. The question's
/// last sentence ("The pass key is") is the answer prefix: with a chat template it follows the
/// assistant's header, and the template's tokens count in the length.
final class PasskeyTask: BenchmarkTask, TaskGenerator {
    static let name = "passkey"

    struct Configuration: Decodable {
        var prefix: String
        var filler: String
        var keySentence: String
        var question: String
        /// Words after the question that start the answer.
        var answerPrefix: String?
        var maxNewTokens: Int
        var metric: String

        enum CodingKeys: String, CodingKey {
            case prefix, filler, question, metric
            case answerPrefix = "answer_prefix"
            case keySentence = "key_sentence"
            case maxNewTokens = "max_new_tokens"
        }
    }

    let name: String
    var family: String { Self.name }
    let request: TaskRequest
    let tokenizer: Tokenizer
    let maxNewTokens: Int
    let metric: Metric
    private let prefix: String, filler: String, keySentence: String, question: String, answerPrefix: String
    private let format: PromptFormat
    /// BOS, the template's head and the task line; the question, the template's tail and the answer prefix.
    private let head: [Int32], fillerTokens: [Int32], tail: [Int32]

    static func make(_ file: TaskFile, request: TaskRequest, catalog: TaskCatalog, tokenizer: Tokenizer) throws -> BenchmarkTask {
        try PasskeyTask(file, request: request, tokenizer: tokenizer)
    }

    init(_ file: TaskFile, request: TaskRequest, tokenizer: Tokenizer) throws {
        let c = try file.decode(Configuration.self)
        name = file.name
        self.request = request
        self.tokenizer = tokenizer
        prefix = c.prefix
        filler = c.filler
        keySentence = c.keySentence
        question = c.question
        answerPrefix = c.answerPrefix ?? ""
        maxNewTokens = c.maxNewTokens
        metric = try MetricRegistry.named(c.metric, in: file.path)
        guard keySentence.contains("{key}") else { throw TaskError("\(file.path): key_sentence must contain {key}") }
        format = PromptFormat(request.chatTemplate, tokenizer: tokenizer)
        head = format.headTokens(prefix)
        fillerTokens = tokenizer.encode(" " + filler, addSpecial: false, parseSpecial: false)
        tail = format.tailTokens(question, answerPrefix: answerPrefix)
        // The longest key sentence must leave room for one filler sentence at the shortest length.
        let smallest = head.count + keyTokens(9_999_999).count + tail.count + fillerTokens.count
        if let short = request.lengths.first(where: { $0 < smallest }) {
            throw SpecError("--lengths: \(short) tokens is too short for \(name) (the shortest prompt is \(smallest) tokens)")
        }
    }

    var parameters: [String: String] {
        // Without a template the question and the answer prefix are one text, recorded as one (as
        // before the prefix was split out, so such runs compare with earlier ones).
        var p = ["prefix": prefix, "filler": filler, "key_sentence": keySentence,
                 "question": format.template == nil ? question + answerPrefix : question,
                 "max_new_tokens": String(maxNewTokens), "metric": metric.name,
                 "key_range": "1...10000000", "samples": String(request.samplesPerCell),
                 "lengths": request.lengths.map(String.init).joined(separator: ",")]
        p["depths"] = request.depths.map { $0.map { String(format: "%g", $0) }.joined(separator: ",") } ?? "uniform"
        if format.template != nil { p["answer_prefix"] = answerPrefix }
        return p
    }

    private func keyTokens(_ key: Int) -> [Int32] {
        tokenizer.encode(" " + keySentence.replacingOccurrences(of: "{key}", with: String(key)), addSpecial: false, parseSpecial: false)
    }

    func plan() throws -> [PlannedSample] {
        PlannedSample.grid(task: name, request: request, depths: request.depths, maxNewTokens: maxNewTokens, metric: metric)
    }

    func makeSample(_ planned: PlannedSample) throws -> Sample {
        let length = planned.length
        var random = SeededRandom(seed: request.seed, [length, planned.depth.map { Int($0 * 1000) } ?? -1, planned.index])
        let key = Int.random(in: 1...10_000_000, using: &random)
        let keyPart = keyTokens(key)
        let n = (length - head.count - keyPart.count - tail.count) / fillerTokens.count
        let k = planned.depth.map { Int((Double(n) * $0 / 100).rounded()) } ?? Int.random(in: 0...n, using: &random)

        var tokens = head
        tokens.reserveCapacity(length)
        for _ in 0..<k { tokens += fillerTokens }
        tokens += keyPart
        for _ in k..<n { tokens += fillerTokens }
        tokens += tail
        let fillerText = String(repeating: " " + filler, count: k)
        let restText = String(repeating: " " + filler, count: n - k)
        let text = format.headText(prefix) + fillerText + " " + keySentence.replacingOccurrences(of: "{key}", with: String(key)) + restText
            + format.tailText(question, answerPrefix: answerPrefix)
        var sample = Sample(key: planned.key, id: "\(name)-\(length)-\(planned.index)", dataset: name, prompt: text, promptTokens: tokens,
                            answers: [String(key)], maxNewTokens: maxNewTokens, length: length, lengthUnit: .tokens,
                            depth: planned.depth ?? (n > 0 ? 100 * Double(k) / Double(n) : 0), metric: metric)
        sample.answerPrefix = answerPrefix
        sample.chatTemplate = format.template
        return sample
    }
}
