import XCTest
import Foundation
import Results
import GGUFTestSupport

/// The harness core after the re-cut, end to end: a database written by lmbench d0e6dbf (schema 1)
/// opens, migrates, reports and resumes; the truncation engine runs through `lmbench run`.
extension CLITests {
    static let fixtures = packageRoot.appendingPathComponent("Tests/Fixtures")

    func testADatabaseOfTheFirstSchemaOpensReportsAndResumes() throws {
        try requireModel()
        let dir = try makeTemporaryDirectory("old-db")
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("v1.sqlite").path
        try FileManager.default.copyItem(atPath: Self.fixtures.appendingPathComponent("schema-v1.sqlite").path, toPath: db)

        let runs = try lmbench(["runs", "--db", db])
        XCTAssertEqual(runs.status, 0, runs.stderr)
        XCTAssertTrue(runs.stdout.contains("| 4 |") && runs.stdout.contains("| 2/4 | no |"), runs.stdout)
        let passkey = try lmbench(["report", "--run", "1", "--db", db])
        XCTAssertTrue(passkey.stdout.contains("| 1k | 1.00 [0.34, 1.00] (n=2) | 0.50 [0.09, 0.91] (n=2) |"), passkey.stdout)
        let longbench = try lmbench(["report", "--run", "3", "--db", db])
        XCTAssertTrue(longbench.stdout.contains("| multi_news | 28.54 ["), longbench.stdout)
        XCTAssertTrue(longbench.stdout.contains("| multi_news | full | 28.54 (n=2) | – | – |"), "300-word records in the 0-4k bucket")
        XCTAssertFalse(longbench.stdout.contains("## Accuracy by length"), longbench.stdout)
        // The record d0e6dbf refused (its words taken for tokens) is reported as LongBench. Its
        // `length` (100,000,000 words in 62 characters) is one this build refuses when the file loads.
        let refused = try lmbench(["report", "--run", "5", "--db", db])
        XCTAssertTrue(refused.stdout.contains("| qasper | – [1 skipped] |"), refused.stdout)
        XCTAssertTrue(refused.stdout.contains("| full | qasper/huge1/1 | 8k+ | skipped |"), refused.stdout)
        let data = Self.fixtures.appendingPathComponent("schema-v1-qasper-huge.jsonl").path
        assertOneLineError(try lmbench(["run", "qasper", "--data", data, "--engines", "full", "--db", db]), status: 1,
                           contains: "\(data):1: field 'length' is 100000000, not in 0…62")

        // Run 4 was killed after 2 of its 4 samples. The same command from this build starts a new
        // run and says why; with --resume it continues run 4.
        let command = ["run", "passkey", "--lengths", "1k,2k", "--samples", "2", "--engines", "full", "--seed", "7", "--threads", "2", "--db", db]
        let fresh = try lmbench(command)
        XCTAssertEqual(fresh.status, 0, fresh.stderr)
        XCTAssertTrue(fresh.stdout.contains("note: run 4 has this configuration but was started by lmbench d0e6dbf6b63d"), fresh.stdout)
        XCTAssertTrue(fresh.stdout.contains("run 6: 4 samples stored"), fresh.stdout)
        let resumed = try lmbench(command + ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("run 4 (resumed: 2 samples were already stored): 2 samples stored (2 ok)"), resumed.stdout)
        let store = try ResultsStore(path: db)
        let samples = try store.samples(runIDs: [4])
        XCTAssertEqual(samples.map(\.sampleKey), ["passkey/1024/uniform/0", "passkey/1024/uniform/1", "passkey/2048/uniform/0", "passkey/2048/uniform/1"])
        XCTAssertEqual(samples.map(\.taskFamily), Array(repeating: "passkey", count: 4))
        XCTAssertEqual(samples.map(\.metricKind), Array(repeating: .proportion, count: 4))
        XCTAssertNotNil(try store.run(id: 4).finishedAt)
        // Keys a first-schema run stored and keys the new code plans are the same keys: resuming repeated none.
        XCTAssertEqual(Set(samples.map(\.sampleKey)).count, 4)
    }

    func testTheTruncationEngineCutsPromptsThroughRun() throws {
        try requireModel()
        let dir = try makeTemporaryDirectory("truncation")
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("t.sqlite").path
        let run = try lmbench(["run", "needle", "--lengths", "2k", "--depths", "0,100", "--db", db,
                               "--engines", "full,truncation:budget=1k,truncation:rule=suffix:budget=1k:head=64"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let store = try ResultsStore(path: db)
        let samples = try store.samples(runIDs: [1])
        XCTAssertEqual(samples.count, 6)
        for s in samples {
            XCTAssertEqual(s.status, .ok, s.error ?? "")
            XCTAssertEqual(s.figures["answers"], 1, "the needle metric stores its figures")
            if s.engine == "full" {
                XCTAssertFalse(s.truncated)
                XCTAssertEqual(s.promptTokens, 2048)
            } else {
                XCTAssertTrue(s.truncated, s.engine)
                XCTAssertEqual(s.promptTokens, 1024, s.engine)
            }
        }
        let engines = try store.run(id: 1).engines
        XCTAssertEqual(engines[1].parameters["rule"], "middle")
        XCTAssertEqual(engines[1].parameters["budget"], "1024")
        XCTAssertEqual(engines[2].parameters["head"], "64")
        XCTAssertEqual(engines.map(\.kind), ["native", "native", "native"])
        let export = try lmbench(["export", "--format", "jsonl", "--db", db])
        let first = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(export.stdout.split(separator: "\n")[0].utf8)) as? [String: Any])
        XCTAssertEqual(first["task_family"] as? String, "needle")
        XCTAssertEqual(first["length_unit"] as? String, "tokens")
        XCTAssertEqual(first["metric_kind"] as? String, "proportion")
        XCTAssertEqual(first["expected"] as? [String], ["Dolores Park"])
        XCTAssertEqual((first["figures"] as? [String: Double])?["answers_found"].map { $0 >= 0 }, true)
        let csv = try lmbench(["export", "--db", db])
        XCTAssertTrue(csv.stdout.split(separator: "\n")[0].hasPrefix("run_id,engine,sample_key,task_family,"), csv.stdout)
        XCTAssertTrue(csv.stdout.split(separator: "\n")[0].hasSuffix(",finished_at,figures"), csv.stdout)
    }
}
