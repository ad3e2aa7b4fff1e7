import XCTest
import Foundation
import CSQLite
import GGUFTestSupport

/// Sharded sweeps without Slurm: `lmbench run --shard I/N` splits the plan, `lmbench merge` joins
/// the shards' databases (scripts/slurm/ci-test runs the same through a Slurm job array).
extension CLITests {
    /// A tiny passkey run: 2 lengths × 2 samples × 2 engines, seconds on the real model.
    static let tinyPasskey = ["run", "passkey", "--lengths", "128,256", "--samples", "2", "--engines", "full,truncation"]

    /// The (engine, sample key) pairs stored in a database.
    func storedPairs(_ db: String) throws -> [String] {
        try rows(db, "SELECT engine || ' ' || sample_key FROM samples ORDER BY 1").map { $0[0] }
    }

    /// Deletes the last stored sample (its figures with it).
    static let dropLastSample = "PRAGMA foreign_keys=ON; DELETE FROM samples WHERE id = (SELECT max(id) FROM samples);"

    /// Runs statements that change a database (to make a crashed shard from a finished one).
    func alterDatabase(_ path: String, _ sql: String) throws {
        var handle: OpaquePointer?
        defer { sqlite3_close(handle) }
        guard sqlite3_open(path, &handle) == SQLITE_OK, sqlite3_exec(handle, sql, nil, nil, nil) == SQLITE_OK else {
            XCTFail("\(path): \(String(cString: sqlite3_errmsg(handle)))")
            throw TestSetupError()
        }
    }

    func testShardsCoverTheUnshardedPlanOnceAndMergeIntoItsRun() throws {
        try requireModel()
        let dir = try makeTemporaryDirectory("shards")
        defer { try? FileManager.default.removeItem(at: dir) }
        let whole = dir.appendingPathComponent("whole.sqlite").path
        XCTAssertEqual(try lmbench(Self.tinyPasskey + ["--db", whole]).status, 0)
        let planned = try storedPairs(whole)
        XCTAssertEqual(planned.count, 8)

        var shards: [String] = []
        var union: [String] = []
        for i in 1...3 {
            let db = dir.appendingPathComponent("shard-\(i).sqlite").path
            let run = try lmbench(Self.tinyPasskey + ["--shard", "\(i)/3", "--db", db])
            XCTAssertEqual(run.status, 0, run.stderr)
            try assertEveryPlannedSampleStoredOnce(db)
            XCTAssertEqual(try rows(db, "SELECT json_extract(tags, '$.shard') FROM runs"), [["\(i)/3"]])
            union += try storedPairs(db)
            shards.append(db)
        }
        XCTAssertEqual(union.sorted(), planned, "the shards hold every planned sample, each once")
        // 8 items of two costs over 3 shards: the greedy split gives 2, 3 and 3, not 8, 0, 0.
        XCTAssertEqual(try shards.map { try storedPairs($0).count }.sorted(), [2, 3, 3])

        // Resume is per shard: shard 2 as a crash leaves it (a sample missing, the run unfinished)
        // is continued by its own command, which runs the missing sample only.
        try alterDatabase(shards[1], "\(Self.dropLastSample) UPDATE runs SET finished_at = NULL;")
        let again = try lmbench(Self.tinyPasskey + ["--shard", "2/3", "--db", shards[1]])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("run 1 (resumed: 2 samples were already stored): 1 samples stored"), again.stdout)
        try assertEveryPlannedSampleStoredOnce(shards[1])

        let merged = dir.appendingPathComponent("merged.sqlite").path
        let merge = try lmbench(["merge", merged] + shards)
        XCTAssertEqual(merge.status, 0, merge.stderr)
        XCTAssertTrue(merge.stdout.contains("8/8 samples from shards 1/3, 2/3, 3/3, finished"), merge.stdout)
        try assertEveryPlannedSampleStoredOnce(merged)
        XCTAssertEqual(try storedPairs(merged), planned)
        // The merged run is the unsharded command's run: the same key, no shard tag.
        XCTAssertEqual(try rows(merged, "SELECT key, tags FROM runs"), try rows(whole, "SELECT key, tags FROM runs"))
        XCTAssertEqual(try rows(merged, "SELECT shard, source_run_id FROM run_sources ORDER BY id"), [["1/3", "1"], ["2/3", "1"], ["3/3", "1"]])
        XCTAssertEqual(try rows(merged, "SELECT count(*) FROM sample_sources"), [["8"]])
    }

    func testMergeKeepsOneCopyOfARerunShardWithItsFigures() throws {
        try requireModel()
        let dir = try makeTemporaryDirectory("rerun")
        defer { try? FileManager.default.removeItem(at: dir) }
        // The needle's samples carry named figures (answers_found), which must travel with them.
        let needle = ["run", "needle", "--lengths", "128,256", "--depths", "50", "--engines", "full,truncation"]
        let shards = (1...2).map { dir.appendingPathComponent("shard-\($0).sqlite").path }
        for (i, db) in shards.enumerated() { XCTAssertEqual(try lmbench(needle + ["--shard", "\(i + 1)/2", "--db", db]).status, 0) }
        // Shard 2 as a crash left it: one sample stored, the run unfinished. Its re-run is `shards[1]`.
        let crashed = dir.appendingPathComponent("shard-2-crashed.sqlite").path
        try FileManager.default.copyItem(atPath: shards[1], toPath: crashed)
        try alterDatabase(crashed, "\(Self.dropLastSample) UPDATE runs SET finished_at = NULL;")
        let inputs = [shards[0], crashed, shards[1]]
        let before = try inputs.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }

        let merged = dir.appendingPathComponent("merged.sqlite").path
        let merge = try lmbench(["merge", merged] + inputs)
        XCTAssertEqual(merge.status, 0, merge.stderr)
        XCTAssertTrue(merge.stdout.contains("4/4 samples from shards 1/2, 2/2, 2/2, 1 duplicate sample dropped, finished"), merge.stdout)
        try assertEveryPlannedSampleStoredOnce(merged)
        let shardPairs = try storedPairs(shards[0]) + storedPairs(shards[1])
        XCTAssertEqual(try storedPairs(merged), shardPairs.sorted())
        let figures = "SELECT s.engine, s.sample_key, m.name, m.value FROM sample_metrics m JOIN samples s ON s.id = m.sample_id ORDER BY 1, 2, 3"
        let shardFigures = try rows(shards[0], figures) + rows(shards[1], figures)
        XCTAssertFalse(shardFigures.isEmpty)
        XCTAssertEqual(try rows(merged, figures), shardFigures.sorted { $0.lexicographicallyPrecedes($1) })
        // Every input run's provenance, and the kept copy's source: the crashed run, first in argument order.
        XCTAssertEqual(try rows(merged, "SELECT source_database, shard, finished_at IS NULL FROM run_sources ORDER BY id"),
                       [[shards[0], "1/2", "0"], [crashed, "2/2", "1"], [shards[1], "2/2", "0"]])
        let crashedKey = try rows(crashed, "SELECT sample_key, engine FROM samples")
        XCTAssertEqual(try rows(merged, """
            SELECT s.sample_key, s.engine FROM samples s JOIN sample_sources ss ON ss.sample_id = s.id
            JOIN run_sources r ON r.id = ss.source_id WHERE r.source_database = '\(crashed)'
            """), crashedKey)
        XCTAssertEqual(try inputs.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }, before, "inputs are only read")

        // A merged database merges again, its sources carried over.
        let remerged = dir.appendingPathComponent("remerged.sqlite").path
        XCTAssertEqual(try lmbench(["merge", remerged, merged]).status, 0)
        XCTAssertEqual(try rows(remerged, "SELECT source_database FROM run_sources ORDER BY id"), inputs.map { [$0] })
        XCTAssertEqual(try rows(remerged, "SELECT key, planned_samples, finished_at FROM runs"), try rows(merged, "SELECT key, planned_samples, finished_at FROM runs"))
    }

    func testMergeRefusesShardsOfDifferentParameters() throws {
        try requireModel()
        let dir = try makeTemporaryDirectory("refuse")
        defer { try? FileManager.default.removeItem(at: dir) }
        let one = dir.appendingPathComponent("one.sqlite").path, two = dir.appendingPathComponent("two.sqlite").path
        let run = ["run", "passkey", "--lengths", "128", "--engines", "full"]
        XCTAssertEqual(try lmbench(run + ["--seed", "1", "--shard", "1/2", "--db", one]).status, 0)
        XCTAssertEqual(try lmbench(run + ["--seed", "2", "--shard", "2/2", "--db", two]).status, 0)
        let out = dir.appendingPathComponent("out.sqlite").path
        let refused = try lmbench(["merge", out, one, two])
        assertOneLineError(refused, status: 1, contains: "task parameter 'seed' ('1' vs '2')")
        XCTAssertTrue(refused.stderr.contains(one) && refused.stderr.contains(two), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "a refused merge writes nothing")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains("merging") }, [])

        XCTAssertEqual(try lmbench(["merge", out, one]).status, 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: out))
        assertOneLineError(try lmbench(["merge", out, two]), status: 1, contains: "\(out) already exists")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), before)
        assertOneLineError(try lmbench(["merge", dir.appendingPathComponent("x.sqlite").path, one, one]), status: 1, contains: "is given twice")
        assertOneLineError(try lmbench(["merge", dir.appendingPathComponent("y.sqlite").path, dir.appendingPathComponent("none.sqlite").path]),
                           status: 1, contains: "no results database at")
    }

    func testBadShardValuesAreOneLineErrors() throws {
        let run = ["run", "passkey", "--lengths", "128", "--db", "/nonexistent/never.sqlite"]
        assertOneLineError(try lmbench(run + ["--shard", "0/2"]), status: 2, contains: "--shard 0/2: I must be in 1...2")
        assertOneLineError(try lmbench(run + ["--shard", "3/2"]), status: 2, contains: "--shard 3/2: I must be in 1...2")
        assertOneLineError(try lmbench(run + ["--shard", "x"]), status: 2, contains: "--shard takes I/N (shard I of N, e.g. 2/4), not 'x'")
        assertOneLineError(try lmbench(run + ["--shard", "1/0"]), status: 2, contains: "N must be in 1...100000")
        assertOneLineError(try lmbench(run + ["--shard", "1/2", "--tag", "shard=1/2"]), status: 2, contains: "set by --shard")
        assertOneLineError(try lmbench(["merge", "out.sqlite"]), status: 2, contains: "expected OUT.sqlite and at least one IN.sqlite")
        let help = try lmbench(["merge", "--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.hasPrefix("usage: lmbench merge OUT.sqlite IN.sqlite..."), help.stdout)
    }
}
