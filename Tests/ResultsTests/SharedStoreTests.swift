import XCTest
import Results
import StoreTestSupport

/// One database shared by many connections (threads here, each with its own connection, lock for
/// lock as separate processes would be), claims of samples, and reading that never writes.
final class SharedStoreTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmbench-shared-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func failures<T>(_ results: [Result<T, Error>]) -> [String] {
        results.enumerated().compactMap { i, result in
            if case let .failure(error) = result { return "\(i): \(error)" }
            return nil
        }
    }

    func sample(_ runID: Int64, key: String) -> SampleRecord {
        var s = SampleRecord()
        s.runID = runID
        s.engine = "full"
        s.sampleKey = key
        s.taskFamily = "passkey"
        s.task = "passkey"
        s.metric = "first_integer"
        s.figures = ["answers": 1]
        return s
    }

    func integrity(_ store: ResultsStore) throws -> String? { try store.database.query("PRAGMA integrity_check")[0][0].string }

    /// The race of the issue: the schema version was read outside a transaction, so connections
    /// opening a new database together both created the tables ("table runs already exists").
    func testConnectionsOpeningANewDatabaseTogetherAllSucceed() throws {
        for round in 0..<20 {
            let path = dir.appendingPathComponent("new-\(round).sqlite").path
            let opened = together(8) { i in
                let store = try ResultsStore(path: path)
                let run = try store.insertRun(SyntheticStore.runRecord(task: "passkey", engines: ["full"], plannedSamples: 1))
                try store.record(self.sample(run.id, key: "k\(i)"))
            }
            XCTAssertEqual(failures(opened), [], "round \(round)")
            let store = try ResultsStore(path: path)
            XCTAssertEqual(try store.runs().count, 8)
            XCTAssertEqual(try store.database.query("SELECT count(*) FROM samples")[0][0].int, 8)
            XCTAssertEqual(try integrity(store), "ok")
        }
    }

    /// The two windows of that race, held open on purpose. First: a process switching a new
    /// database to WAL while another holds a lock on it (SQLite does not wait for that lock).
    func testSwitchingANewDatabaseToWALWaitsForAnotherWriter() throws {
        let path = dir.appendingPathComponent("db.sqlite").path
        let other = try SQLiteDatabase(path: path, mode: .readWrite)
        try other.execute("BEGIN IMMEDIATE; CREATE TABLE unrelated (x)")
        let opening = BackgroundCall { try ResultsStore(path: path) }
        Thread.sleep(forTimeInterval: 0.3)
        try other.execute("ROLLBACK")
        XCTAssertEqual(failures([opening.wait()]), [])
    }

    /// Second: another process creates the schema between this one's first look at the version
    /// and its write lock; the version read again under the lock says there is nothing to do.
    func testASchemaCreatedWhileWaitingForTheLockIsNotCreatedAgain() throws {
        let template = dir.appendingPathComponent("template.sqlite").path
        _ = try ResultsStore(path: template)
        let path = dir.appendingPathComponent("db.sqlite").path
        let other = try SQLiteDatabase(path: path, mode: .readWrite)
        try other.execute("PRAGMA journal_mode=WAL; BEGIN IMMEDIATE")
        // Opens, reads version 0, then waits for the write lock `other` holds.
        let opening = BackgroundCall { try ResultsStore(path: path) }
        Thread.sleep(forTimeInterval: 0.3)
        try other.execute("ATTACH '\(template)' AS template")
        for row in try other.query("SELECT sql FROM template.sqlite_master WHERE sql IS NOT NULL") {
            try other.execute(row[0].string!)
        }
        try other.execute("PRAGMA main.user_version = \(ResultsStore.schemaVersion); COMMIT")
        XCTAssertEqual(failures([opening.wait()]), [])
    }

    func testClaimsGiveEverySampleToExactlyOneClaimer() throws {
        let path = dir.appendingPathComponent("db.sqlite").path
        let runID = try ResultsStore(path: path).insertRun(SyntheticStore.runRecord(task: "passkey", engines: ["full"], plannedSamples: 40)).id
        let keys = (0..<40).map { "k\($0)" }
        // Each claimer: the keys it ran, and how many it left to the others.
        let claimers = together(8) { _ -> (ran: [String], left: Int) in
            let store = try ResultsStore(path: path), claimer = UUID().uuidString
            var ran: [String] = [], left = 0
            for key in keys {
                switch try store.claim(runID: runID, engine: "full", sampleKey: key, claimer: claimer) {
                case .claimed:
                    Thread.sleep(forTimeInterval: 0.002)
                    try store.record(self.sample(runID, key: key))
                    ran.append(key)
                case .stored, .held:
                    left += 1
                }
            }
            return (ran, left)
        }
        XCTAssertEqual(failures(claimers), [])
        let outcomes = claimers.compactMap { try? $0.get() }
        XCTAssertEqual(outcomes.flatMap(\.ran).sorted(), keys.sorted(), "each sample run once")
        XCTAssertEqual(outcomes.reduce(0) { $0 + $1.left }, 7 * 40)
        let store = try ResultsStore(path: path)
        XCTAssertEqual(try store.completedKeys(runID: runID).count, 40)
        XCTAssertEqual(try store.database.query("SELECT count(*) FROM claims")[0][0].int, 0, "storing a sample drops its claim")
        XCTAssertEqual(try integrity(store), "ok")
    }

    /// A claim stands while its process may run; one whose process is gone is taken over.
    func testAClaimOfAProcessThatIsGoneIsTakenOverAndOtherwiseStands() throws {
        let store = try ResultsStore(path: dir.appendingPathComponent("db.sqlite").path)
        let runID = try store.insertRun(SyntheticStore.runRecord(task: "passkey", engines: ["full"])).id
        let me = ClaimHolder.current
        XCTAssertGreaterThan(me.startTicks, 0)
        XCTAssertFalse(me.bootID.isEmpty)
        func claimed(by holder: ClaimHolder) throws -> ClaimOutcome {
            try store.database.execute("DELETE FROM claims")
            try store.database.query("""
                INSERT INTO claims (run_id, engine, sample_key, claimer, host, boot_id, pid_namespace, pid, start_ticks, claimed_at)
                VALUES (?, 'full', 'k', 'another runner', ?, ?, ?, ?, ?, '')
                """, [runID, holder.host, holder.bootID, holder.pidNamespace, holder.pid, holder.startTicks])
            return try store.claim(runID: runID, engine: "full", sampleKey: "k", claimer: "this runner")
        }
        var holder = me
        XCTAssertEqual(try claimed(by: holder), .held(by: holder), "a live process (another runner in this one)")
        holder.startTicks = me.startTicks - 1
        XCTAssertEqual(try claimed(by: holder), .claimed, "the pid is this process's, but it started later: the holder is gone")
        holder = me
        holder.pid = Int(Int32.max)
        XCTAssertEqual(try claimed(by: holder), .claimed, "no such process")
        holder = me
        holder.bootID = "an earlier boot"
        XCTAssertEqual(try claimed(by: holder), .claimed, "the machine restarted since")
        holder = me
        holder.host = "elsewhere"
        XCTAssertEqual(try claimed(by: holder), .held(by: holder), "a process on another host cannot be looked at")
        holder = me
        holder.pidNamespace = "pid:[1]"
        XCTAssertEqual(try claimed(by: holder), .held(by: holder), "nor one in another pid namespace")
        XCTAssertEqual(try store.claim(runID: runID, engine: "full", sampleKey: "k", claimer: "another runner"), .claimed,
                       "a claimer's own claim is its own")

        try store.releaseClaims(claimer: "another runner")
        XCTAssertEqual(try store.claim(runID: runID, engine: "full", sampleKey: "k", claimer: "this runner"), .claimed)
        try store.record(sample(runID, key: "k"))
        XCTAssertEqual(try store.claim(runID: runID, engine: "full", sampleKey: "k", claimer: "another runner"), .stored)
    }

    func testReadingNeverCreatesOrChangesTheFile() throws {
        let missing = dir.appendingPathComponent("missing.sqlite").path
        XCTAssertThrowsError(try ResultsStore(path: missing, access: .readOnly)) {
            XCTAssertEqual("\($0)", "no results database at \(missing) (run `lmbench run ...` first, or pass --db PATH)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: missing))

        let empty = dir.appendingPathComponent("empty.sqlite").path
        XCTAssertTrue(FileManager.default.createFile(atPath: empty, contents: Data()))
        XCTAssertThrowsError(try ResultsStore(path: empty, access: .readOnly)) { XCTAssertTrue("\($0)".hasPrefix("no results database at \(empty)")) }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: empty)), Data())
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["empty.sqlite"])

        // A database of the first schema reads as migrated; the file stays as it was.
        let old = dir.appendingPathComponent("v1.sqlite").path
        try FileManager.default.copyItem(atPath: ResultsStoreTests.fixtures.appendingPathComponent("schema-v1.sqlite").path, toPath: old)
        let before = try Data(contentsOf: URL(fileURLWithPath: old))
        do {
            let store = try ResultsStore(path: old, access: .readOnly)
            XCTAssertEqual(try store.runs().map(\.taskFamily), ["passkey", "needle", "longbench", "passkey", "longbench"])
            XCTAssertEqual(try store.samples(runIDs: [3]).first?.lengthUnit, .words)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: old)), before)

        // A current database: a read-only store cannot write.
        let path = dir.appendingPathComponent("db.sqlite").path
        _ = try ResultsStore(path: path).insertRun(SyntheticStore.runRecord(task: "passkey", engines: ["full"]))
        let reader = try ResultsStore(path: path, access: .readOnly)
        XCTAssertEqual(try reader.runs().count, 1)
        XCTAssertThrowsError(try reader.insertRun(SyntheticStore.runRecord(task: "passkey", engines: ["full"]))) {
            XCTAssertTrue("\($0)".contains("readonly database"), "\($0)")
        }

        let foreign = dir.appendingPathComponent("foreign.sqlite").path
        try ResultsStore(path: foreign).database.execute("DROP TABLE claims; PRAGMA user_version = 0")
        XCTAssertThrowsError(try ResultsStore(path: foreign, access: .readOnly)) {
            XCTAssertEqual("\($0)", "\(foreign): not an lmbench results database")
        }
    }

    func testANewDatabaseNeedsItsFolder() throws {
        let path = dir.appendingPathComponent("no/such/folder/db.sqlite").path
        XCTAssertThrowsError(try ResultsStore(path: path)) {
            XCTAssertEqual("\($0)", "cannot create \(path): the folder \(dir.appendingPathComponent("no/such/folder").path) does not exist")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("no").path))
    }
}
