import Foundation

/// The machine a run ran on.
public struct MachineFacts: Codable, Equatable, Sendable {
    public var cpu: String
    public var cores: Int
    public var memoryBytes: Int
    public var os: String

    public init(cpu: String, cores: Int, memoryBytes: Int, os: String) {
        self.cpu = cpu
        self.cores = cores
        self.memoryBytes = memoryBytes
        self.os = os
    }

    static let unknown = MachineFacts(cpu: "unknown", cores: 0, memoryBytes: 0, os: "unknown")
}

/// One engine of a run: its label (what reports show, unique in the run), its kind (`native`, the
/// Swift engine; others later), the strategy it runs and every parameter it ran with (defaults included).
public struct EngineRecord: Codable, Equatable, Sendable {
    public var label: String
    public var kind: String
    public var strategy: String
    public var parameters: [String: String]

    public init(label: String, kind: String, strategy: String, parameters: [String: String]) {
        self.label = label
        self.kind = kind
        self.strategy = strategy
        self.parameters = parameters
    }

    enum CodingKeys: String, CodingKey { case label, kind, strategy, parameters }

    /// Runs stored before engine kinds existed ran the native engine.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        label = try c.decode(String.self, forKey: .label)
        kind = try c.decodeIfPresent(String.self, forKey: .kind) ?? "native"
        strategy = try c.decode(String.self, forKey: .strategy)
        parameters = try c.decode([String: String].self, forKey: .parameters)
    }
}

/// Everything needed to reproduce a run.
public struct RunRecord: Equatable, Sendable {
    public var id: Int64 = 0
    /// A digest of the configuration and the lmbench version (see `RunPlan` in Bench), to name the
    /// experiment; resume compares the configurations themselves, field by field.
    public var key = ""
    /// The generator behind the task (`passkey`, `needle`, `longbench`, …).
    public var taskFamily = ""
    public var task = ""
    public var taskParameters: [String: String] = [:]
    public var engines: [EngineRecord] = []
    public var modelPath = ""
    public var modelName = ""
    public var modelSHA256 = ""
    /// How prompts were wrapped for the model (`none`: raw completion).
    public var chatTemplate = "none"
    public var seed = 0
    public var lmbenchVersion = ""
    public var machine = MachineFacts.unknown
    /// Free-form labels, e.g. `suite` and `nightly` (a date) for nightly runs.
    public var tags: [String: String] = [:]
    public var command = ""
    public var createdAt = ""
    public var finishedAt: String?
    /// Samples planned, set when the run starts.
    public var plannedSamples = 0

    public init() {}

    /// The stored columns of a run row.
    public static let table = Table<RunRecord>(name: "runs", columns: [
        .text("key", \.key),
        .text("task_family", \.taskFamily),
        .text("task", \.task),
        .json("task_parameters", \.taskParameters),
        .json("engines", \.engines),
        .text("model_path", \.modelPath),
        .text("model_name", \.modelName),
        .text("model_sha256", \.modelSHA256),
        .text("chat_template", \.chatTemplate),
        .integer("seed", \.seed),
        .text("lmbench_version", \.lmbenchVersion),
        .json("machine", \.machine),
        .json("tags", \.tags),
        .text("command", \.command),
        .integer("planned_samples", \.plannedSamples),
        .text("created_at", \.createdAt),
        .optionalText("finished_at", \.finishedAt),
    ], make: RunRecord.init)
}

/// How a sample ended.
public enum SampleStatus: String, Codable, Sendable, CaseIterable {
    case ok
    /// Not run: it could not fit in memory (or the engine cannot take it); `error` says why.
    case skipped
    /// Stopped at the per-sample time limit.
    case timedOut = "timed-out"
    /// The engine failed; `error` says how.
    case error
}

/// What a sample's nominal length counts: tokens of the model (generated tasks, sized to the
/// token) or words of the source record (LongBench's `length` field, for its LongBench-E buckets).
public enum LengthUnit: String, Codable, Sendable {
    case tokens
    case words
}

/// One sample run through one engine, with its score and costs: the one record of a result, from
/// the runner to the store, the export and every report.
public struct SampleRecord: Equatable, Sendable {
    public var runID: Int64 = 0
    public var engine = ""
    /// Stable identity of the sample within its run (with `engine`, unique).
    public var sampleKey = ""
    /// The generator behind the task (`passkey`, `needle`, `longbench`, …): how reports lay it out.
    public var taskFamily = ""
    public var task = ""
    /// The LongBench dataset, or the task name for generated tasks.
    public var dataset = ""
    /// The sample's own id (LongBench `_id`, or a generated one).
    public var sampleID = ""
    /// Nominal length in `lengthUnit`: the grid length for generated tasks, LongBench's word count.
    public var length = 0
    public var lengthUnit = LengthUnit.tokens
    public var depth: Double?
    public var expected: [String] = []
    public var output = ""
    /// 0…1; nil when the sample did not run.
    public var score: Double?
    public var metric = ""
    public var metricKind = MetricKind.proportion
    /// Named extra figures of the sample (partial matches, per-needle hits, …), beside `score`.
    public var figures: [String: Double] = [:]
    public var promptTokens = 0
    public var truncated = false
    public var prefillMs: Double?
    public var timeToFirstTokenMs: Double?
    public var decodeMs: Double?
    public var decodeTokens = 0
    public var decodeTokensPerSecond: Double?
    public var peakRSSBytes: Int?
    public var attentionStateBytes: Int?
    /// CPU time (user + system, all threads) while the engine ran the sample.
    public var cpuSeconds: Double?
    /// Times the scheduler preempted one of the process's threads meanwhile.
    public var involuntarySwitches: Int?
    /// The machine's one-minute load average when the sample finished.
    public var loadAverage: Double?
    /// The engine got well below its threads' worth of CPU time: another process took cores, and
    /// the sample's timings are not the engine's own.
    public var contended = false
    public var status = SampleStatus.ok
    public var error: String?
    public var finishedAt = ""

    public init() {}

    /// Prompt tokens per second of prefill.
    public var prefillTokensPerSecond: Double? {
        prefillMs.flatMap { $0 > 0 ? Double(promptTokens) / ($0 / 1000) : nil }
    }

    /// The stored columns of a sample row (its `figures` live in the `sample_metrics` table).
    public static let table = Table<SampleRecord>(name: "samples", columns: [
        Column.integer("run_id", \SampleRecord.runIDInt).declared("INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE"),
        .text("engine", \.engine),
        .text("sample_key", \.sampleKey),
        .text("task_family", \.taskFamily),
        .text("task", \.task),
        .text("dataset", \.dataset),
        .text("sample_id", \.sampleID),
        .integer("length", \.length),
        .choice("length_unit", \.lengthUnit, fallback: .tokens),
        .optionalReal("depth", \.depth),
        .json("expected", \.expected),
        .text("output", \.output),
        .optionalReal("score", \.score),
        .text("metric", \.metric),
        .choice("metric_kind", \.metricKind, fallback: .proportion),
        .integer("prompt_tokens", \.promptTokens),
        .flag("truncated", \.truncated),
        .optionalReal("prefill_ms", \.prefillMs),
        .optionalReal("ttft_ms", \.timeToFirstTokenMs),
        .optionalReal("decode_ms", \.decodeMs),
        .integer("decode_tokens", \.decodeTokens),
        .optionalReal("decode_tokens_per_second", \.decodeTokensPerSecond),
        .optionalInteger("peak_rss_bytes", \.peakRSSBytes),
        .optionalInteger("attention_state_bytes", \.attentionStateBytes),
        .optionalReal("cpu_seconds", \.cpuSeconds),
        .optionalInteger("involuntary_switches", \.involuntarySwitches),
        .optionalReal("load_average", \.loadAverage),
        .flag("contended", \.contended).declared("INTEGER NOT NULL DEFAULT 0"),
        .choice("status", \.status, fallback: .error),
        .optionalText("error", \.error),
        .text("finished_at", \.finishedAt),
    ], constraints: ["UNIQUE(run_id, engine, sample_key)"], make: SampleRecord.init)

    /// `runID` as the `Int` the column helpers take.
    var runIDInt: Int {
        get { Int(runID) }
        set { runID = Int64(newValue) }
    }
}
