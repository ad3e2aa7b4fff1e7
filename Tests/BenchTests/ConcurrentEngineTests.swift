import XCTest
import Foundation
import Inference
import Results
import Bench

/// An engine that takes several samples at once (a server behind the `openai` engine): the runner
/// keeps that many in flight, never more, stores each once, and runs a local engine one at a time.
final class ConcurrentEngineTests: XCTestCase {
    /// Answers sample i with " i." after `seconds`, counting the samples in flight.
    final class ServerLikeEngine: Engine, @unchecked Sendable {
        let record: EngineRecord
        let maxInFlight: Int
        let seconds: Double
        private let lock = NSLock()
        private var inFlight = 0
        private(set) var mostInFlight = 0

        init(label: String, maxInFlight: Int, seconds: Double = 0.2) {
            record = EngineRecord(label: label, kind: "scripted", strategy: label, parameters: [:])
            self.maxInFlight = maxInFlight
            self.seconds = seconds
        }

        var tokenizer: Tokenizer { fatalError("no tokenizer") }
        var modelPath: String? { nil }
        var modelName: String { "scripted" }
        func refusal(promptTokens: Int, maxNewTokens: Int) -> String? { nil }

        func run(_ sample: Sample, timeLimit: Double?) throws -> EngineOutput {
            lock.withLock { inFlight += 1; mostInFlight = max(mostInFlight, inFlight) }
            Thread.sleep(forTimeInterval: seconds)
            lock.withLock { inFlight -= 1 }
            return EngineOutput(text: " \(sample.id.dropFirst()).", promptTokens: 3, truncated: false, prefillSeconds: 0.1,
                                timeToFirstTokenSeconds: 0.1, decodeSeconds: 0.1, decodeTokens: 2, decodeTokensPerSecond: 20,
                                peakRSSBytes: nil, attentionStateBytes: nil)
        }
    }

    func testSamplesOfAnEngineThatTakesSeveralRunTogetherAndAreStoredOnce() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmbench-concurrent-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try ResultsStore(path: dir.appendingPathComponent("db.sqlite").path)
        let task = RunnerTests.CountingTask(n: 7)
        let server = ServerLikeEngine(label: "server", maxInFlight: 3), local = ServerLikeEngine(label: "local", maxInFlight: 1, seconds: 0.02)
        var run = RunRecord()
        run.taskFamily = task.family
        run.task = task.name
        run.taskParameters = task.parameters
        run.engines = [server.record, local.record]
        run.modelSHA256 = "00"
        run.lmbenchVersion = "test"
        run.machine = Provenance.machine()
        run.command = "test"
        let summary = try Runner(store: store).run(RunPlan(task: task, engines: [server, local], record: run, timeLimit: nil))
        XCTAssertEqual(server.mostInFlight, 3, "three samples in flight at once, never more")
        XCTAssertEqual(local.mostInFlight, 1)
        XCTAssertEqual(summary.counts, [.ok: 14])
        let rows = try store.samples(runIDs: [summary.runID])
        XCTAssertEqual(rows.count, 14)
        XCTAssertEqual(Set(rows.map { "\($0.engine)/\($0.sampleKey)" }).count, 14)
        for row in rows { XCTAssertEqual(row.score, 1, "\(row.engine) \(row.sampleID): \(row.output)") }
        XCTAssertNotNil(try store.run(id: summary.runID).finishedAt)
    }
}
