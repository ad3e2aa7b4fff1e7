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
///
/// Processes started on one configuration at once share one run: the run is found or started
/// under the store's write lock, and each sample is claimed before it runs. A sample that another
/// live process has claimed (or stored meanwhile) is left to it and counted in the summary; a
/// claim whose process has died (now, or by the end of this runner's pass) is taken over. The run
/// is marked finished by whichever process finds every planned sample stored.
public final class Runner {
    public struct Summary: Sendable {
        public var runID: Int64
        public var resumed: Bool
        public var alreadyDone: Int
        public var ran: Int
        public var counts: [SampleStatus: Int]
        /// Samples not run here because another process had claimed or stored them.
        public var leftToOthers: Int
        /// The processes that held those claims (`pid N on HOST`).
        public var otherHolders: [String]
        /// Whether every planned sample of the run is stored (else another process still runs some).
        public var finished: Bool
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
        /// One sample through one engine.
        typealias Item = (planned: PlannedSample, engine: Engine)
        func completionKey(_ item: Item) -> String {
            ResultsStore.completionKey(engine: item.engine.record.label, sampleKey: item.planned.key)
        }
        let everything: [Item] = planned.flatMap { p in plan.engines.map { (planned: p, engine: $0) } }
        let work = plan.shard.map { shard in
            shard.select(everything, cost: { $0.planned.estimatedCost }, identity: completionKey).map { everything[$0] }
        } ?? everything
        // Looked up and started in one write transaction: a process starting at the same moment
        // finds this run instead of starting its own.
        let (run, resumed, note) = try store.database.transaction { () -> (RunRecord, Bool, String?) in
            let (existing, note) = try existingRun(for: plan, policy: policy)
            if let existing { return (existing, true, note) }
            var record = plan.record
            record.plannedSamples = work.count
            return (try store.insertRun(record), false, note)
        }
        let done = try store.completedKeys(runID: run.id)
        let todo = work.filter { !done.contains(completionKey($0)) }
        func weight(_ p: PlannedSample) -> Double { p.estimatedCost }
        let progress = ProgressLine(totalWeight: todo.reduce(0) { $0 + weight($1.planned) })
        var summary = Summary(runID: run.id, resumed: resumed, alreadyDone: done.count, ran: 0, counts: [:], leftToOthers: 0,
                              otherHolders: [], finished: false, meanScore: [:], notes: note.map { [$0] } ?? [])
        let claimer = UUID().uuidString
        var sample: Sample?
        /// A claimed sample: its record and, unless the engine refused it before its prompt was built, the sample to run.
        struct Claimed {
            var item: Item
            var record: SampleRecord
            var sample: Sample?
            let started = Date()
        }
        func claim(_ item: Item) throws -> (ClaimOutcome, Claimed?) {
            let (planned, engine) = item
            let outcome = try store.claim(runID: run.id, engine: engine.record.label, sampleKey: planned.key, claimer: claimer)
            guard outcome == .claimed else { return (outcome, nil) }
            let depth = planned.depth.map { String(format: " depth %g%%", $0) } ?? ""
            let length = planned.lengthUnit == .tokens ? LengthGrid.label(planned.length) : "\(planned.length) words"
            progress.show(done: summary.ran + summary.leftToOthers, total: todo.count,
                          what: "\(task.name) \(length)\(depth) \(engine.record.label)")
            var claimed = Claimed(item: item, record: SampleRecord(planned, task: task, engine: engine, runID: run.id))
            if let tokens = planned.promptTokens, let reason = engine.refusal(promptTokens: tokens, maxNewTokens: planned.maxNewTokens) {
                claimed.record.status = .skipped
                claimed.record.error = reason
            } else {
                if sample?.key != planned.key { sample = try task.makeSample(planned) }
                claimed.sample = sample
            }
            return (outcome, claimed)
        }
        /// Claims `items` (one, or as many as their engine takes at once), runs the claimed ones
        /// together, each on a thread of its own, and stores them from this thread; what each claim found.
        func attempt(_ items: [Item]) throws -> [ClaimOutcome] {
            var outcomes: [ClaimOutcome] = [], batch: [Claimed] = []
            for item in items {
                let (outcome, claimed) = try claim(item)
                outcomes.append(outcome)
                if let claimed { batch.append(claimed) }
            }
            func runOne(_ c: inout Claimed) {
                if let s = c.sample { execute(s, engine: c.item.engine, timeLimit: plan.timeLimit, into: &c.record) }
            }
            if batch.count == 1 {
                runOne(&batch[0])
            } else {
                // Threads of their own, not Dispatch's pool, which would run no more at once than there are cores.
                let finished = DispatchGroup()
                batch.withUnsafeMutableBufferPointer { buffer in
                    let claimed = buffer
                    for i in claimed.indices {
                        finished.enter()
                        Thread { runOne(&claimed[i]); finished.leave() }.start()
                    }
                    finished.wait()
                }
            }
            for c in batch {
                try store.record(c.record)
                progress.finished(weight: weight(c.item.planned), seconds: c.record.status == .ok ? Date().timeIntervalSince(c.started) : nil)
                summary.ran += 1
                summary.counts[c.record.status, default: 0] += 1
            }
            return outcomes
        }
        func leave(_ item: Item, _ outcome: ClaimOutcome) {
            summary.leftToOthers += 1
            if case let .held(holder) = outcome, !summary.otherHolders.contains(holder.description) {
                summary.otherHolders.append(holder.description)
            }
            progress.finished(weight: weight(item.planned), seconds: nil)
        }
        do {
            // A sample another process holds is tried once more at the end: if that process has
            // died meanwhile, this one takes the sample over instead of leaving the run unfinished.
            // Samples of an engine that takes several at once (a server) go in batches of that many,
            // after the others, which run one at a time in plan order.
            var batches = todo.filter { $0.engine.maxInFlight <= 1 }.map { [$0] }
            for engine in plan.engines where engine.maxInFlight > 1 {
                let items = todo.filter { $0.engine === engine }
                batches += stride(from: 0, to: items.count, by: engine.maxInFlight).map {
                    Array(items[$0..<min($0 + engine.maxInFlight, items.count)])
                }
            }
            var held: [Item] = []
            for batch in batches {
                for (item, outcome) in zip(batch, try attempt(batch)) {
                    switch outcome {
                    case .claimed: break
                    case .stored: leave(item, .stored)
                    case .held: held.append(item)
                    }
                }
            }
            for item in held {
                let outcome = try attempt([item])[0]
                if outcome != .claimed { leave(item, outcome) }
            }
        } catch {
            // Another process may take these samples at once, not only once this one has exited.
            try? store.releaseClaims(claimer: claimer)
            throw error
        }
        progress.end()
        let stored = try store.completedKeys(runID: run.id)
        summary.finished = work.allSatisfy { stored.contains(completionKey($0)) }
        if summary.finished { try store.markFinished(runID: run.id) }
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
            let (out, time) = try ProcessTime.measure { try engine.perform(sample, timeLimit: timeLimit) }
            record.cpuSeconds = time.cpuSeconds
            record.involuntarySwitches = time.involuntarySwitches
            record.loadAverage = time.loadAverage
            record.contended = engine.computeThreads.map(time.isContended(threads:)) ?? false
            let result = sample.score(out)
            record.output = out.text
            record.score = result.score
            record.figures = result.figures
            record.promptTokens = out.promptTokens
            // A prompt the task cut to its budget before any engine saw it is a truncated prompt too.
            record.truncated = out.truncated || sample.truncatedByTask
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
        if leftToOthers > 0 {
            let holders = otherHolders.isEmpty ? "" : " (\(otherHolders.joined(separator: ", ")))"
            lines.append("  \(leftToOthers) samples skipped: another lmbench process sharing the run had them\(holders)"
                         + (finished ? "" : "; the process that stores the run's last sample marks it finished"))
        }
        for engine in engines {
            if let m = meanScore[engine] { lines.append("  \(engine): mean score \(String(format: "%.3f", m.score)) (n=\(m.n))") }
        }
        lines.append("report: lmbench report --run \(runID)\(dbOption.map { " --db \($0)" } ?? "")")
        return lines.joined(separator: "\n")
    }
}
