import XCTest
import Inference
import Results
import Bench

/// The runner with a scripted engine: statuses, one row per sample and engine, and resume.
final class RunnerTests: XCTestCase {
    final class CountingTask: BenchmarkTask {
        let name = "count"
        var parameters: [String: String] { ["n": "\(n)"] }
        let n: Int
        /// Building this sample aborts the run, as a kill would.
        var killAt: Int?
        struct Killed: Error {}
        init(n: Int) { self.n = n }
        func plan() throws -> [PlannedSample] {
            (0..<n).map { PlannedSample(key: "count/\($0)", lengthTokens: 1024 * ($0 + 1), depth: nil, index: $0) }
        }
        func makeSample(_ p: PlannedSample) throws -> Sample {
            if p.index == killAt { throw Killed() }
            return Sample(key: p.key, id: "s\(p.index)", dataset: "count", prompt: "p\(p.index)", promptTokens: [1, 2, 3], answers: ["\(p.index)"],
                   allClasses: [], maxNewTokens: 4, stopAtNewline: false, lengthTokens: p.lengthTokens, depth: nil, lengthWords: nil,
                   metric: .firstInteger, firstLineOnly: false)
        }
    }

    /// Answers sample i with "i" (right) or "x" (wrong); throws what `failures` says for some samples.
    final class ScriptedEngine: Engine {
        let record: EngineRecord
        var calls: [String] = []
        let wrong: Set<Int>
        let failures: [Int: Error]

        init(label: String, wrong: Set<Int> = [], failures: [Int: Error] = [:]) {
            record = EngineRecord(label: label, strategy: label, parameters: [:])
            self.wrong = wrong
            self.failures = failures
        }

        func refusal(promptTokens: Int, maxNewTokens: Int) -> String? { promptTokens > 1 << 20 ? "too long" : nil }

        func run(_ sample: Sample, timeLimit: Double?) throws -> EngineOutput {
            calls.append(sample.key)
            let i = Int(sample.id.dropFirst())!
            if let failure = failures[i] { throw failure }
            return EngineOutput(text: wrong.contains(i) ? "x" : " \(i).", promptTokens: 3, truncated: false, prefillSeconds: 0.5,
                                timeToFirstTokenSeconds: 0.6, decodeSeconds: 0.2, decodeTokens: 2, decodeTokensPerSecond: 10,
                                peakRSSBytes: 1 << 20, attentionStateBytes: 4096)
        }
    }

    func makeStore() throws -> (ResultsStore, URL) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmbench-runner-\(UUID().uuidString)")
        return (try ResultsStore(path: dir.appendingPathComponent("db.sqlite").path), dir)
    }

    func template(key: String = "k1") -> RunRecord {
        RunRecord(key: key, task: "count", taskParameters: [:], engines: [], modelPath: "m", modelName: "m", modelSHA256: "00",
                  seed: 1, lmbenchVersion: "test", machine: Provenance.machine(), tags: [:], command: "test", plannedSamples: 8)
    }

    func testEverySampleIsStoredWithItsStatus() throws {
        let (store, dir) = try makeStore()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = ScriptedEngine(label: "a", wrong: [1])
        let b = ScriptedEngine(label: "b", failures: [0: EngineSkip(description: "needs 9 GiB"),
                                                      2: GenerationError.timedOut(limit: 1, promptTokensDone: 512, newTokens: 0),
                                                      3: StrategyError("boom")])
        let task = CountingTask(n: 4)
        let summary = try Runner(store: store, task: task, engines: [a, b], timeLimit: 1).run(template(), fresh: false, requireExisting: false,
                                                                                            planned: try task.plan())
        XCTAssertEqual(summary.ran, 8)
        XCTAssertEqual(summary.counts, [.ok: 5, .skipped: 1, .timedOut: 1, .error: 1])
        let rows = try store.samples(runIDs: [summary.runID])
        XCTAssertEqual(rows.count, 8)
        let byKey = Dictionary(uniqueKeysWithValues: rows.map { ("\($0.engine)/\($0.sampleID)", $0) })
        XCTAssertEqual(byKey["a/s0"]?.score, 1)
        XCTAssertEqual(byKey["a/s1"]?.score, 0)
        XCTAssertEqual(byKey["a/s0"]?.prefillMs, 500)
        XCTAssertEqual(byKey["b/s0"]?.status, .skipped)
        XCTAssertEqual(byKey["b/s0"]?.error, "needs 9 GiB")
        XCTAssertNil(byKey["b/s0"]?.score)
        XCTAssertEqual(byKey["b/s2"]?.status, .timedOut)
        XCTAssertEqual(byKey["b/s3"]?.status, .error)
        XCTAssertEqual(summary.meanScore["a"]?.score ?? -1, 0.75, accuracy: 1e-12)
        XCTAssertNotNil(try store.run(id: summary.runID).finishedAt)
    }

    func testAKilledRunResumesWithoutDuplicates() throws {
        let (store, dir) = try makeStore()
        defer { try? FileManager.default.removeItem(at: dir) }
        let task = CountingTask(n: 5)
        task.killAt = 3
        XCTAssertThrowsError(try Runner(store: store, task: task, engines: [ScriptedEngine(label: "a")], timeLimit: nil)
            .run(template(), fresh: false, requireExisting: false, planned: try task.plan()))
        let partial = try store.runs()
        XCTAssertEqual(partial.count, 1)
        XCTAssertNil(partial[0].finishedAt)
        XCTAssertEqual(try store.samples(runIDs: [partial[0].id]).count, 3)

        task.killAt = nil
        let second = ScriptedEngine(label: "a")
        let summary = try Runner(store: store, task: task, engines: [second], timeLimit: nil)
            .run(template(), fresh: false, requireExisting: true, planned: try task.plan())
        XCTAssertTrue(summary.resumed)
        XCTAssertEqual(summary.runID, partial[0].id)
        XCTAssertEqual(second.calls, ["count/3", "count/4"], "only the samples not yet stored run again")
        let rows = try store.samples(runIDs: [summary.runID])
        XCTAssertEqual(rows.map(\.sampleKey), (0..<5).map { "count/\($0)" })

        // A finished run is not resumed: the same configuration again is a new run; --resume fails.
        XCTAssertThrowsError(try Runner(store: store, task: task, engines: [ScriptedEngine(label: "a")], timeLimit: nil)
            .run(template(), fresh: false, requireExisting: true, planned: try task.plan()))
        let again = try Runner(store: store, task: task, engines: [ScriptedEngine(label: "a")], timeLimit: nil)
            .run(template(), fresh: false, requireExisting: false, planned: try task.plan())
        XCTAssertNotEqual(again.runID, summary.runID)
    }
}
