import XCTest
import Foundation

/// A RULER task end to end on the real model: `lmbench run niah_single_1` at 1k stores a scored
/// sample and `lmbench report` gives RULER's table; qa without its data fails in one line.
extension CLITests {
    func testRulerTaskRunsAndReportsItsTable() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmbench-ruler-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("db.sqlite").path
        let run = try lmbench(["run", "niah_single_1", "--lengths", "1k", "--samples", "1", "--db", db, "--model", CLITests.modelPath])
        XCTAssertEqual(run.status, 0, run.stderr)
        let rows = try storedSamples(db)
        XCTAssertEqual(rows.map(\.key), ["full/niah_single_1/1024/uniform/0"])
        XCTAssertEqual(rows.first?.metric, "string_match_all")
        XCTAssertTrue(rows.first?.complete == true, "every field of the sample is stored")
        let report = try lmbench(["report", "--db", db])
        XCTAssertEqual(report.status, 0, report.stderr)
        XCTAssertTrue(report.stdout.contains("## RULER scores per task × length (×100)"), report.stdout)
        XCTAssertNotNil(report.stdout.range(of: #"\| niah_single_1 \| \d+\.\d \(n=1(, 1 null)?\) \|"#, options: .regularExpression), report.stdout)
        XCTAssertTrue(report.stdout.contains("Effective length at 85.6 (RULER's threshold): "), report.stdout)
        XCTAssertTrue(report.stdout.contains("| task type_haystack | noise |"), "the task's RULER arguments are recorded")

        assertOneLineError(try lmbench(["run", "qa_1", "--lengths", "1k", "--db", db, "--model", CLITests.modelPath]), status: 2,
                           contains: "lmbench run qa_1: --data FILE is required (a SQuAD v2 dev JSON file")
    }
}
