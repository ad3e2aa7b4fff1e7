import XCTest
import Results

final class ResultsStoreTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmbench-store-\(UUID().uuidString)")
    }

    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func run(key: String = "k") -> RunRecord {
        RunRecord(key: key, task: "passkey", taskParameters: ["lengths": "1024"],
                  engines: [EngineRecord(label: "full", strategy: "full", parameters: ["threads": "2"])],
                  modelPath: "m.gguf", modelName: "M", modelSHA256: "ab", seed: 42, lmbenchVersion: "v1",
                  machine: MachineFacts(cpu: "cpu", cores: 2, memoryBytes: 1 << 30, os: "linux"), tags: ["suite": "s"],
                  command: "lmbench run passkey", plannedSamples: 2)
    }

    func sample(_ runID: Int64, key: String, score: Double?) -> SampleRecord {
        SampleRecord(runID: runID, engine: "full", sampleKey: key, task: "passkey", dataset: "passkey", sampleID: key,
                     lengthTokens: 1024, depth: 50, lengthWords: nil, expected: ["123"], output: "123", score: score,
                     metric: "first_integer", promptTokens: 1000, truncated: false, prefillMs: 2000, timeToFirstTokenMs: 2010,
                     decodeMs: 100, decodeTokens: 5, decodeTokensPerSecond: 50, peakRSSBytes: 300 << 20,
                     attentionStateBytes: 1 << 20, status: .ok, error: nil)
    }

    func testRoundTripAndNoDuplicates() throws {
        let store = try ResultsStore(path: dir.appendingPathComponent("sub/db.sqlite").path)
        XCTAssertEqual(try store.database.query("PRAGMA journal_mode")[0][0].string, "wal")
        XCTAssertEqual(try store.database.query("PRAGMA user_version")[0][0].int, ResultsStore.schemaVersion)
        let r = try store.insertRun(run())
        XCTAssertEqual(try store.run(id: r.id), r)
        XCTAssertEqual(try store.unfinishedRun(key: "k")?.id, r.id)
        try store.record(sample(r.id, key: "a", score: 1))
        try store.record(sample(r.id, key: "a", score: 0))   // a resumed run re-recording: ignored
        try store.record(sample(r.id, key: "b", score: nil))
        let rows = try store.samples(runIDs: [r.id])
        XCTAssertEqual(rows.count, 2)
        var expected = sample(r.id, key: "a", score: 1)
        expected.finishedAt = rows[0].finishedAt
        XCTAssertEqual(rows[0], expected)
        XCTAssertEqual(rows[0].prefillTokensPerSecond, 500)
        XCTAssertEqual(try store.completedKeys(runID: r.id).count, 2)
        try store.markFinished(runID: r.id)
        XCTAssertNil(try store.unfinishedRun(key: "k"))
        XCTAssertEqual(try store.latestRunID(), r.id)
        XCTAssertThrowsError(try store.run(id: 99)) { XCTAssertTrue("\($0)".contains("no run with id 99")) }
    }

    func testReopeningKeepsDataAndANewerSchemaIsRefused() throws {
        let path = dir.appendingPathComponent("db.sqlite").path
        let id = try ResultsStore(path: path).insertRun(run()).id
        XCTAssertEqual(try ResultsStore(path: path).runs().map(\.id), [id])
        try ResultsStore(path: path).database.execute("PRAGMA user_version = 99")
        XCTAssertThrowsError(try ResultsStore(path: path)) { XCTAssertTrue("\($0)".hasPrefix(path + ": results schema version 99")) }
    }

    func testModelHashIsCachedUntilTheFileChanges() throws {
        let store = try ResultsStore(path: dir.appendingPathComponent("db.sqlite").path)
        let file = dir.appendingPathComponent("model.bin").path
        try Data("one".utf8).write(to: URL(fileURLWithPath: file))
        var computed = 0
        XCTAssertEqual(try store.modelSHA256(path: file) { computed += 1; return "h1" }, "h1")
        XCTAssertEqual(try store.modelSHA256(path: file) { computed += 1; return "h2" }, "h1")
        XCTAssertEqual(computed, 1)
        try Data("longer".utf8).write(to: URL(fileURLWithPath: file))
        XCTAssertEqual(try store.modelSHA256(path: file) { computed += 1; return "h3" }, "h3")
    }

    func testANonDatabaseFileIsAClearError() throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("junk.sqlite").path
        try Data(repeating: 0x41, count: 4096).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try ResultsStore(path: path)) { XCTAssertTrue("\($0)".hasPrefix(path + ": ")) }
    }
}
