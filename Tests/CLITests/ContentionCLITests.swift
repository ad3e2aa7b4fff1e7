import XCTest
import Foundation
import CSQLite
import GGUFTestSupport
import Inference

/// Timings on a shared machine: a sample run beside processes that keep every core busy is stored
/// as contended, with its CPU time; the same sample on the quiet machine is not; `bench` warns.
extension CLITests {
    /// The only sample of `db`: whether it was judged contended, its CPU seconds, its involuntary
    /// context switches and the load average stored with it.
    func contention(_ db: String) throws -> (contended: Bool, cpuSeconds: Double, switches: Int, load: Double) {
        var handle: OpaquePointer?
        guard sqlite3_open_v2(db, &handle, SQLITE_OPEN_READONLY, nil) == SQLITE_OK else { throw TestSetupError() }
        defer { sqlite3_close(handle) }
        var statement: OpaquePointer?
        let sql = "SELECT contended, cpu_seconds, involuntary_switches, load_average, status FROM samples"
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK else { throw TestSetupError() }
        defer { sqlite3_finalize(statement) }
        guard sqlite3_step(statement) == SQLITE_ROW else { throw TestSetupError() }
        XCTAssertEqual(String(cString: sqlite3_column_text(statement, 4)), "ok")
        let row = (contended: sqlite3_column_int(statement, 0) == 1, cpuSeconds: sqlite3_column_double(statement, 1),
                   switches: Int(sqlite3_column_int64(statement, 2)), load: sqlite3_column_double(statement, 3))
        XCTAssertEqual(sqlite3_step(statement), SQLITE_DONE, "one sample expected")
        return row
    }

    func testASampleRunBesideACPUHogIsStoredAsContended() throws {
        try requireModel()
        let dir = try makeTemporaryDirectory("contention")
        defer { try? FileManager.default.removeItem(at: dir) }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        func run(_ name: String) throws -> String {
            let db = dir.appendingPathComponent(name + ".sqlite").path
            let result = try lmbench(["run", "passkey", "--lengths", "1k", "--samples", "1", "--engines", "full", "--db", db])
            XCTAssertEqual(result.status, 0, result.stderr)
            return db
        }

        // Quiet: the process had its threads' worth of CPU time.
        let quiet = try contention(try run("quiet"))
        XCTAssertFalse(quiet.contended, "a sample on the quiet machine was judged contended (CPU \(quiet.cpuSeconds) s)")
        XCTAssertGreaterThan(quiet.cpuSeconds, 0.2)

        // One busy process per core: lmbench gets about half of the machine.
        let hogs = try CPUHog(processes: cores)
        let busyDB: String
        do {
            defer { hogs.stop() }
            busyDB = try run("busy")
        }
        let busy = try contention(busyDB)
        XCTAssertTrue(busy.contended, "a sample beside \(cores) busy processes was not judged contended (CPU \(busy.cpuSeconds) s)")
        XCTAssertGreaterThan(busy.switches, 0)
        XCTAssertGreaterThan(busy.load, 0)
        let report = try lmbench(["report", "--db", busyDB])
        XCTAssertEqual(report.status, 0, report.stderr)
        XCTAssertTrue(report.stdout.contains("†"), report.stdout)
    }

    func testBenchSaysWhenAnotherProcessTookCores() throws {
        try requireModel()
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let result = try lmbench(["bench", "--model", CLITests.modelPath, "--lengths", "512", "--decode-tokens", "32",
                                  "--hog", "\(cores)", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(report["hog_processes"] as? Int, cores)
        let row = try XCTUnwrap((report["rows"] as? [[String: Any]])?.first)
        XCTAssertEqual(row["contended"] as? Bool, true, "\(row)")
        XCTAssertLessThan(row["cpu_share"] as? Double ?? 99, 0.75 * Double(report["threads"] as? Int ?? 0), "\(row)")
        XCTAssertTrue(result.stderr.contains("another process took cores"), result.stderr)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
    }
}
