import Foundation
import Inference
import Results

/// What one run is asked for: the fields `lmbench run` takes on the command line and a suite file
/// lists per entry (nil: the task file's default, else lmbench's).
public struct RunSettings: Decodable, Sendable {
    public var task: String
    public var lengths: String?
    public var depths: String?
    public var samples: Int?
    public var engines: String?
    public var seed: Int?
    public var data: String?
    public var limit: Int?
    public var haystack: String?
    public var sampleTimeout: Double?
    /// `auto` (the default: the model's own template, none if it has none), `none` or a name.
    public var chatTemplate: String?
    /// The RULER task a loaded file is scored as, when its name does not say.
    public var rulerTask: String?
    /// Positions per NLL bucket of a perplexity run (`1k`).
    public var bucket: String?

    enum CodingKeys: String, CodingKey {
        case task, lengths, depths, samples, engines, seed, data, limit, haystack, bucket
        case sampleTimeout = "sample_timeout"
        case chatTemplate = "chat_template"
        case rulerTask = "ruler_task"
    }

    public init(task: String, lengths: String? = nil, depths: String? = nil, samples: Int? = nil, engines: String? = nil,
                seed: Int? = nil, data: String? = nil, limit: Int? = nil, haystack: String? = nil, sampleTimeout: Double? = nil,
                chatTemplate: String? = nil, rulerTask: String? = nil, bucket: String? = nil) {
        self.task = task
        self.lengths = lengths
        self.depths = depths
        self.samples = samples
        self.engines = engines
        self.seed = seed
        self.data = data
        self.limit = limit
        self.haystack = haystack
        self.sampleTimeout = sampleTimeout
        self.chatTemplate = chatTemplate
        self.rulerTask = rulerTask
        self.bucket = bucket
    }

    public static let defaultSeed = 42
}

/// What makes two runs the same experiment: a stopped run is continued only by a run of equal
/// configuration. Compared field by field (not by a stored digest), so runs written by earlier
/// versions of lmbench still match.
public struct RunConfiguration: Equatable, Encodable, Sendable {
    public var task: String
    /// The task's parameters with the seed and the time limit.
    public var parameters: [String: String]
    public var engines: [EngineRecord]
    public var modelSHA256: String
    public var tags: [String: String]
    /// The chat template prompts were written in (`none`, the default of rows written before there was one).
    public var chatTemplate: String

    public init(_ run: RunRecord) {
        task = run.task
        parameters = run.taskParameters
        engines = run.engines
        modelSHA256 = run.modelSHA256
        tags = run.tags
        chatTemplate = run.chatTemplate
    }
}

/// A run before it starts: the task with its parameters, the engines, and the run row with its
/// provenance. The task name, grids, engine names and data file are checked before any engine
/// loads its model; engine parameters and task files are checked as they are made. The store
/// (which caches model hashes) is opened only after all that, so a rejected plan creates no database.
public final class RunPlan {
    public let task: BenchmarkTask
    public let engines: [Engine]
    public let timeLimit: Double?
    /// The part of the planned samples this plan runs (`--shard`, see `Shard`); nil: all of them.
    public internal(set) var shard: Shard?
    /// The run row this plan starts (not stored yet: id 0).
    public let record: RunRecord
    public var configuration: RunConfiguration { RunConfiguration(record) }

    /// `record.key`: the configuration and the lmbench version, digested.
    static func key(_ configuration: RunConfiguration, version: String) -> String {
        struct Key: Encodable { let configuration: RunConfiguration, version: String }
        return Provenance.digest(Key(configuration: configuration, version: version))
    }

    /// A plan from parts already made (tests, and runs split from a larger plan).
    public init(task: BenchmarkTask, engines: [Engine], record: RunRecord, timeLimit: Double?) {
        self.task = task
        self.engines = engines
        self.record = record
        self.timeLimit = timeLimit
    }

    public init(_ s: RunSettings, tags: [String: String] = [:], catalog: TaskCatalog, context: EngineContext,
                store: () throws -> ResultsStore, command: String) throws {
        guard let file = catalog.files[s.task] else {
            throw TaskError("unknown task '\(s.task)' (tasks in \(catalog.folder): \(catalog.names.joined(separator: ", ")))")
        }
        let lengths = try LengthGrid.parse(s.lengths ?? file.defaults["lengths"] ?? "1k..4k")
        let depths = try (s.depths ?? file.defaults["depths"]).map { try DepthGrid.parse($0) }
        let samples = s.samples ?? Int(file.defaults["samples"] ?? "1") ?? 1
        let bucket = try (s.bucket ?? file.defaults["bucket"]).map { try LengthGrid.length($0, "bucket") }
        guard samples >= 1 else { throw SpecError("--samples must be at least 1") }
        if let timeout = s.sampleTimeout, !(timeout > 0) { throw SpecError("--sample-timeout must be a positive number of seconds") }
        let seed = s.seed ?? RunSettings.defaultSeed
        let specs = try EngineSpec.parseList(s.engines ?? "full")
        for spec in specs { _ = try EngineKinds.kind(of: spec) }
        if let data = s.data, !FileManager.default.fileExists(atPath: data) { throw TaskError("\(data): data file not found") }
        let chatChoice: ChatTemplateChoice
        do { chatChoice = try ChatTemplateChoice.parse(s.chatTemplate ?? "auto") } catch let error as ChatTemplateError { throw SpecError(error.description) }

        engines = try specs.map { try EngineKinds.make($0, context: context) }
        // Prompts are built once, in the first engine's tokens, so its model's template is the one detected.
        let chatTemplate: ChatTemplate?
        do { chatTemplate = try chatChoice.resolve(modelTemplate: engines[0].modelChatTemplate) } catch let error as ChatTemplateError {
            throw SpecError(error.description)
        }
        let request = TaskRequest(lengths: lengths, depths: depths, samplesPerCell: samples, seed: seed, limit: s.limit,
                                  dataPath: s.data, haystackPath: s.haystack, chatTemplate: chatTemplate,
                                  rulerTask: s.rulerTask, bucketSize: bucket)
        task = try catalog.make(s.task, request: request, tokenizer: engines[0].tokenizer)
        timeLimit = s.sampleTimeout

        var run = RunRecord()
        run.taskFamily = task.family
        run.task = s.task
        run.taskParameters = task.parameters
        run.taskParameters["seed"] = String(seed)
        // A template shapes every prompt: runs with and without one are different experiments to
        // resume, the leaderboard and comparisons (a run without one keeps the parameters it always had).
        if let chatTemplate { run.taskParameters["chat_template"] = chatTemplate.name }
        if let timeout = s.sampleTimeout { run.taskParameters["sample_timeout_seconds"] = String(timeout) }
        run.engines = engines.map(\.record)
        if let path = engines[0].modelPath {
            run.modelPath = path
            run.modelSHA256 = try store().modelSHA256(path: path) { try Provenance.sha256(ofFile: path) }
        }
        run.modelName = engines[0].modelName
        run.chatTemplate = chatTemplate?.name ?? "none"
        run.seed = seed
        run.lmbenchVersion = Provenance.version()
        run.machine = Provenance.machine()
        run.tags = tags
        run.command = command
        run.key = Self.key(RunConfiguration(run), version: run.lmbenchVersion)
        record = run
    }
}
