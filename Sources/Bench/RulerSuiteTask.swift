import Foundation
import Inference

/// `lmbench run ruler` (`tasks/ruler/ruler.json`): the RULER tasks its file lists, generated in one
/// run (RULER's default benchmark without the QA tasks, which need SQuAD / HotpotQA files), so one
/// report gives RULER's table. With `--data`, files RULER's own prepare.py wrote are run instead
/// (`RulerLoadedTask`).
final class RulerSuiteTask: BenchmarkTask, TaskGenerator {
    static let name = "ruler"
    /// The generators whose tasks are RULER's: the report's family and the tasks a loaded file may name.
    static let generators = [RulerNIAH.name, RulerVariableTracking.name, RulerCommonWords.name, RulerFrequentWords.name, RulerQA.name]

    struct Configuration: Decodable { var tasks: [String] }

    let name: String
    var family: String { Self.name }
    let tasks: [BenchmarkTask]
    private let byName: [String: BenchmarkTask]

    static func make(_ file: TaskFile, request: TaskRequest, catalog: TaskCatalog, tokenizer: Tokenizer) throws -> BenchmarkTask {
        if request.dataPath != nil {
            return try RulerLoadedTask(name: file.name, catalog: catalog, request: request, tokenizer: tokenizer, only: nil)
        }
        let names = try file.decode(Configuration.self).tasks
        guard !names.isEmpty else { throw TaskError("\(file.path): field 'tasks' must list at least one task") }
        for task in names where catalog.files[task].map({ !generators.contains($0.generator) }) ?? true {
            throw TaskError("\(file.path): '\(task)' is not a RULER task in \(catalog.folder)")
        }
        return RulerSuiteTask(name: file.name, tasks: try names.map { try catalog.make($0, request: request, tokenizer: tokenizer) })
    }

    init(name: String, tasks: [BenchmarkTask]) {
        self.name = name
        self.tasks = tasks
        byName = Dictionary(uniqueKeysWithValues: tasks.map { ($0.name, $0) })
    }

    /// Each task's parameters under its name, with the task list.
    var parameters: [String: String] {
        var p = ["tasks": tasks.map(\.name).joined(separator: ",")]
        for task in tasks {
            for (key, value) in task.parameters { p["\(task.name).\(key)"] = value }
        }
        return p
    }

    /// The tasks' plans one after another; keys start with the task's name.
    func plan() throws -> [PlannedSample] { try tasks.flatMap { try $0.plan() } }

    func makeSample(_ planned: PlannedSample) throws -> Sample {
        let task = String(planned.key.prefix { $0 != "/" })
        guard let owner = byName[task] else { throw TaskError("\(name): sample key '\(planned.key)' names no task of the run") }
        return try owner.makeSample(planned)
    }
}

/// Files written by RULER's `prepare.py` (`{index, input, outputs, length}`, and in newer versions
/// `answer_prefix`, `length_w_model_temp`, `token_position_answer`), scored as RULER's evaluator
/// scores them. `--data` is one such file or a folder of them (`TASK.jsonl`, or RULER's own layout
/// `TASK/validation.jsonl`); the task, which gives the metric and tokens to generate, is the file's
/// name, the folder's name for `validation.jsonl` / `test.jsonl`, or `--ruler-task`. The length a
/// sample counts under is RULER's sequence length: the number before `data` in the path (RULER
/// writes `…/4096/data/TASK/validation.jsonl`), else the record's `length` rounded up to a power of two
/// (RULER's lengths are). The input is the user message and the answer prefix follows it, as in
/// generated tasks: files prepared with a model template (`--model_template_type` other than
/// `base`) already contain it, so run those with `--chat-template none`.
final class RulerLoadedTask: BenchmarkTask {
    struct Record {
        var file: String
        var line: Int
        var task: String
        var index: Int
        var input: String
        var answerPrefix: String
        var answers: [String]
        var length: Int
        var nominalLength: Int
    }

    let name: String
    var family: String { RulerSuiteTask.name }
    let request: TaskRequest
    let tokenizer: Tokenizer
    let path: String
    let definitions: [String: RulerTaskFile]
    let metrics: [String: Metric]
    let records: [Record]

    init(name: String, catalog: TaskCatalog, request: TaskRequest, tokenizer: Tokenizer, only: String?) throws {
        guard let path = request.dataPath else { throw SpecError("lmbench run \(name): --data FILE is required") }
        self.name = name
        self.request = request
        self.tokenizer = tokenizer
        self.path = path
        let rulerTasks = catalog.names.filter { RulerSuiteTask.generators.contains(catalog.files[$0]!.generator) }
        if let task = request.rulerTask, !rulerTasks.contains(task) {
            throw SpecError("--ruler-task: '\(task)' is not a RULER task (tasks: \(rulerTasks.joined(separator: ", ")))")
        }
        var definitions: [String: RulerTaskFile] = [:], metrics: [String: Metric] = [:], records: [Record] = []
        for file in try Self.files(at: path) {
            let task = only ?? request.rulerTask ?? Self.task(of: file, among: rulerTasks)
            guard let task, rulerTasks.contains(task) else {
                throw TaskError("\(file): cannot tell which RULER task it is (name it TASK.jsonl or TASK/validation.jsonl, or pass "
                                + "--ruler-task NAME; tasks: \(rulerTasks.joined(separator: ", ")))")
            }
            if definitions[task] == nil {
                let taskFile = catalog.files[task]!
                definitions[task] = try taskFile.decode(RulerTaskFile.self)
                metrics[task] = try MetricRegistry.named(definitions[task]!.metric, in: taskFile.path)
            }
            records += try Self.load(file, task: task)
        }
        if let limit = request.limit { records = Array(records.prefix(limit)) }
        guard !records.isEmpty else { throw TaskError("\(path): no records to run") }
        self.definitions = definitions
        self.metrics = metrics
        self.records = records
    }

    /// The `.jsonl` files of `path`: itself, or a folder's own and those one folder down, in name order.
    static func files(at path: String) throws -> [String] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { throw TaskError("\(path): data file not found") }
        guard isFolder.boolValue else { return [path] }
        let manager = FileManager.default
        var found: [String] = []
        for entry in ((try? manager.contentsOfDirectory(atPath: path)) ?? []).sorted() {
            let full = path + "/" + entry
            if entry.hasSuffix(".jsonl") { found.append(full); continue }
            for inner in ((try? manager.contentsOfDirectory(atPath: full)) ?? []).sorted() where inner.hasSuffix(".jsonl") {
                found.append(full + "/" + inner)
            }
        }
        guard !found.isEmpty else { throw TaskError("\(path): no .jsonl files in the folder or its sub-folders") }
        return found
    }

    /// The task a file's name says: `TASK.jsonl`, or `TASK/validation.jsonl` (or `test.jsonl`).
    static func task(of file: String, among tasks: [String]) -> String? {
        let url = URL(fileURLWithPath: file)
        let stem = url.deletingPathExtension().lastPathComponent
        if tasks.contains(stem) { return stem }
        let folder = url.deletingLastPathComponent().lastPathComponent
        return (stem == "validation" || stem == "test") && tasks.contains(folder) ? folder : nil
    }

    /// RULER's sequence length for a record: the `N` of RULER's `…/N/data/…` layout, else `length`
    /// rounded up to a power of two.
    static func nominalLength(file: String, length: Int) -> Int {
        let parts = URL(fileURLWithPath: file).pathComponents
        if let at = parts.indices.dropLast().last(where: { parts[$0 + 1] == "data" && (Int(parts[$0]) ?? 0) > 0 }) { return Int(parts[at])! }
        var power = 1
        while power < length { power *= 2 }
        return power
    }

    /// Parses every line, reporting the first bad one as `FILE:LINE: why` (`JSONLines`).
    static func load(_ file: String, task: String) throws -> [Record] {
        try JSONLines.records(in: file).enumerated().map { i, r in
            guard let input = try r.string("input") else { throw r.error("field 'input' is missing") }
            guard let answers = try r.strings("outputs"), !answers.isEmpty else {
                throw r.error("field 'outputs' must be a non-empty list of strings")
            }
            guard let length = try r.integer("length", in: 1...Int.max, "prompt and generated tokens") else {
                throw r.error("field 'length' is missing")
            }
            return Record(file: file, line: r.line, task: task, index: try r.integer("index", in: 0...Int.max, "the record's number") ?? i,
                          input: input, answerPrefix: try r.string("answer_prefix") ?? "", answers: answers, length: length,
                          nominalLength: nominalLength(file: file, length: length))
        }
    }

    var parameters: [String: String] {
        var p = ["data": path, "records": String(records.count), "source": "RULER prepare.py files"]
        if let limit = request.limit { p["limit"] = String(limit) }
        if let task = request.rulerTask { p["ruler_task"] = task }
        for (task, d) in definitions.sorted(by: { $0.key < $1.key }) {
            p["\(task).max_new_tokens"] = String(d.maxNewTokens)
            p["\(task).metric"] = d.metric
        }
        return p
    }

    /// A record's prompt size is known only once it is tokenized; its `length` (prompt and tokens to
    /// generate, in RULER's tokenizer) weighs the ETA.
    func plan() throws -> [PlannedSample] {
        records.enumerated().map { i, r in
            PlannedSample(key: "\(r.task)/\(r.nominalLength)/\(r.index)/\(URL(fileURLWithPath: r.file).lastPathComponent):\(r.line)", index: i,
                          length: r.nominalLength, lengthUnit: .tokens, depth: nil, promptTokens: nil, estimatedTokens: r.length,
                          maxNewTokens: definitions[r.task]!.maxNewTokens, metric: metrics[r.task]!)
        }
    }

    func makeSample(_ planned: PlannedSample) throws -> Sample {
        let r = records[planned.index]
        let format = PromptFormat(request.chatTemplate, tokenizer: tokenizer)
        var sample = Sample(key: planned.key, id: "\(r.task)-\(r.nominalLength)-\(r.index)", dataset: r.task,
                            prompt: format.text(message: r.input, answerPrefix: r.answerPrefix),
                            promptTokens: format.tokens(message: r.input, answerPrefix: r.answerPrefix), answers: r.answers,
                            maxNewTokens: definitions[r.task]!.maxNewTokens, length: r.nominalLength, lengthUnit: .tokens, depth: nil,
                            metric: metrics[r.task]!)
        sample.answerPrefix = r.answerPrefix
        sample.chatTemplate = format.template
        return sample
    }
}
