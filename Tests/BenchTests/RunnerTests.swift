import XCTest
import Inference
import Results
import Bench
import StoreTestSupport

/// The runner with a scripted engine: statuses, one row per sample and engine, resume and its
/// rules, and what the runner asks an engine before building a prompt.
final class RunnerTests: XCTestCase {
    final class CountingTask: BenchmarkTask {
        let name = "count"
        let family = "count"
        var parameters: [String: String] { ["n": "\(n)"] }
        let n: Int
        /// Nominal lengths in words, and no token count before the prompt is built (as LongBench).
        var inWords = false
        /// Building this sample aborts the run, as a kill would.
        var killAt: Int?
        struct Killed: Error {}
        init(n: Int) { self.n = n }
        func plan() throws -> [PlannedSample] {
            (0..<n).map { i in
                inWords
                    ? PlannedSample(key: "count/\(i)", index: i, length: 100_000 * (i + 1), lengthUnit: .words, depth: nil,
                                    promptTokens: nil, estimatedTokens: 3, maxNewTokens: 4, metric: .firstInteger)
                    : .generated(key: "count/\(i)", index: i, length: 1024 * (i + 1), depth: nil, maxNewTokens: 4, metric: .firstInteger)
            }
        }
        func makeSample(_ p: PlannedSample) throws -> Sample {
            if p.index == killAt { throw Killed() }
            return Sample(key: p.key, id: "s\(p.index)", dataset: "count", prompt: "p\(p.index)", promptTokens: [1, 2, 3],
                          answers: ["\(p.index)"], maxNewTokens: 4, length: p.length, lengthUnit: p.lengthUnit, depth: nil,
                          metric: p.index == 0 ? .containsAll : .firstInteger)
        }
    }

    /// Answers sample i with "i" (right) or "x" (wrong); throws what `failures` says for some
    /// samples; refuses prompts over `limit` tokens and remembers what it was asked.
    final class ScriptedEngine: Engine {
        let record: EngineRecord
        var calls: [String] = []
        var asked: [(promptTokens: Int, maxNewTokens: Int)] = []
        let wrong: Set<Int>
        let failures: [Int: Error]
        let limit: Int
        /// How long each sample takes.
        let seconds: Double
        /// Called with each sample's key as it runs.
        let whenRunning: (String) throws -> Void

        init(label: String, wrong: Set<Int> = [], failures: [Int: Error] = [:], limit: Int = 1 << 20, seconds: Double = 0,
             whenRunning: @escaping (String) throws -> Void = { _ in }) {
            record = EngineRecord(label: label, kind: "scripted", strategy: label, parameters: [:])
            self.wrong = wrong
            self.failures = failures
            self.limit = limit
            self.seconds = seconds
            self.whenRunning = whenRunning
        }

        var tokenizer: Tokenizer { fatalError("the scripted engine has no tokenizer") }
        var modelPath: String? { nil }
        var modelName: String { "scripted" }

        func refusal(promptTokens: Int, maxNewTokens: Int) -> String? {
            asked.append((promptTokens, maxNewTokens))
            return promptTokens + maxNewTokens > limit ? "too long" : nil
        }

        func run(_ sample: Sample, timeLimit: Double?) throws -> EngineOutput {
            calls.append(sample.key)
            try whenRunning(sample.key)
            Thread.sleep(forTimeInterval: seconds)
            let i = Int(sample.id.dropFirst())!
            if let failure = failures[i] { throw failure }
            return EngineOutput(text: wrong.contains(i) ? "x" : " \(i).", promptTokens: 3, truncated: false, prefillSeconds: 0.5,
                                timeToFirstTokenSeconds: 0.6, decodeSeconds: 0.2, decodeTokens: 2, decodeTokensPerSecond: 10,
                                peakRSSBytes: 1 << 20, attentionStateBytes: 4096)
        }
    }

    func makeStore() throws -> (ResultsStore, URL) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmbench-runner-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return (try ResultsStore(path: dir.appendingPathComponent("db.sqlite").path), dir)
    }

    func plan(_ task: CountingTask, _ engines: [ScriptedEngine], version: String = "test", seed: String = "1",
              timeLimit: Double? = nil) -> RunPlan {
        var run = RunRecord()
        run.taskFamily = task.family
        run.task = task.name
        run.taskParameters = task.parameters.merging(["seed": seed]) { a, _ in a }
        run.engines = engines.map(\.record)
        run.modelSHA256 = "00"
        run.lmbenchVersion = version
        run.machine = Provenance.machine()
        run.command = "test"
        return RunPlan(task: task, engines: engines, record: run, timeLimit: timeLimit)
    }

    func testEverySampleIsStoredWithItsStatus() throws {
        let (store, dir) = try makeStore()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = ScriptedEngine(label: "a", wrong: [1])
        let b = ScriptedEngine(label: "b", failures: [0: EngineSkip(description: "needs 9 GiB"),
                                                      2: GenerationError.timedOut(limit: 1, promptTokensDone: 512, newTokens: 0),
                                                      3: StrategyError("boom")])
        let summary = try Runner(store: store).run(plan(CountingTask(n: 4), [a, b], timeLimit: 1))
        XCTAssertEqual(summary.ran, 8)
        XCTAssertEqual(summary.counts, [.ok: 5, .skipped: 1, .timedOut: 1, .error: 1])
        let rows = try store.samples(runIDs: [summary.runID])
        XCTAssertEqual(rows.count, 8)
        let byKey = Dictionary(uniqueKeysWithValues: rows.map { ("\($0.engine)/\($0.sampleID)", $0) })
        XCTAssertEqual(byKey["a/s0"]?.score, 1)
        XCTAssertEqual(byKey["a/s1"]?.score, 0)
        XCTAssertEqual(byKey["a/s0"]?.prefillMs, 500)
        XCTAssertEqual(byKey["a/s0"]?.taskFamily, "count")
        XCTAssertEqual(byKey["a/s1"]?.metric, "first_integer")
        XCTAssertEqual(byKey["a/s1"]?.metricKind, .proportion)
        // The metric's extra figures are stored with the sample.
        XCTAssertEqual(byKey["a/s0"]?.figures, ["answers_found": 1, "answers": 1])
        XCTAssertEqual(byKey["b/s0"]?.status, .skipped)
        XCTAssertEqual(byKey["b/s0"]?.error, "needs 9 GiB")
        XCTAssertNil(byKey["b/s0"]?.score)
        XCTAssertEqual(byKey["b/s2"]?.status, .timedOut)
        XCTAssertEqual(byKey["b/s3"]?.status, .error)
        XCTAssertEqual(summary.meanScore["a"]?.score ?? -1, 0.75, accuracy: 1e-12)
        XCTAssertNotNil(try store.run(id: summary.runID).finishedAt)
    }

    func testRunningOutOfMemoryDuringGenerationIsASkipNotAnError() throws {
        let (store, dir) = try makeStore()
        defer { try? FileManager.default.removeItem(at: dir) }
        let engine = ScriptedEngine(label: "a", failures: [1: ModelError.outOfMemory(path: "m.gguf", needed: 9 << 30, available: 1 << 30,
                                                                                     what: "the attention state")])
        let summary = try Runner(store: store).run(plan(CountingTask(n: 2), [engine]))
        let row = try XCTUnwrap(try store.samples(runIDs: [summary.runID]).first { $0.sampleKey == "count/1" })
        XCTAssertEqual(row.status, .skipped)
        XCTAssertTrue(row.error?.contains("9216 MiB") == true, row.error ?? "")
    }

    func testThePreCheckUsesTokensAndTheGenerationBudgetNeverWords() throws {
        let (store, dir) = try makeStore()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Generated: known token counts are checked with the sample's generation budget.
        let generated = ScriptedEngine(label: "a", limit: 2048 + 3)
        let first = try Runner(store: store).run(plan(CountingTask(n: 2), [generated]))
        XCTAssertEqual(generated.asked.prefix(2).map(\.promptTokens), [1024, 2048])
        XCTAssertEqual(generated.asked.prefix(2).map(\.maxNewTokens), [4, 4])
        XCTAssertEqual(first.counts, [.ok: 1, .skipped: 1], "2048 + 4 new tokens is over the limit of 2051")
        let refused = try XCTUnwrap(try store.samples(runIDs: [first.runID]).first { $0.status == .skipped })
        XCTAssertEqual(refused.metric, "first_integer", "a sample refused before its prompt is built still says how it would be scored")
        XCTAssertEqual(refused.metricKind, .proportion)
        // Words (100,000 and 200,000 of them) are no token count: nothing is refused before the
        // prompt is built; the engine then sees the real 3-token prompt.
        let task = CountingTask(n: 2)
        task.inWords = true
        let loaded = ScriptedEngine(label: "a", limit: 1000)
        let second = try Runner(store: store).run(plan(task, [loaded]))
        XCTAssertTrue(loaded.asked.isEmpty)
        XCTAssertEqual(second.counts, [.ok: 2])
        let rows = try store.samples(runIDs: [second.runID])
        XCTAssertEqual(rows.map(\.length), [100_000, 200_000])
        XCTAssertEqual(rows.map(\.lengthUnit), [.words, .words])
    }

    func testAKilledRunResumesWithoutDuplicates() throws {
        let (store, dir) = try makeStore()
        defer { try? FileManager.default.removeItem(at: dir) }
        let task = CountingTask(n: 5)
        task.killAt = 3
        XCTAssertThrowsError(try Runner(store: store).run(plan(task, [ScriptedEngine(label: "a")])))
        let partial = try store.runs()
        XCTAssertEqual(partial.count, 1)
        XCTAssertNil(partial[0].finishedAt)
        XCTAssertEqual(try store.samples(runIDs: [partial[0].id]).count, 3)

        task.killAt = nil
        let second = ScriptedEngine(label: "a")
        let summary = try Runner(store: store).run(plan(task, [second]), resume: .required)
        XCTAssertTrue(summary.resumed)
        XCTAssertEqual(summary.runID, partial[0].id)
        XCTAssertEqual(second.calls, ["count/3", "count/4"], "only the samples not yet stored run again")
        let rows = try store.samples(runIDs: [summary.runID])
        XCTAssertEqual(rows.map(\.sampleKey), (0..<5).map { "count/\($0)" })

        // A finished run is not resumed: the same configuration again is a new run; --resume fails.
        XCTAssertThrowsError(try Runner(store: store).run(plan(task, [ScriptedEngine(label: "a")]), resume: .required))
        let again = try Runner(store: store).run(plan(task, [ScriptedEngine(label: "a")]))
        XCTAssertNotEqual(again.runID, summary.runID)
    }

    func testARebuiltBinaryOrAnotherSeedDoesNotSilentlyContinueARun() throws {
        let (store, dir) = try makeStore()
        defer { try? FileManager.default.removeItem(at: dir) }
        let task = CountingTask(n: 3)
        task.killAt = 1
        XCTAssertThrowsError(try Runner(store: store).run(plan(task, [ScriptedEngine(label: "a")], version: "v1")))
        task.killAt = nil
        let stopped = try store.runs()[0]

        // Another seed is another experiment: a new run, no note.
        let otherSeed = try Runner(store: store).run(plan(task, [ScriptedEngine(label: "a")], version: "v1", seed: "2"), resume: .automatic)
        XCTAssertFalse(otherSeed.resumed)
        XCTAssertTrue(otherSeed.notes.isEmpty)
        XCTAssertNotEqual(otherSeed.runID, stopped.id)

        // Another lmbench version: a new run, and it says why.
        let rebuilt = try Runner(store: store).run(plan(task, [ScriptedEngine(label: "a")], version: "v2"))
        XCTAssertFalse(rebuilt.resumed)
        XCTAssertNotEqual(rebuilt.runID, stopped.id)
        XCTAssertEqual(rebuilt.notes.count, 1)
        XCTAssertTrue(rebuilt.notes[0].contains("run \(stopped.id)") && rebuilt.notes[0].contains("v1") && rebuilt.notes[0].contains("--resume"),
                      rebuilt.notes[0])
        XCTAssertNil(try store.run(id: stopped.id).finishedAt)

        // --resume continues it all the same.
        let engine = ScriptedEngine(label: "a")
        let resumed = try Runner(store: store).run(plan(task, [engine], version: "v2"), resume: .required)
        XCTAssertTrue(resumed.resumed)
        XCTAssertEqual(resumed.runID, stopped.id)
        XCTAssertEqual(engine.calls, ["count/1", "count/2"])
    }

    /// Runners started together on one configuration (threads, each with its own connection, as
    /// processes would be) share one run and run each sample once; the ones that left samples to
    /// the others say how many.
    func testRunnersStartedTogetherShareOneRunAndRunEachSampleOnce() throws {
        let (store, dir) = try makeStore()
        defer { try? FileManager.default.removeItem(at: dir) }
        // No sample finishes before every runner has called run: one that came after the run had
        // finished would rightly start a new one (a thread can lag that long on a busy machine).
        let entered = NSCondition()
        var runners = 0
        func waitForAll(_: String) {
            entered.lock()
            defer { entered.unlock() }
            let deadline = Date().addingTimeInterval(30)
            while runners < 6, entered.wait(until: deadline) {}
        }
        let runs = together(6) { _ in
            let runner = Runner(store: try ResultsStore(path: store.path))
            let plan = self.plan(CountingTask(n: 5), [ScriptedEngine(label: "a", seconds: 0.05, whenRunning: waitForAll),
                                                      ScriptedEngine(label: "b", seconds: 0.05, whenRunning: waitForAll)])
            entered.lock()
            runners += 1
            entered.broadcast()
            entered.unlock()
            return try runner.run(plan)
        }
        let summaries = try runs.map { try $0.get() }
        XCTAssertEqual(Set(summaries.map(\.runID)).count, 1, "one run")
        XCTAssertEqual(summaries.reduce(0) { $0 + $1.ran }, 10, "each of the 10 samples run once")
        for s in summaries { XCTAssertEqual(s.alreadyDone + s.ran + s.leftToOthers, 10, "every sample accounted for") }
        XCTAssertTrue(summaries.contains { $0.leftToOthers > 0 && $0.describe(storePath: "db", engines: ["a", "b"], dbOption: nil)
            .contains("\($0.leftToOthers) samples skipped: another lmbench process") })
        let rows = try store.samples(runIDs: [summaries[0].runID])
        XCTAssertEqual(rows.count, 10)
        XCTAssertNotNil(try store.run(id: summaries[0].runID).finishedAt)
        XCTAssertEqual(try store.database.query("SELECT count(*) FROM claims")[0][0].int, 0)
    }

    /// A sample claimed by a process that dies while this runner works is taken over at the end
    /// of the pass, not left behind with the run unfinished.
    func testASampleWhoseHolderDiesDuringTheRunIsTakenOver() throws {
        let (store, dir) = try makeStore()
        defer { try? FileManager.default.removeItem(at: dir) }
        let task = CountingTask(n: 3)
        task.killAt = 1
        XCTAssertThrowsError(try Runner(store: store).run(plan(task, [ScriptedEngine(label: "a")])))
        task.killAt = nil
        let runID = try store.runs()[0].id
        // count/1 is claimed by another runner of a live process (this one), which "dies" (its
        // start time no longer matches) once this runner has begun.
        let me = ClaimHolder.current
        try store.database.query("""
            INSERT INTO claims (run_id, engine, sample_key, claimer, host, boot_id, pid_namespace, pid, start_ticks, claimed_at)
            VALUES (?, 'a', 'count/1', 'another runner', ?, ?, ?, ?, ?, '')
            """, [runID, me.host, me.bootID, me.pidNamespace, me.pid, me.startTicks])
        let engine = ScriptedEngine(label: "a") { _ in try store.database.execute("UPDATE claims SET start_ticks = 0") }
        let summary = try Runner(store: store).run(plan(task, [engine]))
        XCTAssertEqual(engine.calls, ["count/2", "count/1"])
        XCTAssertEqual(summary.leftToOthers, 0)
        XCTAssertTrue(summary.finished)
        XCTAssertEqual(try store.samples(runIDs: [runID]).count, 3)
    }
}
