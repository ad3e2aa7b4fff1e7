import Bench
import Foundation
import Inference
import Results

/// What one run needs: the same fields `lmbench run` takes on the command line and a nightly suite
/// lists per entry.
struct RunSettings: Decodable {
    var task: String
    var lengths: String?
    var depths: String?
    var samples: Int?
    var engines: String?
    var seed: Int?
    var data: String?
    var limit: Int?
    var haystack: String?
    var sampleTimeout: Double?

    enum CodingKeys: String, CodingKey {
        case task, lengths, depths, samples, engines, seed, data, limit, haystack
        case sampleTimeout = "sample_timeout"
    }
}

/// `lmbench run TASK`: plan the task's samples, run each through every engine, score and store them.
enum RunCommand {
    static let usage = "lmbench run TASK [--lengths 4k..64k] [--depths 0..100/10] [--samples N] [--engines full,truncation] [options]"
    static let summary = """
        Runs TASK (see `lmbench tasks`) through each engine and stores every sample, scored, with its
        latency and memory, in the results database. Each sample is committed when it finishes; if the
        run is stopped, running the same command again continues it without repeating samples.

        Engines: full, truncation, lm-infinite, infllm, streaming-llm. Parameters follow the name:
        truncation:rule=suffix:budget=8k, lm-infinite:n_local=4096:n_global=10,
        infllm:n_local=4096:topk=16:block_size=128:n_init=128:repr_topk=4:exc_block_size=512,
        streaming-llm:n_sink=4:n_local=2000. Lengths: 4k..1M (doubling), 1k,3k,8k, 4k..32k:+4k
        (k = 1024, M = 1024²). Depths in percent: 0..100/10, or 0,50,100.
        """
    static let options: [CommandLineOptions.Option] = [
        .init(name: "lengths", valueName: "LIST", help: "Prompt lengths in tokens (passkey, needle; default from the task file)."),
        .init(name: "depths", valueName: "LIST", help: "Key/needle depths in percent (passkey default: uniform at random)."),
        .init(name: "samples", valueName: "N", help: "Samples per length (and depth) (default from the task file)."),
        .init(name: "engines", valueName: "LIST", help: "Engines, comma-separated, with :key=value parameters (default full)."),
        .init(name: "seed", valueName: "N", help: "Seed for generated prompts (default 42)."),
        .init(name: "data", valueName: "FILE", help: "LongBench-format .jsonl file (longbench and LongBench dataset tasks)."),
        .init(name: "limit", valueName: "N", help: "Run only the first N records of --data."),
        .init(name: "haystack", valueName: "PATH", help: "Needle haystack: a text file or a folder of .txt files (default: generated prose)."),
        .init(name: "sample-timeout", valueName: "SECONDS", help: "Store a sample that runs longer as timed out and go on."),
        .init(name: "tag", valueName: "K=V,...", help: "Labels stored with the run (e.g. suite=nightly)."),
        .init(name: "resume", valueName: nil, help: "Continue the unfinished run of this configuration; fail if there is none."),
        .init(name: "new", valueName: nil, help: "Start a new run even if an unfinished one of this configuration exists."),
        .init(name: "chunk-size", valueName: "N", help: "Prompt tokens per forward pass (default 512)."),
        StoreLocation.dbOption, StoreLocation.tasksOption, ModelLocation.modelOption, ModelLocation.threadsOption,
    ]

    static func run(_ arguments: [String]) throws {
        let o = try CommandLineOptions(command: "run", options: options, arguments: arguments)
        if o.wantsHelp { print(o.help(usage: usage, summary: summary)); return }
        guard o.positional.count == 1 else {
            throw UsageError(o.positional.isEmpty ? "lmbench run: which task? (see lmbench tasks)" : "lmbench run: unexpected argument '\(o.positional[1])'")
        }
        guard !(o.flag("resume") && o.flag("new")) else { throw UsageError("lmbench run: --resume and --new contradict each other") }
        let settings = RunSettings(
            task: o.positional[0], lengths: o.string("lengths"), depths: o.string("depths"),
            samples: try o.string("samples").map { _ in try o.int("samples", default: 1, in: 1...1_000_000) },
            engines: o.string("engines"), seed: try o.string("seed").map { _ in try o.int("seed", default: 42, in: 0...Int(Int32.max)) },
            data: o.string("data"), limit: try o.string("limit").map { _ in try o.int("limit", default: 0, in: 1...Int.max) },
            haystack: o.string("haystack"),
            sampleTimeout: try o.string("sample-timeout").map { text in
                guard let v = Double(text), v > 0 else { throw UsageError("--sample-timeout must be a positive number of seconds, not '\(text)'") }
                return v
            })
        let store = try StoreLocation.open(o)
        let outcome = try execute(settings, tags: try parseTags(o.string("tag")), fresh: o.flag("new"), requireExisting: o.flag("resume"),
                                  chunk: try o.int("chunk-size", default: 512, in: 16...65536), store: store,
                                  catalog: try StoreLocation.catalog(o), loadModel: { try ModelLocation.load(o) })
        print(outcome.describe(store: store, dbOption: o.string("db")))
    }

    struct Outcome {
        var summary: Runner.Summary
        var engines: [EngineRecord]

        func describe(store: ResultsStore, dbOption: String?) -> String {
            let counts = SampleStatus.allCases.compactMap { s in summary.counts[s].map { "\($0) \(s.rawValue)" } }.joined(separator: ", ")
            var lines = ["run \(summary.runID)\(summary.resumed ? " (resumed: \(summary.alreadyDone) samples were already stored)" : ""): "
                         + "\(summary.ran) samples stored\(counts.isEmpty ? "" : " (\(counts))") in \(store.path)"]
            for engine in engines {
                if let m = summary.meanScore[engine.label] { lines.append("  \(engine.label): mean score \(String(format: "%.3f", m.score)) (n=\(m.n))") }
            }
            lines.append("report: lmbench report --run \(summary.runID)\(dbOption.map { " --db \($0)" } ?? "")")
            return lines.joined(separator: "\n")
        }
    }

    /// Validates `s` (before the model is loaded), then plans and runs it.
    static func execute(_ s: RunSettings, tags: [String: String], fresh: Bool, requireExisting: Bool, chunk: Int, store: ResultsStore,
                        catalog: TaskCatalog, loadModel: () throws -> LoadedModel) throws -> Outcome {
        let defaults = catalog.tasks[s.task]?.defaults ?? [:]
        let lengths = try LengthGrid.parse(s.lengths ?? defaults["lengths"] ?? "1k..4k")
        let depths = try (s.depths ?? defaults["depths"]).map { try DepthGrid.parse($0) }
        let samples = s.samples ?? Int(defaults["samples"] ?? "1") ?? 1
        guard samples >= 1 else { throw UsageError("--samples must be at least 1") }
        let seed = s.seed ?? 42
        let specs = try EngineSpec.parseList(s.engines ?? "full")
        for spec in specs where !NativeEngine.strategyNames.contains(spec.strategy) {
            throw UsageError("--engines: unknown engine '\(spec.strategy)' (engines: \(NativeEngine.strategyNames.joined(separator: ", ")))")
        }
        if let data = s.data, !FileManager.default.fileExists(atPath: data) { throw CommandError("\(data): data file not found") }

        let loaded = try loadModel()
        let generator = Generator(loaded, chunkSize: chunk)
        let engines: [Engine] = try specs.map { spec in
            do { return try NativeEngine(spec, generator: generator) } catch let e as StrategyError { throw UsageError("--engines: \(e.description)") }
        }
        let request = TaskRequest(lengths: lengths, depths: depths, samplesPerCell: samples, seed: seed, limit: s.limit,
                                  dataPath: s.data, haystackPath: s.haystack)
        let task = try catalog.make(s.task, request: request, tokenizer: loaded.tokenizer)
        let planned = try task.plan()
        var taskParameters = task.parameters
        taskParameters["seed"] = String(seed)
        if let timeout = s.sampleTimeout { taskParameters["sample_timeout_seconds"] = String(timeout) }
        let sha = try store.modelSHA256(path: loaded.path) { try Provenance.sha256(ofFile: loaded.path) }
        struct Key: Encodable {
            let task: String, parameters: [String: String], engines: [EngineRecord], model: String, tags: [String: String]
        }
        let engineRecords = engines.map(\.record)
        let key = Provenance.digest(Key(task: s.task, parameters: taskParameters, engines: engineRecords, model: sha, tags: tags))
        let template = RunRecord(key: key, task: s.task, taskParameters: taskParameters, engines: engineRecords,
                                 modelPath: loaded.path, modelName: loaded.model.description.name, modelSHA256: sha, seed: seed,
                                 lmbenchVersion: Provenance.version(), machine: Provenance.machine(), tags: tags,
                                 command: (["lmbench"] + CommandLine.arguments.dropFirst()).joined(separator: " "),
                                 plannedSamples: planned.count * engines.count)
        let runner = Runner(store: store, task: task, engines: engines, timeLimit: s.sampleTimeout)
        let summary = try runner.run(template, fresh: fresh, requireExisting: requireExisting, planned: planned)
        return Outcome(summary: summary, engines: engineRecords)
    }

    static func parseTags(_ text: String?) throws -> [String: String] {
        guard let text else { return [:] }
        var tags: [String: String] = [:]
        for piece in text.split(separator: ",") {
            let pair = piece.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, !pair[0].isEmpty else { throw UsageError("--tag takes key=value pairs, not '\(piece)'") }
            tags[pair[0]] = pair[1]
        }
        return tags
    }
}
