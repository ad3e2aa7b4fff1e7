import XCTest
import Foundation
import CSQLite
import GGUFTestSupport
import Results
import StoreTestSupport

/// The results database as processes meet it: many `lmbench run`s started together on one
/// database (each sample stored exactly once, and every process says what it did), reading
/// commands that never write (read-only folders, empty files), and commands that are rejected or
/// cannot create the file leaving nothing behind.
extension CLITests {
    /// Starts one lmbench per argument list, all before any is waited for, and returns how each ended.
    func lmbenchTogether(_ argumentLists: [[String]], outputIn dir: URL) throws -> [Run] {
        let binary = Bundle.main.bundleURL.appendingPathComponent("lmbench")
        let started = try argumentLists.enumerated().map { i, arguments -> (Process, URL, URL) in
            let out = dir.appendingPathComponent("out-\(i)"), err = dir.appendingPathComponent("err-\(i)")
            try Data().write(to: out)
            try Data().write(to: err)
            let process = Process()
            process.executableURL = binary
            process.arguments = arguments
            process.currentDirectoryURL = CLITests.packageRoot
            process.standardOutput = try FileHandle(forWritingTo: out)
            process.standardError = try FileHandle(forWritingTo: err)
            try process.run()
            return (process, out, err)
        }
        return try started.map { process, out, err in
            process.waitUntilExit()
            return Run(status: process.terminationStatus, stdout: try String(contentsOf: out, encoding: .utf8),
                       stderr: try String(contentsOf: err, encoding: .utf8))
        }
    }

    /// Every row of `sql` on the database at `path`, opened read-only, as text.
    func rows(_ path: String, _ sql: String) throws -> [[String]] {
        var handle: OpaquePointer?
        defer { sqlite3_close(handle) }
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READONLY, nil) == SQLITE_OK else { throw TestSetupError() }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK else {
            XCTFail("\(sql): \(String(cString: sqlite3_errmsg(handle)))")
            throw TestSetupError()
        }
        defer { sqlite3_finalize(statement) }
        var rows: [[String]] = []
        while sqlite3_step(statement) == SQLITE_ROW {
            rows.append((0..<sqlite3_column_count(statement)).map { c in
                sqlite3_column_text(statement, c).map { String(cString: $0) } ?? "NULL"
            })
        }
        return rows
    }

    /// Every run holds each of its planned samples once and is finished; no claim is left; the file is sound.
    func assertEveryPlannedSampleStoredOnce(_ db: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let runs = try rows(db, """
            SELECT r.id, r.planned_samples, count(s.id), count(DISTINCT s.engine || '/' || s.sample_key), r.finished_at IS NOT NULL
            FROM runs r LEFT JOIN samples s ON s.run_id = r.id GROUP BY r.id
            """)
        XCTAssertFalse(runs.isEmpty, file: file, line: line)
        for run in runs {
            XCTAssertEqual(run[2], run[1], "run \(run[0]): every planned sample stored", file: file, line: line)
            XCTAssertEqual(run[3], run[1], "run \(run[0]): none twice", file: file, line: line)
            XCTAssertEqual(run[4], "1", "run \(run[0]) finished", file: file, line: line)
        }
        XCTAssertEqual(try rows(db, "SELECT count(*) FROM claims"), [["0"]], file: file, line: line)
        XCTAssertEqual(try rows(db, "PRAGMA integrity_check"), [["ok"]], file: file, line: line)
    }

    /// The figures a run's summary gives: samples stored by this process, skipped because another
    /// process had them, and already stored when it started.
    func summaryCounts(_ run: Run) -> (stored: Int, skipped: Int, alreadyStored: Int)? {
        func number(before suffix: String) -> Int? {
            guard let range = run.stdout.range(of: suffix) else { return nil }
            return Int(run.stdout[..<range.lowerBound].reversed().prefix { $0.isNumber }.reversed().map(String.init).joined())
        }
        guard let stored = number(before: " samples stored") else { return nil }
        return (stored, number(before: " samples skipped: another lmbench process") ?? 0, number(before: " samples were already stored") ?? 0)
    }

    func cheapRun(_ db: String, seed: Int, samples: Int) -> [String] {
        ["run", "passkey", "--lengths", "256", "--samples", String(samples), "--seed", String(seed), "--threads", "1", "--db", db]
    }

    func testEightRunsStartedTogetherOnANewDatabaseAllSucceed() throws {
        try requireModel()
        let dir = try makeTemporaryDirectory("together")
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("new.sqlite").path
        let runs = try lmbenchTogether((1...8).map { cheapRun(db, seed: $0, samples: 1) }, outputIn: dir)
        for run in runs {
            XCTAssertEqual(run.status, 0, run.stderr)
            XCTAssertEqual(summaryCounts(run)?.stored, 1, run.stdout)
        }
        XCTAssertEqual(try rows(db, "SELECT count(*) FROM runs"), [["8"]], "one run per seed")
        try assertEveryPlannedSampleStoredOnce(db)
    }

    /// The same command eight times at once, on an existing database (a new one is the test
    /// above): they share the run, each sample is run by one of them, and the others say they left
    /// it. (Before claims, the processes that found the run ran everything too, said "3 samples
    /// stored", and their rows were silently dropped.)
    func testTheSameCommandStartedEightTimesStoresEverySampleOnce() throws {
        try requireModel()
        let dir = try makeTemporaryDirectory("same")
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("same.sqlite").path
        _ = try ResultsStore(path: db)
        let runs = try lmbenchTogether(Array(repeating: cheapRun(db, seed: 7, samples: 3), count: 8), outputIn: dir)
        var storedByAll = 0
        for run in runs {
            XCTAssertEqual(run.status, 0, run.stderr)
            let counts = try XCTUnwrap(summaryCounts(run), run.stdout)
            XCTAssertEqual(counts.stored + counts.skipped + counts.alreadyStored, 3, "every sample accounted for: \(run.stdout)")
            storedByAll += counts.stored
        }
        XCTAssertEqual(try rows(db, "SELECT count(*) FROM samples"), [[String(storedByAll)]], "a sample said stored is stored")
        XCTAssertTrue(runs.contains { (summaryCounts($0)?.skipped ?? 0) > 0 }, runs.map(\.stdout).joined())
        try assertEveryPlannedSampleStoredOnce(db)
    }

    /// Reading commands in a folder this user cannot write (SQLite cannot create the WAL's index
    /// there): they work, and no file changes. As root (who may write anywhere), as nobody.
    func testReadingCommandsWorkInAReadOnlyFolderAndChangeNothing() throws {
        let dir = try makeTemporaryDirectory("readonly")
        defer {
            chmod(dir.path, 0o755)
            try? FileManager.default.removeItem(at: dir)
        }
        let db = dir.appendingPathComponent("db.sqlite").path
        do {
            let store = try ResultsStore(path: db)
            for seed in ["1", "2"] {
                try SyntheticStore.addRun(store, task: "passkey", engines: ["full"], lengths: [1024, 2048], depths: [nil], samples: 2,
                                          taskParameters: ["seed": seed]) { _, _, _, i in Double(i % 2) }
            }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["db.sqlite"], "closed: no log left")
        let old = dir.appendingPathComponent("v1.sqlite").path
        try FileManager.default.copyItem(atPath: CLITests.packageRoot.appendingPathComponent("Tests/Fixtures/schema-v1.sqlite").path, toPath: old)
        // Commits still in the write-ahead log (its writer gone, its index lost): only a writer can read them.
        let logged = dir.appendingPathComponent("logged.sqlite").path
        let scratch = try makeTemporaryDirectory("readonly-scratch")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let writer = try ResultsStore(path: scratch.appendingPathComponent("logged.sqlite").path)
        _ = try writer.insertRun(SyntheticStore.runRecord(task: "passkey", engines: ["full"]))
        for suffix in ["", "-wal"] { try FileManager.default.copyItem(atPath: writer.path + suffix, toPath: logged + suffix) }

        var launcher: [String] = []
        if geteuid() == 0 {
            guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else { throw XCTSkip("running as root without setpriv") }
            launcher = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        } else {
            XCTAssertEqual(chmod(dir.path, 0o555), 0)
        }
        let before = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted().map { name in
            (name, try Data(contentsOf: dir.appendingPathComponent(name)))
        }
        for arguments in [["runs"], ["report", "--latest"], ["report", "--run", "1,2", "--format", "html"], ["export", "--format", "jsonl"],
                          ["leaderboard"], ["compare", "1", "2"]] {
            let run = try lmbench(arguments + ["--db", db], launcher: launcher)
            XCTAssertEqual(run.status, 0, "\(arguments): \(run.stderr)")
            XCTAssertFalse(run.stdout.isEmpty, "\(arguments)")
        }
        let migrated = try lmbench(["runs", "--db", old], launcher: launcher)
        XCTAssertEqual(migrated.status, 0, migrated.stderr)
        XCTAssertTrue(migrated.stdout.contains("| 5 |"), "a first-schema database reads as migrated: \(migrated.stdout)")
        assertOneLineError(try lmbench(["runs", "--db", logged], launcher: launcher), status: 1,
                           contains: "\(logged): cannot read it from a read-only folder while its write-ahead log")
        let after = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted().map { name in
            (name, try Data(contentsOf: dir.appendingPathComponent(name)))
        }
        XCTAssertEqual(after.map(\.0), before.map(\.0), "no file created")
        XCTAssertTrue(zip(after, before).allSatisfy { $0.1 == $1.1 }, "no file changed")
    }

    func testReadingCommandsTakeAnEmptyOrMissingFileForNoDatabase() throws {
        let dir = try makeTemporaryDirectory("empty")
        defer { try? FileManager.default.removeItem(at: dir) }
        let empty = dir.appendingPathComponent("empty.sqlite").path, missing = dir.appendingPathComponent("missing.sqlite").path
        XCTAssertTrue(FileManager.default.createFile(atPath: empty, contents: Data()))
        for db in [empty, missing] {
            for arguments in [["runs"], ["report"], ["export"], ["leaderboard"], ["compare", "1", "2"], ["nightly", "--suite", "tasks/suites/nightly.json", "--no-run"]] {
                assertOneLineError(try lmbench(arguments + ["--db", db]), status: 1, contains: "no results database at \(db)")
            }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["empty.sqlite"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: empty)).count, 0, "the empty file is left empty")
    }

    func testARejectedRunCreatesNoDatabase() throws {
        let dir = try makeTemporaryDirectory("rejected")
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("never.sqlite").path
        for arguments in [["run", "passkey", "--lengths", "0"], ["run", "passkey", "--engines", "warp-drive"], ["run", "nonsense"],
                          ["run", "passkey", "--samples", "0"], ["run", "passkey", "--frobnicate"], ["run", "passkey", "--resume"]] {
            let run = try lmbench(arguments + ["--db", db])
            XCTAssertNotEqual(run.status, 0, "\(arguments)")
            XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, "\(arguments): \(run.stderr)")
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [], "\(arguments) left a file")
        }
    }

    func testADatabaseInAMissingFolderIsRefusedAndNoFolderIsCreated() throws {
        try requireModel()
        let dir = try makeTemporaryDirectory("nofolder")
        defer { try? FileManager.default.removeItem(at: dir) }
        let folder = dir.appendingPathComponent("missing/sub").path
        assertOneLineError(try lmbench(cheapRun(folder + "/x.sqlite", seed: 1, samples: 1)), status: 1,
                           contains: "cannot create \(folder)/x.sqlite: the folder \(folder) does not exist")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }
}
