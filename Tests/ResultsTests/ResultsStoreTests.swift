import XCTest
import Results
import StoreTestSupport

final class ResultsStoreTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmbench-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func run(key: String = "k") -> RunRecord {
        var run = SyntheticStore.runRecord(task: "passkey", engines: ["full"], tags: ["suite": "s"], taskParameters: ["lengths": "1024"],
                                           plannedSamples: 2)
        run.key = key
        return run
    }

    func sample(_ runID: Int64, key: String, score: Double?) -> SampleRecord {
        var s = SampleRecord()
        s.runID = runID
        s.engine = "full"
        s.sampleKey = key
        s.taskFamily = "passkey"
        s.task = "passkey"
        s.dataset = "passkey"
        s.sampleID = key
        s.length = 1024
        s.depth = 50
        s.expected = ["123"]
        s.output = "123"
        s.score = score
        s.metric = "first_integer"
        s.figures = ["digits": 3, "answers": 1]
        s.promptTokens = 1000
        s.prefillMs = 2000
        s.timeToFirstTokenMs = 2010
        s.decodeMs = 100
        s.decodeTokens = 5
        s.decodeTokensPerSecond = 50
        s.peakRSSBytes = 300 << 20
        s.attentionStateBytes = 1 << 20
        return s
    }

    /// (name, type, not null) of every column of every table, as SQLite reports them.
    func schema(_ store: ResultsStore) throws -> Set<String> {
        var columns = Set<String>()
        for table in ["runs", "samples", "sample_metrics", "model_hashes", "claims"] {
            for row in try store.database.query("SELECT name, type, \"notnull\" FROM pragma_table_info('\(table)')") {
                columns.insert("\(table).\(row[0].string ?? "") \(row[1].string ?? "") \(row[2].int ?? -1)")
            }
        }
        return columns
    }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    func testADatabaseOfSchemaOneMigratesToTheSchemaANewDatabaseGets() throws {
        let old = dir.appendingPathComponent("v1.sqlite").path
        try FileManager.default.copyItem(atPath: Self.fixtures.appendingPathComponent("schema-v1.sqlite").path, toPath: old)
        let migrated = try ResultsStore(path: old)
        let fresh = try ResultsStore(path: dir.appendingPathComponent("new.sqlite").path)
        XCTAssertEqual(try migrated.database.query("PRAGMA user_version")[0][0].int, ResultsStore.schemaVersion)
        XCTAssertEqual(try schema(migrated), try schema(fresh))
        XCTAssertFalse(try schema(fresh).isEmpty)

        // What the rows of the first schema say, in the new columns. The fixture (made by lmbench
        // d0e6dbf): run 1 passkey (full, truncation), 2 needle, 3 LongBench multi_news, 4 passkey killed,
        // 5 a 10-word qasper record whose `length` of 10^8 words d0e6dbf took for tokens and refused.
        let runs = try migrated.runs()
        XCTAssertEqual(runs.map(\.taskFamily), ["passkey", "needle", "longbench", "passkey", "longbench"])
        XCTAssertEqual(runs.map { $0.finishedAt == nil }, [false, false, false, true, false])
        XCTAssertEqual(runs[0].engines.map(\.kind), ["native", "native"])
        let samples = try migrated.samples(runIDs: runs.map(\.id))
        XCTAssertEqual(samples.count, 11)
        for s in samples {
            switch s.runID {
            case 5:
                XCTAssertEqual(s.taskFamily, "longbench", "a row refused before it ran says its family through its run")
                XCTAssertEqual(s.lengthUnit, .words)
                XCTAssertEqual(s.length, 100_000_000)
                XCTAssertEqual(s.status, .skipped)
                XCTAssertNil(s.score)
                continue
            case 3:
                XCTAssertEqual(s.taskFamily, "longbench")
                XCTAssertEqual(s.lengthUnit, .words)
                XCTAssertEqual(s.length, 300)
                XCTAssertEqual(s.metricKind, .continuous)
            case 2:
                XCTAssertEqual(s.taskFamily, "needle")
                XCTAssertEqual(s.lengthUnit, .tokens)
                XCTAssertEqual(s.length, 1024)
                XCTAssertEqual(s.metricKind, .proportion)
            default:
                XCTAssertEqual(s.taskFamily, "passkey")
                XCTAssertEqual(s.length, 1024)
                XCTAssertEqual(s.metricKind, .proportion)
            }
            XCTAssertNotNil(s.score)
            XCTAssertFalse(s.finishedAt.isEmpty)
        }
        // A migrated store takes new samples with figures.
        var s = sample(4, key: "new", score: 1)
        s.runID = 4
        try migrated.record(s)
        XCTAssertEqual(try migrated.samples(runIDs: [4]).last?.figures, ["digits": 3, "answers": 1])
    }

    func testRoundTripAndNoDuplicates() throws {
        let store = try ResultsStore(path: dir.appendingPathComponent("db.sqlite").path)
        XCTAssertEqual(try store.database.query("PRAGMA journal_mode")[0][0].string, "wal")
        XCTAssertEqual(try store.database.query("PRAGMA user_version")[0][0].int, ResultsStore.schemaVersion)
        let r = try store.insertRun(run())
        XCTAssertEqual(try store.run(id: r.id), r)
        XCTAssertEqual(try store.unfinishedRuns(task: "passkey").map(\.id), [r.id])
        try store.record(sample(r.id, key: "a", score: 1))
        XCTAssertThrowsError(try store.record(sample(r.id, key: "a", score: 0))) {
            XCTAssertEqual("\($0)", "\(store.path): sample a of engine full is already stored in run \(r.id)")
        }
        try store.record(sample(r.id, key: "b", score: nil))
        let rows = try store.samples(runIDs: [r.id])
        XCTAssertEqual(rows.count, 2)
        var expected = sample(r.id, key: "a", score: 1)
        expected.finishedAt = rows[0].finishedAt
        XCTAssertEqual(rows[0], expected)
        XCTAssertEqual(rows[0].prefillTokensPerSecond, 500)
        XCTAssertEqual(rows[1].figures, ["digits": 3, "answers": 1])
        XCTAssertEqual(try store.database.query("SELECT count(*) FROM sample_metrics")[0][0].int, 4, "the refused duplicate adds no figures")
        XCTAssertEqual(try store.completedKeys(runID: r.id).count, 2)
        try store.markFinished(runID: r.id)
        XCTAssertEqual(try store.unfinishedRuns(task: "passkey").count, 0)
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
        let path = dir.appendingPathComponent("junk.sqlite").path
        try Data(repeating: 0x41, count: 4096).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try ResultsStore(path: path)) { XCTAssertTrue("\($0)".hasPrefix(path + ": ")) }
    }
}
