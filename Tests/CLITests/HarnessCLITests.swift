import XCTest
import Foundation
import CSQLite
import GGUFTestSupport

/// The harness end to end on the real model: `lmbench run` stores scored samples, a killed run
/// resumes without duplicates, `lmbench report` prints its tables, LongBench scores with ROUGE-L.
extension CLITests {
    /// Rows of the samples table as (engine, sample_key, score, every other field non-null?).
    func storedSamples(_ db: String) throws -> [(key: String, score: Double?, complete: Bool, metric: String)] {
        var handle: OpaquePointer?
        guard sqlite3_open_v2(db, &handle, SQLITE_OPEN_READONLY, nil) == SQLITE_OK else { throw TestSetupError() }
        defer { sqlite3_close(handle) }
        var statement: OpaquePointer?
        let sql = """
            SELECT engine || '/' || sample_key, score, metric,
                   (length > 0 AND depth IS NOT NULL AND sample_id != '' AND expected != '[]' AND output != ''
                    AND prompt_tokens > 0 AND prefill_ms > 0 AND ttft_ms >= prefill_ms AND decode_ms >= 0
                    AND decode_tokens >= 0 AND peak_rss_bytes > 0 AND attention_state_bytes > 0 AND status = 'ok'
                    AND error IS NULL AND finished_at != '')
            FROM samples ORDER BY id
            """
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK else { throw TestSetupError() }
        defer { sqlite3_finalize(statement) }
        var rows: [(key: String, score: Double?, complete: Bool, metric: String)] = []
        while sqlite3_step(statement) == SQLITE_ROW {
            rows.append((String(cString: sqlite3_column_text(statement, 0)),
                         sqlite3_column_type(statement, 1) == SQLITE_NULL ? nil : sqlite3_column_double(statement, 1),
                         sqlite3_column_int(statement, 3) == 1, String(cString: sqlite3_column_text(statement, 2))))
        }
        return rows
    }

    func testPasskeyRunKilledHalfWayResumesAndReports() throws {
        try requireModel()
        let dir = try makeTemporaryDirectory("harness")
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("lmbench.sqlite").path
        let arguments = ["run", "passkey", "--lengths", "1k..4k", "--engines", "full", "--samples", "3", "--db", db]

        // Start the run and kill it (SIGKILL: no chance to clean up) once a few samples are stored.
        let process = Process()
        process.executableURL = Bundle.main.bundleURL.appendingPathComponent("lmbench")
        process.arguments = arguments
        process.currentDirectoryURL = CLITests.packageRoot
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(300)
        while Date() < deadline, process.isRunning {
            if FileManager.default.fileExists(atPath: db), (try? storedSamples(db).count) ?? 0 >= 4 { break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        XCTAssertTrue(process.isRunning, "the run finished before it could be killed")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let before = try storedSamples(db)
        XCTAssertGreaterThanOrEqual(before.count, 4)
        XCTAssertLessThan(before.count, 9)

        // The same command again continues the run.
        let again = try lmbench(arguments)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("resumed: \(before.count) samples were already stored"), again.stdout)
        let rows = try storedSamples(db)
        XCTAssertEqual(rows.count, 9)
        XCTAssertEqual(Set(rows.map(\.key)).count, 9, "no duplicate rows")
        XCTAssertEqual(Array(rows.prefix(before.count)).map(\.key), before.map(\.key), "stored samples are kept as they were")
        for row in rows {
            XCTAssertTrue(row.complete, "every field filled: \(row.key)")
            XCTAssertNotNil(row.score)
            XCTAssertEqual(row.metric, "first_integer")
        }
        let accuracy = rows.compactMap(\.score).reduce(0, +) / 9
        XCTAssertGreaterThanOrEqual(accuracy, 7.0 / 9, "Gemma 3 270M finds most passkeys up to 4k with full attention")

        let report = try lmbench(["report", "--latest", "--db", db])
        XCTAssertEqual(report.status, 0, report.stderr)
        for heading in ["## Accuracy by length × engine", "## Latency by length × engine", "## Memory by length × engine"] {
            XCTAssertTrue(report.stdout.contains(heading), heading)
        }
        for length in ["1k", "2k", "4k"] { XCTAssertTrue(report.stdout.contains("| \(length) | full | 3 |"), report.stdout) }

        let runs = try lmbench(["runs", "--db", db])
        XCTAssertTrue(runs.stdout.contains("| 1 |") && runs.stdout.contains("9/9"), runs.stdout)
        let csv = try lmbench(["export", "--format", "csv", "--db", db])
        XCTAssertEqual(csv.stdout.split(separator: "\n").count, 10, csv.stdout)
        let jsonl = try lmbench(["export", "--format", "jsonl", "--latest", "--db", db])
        let first = try JSONSerialization.jsonObject(with: Data(jsonl.stdout.split(separator: "\n")[0].utf8)) as? [String: Any]
        XCTAssertEqual(first?["metric"] as? String, "first_integer")
    }

    func testLongBenchRunStoresRougeScores() throws {
        try requireModel()
        let data = CLITests.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data/longbench/multi_news.jsonl").path
        guard FileManager.default.fileExists(atPath: data) else {
            XCTFail("\(data) is missing: this test reads ../shared beside the checkout")
            return
        }
        let dir = try makeTemporaryDirectory("longbench")
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("lb.sqlite").path
        let run = try lmbench(["run", "longbench", "--data", data, "--limit", "2", "--engines", "full", "--db", db])
        XCTAssertEqual(run.status, 0, run.stderr)
        let rows = try storedSamples(db)
        XCTAssertEqual(rows.count, 2)
        for row in rows {
            XCTAssertEqual(row.metric, "rouge_l")
            XCTAssertGreaterThan(row.score ?? 0, 0.05, "a summary shares some words with the reference")
            XCTAssertLessThan(row.score ?? 1, 1)
        }
        let report = try lmbench(["report", "--db", db])
        XCTAssertTrue(report.stdout.contains("| multi_news | "), report.stdout)
    }

    /// A length that cannot fit is stored as skipped without building its prompt; a sample past
    /// --sample-timeout is stored as timed out; the run goes on and exits 0 either way.
    func testSkippedAndTimedOutSamplesAreStoredAndTheRunGoesOn() throws {
        try requireModel()
        let dir = try makeTemporaryDirectory("skips")
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("s.sqlite").path
        let huge = try lmbench(["run", "passkey", "--lengths", "512M", "--samples", "2", "--db", db])
        XCTAssertEqual(huge.status, 0, huge.stderr)
        XCTAssertTrue(huge.stdout.contains("2 samples stored (2 skipped)"), huge.stdout)
        let slow = try lmbench(["run", "passkey", "--lengths", "2k", "--samples", "1", "--engines", "full,lm-infinite:n_local=1k",
                                "--sample-timeout", "0.2", "--db", db])
        XCTAssertEqual(slow.status, 0, slow.stderr)
        XCTAssertTrue(slow.stdout.contains("2 samples stored (2 timed-out)"), slow.stdout)
        let report = try lmbench(["report", "--run", "1,2", "--db", db])
        XCTAssertTrue(report.stdout.contains("| skipped |") && report.stdout.contains("needs"), report.stdout)
        XCTAssertTrue(report.stdout.contains("| timed-out | stopped at the time limit of 0.2 s"), report.stdout)
    }

    func testHarnessInputErrors() throws {
        try requireModel()
        let dir = try makeTemporaryDirectory("harness-errors")
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("e.sqlite").path
        let bad = dir.appendingPathComponent("bad.jsonl").path
        try (#"{"input": "", "context": "c", "answers": ["a"], "dataset": "multi_news", "length": 1, "_id": "1"}"# + "\n{oops\n")
            .write(toFile: bad, atomically: true, encoding: .utf8)
        assertOneLineError(try lmbench(["run", "longbench", "--data", bad, "--db", db]), status: 1, contains: "\(bad):2: not valid JSON")
        try (#"{"input": "", "context": "c", "answers": ["a"], "dataset": "multi_news", "length": 9223372036854775807}"# + "\n")
            .write(toFile: bad, atomically: true, encoding: .utf8)
        assertOneLineError(try lmbench(["run", "longbench", "--data", bad, "--db", db]), status: 1,
                           contains: "\(bad):1: field 'length' is 9223372036854775807, not in 0…2")
        assertOneLineError(try lmbench(["run", "passkey", "--lengths", "1..1024M:+1", "--db", db]), status: 2,
                           contains: "--lengths: '1..1024M:+1' makes more than the 10000 lengths a grid may hold")
        assertOneLineError(try lmbench(["run", "passkey", "--lengths", "4k..1M:+0", "--db", db]), status: 2, contains: "step '+0' in '4k..1M:+0'")
        assertOneLineError(try lmbench(["run", "needle", "--depths", "0..100/1000000000", "--db", db]), status: 2,
                           contains: "--depths: '0..100/1000000000' makes more than the 10000 depths a grid may hold")
        assertOneLineError(try lmbench(["run", "passkey", "--lengths", "4k..1k", "--db", db]), status: 2, contains: "runs backwards")
        assertOneLineError(try lmbench(["run", "passkey", "--depths", "0..120/10", "--db", db]), status: 2, contains: "--depths")
        assertOneLineError(try lmbench(["run", "passkey", "--engines", "warp-drive", "--db", db]), status: 2, contains: "unknown engine 'warp-drive'")
        assertOneLineError(try lmbench(["run", "passkey", "--engines", "full:n_local=5", "--db", db]), status: 2, contains: "unknown parameter 'n_local'")
        assertOneLineError(try lmbench(["run", "passkey", "--samples", "--db", db]), status: 2, contains: "option '--samples' needs a value")
        assertOneLineError(try lmbench(["run", "passkey", "--samples", "0", "--db", db]), status: 2, contains: "--samples must be an integer")
        assertOneLineError(try lmbench(["run", "nonsense", "--db", db]), status: 1, contains: "unknown task 'nonsense'")
        assertOneLineError(try lmbench(["run", "longbench", "--db", db]), status: 2, contains: "--data FILE is required")
        assertOneLineError(try lmbench(["report", "--db", dir.appendingPathComponent("none.sqlite").path]), status: 1, contains: "no results database")
        assertOneLineError(try lmbench(["export", "--format", "xml", "--db", db]), status: 2, contains: "--format must be csv or jsonl")
    }
}
