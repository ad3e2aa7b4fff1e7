import Foundation
import Inference

/// LongBench-format JSONL (benchmark-formats §1.1): each record's `dataset` field picks its task file
/// in `tasks/longbench/` (official template, max new tokens, metric); `only` restricts the run to
/// one dataset (`lmbench run qasper`). Prompts are sent as raw completions: lmbench's model has no
/// chat template. Truncation is the engine's business (the `truncation` engine), as in LongBench.
final class LongBenchTask: BenchmarkTask {
    struct Record {
        var line: Int
        var id: String
        var dataset: String
        var context: String
        var input: String
        var answers: [String]
        var allClasses: [String]
        var lengthWords: Int?
    }

    let name: String
    let request: TaskRequest
    let tokenizer: Tokenizer
    let datasets: [String: TaskDefinition]
    let only: String?
    let path: String
    private let records: [Record]

    init(name: String, datasets: [String: TaskDefinition], only: String?, folder: String, request: TaskRequest, tokenizer: Tokenizer) throws {
        guard let path = request.dataPath else {
            throw SpecError("lmbench run \(name): --data FILE is required (a LongBench-format .jsonl file)")
        }
        self.name = name
        self.request = request
        self.tokenizer = tokenizer
        self.datasets = datasets
        self.only = only
        self.path = path
        var records = try LongBenchTask.load(path, datasets: datasets, folder: folder)
        if let only { records = records.filter { $0.dataset == only } }
        if let limit = request.limit { records = Array(records.prefix(limit)) }
        guard !records.isEmpty else {
            throw TaskError("\(path): no records\(only.map { " of dataset '\($0)'" } ?? "") to run")
        }
        self.records = records
    }

    var parameters: [String: String] {
        var p = ["data": path, "records": String(records.count), "chat_template": "none"]
        if let only { p["dataset"] = only }
        if let limit = request.limit { p["limit"] = String(limit) }
        for dataset in Set(records.map(\.dataset)).sorted() {
            let d = datasets[dataset]!
            p["\(dataset).max_new_tokens"] = String(d.maxNewTokens)
            p["\(dataset).metric"] = d.metric.rawValue
            p["\(dataset).template"] = (d.template ?? "") + (d.answerPrefix ?? "")
        }
        return p
    }

    /// Parses every line, reporting the first bad one as `FILE:LINE: why`.
    static func load(_ path: String, datasets: [String: TaskDefinition], folder: String) throws -> [Record] {
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
            guard let definition = datasets[dataset] else {
                throw bad("no task definition for dataset '\(dataset)' (add \(folder)/longbench/\(dataset).json)")
            }
            let input = object["input"] as? String ?? ""
            if object["input"] != nil && !(object["input"] is String) { throw bad("field 'input' is not a string") }
            let classes = object["all_classes"] as? [String] ?? []
            if definition.metric == .classification && classes.isEmpty {
                throw bad("dataset '\(dataset)' is scored by classification but 'all_classes' is empty")
            }
            let id = object["_id"] as? String ?? "line\(lineNumber)"
            records.append(Record(line: lineNumber, id: id, dataset: dataset, context: context, input: input, answers: answers,
                                  allClasses: classes, lengthWords: (object["length"] as? NSNumber)?.intValue))
        }
        return records
    }

    func plan() throws -> [PlannedSample] {
        records.enumerated().map { i, r in
            PlannedSample(key: "\(r.dataset)/\(r.id)/\(r.line)", lengthTokens: r.lengthWords ?? 0, depth: nil, index: i)
        }
    }

    func makeSample(_ planned: PlannedSample) throws -> Sample {
        let r = records[planned.index]
        let d = datasets[r.dataset]!
        let prompt = fillTemplate(d.template ?? "{context}", ["context": r.context, "input": r.input]) + (d.answerPrefix ?? "")
        let tokens = tokenizer.encode(prompt, addSpecial: true, parseSpecial: false)
        return Sample(key: planned.key, id: r.id, dataset: r.dataset, prompt: prompt, promptTokens: tokens, answers: r.answers,
                      allClasses: r.allClasses, maxNewTokens: d.maxNewTokens, stopAtNewline: d.stopAtNewline ?? false,
                      lengthTokens: tokens.count, depth: nil, lengthWords: r.lengthWords, metric: d.metric,
                      firstLineOnly: d.firstLineOnly ?? false)
    }
}
