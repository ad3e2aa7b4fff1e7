import Foundation
import Inference
import Results

/// Whether a run continues a stopped run of the same configuration.
public enum ResumePolicy: Sendable {
    /// Continue one started by this lmbench version; otherwise start a new run (and say why).
    case automatic
    /// Continue one whatever version started it; fail if there is none (`--resume`).
    case required
    /// Always start a new run (`--new`).
    case fresh
}

/// Runs a plan's samples through its engines into the store: one transaction per finished sample,
/// and samples already stored for the run are skipped, so a killed run resumes where it stopped.
public final class Runner {
    public struct Summary: Sendable {
        public var runID: Int64
        public var resumed: Bool
        public var alreadyDone: Int
        public var ran: Int
        public var counts: [SampleStatus: Int]
        public var meanScore: [String: (score: Double, n: Int)]
        /// What the runner decided that the user should know (a run it did not continue, say).
        public var notes: [String]
    }

    let store: ResultsStore

    public init(store: ResultsStore) { self.store = store }

    /// The stored run `plan` continues, or nil for a new one, with a note when a candidate was passed over.
    func existingRun(for plan: RunPlan, policy: ResumePolicy) throws -> (run: RunRecord?, note: String?) {
        guard policy != .fresh else { return (nil, nil) }
        let version = plan.record.lmbenchVersion
        let candidates = try store.unfinishedRuns(task: plan.record.task).filter { RunConfiguration($0) == plan.configuration }
        if let same = candidates.first(where: { $0.lmbenchVersion == version }) { return (same, nil) }
        guard let other = candidates.first else {
            if policy == .required { throw TaskError("\(store.path): no unfinished run of this configuration to resume") }
            return (nil, nil)
        }
        if policy == .required {
            return (other, "continuing run \(other.id), started by lmbench \(other.lmbenchVersion) (this is \(version))")
        }
        return (nil, "run \(other.id) has this configuration but was started by lmbench \(other.lmbenchVersion) (this is \(version)): "
                + "starting a new run; pass --resume to continue it")
    }

    public func run(_ plan: RunPlan, resume policy: ResumePolicy = .automatic) throws -> Summary {
        let task = plan.task
        let planned = try task.plan()
        let (existing, note) = try existingRun(for: plan, policy: policy)
        var run: RunRecord
        if let existing {
            run = existing
        } else {
            var record = plan.record
            record.plannedSamples = planned.count * plan.engines.count
            run = try store.insertRun(record)
        }
        let done = try store.completedKeys(runID: run.id)
        let todo = planned.flatMap { p in plan.engines.map { (p, $0) } }.filter {
            !done.contains(ResultsStore.completionKey(engine: $0.1.record.label, sampleKey: $0.0.key))
        }
        func weight(_ p: PlannedSample) -> Double { Double(p.estimatedTokens + p.maxNewTokens + 256) }
        let progress = ProgressLine(totalWeight: todo.reduce(0) { $0 + weight($1.0) })
        var summary = Summary(runID: run.id, resumed: existing != nil, alreadyDone: done.count, ran: 0, counts: [:], meanScore: [:],
                              notes: note.map { [$0] } ?? [])
        var sample: Sample?
        for (i, (planned, engine)) in todo.enumerated() {
            let depth = planned.depth.map { String(format: " depth %g%%", $0) } ?? ""
            let length = planned.lengthUnit == .tokens ? LengthGrid.label(planned.length) : "\(planned.length) words"
            progress.show(done: i, total: todo.count, what: "\(task.name) \(length)\(depth) \(engine.record.label)")
            let started = Date()
            var record = SampleRecord(planned, task: task, engine: engine, runID: run.id)
            if let tokens = planned.promptTokens, let reason = engine.refusal(promptTokens: tokens, maxNewTokens: planned.maxNewTokens) {
                record.status = .skipped
                record.error = reason
            } else {
                if sample?.key != planned.key { sample = try task.makeSample(planned) }
                execute(sample!, engine: engine, timeLimit: plan.timeLimit, into: &record)
            }
            try store.record(record)
            progress.finished(weight: weight(planned), seconds: record.status == .ok ? Date().timeIntervalSince(started) : nil)
            summary.ran += 1
            summary.counts[record.status, default: 0] += 1
        }
        progress.end()
        try store.markFinished(runID: run.id)
        for s in try store.samples(runIDs: [run.id]) where s.status == .ok {
            let previous = summary.meanScore[s.engine] ?? (0, 0)
            summary.meanScore[s.engine] = (previous.score + (s.score ?? 0), previous.n + 1)
        }
        for (engine, total) in summary.meanScore { summary.meanScore[engine] = (total.score / Double(total.n), total.n) }
        return summary
    }

    /// One sample through one engine: failures become statuses, never lost runs. A sample that
    /// cannot fit in memory, found out before or during generation, is skipped, not an error.
    func execute(_ sample: Sample, engine: Engine, timeLimit: Double?, into record: inout SampleRecord) {
        record.sampleID = sample.id
        record.dataset = sample.dataset
        record.length = sample.length
        record.lengthUnit = sample.lengthUnit
        // A passkey at a random depth learns its depth only when the prompt is built.
        record.depth = sample.depth
        record.expected = sample.answers
        record.metric = sample.metric.name
        record.metricKind = sample.metric.kind
        record.promptTokens = sample.promptTokens?.count ?? 0
        do {
            let out = try engine.run(sample, timeLimit: timeLimit)
            let result = sample.score(out.text)
            record.output = out.text
            record.score = result.score
            record.figures = result.figures
            record.promptTokens = out.promptTokens
            record.truncated = out.truncated
            record.prefillMs = out.prefillSeconds * 1000
            record.timeToFirstTokenMs = out.timeToFirstTokenSeconds * 1000
            record.decodeMs = out.decodeSeconds * 1000
            record.decodeTokens = out.decodeTokens
            record.decodeTokensPerSecond = out.decodeTokensPerSecond
            record.peakRSSBytes = out.peakRSSBytes
            record.attentionStateBytes = out.attentionStateBytes
        } catch let skip as EngineSkip {
            record.status = .skipped
            record.error = skip.description
        } catch let error as ModelError {
            if case .outOfMemory = error { record.status = .skipped } else { record.status = .error }
            record.error = error.description
        } catch let error as GenerationError {
            record.status = .timedOut
            record.error = error.description
            record.peakRSSBytes = ProcessMemory.peakResidentBytes
        } catch {
            record.status = .error
            record.error = "\(error)"
        }
    }
}

extension SampleRecord {
    /// The row of a planned sample before it runs: what the plan knows.
    init(_ planned: PlannedSample, task: BenchmarkTask, engine: Engine, runID: Int64) {
        self.init()
        self.runID = runID
        self.engine = engine.record.label
        sampleKey = planned.key
        taskFamily = task.family
        self.task = task.name
        dataset = task.name
        sampleID = planned.key
        length = planned.length
        lengthUnit = planned.lengthUnit
        depth = planned.depth
        promptTokens = planned.promptTokens ?? 0
        metric = planned.metric.name
        metricKind = planned.metric.kind
    }
}

extension Runner.Summary {
    /// What `lmbench run` prints when a run ends.
    public func describe(storePath: String, engines: [String], dbOption: String?) -> String {
        let counts = SampleStatus.allCases.compactMap { s in self.counts[s].map { "\($0) \(s.rawValue)" } }.joined(separator: ", ")
        var lines = notes.map { "note: " + $0 }
        lines.append("run \(runID)\(resumed ? " (resumed: \(alreadyDone) samples were already stored)" : ""): "
                     + "\(ran) samples stored\(counts.isEmpty ? "" : " (\(counts))") in \(storePath)")
        for engine in engines {
            if let m = meanScore[engine] { lines.append("  \(engine): mean score \(String(format: "%.3f", m.score)) (n=\(m.n))") }
        }
        lines.append("report: lmbench report --run \(runID)\(dbOption.map { " --db \($0)" } ?? "")")
        return lines.joined(separator: "\n")
    }
}
