import Bench
import Foundation
import Inference
import Results

/// `lmbench run TASK`: plan the task's samples, run each through every engine, score and store them.
enum RunCommand {
    static let usage = "lmbench run TASK [--lengths 4k..64k] [--depths 0..100/10] [--samples N] [--engines full,truncation] [options]"
    static var summary: String { """
        Runs TASK (see `lmbench tasks`) through each engine and stores every sample, scored, with its
        latency and memory, in the results database. Each sample is committed when it finishes; if the
        run is stopped, running the same command again continues it without repeating samples. The
        same command started more than once at a time shares one run: each sample is claimed by the
        process that runs it, and the others skip it and say so.

        Engines: \(EngineKinds.engineNames.joined(separator: ", ")). Parameters follow the name:
        truncation:rule=suffix:budget=8k, lm-infinite:n_local=4096:n_global=10,
        infllm:n_local=4096:topk=16:block_size=128:n_init=128:repr_topk=4:exc_block_size=512,
        streaming-llm:n_sink=4:n_local=2000. Lengths: 4k..1M (doubling), 1k,3k,8k, 4k..32k:+4k
        (k = 1024, M = 1024²). Depths in percent: 0..100/10, or 0,50,100. A run started by another
        lmbench version is not continued unless --resume is given.
        """ }
    static let options: [CommandLineOptions.Option] = [
        .init(name: "lengths", valueName: "LIST", help: "Prompt lengths in tokens (passkey, needle; default from the task file)."),
        .init(name: "depths", valueName: "LIST", help: "Key/needle depths in percent (passkey default: uniform at random)."),
        .init(name: "samples", valueName: "N", help: "Samples per length (and depth) (default from the task file)."),
        .init(name: "engines", valueName: "LIST", help: "Engines, comma-separated, with :key=value parameters (default full)."),
        .init(name: "seed", valueName: "N", help: "Seed for generated prompts (default 42)."),
        .init(name: "data", valueName: "FILE", help: "Data: LongBench .jsonl; RULER prepare.py .jsonl file or folder (ruler); SQuAD / HotpotQA .json (qa_1, qa_2); a text file or folder of .txt files (perplexity)."),
        .init(name: "limit", valueName: "N", help: "Run only the first N records of --data."),
        .init(name: "haystack", valueName: "PATH", help: "Needle haystack: a text file or a folder of .txt files (default: generated prose)."),
        .init(name: "sample-timeout", valueName: "SECONDS", help: "Store a sample that runs longer as timed out and go on."),
        .init(name: "chat-template", valueName: "auto|none|NAME",
              help: "Write prompts as a user turn of a chat template (default auto: the model's own, none if it has none; names: \(ChatTemplates.names.joined(separator: ", ")))."),
        .init(name: "bucket", valueName: "N", help: "Positions per NLL bucket of a perplexity run (default 1k)."),
        .init(name: "ruler-task", valueName: "NAME", help: "The RULER task a --data file from RULER's prepare.py is scored as (default: from its name)."),
        .init(name: "tag", valueName: "K=V,...", help: "Labels stored with the run (e.g. suite=nightly)."),
        .init(name: "shard", valueName: "I/N", help: "Run only shard I of N of the planned samples × engines, balanced by cost (lmbench merge joins the shards)."),
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
            },
            chatTemplate: o.string("chat-template"), rulerTask: o.string("ruler-task"), bucket: o.string("bucket"))
        let tags = try parseTags(o.string("tag"))
        guard tags[Shard.tag] == nil else { throw UsageError("lmbench run: the tag '\(Shard.tag)' is set by --shard I/N, not by --tag") }
        let shard = try o.string("shard").map(Shard.parse)
        let context = EngineContext(chunkSize: try o.int("chunk-size", default: 512, in: 16...65536)) { try ModelLocation.load(o) }
        // Nothing to resume in a database that is not there: say so rather than create one.
        if o.flag("resume"), !FileManager.default.fileExists(atPath: StoreLocation.path(o)) {
            throw StoreError.noDatabase(path: StoreLocation.path(o))
        }
        let store = StoreLocation.openOnDemand(o)
        let wholePlan = try RunPlan(settings, tags: tags, catalog: try StoreLocation.catalog(o), context: context, store: store,
                                    command: CommandLine.invocation)
        let plan = shard.map(wholePlan.sharded) ?? wholePlan
        let summary = try Runner(store: try store()).run(plan, resume: o.flag("resume") ? .required : o.flag("new") ? .fresh : .automatic)
        print(summary.describe(storePath: StoreLocation.path(o), engines: plan.engines.map(\.record.label), dbOption: o.string("db")))
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

extension CommandLine {
    /// The command line as typed, for the run row.
    static var invocation: String { (["lmbench"] + arguments.dropFirst()).joined(separator: " ") }
}
