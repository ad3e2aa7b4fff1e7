import Foundation
import Inference

/// "Bring your own JSONL": any JSON Lines file as a task. The task file maps the record's fields
/// onto roles (`fields`: context, question, answers, choices, id, length) and gives a LongBench-style
/// definition: a prompt template with `{name}` placeholders, an optional answer prefix, max new
/// tokens and a registered metric. Placeholders name roles (`{context}`, `{question}`, `{choice_A}`
/// …), values `derived` from them by a regular expression, or the record's own string and number
/// fields by their names (`{input}`), as Python's `str.format(**record)` fills LongBench's templates.
/// Records are read through `JSONLines`, so a bad line or field is a `FILE:LINE: why` error before
/// anything runs. Optional: `answer_format` (the answer is a choice's letter, or a choice's text as
/// InfiniteBench stores it), `strip_fields` (LongBench v2 strips every role), `groups` (fields the
/// report groups accuracy by, LongBench v2's difficulty and length), and `truncate_to` (the whole
/// prompt cut to that many of the model's tokens, first and last halves kept, as InfiniteBench's
/// `truncate_input` and LongBench v2's `pred.py` do; the sample records the truncation).
final class JSONLTask: BenchmarkTask, TaskGenerator {
    static let name = "jsonl"

    struct Configuration: Decodable {
        /// Which field of the record plays each role.
        struct Fields: Decodable {
            var context: String
            var question: String?
            /// A string, a number, or a list of them (the score is the best over them).
            var answers: String
            var choices: Choices?
            /// A string or a number; absent: the record's line number.
            var id: String?
            /// An integer: the record's length in words (LongBench's `length`); absent: the context's words.
            var length: String?
        }

        /// The choices of a multiple-choice record: one field holding a list (InfiniteBench's
        /// `options`), or one field per choice (LongBench v2's `choice_A` … `choice_D`).
        enum Choices: Decodable {
            case list(String)
            case fields([String])

            init(from decoder: Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let list = try? c.decode(String.self) { self = .list(list) } else { self = .fields(try c.decode([String].self)) }
            }

            var description: String {
                switch self {
                case let .list(field): return field
                case let .fields(fields): return fields.joined(separator: "+")
                }
            }
        }

        /// A value read out of another by a regular expression: its first capture group, or the whole
        /// match without one (InfiniteBench's code_run finds `func_call` in the question).
        struct Derived: Decodable {
            var name: String
            var from: String
            var pattern: String
            var lowercase: Bool?
        }

        /// A field whose value groups the report's accuracy: a string field (its `values`, in the
        /// report's order, when given), or an integer field cut at `bounds`.
        struct Group: Decodable {
            var field: String
            var values: [String]?
            var bounds: [Int]?

            enum CodingKeys: String, CodingKey { case field, values, bounds }

            init(from decoder: Decoder) throws {
                if let field = try? decoder.singleValueContainer().decode(String.self) {
                    self.field = field
                    return
                }
                let c = try decoder.container(keyedBy: CodingKeys.self)
                field = try c.decode(String.self, forKey: .field)
                values = try c.decodeIfPresent([String].self, forKey: .values)
                bounds = try c.decodeIfPresent([Int].self, forKey: .bounds)
            }

            /// Every label the group can take, in order.
            var labels: [String]? {
                guard let bounds else { return values }
                return (0...bounds.count).map(label)
            }

            /// The label of bucket `i` of `bounds`: `<B0`, `B0-B1` (B0 ≤ n < B1), …, `Bk+`.
            func label(_ i: Int) -> String {
                let bounds = bounds!
                if i == 0 { return "<\(bounds[0])" }
                if i == bounds.count { return "\(bounds[i - 1])+" }
                return "\(bounds[i - 1])-\(bounds[i])"
            }
        }

        /// How the answers field reads: as given, the correct choice's letter, or the correct choice's
        /// text (answers are then the text and its letter, InfiniteBench's `get_answer`).
        enum AnswerFormat: String, Decodable {
            case text, letter
            case optionText = "option_text"
        }

        var fields: Fields
        var answerFormat: AnswerFormat?
        var stripFields: Bool?
        var derived: [Derived]?
        var groups: [Group]?
        var truncateTo: Int?

        enum CodingKeys: String, CodingKey {
            case fields, derived, groups
            case answerFormat = "answer_format"
            case stripFields = "strip_fields"
            case truncateTo = "truncate_to"
        }
    }

    struct Record {
        var line: Int
        var id: String
        /// The placeholder values the templates use.
        var values: [String: String]
        var answers: [String]
        var words: Int
        /// The sample's dataset: the task's name, then `;FIELD=VALUE` for each group (read back by
        /// the report's `GroupTable`).
        var dataset: String
        var bytes: Int
    }

    /// The group separator and the key/value separator of a sample's dataset (see `Record.dataset`).
    static let groupSeparator: Character = ";", groupAssignment: Character = "="

    /// Choice letters, A to Z.
    static let letters = (0..<26).map { String(UnicodeScalar(UInt8(65 + $0))) }

    let name: String
    var family: String { Self.name }
    let request: TaskRequest
    let tokenizer: Tokenizer
    let configuration: Configuration
    let definition: LongBenchTask.Definition
    let path: String
    private let format: PromptFormat
    private let truncation: PromptTruncation?
    private let records: [Record]

    static func make(_ file: TaskFile, request: TaskRequest, catalog: TaskCatalog, tokenizer: Tokenizer) throws -> BenchmarkTask {
        try JSONLTask(file, request: request, tokenizer: tokenizer)
    }

    init(_ file: TaskFile, request: TaskRequest, tokenizer: Tokenizer) throws {
        let configuration = try file.decode(Configuration.self)
        let definition = try LongBenchTask.Definition(try file.decode(LongBenchTask.Dataset.self), file: file)
        let patterns = try (configuration.derived ?? []).enumerated().map { i, d in
            do { return try NSRegularExpression(pattern: d.pattern) } catch {
                throw TaskError("\(file.path): field 'derived[\(i)].pattern' is not a valid regular expression: \(quoted(d.pattern))")
            }
        }
        if configuration.answerFormat.map({ $0 != .text }) == true && configuration.fields.choices == nil {
            throw TaskError("\(file.path): field 'answer_format' \(configuration.answerFormat!.rawValue) needs 'fields.choices'")
        }
        for (i, group) in (configuration.groups ?? []).enumerated() {
            if let bounds = group.bounds, bounds.isEmpty || zip(bounds, bounds.dropFirst()).contains(where: { $0 >= $1 }) {
                throw TaskError("\(file.path): field 'groups[\(i)].bounds' must be a non-empty list of increasing integers")
            }
            if let bad = ([group.field] + (group.labels ?? [])).first(where: { $0.contains(Self.groupSeparator) || $0.contains(Self.groupAssignment) }) {
                throw TaskError("\(file.path): field 'groups[\(i)]': \(quoted(bad)) contains '\(Self.groupSeparator)' or '\(Self.groupAssignment)'")
            }
        }
        if let budget = configuration.truncateTo, budget < 2 {
            throw TaskError("\(file.path): field 'truncate_to' is \(budget), not at least 2 (it keeps the prompt's first and last halves)")
        }
        guard let path = request.dataPath else {
            throw SpecError("lmbench run \(file.name): --data FILE is required (a .jsonl file whose fields \(file.path) maps)")
        }
        name = file.name
        self.request = request
        self.tokenizer = tokenizer
        self.configuration = configuration
        self.definition = definition
        self.path = path
        format = PromptFormat(request.chatTemplate, tokenizer: tokenizer)
        truncation = configuration.truncateTo.map { PromptTruncation(rule: .middle, budget: $0, head: 0, trainedContext: $0) }
        records = try Self.load(path, limit: request.limit, task: file.name, configuration: configuration, definition: definition,
                                patterns: patterns)
        guard !records.isEmpty else { throw TaskError("\(path): no records to run") }
    }

    var parameters: [String: String] {
        let c = configuration, f = c.fields
        var p = definition.parameters(prefix: "", chatTemplate: request.chatTemplate)
        p["data"] = path
        p["records"] = String(records.count)
        p["chat_template"] = request.chatTemplate?.name ?? "none"
        if let limit = request.limit { p["limit"] = String(limit) }
        let roles: [(String, String?)] = [("context", f.context), ("question", f.question), ("answers", f.answers),
                                          ("choices", f.choices?.description), ("id", f.id), ("length", f.length)]
        p["fields"] = roles.compactMap { role, field in field.map { "\(role)=\($0)" } }.joined(separator: ",")
        p["answer_format"] = (c.answerFormat ?? .text).rawValue
        if c.stripFields == true { p["strip_fields"] = "true" }
        if let derived = c.derived {
            p["derived"] = derived.map { "\($0.name)=\($0.lowercase == true ? "lower " : "")/\($0.pattern)/ of \($0.from)" }.joined(separator: "; ")
        }
        if let groups = c.groups { p["groups"] = Self.groupOrder(groups) }
        if let budget = c.truncateTo { p["truncate_to"] = String(budget) }
        return p
    }

    /// The groups and the order of their labels, as the report reads them back:
    /// `difficulty=easy|hard;length=short|medium|long` (a group without declared labels has none).
    static func groupOrder(_ groups: [Configuration.Group]) -> String {
        groups.map { "\($0.field)\(groupAssignment)" + ($0.labels ?? []).joined(separator: "|") }.joined(separator: String(groupSeparator))
    }

    /// The first `limit` records of the file, each checked against the mapping: a missing or
    /// mistyped field, an answer that is not a choice, a pattern that does not match or a
    /// placeholder without a value is an error naming the file, the line and the field.
    static func load(_ path: String, limit: Int?, task: String, configuration c: Configuration, definition: LongBenchTask.Definition,
                     patterns: [NSRegularExpression]) throws -> [Record] {
        let f = c.fields
        let placeholders = Set(templateFields(definition.template) + templateFields(definition.answerPrefix))
        let derivedNames = Set((c.derived ?? []).map(\.name))
        // Only the record's own fields a template or a derivation reads are kept.
        let ownFieldsRead = placeholders.union((c.derived ?? []).map(\.from))
        let lines = try JSONLines.records(in: path)
        return try lines.prefix(limit ?? lines.count).map { r in
            func role(_ text: String) -> String { c.stripFields == true ? text.trimmingCharacters(in: .whitespacesAndNewlines) : text }
            var values: [String: String] = [:]
            for key in ownFieldsRead { if let text = r.plainText(key) { values[key] = text } }
            guard let context = try r.string(f.context) else { throw r.error("field '\(f.context)' (the context) is missing") }
            values["context"] = role(context)
            if let field = f.question {
                guard let question = try r.text(field) else { throw r.error("field '\(field)' (the question) is missing") }
                values["question"] = role(question)
            }
            let choices = try Self.choices(of: r, f.choices)
            for (i, choice) in choices.enumerated() { values["choice_" + letters[i]] = role(choice) }
            for (d, pattern) in zip(c.derived ?? [], patterns) {
                guard let source = values[d.from] else { throw r.error("no value '\(d.from)' to derive '\(d.name)' from") }
                guard let match = pattern.firstMatch(in: source, range: NSRange(source.startIndex..., in: source)) else {
                    throw r.error("'\(d.from)' does not match the pattern of '\(d.name)' (\(quoted(d.pattern)))")
                }
                let text = Range(match.range(at: match.numberOfRanges > 1 ? 1 : 0), in: source).map { String(source[$0]) } ?? ""
                values[d.name] = d.lowercase == true ? text.lowercased() : text
            }
            if let missing = placeholders.sorted().first(where: { values[$0] == nil }) {
                let kind = derivedNames.contains(missing) ? "a derived value" : "a role or a string or number field of the record"
                throw r.error("the template's {\(missing)} has no value (it is not \(kind))")
            }
            guard let given = try r.texts(f.answers), !given.isEmpty else {
                throw r.error("field '\(f.answers)' (the answers) is missing or empty")
            }
            let words = try f.length.map { field -> Int in
                guard let n = try r.integer(field, in: 0...Int.max, "a length in words") else { throw r.error("field '\(field)' (the length) is missing") }
                return n
            } ?? LongBenchTask.wordCount(context)
            let groups = try (c.groups ?? []).map { try group($0, of: r) }
            let id = try f.id.flatMap { try r.text($0) } ?? "line\(r.line)"
            return Record(line: r.line, id: id, values: values, answers: try answers(given, format: c.answerFormat ?? .text, choices: choices, of: r),
                          words: words, dataset: ([task] + groups).joined(separator: String(groupSeparator)),
                          bytes: values.values.reduce(0) { $0 + $1.utf8.count })
        }
    }

    /// The record's choices, in letter order: none without a choices field.
    static func choices(of r: JSONLines.Record, _ field: Configuration.Choices?) throws -> [String] {
        let choices: [String]
        switch field {
        case nil: return []
        case let .list(name):
            guard let list = try r.strings(name) else { throw r.error("field '\(name)' (the choices) is missing") }
            choices = list
        case let .fields(names):
            choices = try names.map { name in
                guard let text = try r.text(name) else { throw r.error("field '\(name)' (a choice) is missing") }
                return text
            }
        }
        guard (1...letters.count).contains(choices.count) else {
            throw r.error("field '\(field!.description)' has \(choices.count) choices, not 1 to \(letters.count)")
        }
        return choices
    }

    /// The answers a metric compares with, from the answers field read as `format`.
    static func answers(_ given: [String], format: Configuration.AnswerFormat, choices: [String], of r: JSONLines.Record) throws -> [String] {
        let letters = Array(Self.letters.prefix(choices.count))
        switch format {
        case .text:
            return given
        case .letter:
            guard given.count == 1, letters.contains(given[0]) else {
                throw r.error("the answer \(quoted(given.joined(separator: ", "))) is not one choice letter (\(letters.joined(separator: ", ")))")
            }
            return given
        case .optionText:
            // InfiniteBench's get_answer: a [text, letter] pair as it is, else the correct choice's
            // text followed by its letter.
            if given.count == 2, letters.contains(given[1]) { return given }
            guard given.count == 1, let i = choices.firstIndex(of: given[0]) else {
                throw r.error("the answer \(quoted(given.joined(separator: ", "))) is not the text of one of the choices")
            }
            return [given[0], letters[i]]
        }
    }

    /// `FIELD=LABEL` of one group for the record.
    static func group(_ g: Configuration.Group, of r: JSONLines.Record) throws -> String {
        let label: String
        if let bounds = g.bounds {
            guard let n = try r.integer(g.field, in: Int.min...Int.max, "any integer") else { throw r.error("field '\(g.field)' (a group) is missing") }
            label = g.label(bounds.firstIndex(where: { n < $0 }) ?? bounds.count)
        } else {
            guard let value = try r.text(g.field) else { throw r.error("field '\(g.field)' (a group) is missing") }
            if let values = g.values, !values.contains(value) {
                throw r.error("field '\(g.field)' is \(quoted(value)), not one of the task file's values (\(values.joined(separator: ", ")))")
            }
            guard !value.contains(groupSeparator) && !value.contains(groupAssignment) else {
                throw r.error("field '\(g.field)' is \(quoted(value)): a group's value cannot contain '\(groupSeparator)' or '\(groupAssignment)'")
            }
            label = value
        }
        return g.field + String(groupAssignment) + label
    }

    /// A record's prompt size is known only once it is tokenized; the ETA weighs records by their
    /// text (about 4 bytes a token), up to the truncation budget.
    func plan() throws -> [PlannedSample] {
        records.enumerated().map { i, r in
            PlannedSample(key: "\(name)/\(r.id)/\(r.line)", index: i, length: r.words, lengthUnit: .words, depth: nil, promptTokens: nil,
                          estimatedTokens: min(r.bytes / 4, configuration.truncateTo ?? .max), maxNewTokens: definition.maxNewTokens,
                          metric: definition.metric)
        }
    }

    func makeSample(_ planned: PlannedSample) throws -> Sample {
        let r = records[planned.index]
        var sample = definition.sample(key: planned.key, id: r.id, dataset: r.dataset, values: r.values, answers: r.answers, words: r.words,
                                       format: format)
        if let truncation, let whole = sample.promptTokens {
            let (kept, truncated) = truncation.apply(whole, maxNewTokens: 0)
            if truncated {
                sample.promptTokens = kept
                sample.truncatedByTask = true
                // The text the model reads, for engines that tokenize it themselves (they add their own BOS).
                let text = kept.first == tokenizer.bosID ? Array(kept.dropFirst()) : kept
                sample.prompt = tokenizer.decode(text, renderSpecial: true)
            }
        }
        return sample
    }
}
