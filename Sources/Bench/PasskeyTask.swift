import Foundation
import Inference

/// Passkey retrieval in LM-Infinite's format (benchmark-formats §4.3): a task line, the filler
/// sentence k times, the key sentence, the filler N − k times, then the question; sized in the
/// model's own tokens, so a `4k` prompt is at most 4096 tokens, question included. Without
/// `--depths` the key position k is uniform in 0…N; with it, k sits at each depth of the grid.
/// The answer is the key (1…10,000,000), scored by the first integer in the output. The question's
/// last sentence ("The pass key is") is the answer prefix: with a chat template it follows the
/// assistant's header, and the template's tokens count in the length.
///
/// InfiniteBench's `passkey` and `number_string` (benchmark-formats §4.1, its
/// `construct_synthetic_dataset.py`) are the same layout with other texts: sentences that end in a
/// newline instead of being joined by spaces (`separator`), and keys of random digits (`key`:
/// `{"digits": 5}`; number_string then repeats a random digit of the key in place 5 times,
/// `"repeats": 5`, giving 10 digits with runs).
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
        /// Put before each filler and the key sentence; default one space.
        var separator: String?
        /// Absent: an integer in 1…10,000,000.
        var key: KeyFormat?

        enum CodingKeys: String, CodingKey {
            case prefix, filler, question, metric, separator, key
            case answerPrefix = "answer_prefix"
            case keySentence = "key_sentence"
            case maxNewTokens = "max_new_tokens"
        }
    }

    /// A key of `digits` random decimal digits (a leading zero included), into which a random digit
    /// of the key so far is then inserted again beside itself `repeats` times.
    struct KeyFormat: Decodable {
        var digits: Int
        var repeats: Int?

        var length: Int { digits + (repeats ?? 0) }

        func make(_ random: inout SeededRandom) -> String {
            var key = (0..<digits).map { _ in Character(String(Int.random(in: 0...9, using: &random))) }
            for _ in 0..<(repeats ?? 0) {
                let at = Int.random(in: 0..<key.count, using: &random)
                key.insert(key[at], at: at)
            }
            return String(key)
        }
    }

    let name: String
    var family: String { Self.name }
    let request: TaskRequest
    let tokenizer: Tokenizer
    let maxNewTokens: Int
    let metric: Metric
    private let prefix: String, filler: String, keySentence: String, question: String, answerPrefix: String, separator: String
    private let keyFormat: KeyFormat?
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
        separator = c.separator ?? " "
        keyFormat = c.key
        maxNewTokens = c.maxNewTokens
        metric = try MetricRegistry.named(c.metric, in: file.path)
        guard keySentence.contains("{key}") else { throw TaskError("\(file.path): key_sentence must contain {key}") }
        if let k = keyFormat, !(1...64).contains(k.digits) || !(0...64).contains(k.repeats ?? 0) {
            throw TaskError("\(file.path): key digits must be 1...64 and repeats 0...64 (got \(k.digits) and \(k.repeats ?? 0))")
        }
        format = PromptFormat(request.chatTemplate, tokenizer: tokenizer)
        head = format.headTokens(prefix)
        fillerTokens = tokenizer.encode(separator + filler, addSpecial: false, parseSpecial: false)
        tail = format.tailTokens(question, answerPrefix: answerPrefix)
        // The longest key sentence must leave room for one filler sentence at the shortest length.
        let longestKey = keyFormat.map { String(repeating: "9", count: $0.length) } ?? "9999999"
        let smallest = head.count + keyTokens(longestKey).count + tail.count + fillerTokens.count
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
                 "samples": String(request.samplesPerCell),
                 "lengths": request.lengths.map(String.init).joined(separator: ",")]
        p["depths"] = request.depths.map { $0.map { String(format: "%g", $0) }.joined(separator: ",") } ?? "uniform"
        // Parameters the first passkey runs did not have are recorded only where they are set, so those runs still compare.
        if let k = keyFormat { p["key_digits"] = String(k.digits); p["key_repeats"] = String(k.repeats ?? 0) } else { p["key_range"] = "1...10000000" }
        if separator != " " { p["separator"] = separator }
        if format.template != nil { p["answer_prefix"] = answerPrefix }
        return p
    }

    private func keyText(_ key: String) -> String { separator + keySentence.replacingOccurrences(of: "{key}", with: key) }

    private func keyTokens(_ key: String) -> [Int32] { tokenizer.encode(keyText(key), addSpecial: false, parseSpecial: false) }

    func plan() throws -> [PlannedSample] {
        PlannedSample.grid(task: name, request: request, depths: request.depths, maxNewTokens: maxNewTokens, metric: metric)
    }

    func makeSample(_ planned: PlannedSample) throws -> Sample {
        let length = planned.length
        var random = SeededRandom(seed: request.seed, [length, planned.depth.map { Int($0 * 1000) } ?? -1, planned.index])
        let key = keyFormat.map { $0.make(&random) } ?? String(Int.random(in: 1...10_000_000, using: &random))
        let keyPart = keyTokens(key)
        let n = (length - head.count - keyPart.count - tail.count) / fillerTokens.count
        let k = planned.depth.map { Int((Double(n) * $0 / 100).rounded()) } ?? Int.random(in: 0...n, using: &random)

        var tokens = head
        tokens.reserveCapacity(length)
        for _ in 0..<k { tokens += fillerTokens }
        tokens += keyPart
        for _ in k..<n { tokens += fillerTokens }
        tokens += tail
        let fillerText = String(repeating: separator + filler, count: k)
        let restText = String(repeating: separator + filler, count: n - k)
        let text = format.headText(prefix) + fillerText + keyText(key) + restText
            + format.tailText(question, answerPrefix: answerPrefix)
        var sample = Sample(key: planned.key, id: "\(name)-\(length)-\(planned.index)", dataset: name, prompt: text, promptTokens: tokens,
                            answers: [key], maxNewTokens: maxNewTokens, length: length, lengthUnit: .tokens,
                            depth: planned.depth ?? (n > 0 ? 100 * Double(k) / Double(n) : 0), metric: metric)
        sample.answerPrefix = answerPrefix
        sample.chatTemplate = format.template
        return sample
    }
}
