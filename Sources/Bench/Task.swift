import Foundation
import Inference

/// A problem with a task definition or a data file, naming the file (and line).
public struct TaskError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One prompt to run, with what a correct answer looks like.
public struct Sample: Sendable {
    /// Stable identity within the run: resume skips samples whose key is stored.
    public var key: String
    public var id: String
    public var dataset: String
    public var prompt: String
    /// The prompt in the native tokenizer's ids, when the task built it token by token.
    public var promptTokens: [Int32]?
    public var answers: [String]
    public var allClasses: [String]
    public var maxNewTokens: Int
    /// Generation also stops at a newline (LongBench's samsum).
    public var stopAtNewline: Bool
    /// Grid length in tokens for generated tasks; prompt tokens for loaded ones.
    public var lengthTokens: Int
    public var depth: Double?
    /// LongBench's `length` field (words).
    public var lengthWords: Int?
    public var metric: Metric
    public var firstLineOnly: Bool

    public init(key: String, id: String, dataset: String, prompt: String, promptTokens: [Int32]?, answers: [String], allClasses: [String],
                maxNewTokens: Int, stopAtNewline: Bool, lengthTokens: Int, depth: Double?, lengthWords: Int?, metric: Metric,
                firstLineOnly: Bool) {
        self.key = key
        self.id = id
        self.dataset = dataset
        self.prompt = prompt
        self.promptTokens = promptTokens
        self.answers = answers
        self.allClasses = allClasses
        self.maxNewTokens = maxNewTokens
        self.stopAtNewline = stopAtNewline
        self.lengthTokens = lengthTokens
        self.depth = depth
        self.lengthWords = lengthWords
        self.metric = metric
        self.firstLineOnly = firstLineOnly
    }

    /// The score of an output: 0…1.
    public func score(_ output: String) -> Double {
        metric.score(firstLineOnly ? Metrics.firstLine(output) : output, answers: answers, allClasses: allClasses)
    }
}

/// What a run asks a task for: the grid and the seed.
public struct TaskRequest: Sendable {
    public var lengths: [Int]
    public var depths: [Double]?
    public var samplesPerCell: Int
    public var seed: Int
    /// At most this many samples (LongBench records), nil for all.
    public var limit: Int?
    public var dataPath: String?
    public var haystackPath: String?

    public init(lengths: [Int], depths: [Double]?, samplesPerCell: Int, seed: Int, limit: Int?, dataPath: String?, haystackPath: String?) {
        self.lengths = lengths
        self.depths = depths
        self.samplesPerCell = samplesPerCell
        self.seed = seed
        self.limit = limit
        self.dataPath = dataPath
        self.haystackPath = haystackPath
    }
}

/// A benchmark task: a plan of sample keys (cheap), samples built on demand (a 1M-token prompt is
/// built only when its turn comes), and scoring (`Sample.score`).
public protocol BenchmarkTask: AnyObject {
    var name: String { get }
    /// Everything that shapes the prompts, recorded with the run.
    var parameters: [String: String] { get }
    /// The samples of the run, in order: each a key and the facts a progress line shows.
    func plan() throws -> [PlannedSample]
    func makeSample(_ planned: PlannedSample) throws -> Sample
}

/// A sample before its prompt is built.
public struct PlannedSample: Sendable {
    public var key: String
    public var lengthTokens: Int
    public var depth: Double?
    public var index: Int

    public init(key: String, lengthTokens: Int, depth: Double?, index: Int) {
        self.key = key
        self.lengthTokens = lengthTokens
        self.depth = depth
        self.index = index
    }
}

/// A task file in `tasks/` (JSON). `generator` says which code builds the samples; everything else
/// is data, so a LongBench-style dataset is added by writing a file, not by recompiling.
public struct TaskDefinition: Codable, Sendable {
    /// `passkey`, `needle` or `longbench`.
    public var generator: String
    public var description: String?
    /// LongBench: the dataset this definition serves (records' `dataset` field).
    public var dataset: String?
    /// Prompt template with `{context}` and `{input}` (LongBench) or `{context}` (needle).
    public var template: String?
    /// Text the model continues from, appended after the template.
    public var answerPrefix: String?
    public var maxNewTokens: Int
    public var metric: Metric
    public var firstLineOnly: Bool?
    public var stopAtNewline: Bool?
    /// Passkey and needle text pieces.
    public var prefix: String?
    public var filler: String?
    public var keySentence: String?
    public var question: String?
    public var needle: String?
    public var answers: [String]?
    /// Default command-line values: lengths, depths, samples.
    public var defaults: [String: String]?

    enum CodingKeys: String, CodingKey {
        case generator, description, dataset, template, metric, prefix, filler, question, needle, answers, defaults
        case answerPrefix = "answer_prefix"
        case maxNewTokens = "max_new_tokens"
        case firstLineOnly = "first_line_only"
        case stopAtNewline = "stop_at_newline"
        case keySentence = "key_sentence"
    }

    public static func load(_ path: String) throws -> TaskDefinition {
        guard let data = FileManager.default.contents(atPath: path) else { throw TaskError("\(path): cannot read the task file") }
        do {
            return try JSONDecoder().decode(TaskDefinition.self, from: data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw TaskError("\(path): missing field '\(key.stringValue)'")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw TaskError("\(path): field '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type")
        } catch let DecodingError.dataCorrupted(context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw TaskError("\(path): \(field.isEmpty ? "not valid JSON" : "field '\(field)' has a bad value")")
        }
    }

    func require<T>(_ value: T?, _ field: String, _ path: String) throws -> T {
        guard let value else { throw TaskError("\(path): the \(generator) generator needs the field '\(field)'") }
        return value
    }
}

/// The task files of a `tasks/` folder: `NAME.json` defines task NAME; `longbench/DATASET.json`
/// defines one LongBench dataset (usable as task DATASET, or through `longbench` by the records'
/// `dataset` field).
public struct TaskCatalog {
    public let folder: String
    public let tasks: [String: TaskDefinition]
    public let longBenchDatasets: [String: TaskDefinition]

    public init(folder: String) throws {
        self.folder = folder
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw TaskError("\(folder): task folder not found (run from the lmbench checkout, or pass --tasks DIR or set LMBENCH_TASKS)")
        }
        func definitions(in dir: String) throws -> [String: TaskDefinition] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            var result: [String: TaskDefinition] = [:]
            for file in names.sorted() where file.hasSuffix(".json") {
                // Suite files (`lmbench nightly --suite`) live beside the tasks but are not tasks.
                if let data = FileManager.default.contents(atPath: dir + "/" + file),
                   let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], object["generator"] as? String == "suite" {
                    continue
                }
                result[String(file.dropLast(5))] = try TaskDefinition.load(dir + "/" + file)
            }
            return result
        }
        tasks = try definitions(in: folder)
        longBenchDatasets = try definitions(in: folder + "/longbench")
    }

    /// Task names a user can run.
    public var names: [String] { (Array(tasks.keys) + Array(longBenchDatasets.keys)).sorted() }

    /// The task `name` for `request`, built for `tokenizer`.
    public func make(_ name: String, request: TaskRequest, tokenizer: Tokenizer) throws -> BenchmarkTask {
        if let definition = tasks[name] {
            let path = "\(folder)/\(name).json"
            switch definition.generator {
            case "passkey": return try PasskeyTask(name: name, definition: definition, path: path, request: request, tokenizer: tokenizer)
            case "needle": return try NeedleTask(name: name, definition: definition, path: path, request: request, tokenizer: tokenizer)
            case "longbench":
                return try LongBenchTask(name: name, datasets: longBenchDatasets, only: nil, folder: folder, request: request, tokenizer: tokenizer)
            default: throw TaskError("\(path): unknown generator '\(definition.generator)' (passkey, needle, longbench)")
            }
        }
        if longBenchDatasets[name] != nil {
            return try LongBenchTask(name: name, datasets: longBenchDatasets, only: name, folder: folder, request: request, tokenizer: tokenizer)
        }
        throw TaskError("unknown task '\(name)' (tasks in \(folder): \(names.joined(separator: ", ")))")
    }
}

/// Deterministic pseudo-random numbers (SplitMix64): the same seed gives the same samples on every
/// machine and Swift version, which `SystemRandomNumberGenerator` would not.
public struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// A generator for one sample, from the run seed and the sample's coordinates.
    public init(seed: Int, _ parts: [Int]) {
        var s = UInt64(bitPattern: Int64(seed)) &+ 0x9E37_79B9_7F4A_7C15
        for p in parts { s = (s ^ UInt64(bitPattern: Int64(p))) &* 0xBF58_476D_1CE4_E5B9 &+ 0x94D0_49BB_1331_11EB }
        state = s
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Fills `{name}` fields of a template in one pass, so braces inside the values are never read as
/// fields (Python's str.format semantics, `{{` and `}}` included).
public func fillTemplate(_ template: String, _ values: [String: String]) -> String {
    var out = ""
    var i = template.startIndex
    while i < template.endIndex {
        let c = template[i]
        let next = template.index(after: i)
        if c == "{", next < template.endIndex, template[next] == "{" { out.append("{"); i = template.index(after: next); continue }
        if c == "}", next < template.endIndex, template[next] == "}" { out.append("}"); i = template.index(after: next); continue }
        if c == "{", let close = template[next...].firstIndex(of: "}"), let value = values[String(template[next..<close])] {
            out += value
            i = template.index(after: close)
            continue
        }
        out.append(c)
        i = next
    }
    return out
}
