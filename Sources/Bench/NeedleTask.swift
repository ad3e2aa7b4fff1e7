import Foundation
import Inference

/// Needle in a haystack (benchmark-formats §3): for each length × depth, the haystack is cut to fit
/// the length (prompt template and needle included, in the model's tokens), the needle goes in at
/// the depth, moved back to the start of a sentence, and the model answers the question after it.
/// Every depth of one length and sample index sees the same haystack, so a heatmap row compares
/// positions, not texts. Scoring is deterministic: each expected answer must occur in the output,
/// case-insensitively. The template is the user message; `answer_prefix` starts the answer (after
/// the assistant's header when there is a chat template, whose tokens count in the length).
final class NeedleTask: BenchmarkTask, TaskGenerator {
    static let name = "needle"

    struct Configuration: Decodable {
        var needle: String
        var answers: [String]
        var template: String
        var answerPrefix: String?
        var maxNewTokens: Int
        var metric: String

        enum CodingKeys: String, CodingKey {
            case needle, answers, template, metric
            case answerPrefix = "answer_prefix"
            case maxNewTokens = "max_new_tokens"
        }
    }

    let name: String
    var family: String { Self.name }
    let request: TaskRequest
    let tokenizer: Tokenizer
    let maxNewTokens: Int
    let metric: Metric
    private let needle: String, answers: [String], answerPrefix: String
    private let format: PromptFormat
    private let before: [Int32], after: [Int32], needleTokens: [Int32]
    /// The template around {context}, without the answer prefix.
    private let templateText: (before: String, after: String)
    private var fileHaystack: [Int32]?
    /// The last generated haystack, by (length, sample index): the depths of a cell reuse it.
    private var generatedHaystack: (length: Int, index: Int, tokens: [Int32])?
    private var periodCache: [Int32: Bool] = [:]
    private let haystackSource: String

    static func make(_ file: TaskFile, request: TaskRequest, catalog: TaskCatalog, tokenizer: Tokenizer) throws -> BenchmarkTask {
        try NeedleTask(file, request: request, tokenizer: tokenizer)
    }

    init(_ file: TaskFile, request: TaskRequest, tokenizer: Tokenizer) throws {
        let c = try file.decode(Configuration.self)
        name = file.name
        self.request = request
        self.tokenizer = tokenizer
        needle = c.needle
        answers = c.answers
        maxNewTokens = c.maxNewTokens
        metric = try MetricRegistry.named(c.metric, in: file.path)
        guard !answers.isEmpty else { throw TaskError("\(file.path): field 'answers' must list at least one answer") }
        answerPrefix = c.answerPrefix ?? ""
        let template = c.template
        guard let range = template.range(of: "{context}") else { throw TaskError("\(file.path): template must contain {context}") }
        templateText = (String(template[..<range.lowerBound]), String(template[range.upperBound...]))
        format = PromptFormat(request.chatTemplate, tokenizer: tokenizer)
        before = format.headTokens(templateText.before)
        after = format.tailTokens(templateText.after, answerPrefix: answerPrefix)
        needleTokens = tokenizer.encode(needle, addSpecial: false, parseSpecial: false)
        let smallest = before.count + after.count + needleTokens.count + 16
        if let short = request.lengths.first(where: { $0 < smallest }) {
            throw SpecError("--lengths: \(short) tokens is too short for \(name) (template and needle take \(smallest - 16) tokens)")
        }
        if let path = request.haystackPath {
            haystackSource = path
            _ = try Haystack.files(at: path)   // fail now, not at the first sample
        } else {
            // Not "generated(seed N)": that label's prose was one text cut per sample, cycling at 2^18 tokens.
            haystackSource = "generated prose per length and sample (seed \(request.seed))"
        }
    }

    var depths: [Double] { request.depths ?? Array(stride(from: 0.0, through: 100, by: 10)) }

    var parameters: [String: String] {
        // Without a chat template the answer prefix is the template's end, recorded as one text (as before).
        let template = templateText.before + "{context}" + templateText.after
        var p = ["needle": needle, "answers": answers.joined(separator: " | "),
                 "template": format.template == nil ? template + answerPrefix : template,
                 "max_new_tokens": String(maxNewTokens), "metric": metric.name, "haystack": haystackSource,
                 "depths": depths.map { String(format: "%g", $0) }.joined(separator: ","), "samples": String(request.samplesPerCell),
                 "lengths": request.lengths.map(String.init).joined(separator: ",")]
        if format.template != nil { p["answer_prefix"] = answerPrefix }
        return p
    }

    func plan() throws -> [PlannedSample] {
        PlannedSample.grid(task: name, request: request, depths: depths, maxNewTokens: maxNewTokens, metric: metric)
    }

    /// `count` haystack tokens for sample `index` of `length`. A haystack file is read from a
    /// sentence start chosen by the seed (sample 0: the file's start) and repeats when it is
    /// shorter than the prompt, as gkamradt's harness does; generated prose is new text to any
    /// length, from the seed, the length and the index.
    func haystack(length: Int, index: Int, count: Int) throws -> [Int32] {
        guard let path = request.haystackPath else {
            if let cached = generatedHaystack, cached.length == length, cached.index == index, cached.tokens.count >= count {
                return Array(cached.tokens.prefix(count))
            }
            let tokens = Haystack.generated(seed: request.seed, [length, index], tokens: count, tokenizer: tokenizer)
            generatedHaystack = (length, index, tokens)
            return tokens
        }
        if fileHaystack == nil {
            let text = try Haystack.files(at: path).map { try Haystack.read($0) }.joined(separator: "\n\n")
            fileHaystack = tokenizer.encode(text, addSpecial: false, parseSpecial: false)
            guard !fileHaystack!.isEmpty else { throw TaskError("\(path): the haystack text is empty") }
        }
        let hay = fileHaystack!
        var start = 0
        if index > 0 {
            var random = SeededRandom(seed: request.seed, [length, index])
            start = Int.random(in: 0..<hay.count, using: &random)
            while start > 0 && !endsSentence(hay[start - 1]) { start -= 1 }
        }
        var context: [Int32] = []
        context.reserveCapacity(count)
        var i = start
        while context.count < count {
            context.append(hay[i])
            i = (i + 1) % hay.count
        }
        return context
    }

    private func endsSentence(_ token: Int32) -> Bool {
        if let known = periodCache[token] { return known }
        let text = tokenizer.decode([token], renderSpecial: false).trimmingCharacters(in: .whitespacesAndNewlines)
        let result = text.hasSuffix(".") || text.hasSuffix("!") || text.hasSuffix("?")
        periodCache[token] = result
        return result
    }

    func makeSample(_ planned: PlannedSample) throws -> Sample {
        let length = planned.length, depth = planned.depth ?? 50
        let budget = length - before.count - after.count - needleTokens.count
        let context = try haystack(length: length, index: planned.index, count: budget)
        var insertion = depth >= 100 ? budget : Int(Double(budget) * depth / 100)
        while insertion > 0 && insertion < budget && !endsSentence(context[insertion - 1]) { insertion -= 1 }
        let tokens = before + context[..<insertion] + needleTokens + context[insertion...] + after
        let text = format.headText(templateText.before) + tokenizer.decode(Array(context[..<insertion]), renderSpecial: false) + needle
            + tokenizer.decode(Array(context[insertion...]), renderSpecial: false) + format.tailText(templateText.after, answerPrefix: answerPrefix)
        var sample = Sample(key: planned.key, id: "\(name)-\(length)-\(String(format: "%g", depth))-\(planned.index)", dataset: name,
                            prompt: text, promptTokens: tokens, answers: answers, maxNewTokens: maxNewTokens, length: length,
                            lengthUnit: .tokens, depth: depth, metric: metric)
        sample.answerPrefix = answerPrefix
        sample.chatTemplate = format.template
        return sample
    }
}

/// Haystack text: the `.txt` files of a folder (in name order) or one file; or prose generated
/// from the seed.
public enum Haystack {
    static func files(at path: String) throws -> [String] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw TaskError("\(path): haystack not found (--haystack takes a text file or a folder of .txt files)")
        }
        guard isFolder.boolValue else { return [path] }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".txt") }.sorted()
        guard !names.isEmpty else { throw TaskError("\(path): no .txt files in the haystack folder") }
        return names.map { path + "/" + $0 }
    }

    static func read(_ file: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: file) else { throw TaskError("\(file): cannot read the haystack file") }
        return String(decoding: data, as: UTF8.self)
    }

    /// Varied prose (`ProseParagraphs`) until `tokens` tokens.
    public static func generated(seed: Int, _ parts: [Int], tokens count: Int, tokenizer: Tokenizer) -> [Int32] {
        var paragraphs = ProseParagraphs(seed: seed, parts)
        var result: [Int32] = []
        result.reserveCapacity(count + 64)
        while result.count < count, let paragraph = paragraphs.next() {
            result += tokenizer.encode(paragraph, addSpecial: false, parseSpecial: false)
        }
        return Array(result.prefix(count))
    }
}

/// Varied prose: sentences drawn from small grammars of subjects, actions, objects and settings,
/// grouped into paragraphs (each ending in a blank line). The random stream never cycles within
/// any length lmbench accepts, so the text does not repeat itself (single sentences do, as in prose).
public struct ProseParagraphs: IteratorProtocol {
    private static let subjects = ["The old miller", "A young teacher", "The river pilot", "My grandmother", "The night watchman", "A travelling doctor",
                                   "The village council", "Our neighbour", "The harbour master", "A quiet student", "The baker's daughter",
                                   "The station clerk", "An elderly sailor", "The gardener", "A stranger from the north", "The choir"]
    private static let actions = ["repaired", "described", "carried", "painted", "forgot", "measured", "sold", "collected", "counted", "borrowed",
                                  "discovered", "polished", "wrapped", "examined", "returned", "photographed"]
    private static let objects = ["the broken lantern", "a basket of apples", "the long letter", "an old map of the valley", "the copper kettle",
                                  "three wooden chairs", "the school bell", "a box of seeds", "the torn sail", "a pair of boots",
                                  "the ledger of the mill", "a jar of honey", "the bridge railings", "a stack of newspapers"]
    private static let settings = ["before the first frost", "on a windy afternoon", "near the market square", "while the tide was out",
                                   "after the long winter", "under the chestnut trees", "at the edge of town", "during the spring fair",
                                   "beside the railway line", "late in the evening", "in the upper field", "behind the chapel"]
    private static let remarks = ["Nobody could say why.", "It rained for most of the week.", "The children watched from the fence.",
                                  "Prices at the market had risen again.", "The dogs barked at every cart that passed.",
                                  "Everyone agreed it had been a good year for pears.", "A letter arrived from the city soon after.",
                                  "The clock in the square was running slow.", "Smoke rose straight up from the chimneys."]
    private var random: SeededRandom

    public init(seed: Int, _ parts: [Int]) { random = SeededRandom(seed: seed, [0x4E45_4544] + parts) }

    public mutating func next() -> String? {
        var paragraph: [String] = []
        for _ in 0..<Int.random(in: 3...7, using: &random) {
            if Int.random(in: 0..<4, using: &random) == 0 {
                paragraph.append(Self.remarks.randomElement(using: &random)!)
            } else {
                paragraph.append("\(Self.subjects.randomElement(using: &random)!) \(Self.actions.randomElement(using: &random)!) "
                                 + "\(Self.objects.randomElement(using: &random)!) \(Self.settings.randomElement(using: &random)!).")
            }
        }
        return paragraph.joined(separator: " ") + "\n\n"
    }
}
