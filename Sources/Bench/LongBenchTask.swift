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
            let d = definitions[dataset]!
            p["\(dataset).max_new_tokens"] = String(d.maxNewTokens)
            p["\(dataset).metric"] = d.metric.name
            // Without a chat template the answer prefix is the template's end, recorded as one text (as before).
            p["\(dataset).template"] = request.chatTemplate == nil ? d.template + d.answerPrefix : d.template
            if request.chatTemplate != nil { p["\(dataset).answer_prefix"] = d.answerPrefix }
        }
        return p
    }

    /// Parses every line, reporting the first bad one as `FILE:LINE: why`.
    static func load(_ path: String, definitions: [String: Definition], folder: String) throws -> [Record] {
        guard let data = FileManager.default.contents(atPath: path) else { throw TaskError("\(path): cannot read the data file") }
        var records: [Record] = []
        var lineNumber = 0
        for lineBytes in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            if lineBytes.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { continue }
            func bad(_ why: String) -> TaskError { TaskError("\(path):\(lineNumber): \(why)") }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(lineBytes))) as? [String: Any] else {
                throw bad("not a JSON object")
            }
            guard let context = object["context"] as? String else { throw bad("field 'context' is missing or not a string") }
            guard let dataset = object["dataset"] as? String else { throw bad("field 'dataset' is missing or not a string") }
            guard let answers = object["answers"] as? [String], !answers.isEmpty else {
                throw bad("field 'answers' must be a non-empty list of strings")
            }
            guard let definition = definitions[dataset] else {
                throw bad("no task definition for dataset '\(dataset)' (add \(folder)/longbench/\(dataset).json)")
            }
            let input = object["input"] as? String ?? ""
            if object["input"] != nil && !(object["input"] is String) { throw bad("field 'input' is not a string") }
            let classes = object["all_classes"] as? [String] ?? []
            if definition.metric.name == Metric.classification.name && classes.isEmpty {
                throw bad("dataset '\(dataset)' is scored by classification but 'all_classes' is empty")
            }
            if object["length"] != nil && !(object["length"] is NSNumber) { throw bad("field 'length' is not a number") }
            let words = (object["length"] as? NSNumber)?.intValue ?? context.split(whereSeparator: { $0.isWhitespace }).count
            let id = object["_id"] as? String ?? "line\(lineNumber)"
            records.append(Record(line: lineNumber, id: id, dataset: dataset, context: context, input: input, answers: answers,
                                  allClasses: classes, words: words))
        }
        return records
    }

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
        let d = definitions[r.dataset]!
        let values = ["context": r.context, "input": r.input]
        let message = fillTemplate(d.template, values), answerPrefix = fillTemplate(d.answerPrefix, values)
        let format = PromptFormat(request.chatTemplate, tokenizer: tokenizer)
        let prompt = format.text(message: message, answerPrefix: answerPrefix)
        let tokens = format.tokens(message: message, answerPrefix: answerPrefix)
        var sample = Sample(key: planned.key, id: r.id, dataset: r.dataset, prompt: prompt, promptTokens: tokens, answers: r.answers,
                            maxNewTokens: d.maxNewTokens, length: r.words, lengthUnit: .words, depth: nil, metric: d.metric)
        sample.allClasses = r.allClasses
        sample.stopStrings = d.stopStrings
        sample.firstLineOnly = d.firstLineOnly
        sample.answerPrefix = answerPrefix
        sample.chatTemplate = format.template
        return sample
    }
}
