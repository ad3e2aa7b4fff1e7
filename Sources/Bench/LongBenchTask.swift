import Foundation
import Inference

/// LongBench-format JSONL (benchmark-formats §1.1). A task file with a `dataset` field defines one
/// LongBench dataset (official template, max new tokens, metric) and runs only that dataset's
/// records (`lmbench run qasper`); one without (`tasks/longbench.json`) runs every record, each
/// by the definition of its `dataset` field. Without a chat template prompts are raw completions;
/// with one, the filled template is the user message (as LongBench's `build_chat` wraps the whole
/// prompt) and a dataset's `answer_prefix`, if any, follows the assistant's header. Truncation is
/// the engine's business (the `truncation` engine), as in LongBench.
final class LongBenchTask: BenchmarkTask, TaskGenerator {
    static let name = "longbench"

    /// One dataset's definition.
    struct Dataset: Decodable {
        var dataset: String?
        var template: String?
        var answerPrefix: String?
        var maxNewTokens: Int
        var metric: String
        var firstLineOnly: Bool?
        var stopAtNewline: Bool?

        enum CodingKeys: String, CodingKey {
            case dataset, template, metric
            case answerPrefix = "answer_prefix"
            case maxNewTokens = "max_new_tokens"
            case firstLineOnly = "first_line_only"
            case stopAtNewline = "stop_at_newline"
        }
    }

    /// A dataset definition with its metric looked up.
    struct Definition {
        var template: String
        var answerPrefix: String
        var maxNewTokens: Int
        var metric: Metric
        var firstLineOnly: Bool
        var stopStrings: [String]

        init(_ d: Dataset, file: TaskFile) throws {
            template = d.template ?? "{context}"
            answerPrefix = d.answerPrefix ?? ""
            maxNewTokens = d.maxNewTokens
            metric = try MetricRegistry.named(d.metric, in: file.path)
            firstLineOnly = d.firstLineOnly ?? false
            stopStrings = d.stopAtNewline == true ? ["\n"] : []
        }

        /// The definition as a run records it, each key after `prefix`.
        func parameters(prefix: String, chatTemplate: ChatTemplate?) -> [String: String] {
            var p = [prefix + "max_new_tokens": String(maxNewTokens), prefix + "metric": metric.name]
            // Without a chat template the answer prefix is the template's end, recorded as one text (as before).
            p[prefix + "template"] = chatTemplate == nil ? template + answerPrefix : template
            if chatTemplate != nil { p[prefix + "answer_prefix"] = answerPrefix }
            return p
        }

        /// The sample of one record: the template and the answer prefix filled with `values`, the
        /// filled template being the user message.
        func sample(key: String, id: String, dataset: String, values: [String: String], answers: [String], words: Int,
                    format: PromptFormat) -> Sample {
            let message = fillTemplate(template, values), answerPrefix = fillTemplate(self.answerPrefix, values)
            var sample = Sample(key: key, id: id, dataset: dataset, prompt: format.text(message: message, answerPrefix: answerPrefix),
                                promptTokens: format.tokens(message: message, answerPrefix: answerPrefix), answers: answers,
                                maxNewTokens: maxNewTokens, length: words, lengthUnit: .words, depth: nil, metric: metric)
            sample.stopStrings = stopStrings
            sample.firstLineOnly = firstLineOnly
            sample.answerPrefix = answerPrefix
            sample.chatTemplate = format.template
            return sample
        }
    }

    struct Record {
        var line: Int
        var id: String
        var dataset: String
        var context: String
        var input: String
        var answers: [String]
        var allClasses: [String]
        /// LongBench's `length` field, or the context's whitespace-separated words as LongBench
        /// counts them for English when the field is absent.
        var words: Int
    }

    let name: String
    var family: String { Self.name }
    let request: TaskRequest
    let tokenizer: Tokenizer
    let definitions: [String: Definition]
    let only: String?
    let path: String
    private let records: [Record]

    static func make(_ file: TaskFile, request: TaskRequest, catalog: TaskCatalog, tokenizer: Tokenizer) throws -> BenchmarkTask {
        let only = try file.decode(Dataset.self).dataset
        var definitions: [String: Definition] = [:]
        for f in catalog.files(generator: name) {
            if let dataset = try f.decode(Dataset.self).dataset { definitions[dataset] = try Definition(f.decode(Dataset.self), file: f) }
        }
        return try LongBenchTask(name: file.name, definitions: definitions, only: only, folder: catalog.folder, request: request,
                                 tokenizer: tokenizer)
    }

    init(name: String, definitions: [String: Definition], only: String?, folder: String, request: TaskRequest, tokenizer: Tokenizer) throws {
        guard let path = request.dataPath else {
            throw SpecError("lmbench run \(name): --data FILE is required (a LongBench-format .jsonl file)")
        }
        self.name = name
        self.request = request
        self.tokenizer = tokenizer
        self.definitions = definitions
        self.only = only
        self.path = path
        var records = try LongBenchTask.load(path, definitions: definitions, folder: folder)
        if let only { records = records.filter { $0.dataset == only } }
        if let limit = request.limit { records = Array(records.prefix(limit)) }
        guard !records.isEmpty else {
            throw TaskError("\(path): no records\(only.map { " of dataset '\($0)'" } ?? "") to run")
        }
        self.records = records
    }

    var parameters: [String: String] {
        var p = ["data": path, "records": String(records.count), "chat_template": request.chatTemplate?.name ?? "none"]
        if let only { p["dataset"] = only }
        if let limit = request.limit { p["limit"] = String(limit) }
        for dataset in Set(records.map(\.dataset)).sorted() {
            p.merge(definitions[dataset]!.parameters(prefix: "\(dataset).", chatTemplate: request.chatTemplate)) { a, _ in a }
        }
        return p
    }

    /// Parses every line, reporting the first bad one as `FILE:LINE: why` (`JSONLines`).
    static func load(_ path: String, definitions: [String: Definition], folder: String) throws -> [Record] {
        try JSONLines.records(in: path).map { r in
            guard let context = try r.string("context") else { throw r.error("field 'context' is missing") }
            guard let dataset = try r.string("dataset") else { throw r.error("field 'dataset' is missing") }
            guard let answers = try r.strings("answers"), !answers.isEmpty else {
                throw r.error("field 'answers' must be a non-empty list of strings")
            }
            guard let definition = definitions[dataset] else {
                throw r.error("no task definition for dataset \(quoted(dataset)) (add one to \(folder)/longbench/)")
            }
            let input = try r.string("input") ?? ""
            let classes = try r.strings("all_classes") ?? []
            if definition.metric.name == Metric.classification.name && classes.isEmpty {
                throw r.error("dataset \(quoted(dataset)) is scored by classification but field 'all_classes' is missing or empty")
            }
            // LongBench's `length` counts the words (characters, for Chinese) of the input, the
            // context and the answers, so it cannot exceed their characters.
            let characters = ([input, context] + answers).reduce(0) { $0 + $1.unicodeScalars.count }
            let words = try r.integer("length", in: 0...characters,
                                      "it counts the words of the record's input, context and answers: \(characters) characters")
                ?? wordCount(context)
            return Record(line: r.line, id: try r.string("_id") ?? "line\(r.line)", dataset: dataset, context: context, input: input,
                          answers: answers, allClasses: classes, words: words)
        }
    }

    /// A text's words as LongBench counts them for English (Python's `str.split`).
    static func wordCount(_ text: String) -> Int { text.split(whereSeparator: { $0.isWhitespace }).count }

    /// A record's prompt size is known only once it is tokenized, so the plan gives the runner no
    /// token count to check; the ETA weighs records by their text (about 4 bytes a token).
    func plan() throws -> [PlannedSample] {
        records.enumerated().map { i, r in
            PlannedSample(key: "\(r.dataset)/\(r.id)/\(r.line)", index: i, length: r.words, lengthUnit: .words, depth: nil,
                          promptTokens: nil, estimatedTokens: (r.context.utf8.count + r.input.utf8.count) / 4,
                          maxNewTokens: definitions[r.dataset]!.maxNewTokens, metric: definitions[r.dataset]!.metric)
        }
    }

    func makeSample(_ planned: PlannedSample) throws -> Sample {
        let r = records[planned.index]
        let format = PromptFormat(request.chatTemplate, tokenizer: tokenizer)
        var sample = definitions[r.dataset]!.sample(key: planned.key, id: r.id, dataset: r.dataset, values: ["context": r.context, "input": r.input],
                                                    answers: r.answers, words: r.words, format: format)
        sample.allClasses = r.allClasses
        return sample
    }
}
