import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Results

/// `lmbench merge OUT IN...`: joins results databases, typically the shards of one sweep, into a
/// new database.
///
/// Runs are matched by the identity resume uses (`RunConfiguration`: task, task parameters, seed,
/// engines and their parameters, model sha256, chat template, tags) and the lmbench version, with
/// the `shard` tag left out: the shards of one sweep become the one run the unsharded command
/// makes, with the same key. Runs of other identities are copied as separate runs. A sample is
/// kept once per (run identity, engine, sample key): the first copy in the order shards, then
/// arguments, give it, so a shard re-run after a crash merges cleanly. Samples keep their figures
/// and times. Each input run's own provenance (database, run id, shard, key, version, machine,
/// command, model path, times) becomes a `run_sources` row of the merged run, and each sample
/// names its source in `sample_sources`; a merged input's sources are carried over as they are.
///
/// Shards of one sweep (the same task, shard count and other tags) that differ in any part of
/// their identity are refused, naming both files and the first difference. Everything is
/// checked before anything is written; the output is written under a temporary name and moved
/// into place only when complete, so a refused or failed merge leaves no output behind.
public enum StoreMerge {
    public struct MergeError: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// One run of the output, as merged.
    public struct MergedRun {
        public var run: RunRecord
        public var sources: [RunSource]
        /// Copies of samples dropped because an earlier source had them.
        public var duplicates = 0
        /// Whether every shard (or an unsharded run) of the sweep is among the sources.
        public var complete = false
        /// Samples kept, each with the index of its source in `sources`.
        var samples: [(sample: SampleRecord, source: Int)] = []
    }

    public struct Summary {
        public var output: String
        public var inputRuns = 0
        public var runs: [MergedRun] = []

        /// What `lmbench merge` prints.
        public func describe() -> String {
            var lines = ["merged \(inputRuns) runs into \(runs.count) in \(output)"]
            for merged in runs {
                let run = merged.run
                let shards = merged.sources.compactMap(\.shard)
                let from = shards.isEmpty ? "\(merged.sources.count) source runs" : "shards \(shards.joined(separator: ", "))"
                var line = "  run \(run.id): \(run.task), \(merged.samples.count)/\(run.plannedSamples) samples from \(from)"
                if merged.duplicates > 0 { line += ", \(merged.duplicates) duplicate sample\(merged.duplicates == 1 ? "" : "s") dropped" }
                line += run.finishedAt == nil ? ", not finished" + (merged.complete ? "" : " (shards missing)") : ", finished"
                lines.append(line)
            }
            return lines.joined(separator: "\n")
        }
    }

    /// A run read from an input database.
    struct InputRun {
        let file: String
        let order: Int
        let run: RunRecord
        let shard: Shard?
        let identity: String
        /// Its provenance: its own sources when it is itself a merge, else the run.
        let sources: [(id: Int64?, source: RunSource)]
        let samples: [SampleRecord]
        /// For a merged input run: each sample's source row id, by completion key.
        let sampleSources: [String: Int64]
    }

    public static func merge(_ inputs: [String], into output: String) throws -> Summary {
        guard !inputs.isEmpty else { throw MergeError("which databases to merge? (lmbench merge OUT.sqlite IN.sqlite...)") }
        for path in [output, output + "-wal"] where FileManager.default.fileExists(atPath: path) {
            throw MergeError("\(output) already exists: merge writes a new database (remove it or name another)")
        }
        let absolute = inputs.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        if let twice = absolute.indices.first(where: { absolute[..<$0].contains(absolute[$0]) }) {
            throw MergeError("\(inputs[twice]) is given twice")
        }
        var runs: [InputRun] = []
        for (file, path) in zip(inputs, absolute) {
            let store = try ResultsStore(path: file, access: .readOnly)
            for run in try store.runs() { runs.append(try read(run, from: store, file: file, absolutePath: path, order: runs.count)) }
        }
        try checkShardsAgree(runs)
        var summary = Summary(output: output, inputRuns: runs.count)
        var groups: [String: Int] = [:]
        var grouped: [[InputRun]] = []
        for run in runs {
            if let g = groups[run.identity] { grouped[g].append(run) } else { groups[run.identity] = grouped.count; grouped.append([run]) }
        }
        summary.runs = try grouped.map(combine)
        try write(&summary.runs, to: output)
        return summary
    }

    static func read(_ run: RunRecord, from store: ResultsStore, file: String, absolutePath: String, order: Int) throws -> InputRun {
        let shard = Shard.of(run)
        let own = try store.runSources(runID: run.id)
        let sources: [(id: Int64?, source: RunSource)] = own.isEmpty
            ? [(nil, RunSource(of: run, database: absolutePath, shard: shard?.description))]
            : own.map { ($0.id, $0.source) }
        return InputRun(file: file, order: order, run: run, shard: shard, identity: identity(run), sources: sources,
                        samples: try store.samples(runIDs: [run.id]),
                        sampleSources: own.isEmpty ? [:] : try store.sampleSourceIDs(runID: run.id))
    }

    /// What resume compares, without the shard.
    static func configuration(_ run: RunRecord) -> RunConfiguration {
        var configuration = RunConfiguration(run)
        configuration.tags[Shard.tag] = nil
        return configuration
    }

    /// The key of the run the shards make together: the unsharded command's run key.
    static func identity(_ run: RunRecord) -> String { RunPlan.key(configuration(run), version: run.lmbenchVersion) }

    /// Shards of one sweep must be of one configuration: a shard run with other parameters is a
    /// mistake to hear about, not another run to keep beside the others.
    static func checkShardsAgree(_ runs: [InputRun]) throws {
        struct Sweep: Hashable { let task: String, count: Int, tags: [String: String] }
        var first: [Sweep: InputRun] = [:]
        for run in runs {
            guard let shard = run.shard else { continue }
            let sweep = Sweep(task: run.run.task, count: shard.count, tags: configuration(run.run).tags)
            guard let earlier = first[sweep] else { first[sweep] = run; continue }
            if let difference = difference(earlier.run, run.run) {
                throw MergeError("\(describe(earlier)) and \(describe(run)) are shards of one \(run.run.task) sweep but differ in "
                                 + "\(difference); nothing written")
            }
        }
    }

    static func describe(_ run: InputRun) -> String {
        "\(run.file) run \(run.run.id)" + (run.shard.map { " (shard \($0))" } ?? "")
    }

    /// The first part of two runs' identities that differs, in words, or nil when they are the same run.
    static func difference(_ a: RunRecord, _ b: RunRecord) -> String? {
        let (x, y) = (configuration(a), configuration(b))
        func both(_ u: String?, _ v: String?) -> String { "\(u.map(quoted) ?? "unset") vs \(v.map(quoted) ?? "unset")" }
        func firstKey(_ u: [String: String], _ v: [String: String]) -> String? {
            Set(u.keys).union(v.keys).sorted().first { u[$0] != v[$0] }
        }
        if x.task != y.task { return "task (\(both(x.task, y.task)))" }
        if let name = firstKey(x.parameters, y.parameters) {
            return "task parameter '\(name)' (\(both(x.parameters[name], y.parameters[name])))"
        }
        let (labels, otherLabels) = (x.engines.map(\.label), y.engines.map(\.label))
        if labels != otherLabels {
            return "engines (\(both(labels.joined(separator: ","), otherLabels.joined(separator: ","))))"
        }
        for (e, f) in zip(x.engines, y.engines) where e != f {
            if e.kind != f.kind { return "engine '\(e.label)' kind (\(both(e.kind, f.kind)))" }
            if e.strategy != f.strategy { return "engine '\(e.label)' strategy (\(both(e.strategy, f.strategy)))" }
            if let name = firstKey(e.parameters, f.parameters) {
                return "engine '\(e.label)' parameter '\(name)' (\(both(e.parameters[name], f.parameters[name])))"
            }
        }
        if x.modelSHA256 != y.modelSHA256 { return "model sha256 (\(both(x.modelSHA256, y.modelSHA256)))" }
        if x.chatTemplate != y.chatTemplate { return "chat template (\(both(x.chatTemplate, y.chatTemplate)))" }
        if let name = firstKey(x.tags, y.tags) { return "tag '\(name)' (\(both(x.tags[name], y.tags[name])))" }
        if a.lmbenchVersion != b.lmbenchVersion { return "lmbench version (\(both(a.lmbenchVersion, b.lmbenchVersion)))" }
        return nil
    }

    /// The input runs of one identity as one run: unsharded runs first, then shards by index, each
    /// in argument order.
    static func combine(_ runs: [InputRun]) throws -> MergedRun {
        let ordered = runs.sorted { ($0.shard?.index ?? 0, $0.order) < ($1.shard?.index ?? 0, $1.order) }
        let lead = ordered[0]
        var merged = MergedRun(run: lead.run, sources: [])
        var seen: Set<String> = []
        for input in ordered {
            let base = merged.sources.count
            merged.sources += input.sources.map(\.source)
            let indexByRowID = Dictionary(uniqueKeysWithValues: input.sources.enumerated().compactMap { i, s in s.id.map { ($0, base + i) } })
            for sample in input.samples {
                let key = ResultsStore.completionKey(engine: sample.engine, sampleKey: sample.sampleKey)
                guard seen.insert(key).inserted else { merged.duplicates += 1; continue }
                merged.samples.append((sample, input.sampleSources[key].flatMap { indexByRowID[$0] } ?? base))
            }
        }
        let (planned, complete) = try coverage(merged.sources, of: ordered)
        merged.complete = complete
        var run = lead.run
        run.id = 0
        run.tags[Shard.tag] = nil
        run.key = lead.identity
        run.command = withoutShardOption(lead.run.command)
        run.plannedSamples = planned
        run.createdAt = merged.sources.map(\.createdAt).min() ?? run.createdAt
        run.finishedAt = complete && merged.samples.count >= planned
            ? merged.sources.compactMap(\.finishedAt).max() ?? run.finishedAt : nil
        merged.run = run
        return merged
    }

    /// The samples the whole run plans, and whether the sources cover all of it: an unsharded
    /// source plans everything; shards plan their own parts, each index counted once.
    static func coverage(_ sources: [RunSource], of runs: [InputRun]) throws -> (planned: Int, complete: Bool) {
        if let whole = sources.first(where: { $0.shard == nil }) { return (whole.plannedSamples, true) }
        var parts: [Int: Int] = [:]
        var count: (shards: Int, database: String)?
        for source in sources {
            guard let shard = source.shard.flatMap({ try? Shard.parse($0) }) else { continue }
            if let count, count.shards != shard.count {
                throw MergeError("\(count.database) and \(source.database) hold shards of one \(runs[0].run.task) run cut into "
                                 + "\(count.shards) and \(shard.count) shards; merge each sweep on its own; nothing written")
            }
            count = (shard.count, source.database)
            parts[shard.index] = parts[shard.index] ?? source.plannedSamples
        }
        return (parts.values.reduce(0, +), parts.count == count?.shards)
    }

    /// The command without its `--shard I/N`: the command of the whole run.
    static func withoutShardOption(_ command: String) -> String {
        var words = command.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        if let i = words.firstIndex(of: "--shard"), i + 1 < words.count { words.removeSubrange(i...(i + 1)) }
        words.removeAll { $0.hasPrefix("--shard=") }
        return words.joined(separator: " ")
    }

    /// Writes the merged runs to a new database at `output`, through a temporary file beside it.
    static func write(_ runs: inout [MergedRun], to output: String) throws {
        let temporary = output + ".merging-\(getpid())"
        let leftovers = ["", "-wal", "-shm", "-journal"].map { temporary + $0 }
        defer { for path in leftovers { try? FileManager.default.removeItem(atPath: path) } }
        do {
            let store = try ResultsStore(path: temporary)
            let mergedAt = ISO8601DateFormatter().string(from: Date())
            try store.database.transaction {
                for i in runs.indices {
                    runs[i].run.id = try store.insertRunRow(runs[i].run)
                    let sourceIDs = try runs[i].sources.map { source in
                        var source = source
                        source.runID = Int(runs[i].run.id)
                        if source.mergedAt.isEmpty { source.mergedAt = mergedAt }
                        return try store.insertRunSource(source)
                    }
                    for (sample, source) in runs[i].samples {
                        var sample = sample
                        sample.runID = runs[i].run.id
                        try store.linkSample(try store.insertSampleRow(sample), toSource: sourceIDs[source])
                    }
                }
            }
            try store.foldLogForMove()
        }
        // link() fails when the name exists: a database another process wrote there meanwhile is never replaced.
        guard link(temporary, output) == 0 else {
            throw MergeError("cannot write \(output): \(String(cString: strerror(errno)))")
        }
    }
}
