import Foundation
import Inference
import Results

/// One prompt to run, with what a correct answer looks like and how to score it.
public struct Sample: Sendable {
    /// Stable identity within the run: resume skips samples whose key is stored.
    public var key: String
    public var id: String
    public var dataset: String
    /// The prompt as the model reads it: the user message and the answer prefix, inside the chat
    /// template's user turn when there is one (its special tokens written as text).
    public var prompt: String
    /// The prompt in the native tokenizer's ids, when the task built it token by token.
    public var promptTokens: [Int32]?
    /// The end of `prompt` that starts the answer (RULER's answer prefix: passkey's "The pass key
    /// is"); after the assistant's header when there is a chat template. Empty when none.
    public var answerPrefix = ""
    /// The chat template the prompt is written in (nil: a raw completion); its end-of-turn tokens
    /// end generation.
    public var chatTemplate: ChatTemplate?
    public var answers: [String]
    /// Every label of a classification dataset (LongBench trec, lsht).
    public var allClasses: [String] = []
    public var maxNewTokens: Int
    /// Generation ends once the decoded output contains one of these (LongBench samsum: "\n").
    public var stopStrings: [String] = []
    /// Nominal length: the grid length in tokens for generated tasks, words for LongBench records.
    public var length: Int
    public var lengthUnit: LengthUnit
    public var depth: Double?
    public var metric: Metric
    /// LongBench cuts some predictions to their first line before scoring.
    public var firstLineOnly = false
    /// Set for a perplexity sample: the engine scores every token of `promptTokens` instead of
    /// generating (`Engine.scorePerplexity`), averaging the NLL over buckets of this many positions.
    public var perplexityBucket: Int?
    /// The task cut `promptTokens` to a budget before any engine saw them (InfiniteBench's and
    /// LongBench v2's middle truncation); stored as the sample's truncation, as an engine's is.
    public var truncatedByTask = false

    public init(key: String, id: String, dataset: String, prompt: String, promptTokens: [Int32]?, answers: [String],
                maxNewTokens: Int, length: Int, lengthUnit: LengthUnit, depth: Double?, metric: Metric) {
        self.key = key
        self.id = id
        self.dataset = dataset
        self.prompt = prompt
        self.promptTokens = promptTokens
        self.answers = answers
        self.maxNewTokens = maxNewTokens
        self.length = length
        self.lengthUnit = lengthUnit
        self.depth = depth
        self.metric = metric
    }

    /// The score of an output (0…1) and the metric's extra figures.
    public func score(_ output: String) -> MetricResult {
        metric.score(firstLineOnly ? Metrics.firstLine(output) : output, answers: answers, allClasses: allClasses)
    }

    /// The score of what an engine returned: from its text, or from its figures for a metric of
    /// figures (perplexity); the engine's figures are kept beside the metric's.
    public func score(_ output: EngineOutput) -> MetricResult {
        var result = metric.figureScoring.map { $0(output.figures) } ?? score(output.text)
        result.figures.merge(output.figures) { metricFigure, _ in metricFigure }
        return result
    }
}

/// A sample before its prompt is built: its key, the facts a progress line shows, and what the
/// runner may ask an engine before paying for the prompt.
public struct PlannedSample: Sendable {
    public var key: String
    public var index: Int
    public var length: Int
    public var lengthUnit: LengthUnit
    public var depth: Double?
    /// At most this many prompt tokens, when the task knows before building the prompt (generated
    /// tasks are sized to the token); nil when only the built prompt can tell (loaded records).
    public var promptTokens: Int?
    /// A rough prompt size in tokens, for weighing the ETA only.
    public var estimatedTokens: Int
    public var maxNewTokens: Int
    /// How the sample will be scored: stored even for a sample refused before its prompt is built.
    public var metric: Metric

    public init(key: String, index: Int, length: Int, lengthUnit: LengthUnit, depth: Double?, promptTokens: Int?,
                estimatedTokens: Int, maxNewTokens: Int, metric: Metric) {
        self.key = key
        self.index = index
        self.length = length
        self.lengthUnit = lengthUnit
        self.depth = depth
        self.promptTokens = promptTokens
        self.estimatedTokens = estimatedTokens
        self.maxNewTokens = maxNewTokens
        self.metric = metric
    }

    /// The samples of a generated task, lengths × depths × samples per cell, keyed
    /// `TASK/LENGTH/dDEPTH/I` (`uniform` for a depth the sample draws itself). `depths` nil: one
    /// cell per length, each sample drawing its own depth.
    public static func grid(task: String, request: TaskRequest, depths: [Double]?, maxNewTokens: Int, metric: Metric) -> [PlannedSample] {
        request.lengths.flatMap { length in
            (depths.map { $0.map(Optional.some) } ?? [nil]).flatMap { depth in
                (0..<request.samplesPerCell).map { i in
                    .generated(key: "\(task)/\(length)/\(depth.map { String(format: "d%g", $0) } ?? "uniform")/\(i)", index: i,
                               length: length, depth: depth, maxNewTokens: maxNewTokens, metric: metric)
                }
            }
        }
    }

    /// A sample of a generated task: `length` tokens, known before the prompt is built.
    public static func generated(key: String, index: Int, length: Int, depth: Double?, maxNewTokens: Int, metric: Metric) -> PlannedSample {
        PlannedSample(key: key, index: index, length: length, lengthUnit: .tokens, depth: depth, promptTokens: length,
                      estimatedTokens: length, maxNewTokens: maxNewTokens, metric: metric)
    }
}

/// What a run asks a task for: the grid, the seed and the data.
public struct TaskRequest: Sendable {
    public var lengths: [Int]
    public var depths: [Double]?
    public var samplesPerCell: Int
    public var seed: Int
    /// At most this many samples (LongBench records), nil for all.
    public var limit: Int?
    public var dataPath: String?
    public var haystackPath: String?
    /// The RULER task whose metric scores a loaded file that its name does not tell (`--ruler-task`).
    public var rulerTask: String?
    /// The chat template prompts are written in (nil: raw completions); generated prompts count its
    /// tokens in their length.
    public var chatTemplate: ChatTemplate?
    /// Positions per bucket of a perplexity run's NLL figures (`--bucket`).
    public var bucketSize: Int?

    public init(lengths: [Int], depths: [Double]?, samplesPerCell: Int, seed: Int, limit: Int?, dataPath: String?, haystackPath: String?,
                chatTemplate: ChatTemplate? = nil, rulerTask: String? = nil, bucketSize: Int? = nil) {
        self.lengths = lengths
        self.depths = depths
        self.samplesPerCell = samplesPerCell
        self.seed = seed
        self.limit = limit
        self.dataPath = dataPath
        self.haystackPath = haystackPath
        self.chatTemplate = chatTemplate
        self.rulerTask = rulerTask
        self.bucketSize = bucketSize
    }
}

/// A benchmark task: a plan of sample keys (cheap), samples built on demand (a 1M-token prompt is
/// built only when its turn comes), and scoring (`Sample.score`).
public protocol BenchmarkTask: AnyObject {
    var name: String { get }
    /// The generator's name (`passkey`, `needle`, `longbench`): the family reports lay out.
    var family: String { get }
    /// Everything that shapes the prompts, recorded with the run.
    var parameters: [String: String] { get }
    /// The samples of the run, in order.
    func plan() throws -> [PlannedSample]
    func makeSample(_ planned: PlannedSample) throws -> Sample
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
/// fields (Python's str.format semantics, `{{` and `}}` included). A field without a value stays as
/// written.
public func fillTemplate(_ template: String, _ values: [String: String]) -> String {
    scanTemplate(template) { values[$0] }
}

/// The names of the `{name}` fields of a template, in order, as `fillTemplate` reads them.
public func templateFields(_ template: String) -> [String] {
    var names: [String] = []
    _ = scanTemplate(template) { names.append($0); return nil }
    return names
}

/// The template's text with each `{name}` field replaced by `value(name)`, or kept when it is nil.
private func scanTemplate(_ template: String, _ value: (String) -> String?) -> String {
    var out = ""
    var i = template.startIndex
    while i < template.endIndex {
        let c = template[i]
        let next = template.index(after: i)
        if c == "{", next < template.endIndex, template[next] == "{" { out.append("{"); i = template.index(after: next); continue }
        if c == "}", next < template.endIndex, template[next] == "}" { out.append("}"); i = template.index(after: next); continue }
        if c == "{", let close = template[next...].firstIndex(of: "}"), let value = value(String(template[next..<close])) {
            out += value
            i = template.index(after: close)
            continue
        }
        out.append(c)
        i = next
    }
    return out
}
