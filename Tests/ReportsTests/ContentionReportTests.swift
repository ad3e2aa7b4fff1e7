import XCTest
import Results
import Reports
import StoreTestSupport

/// Samples that ran while another process took cores: their speed is marked in reports and
/// leaderboards, and a comparison says why it does not flag their slowness as a regression.
final class ContentionReportTests: XCTestCase {
    func testContendedSpeedIsMarkedAndNeverFlaggedAsARegression() throws {
        let (store, dir) = try SyntheticStore.make()
        defer { try? FileManager.default.removeItem(at: dir) }
        let right: (String, Int, Double?, Int) -> Double = { _, _, _, _ in 1 }
        let a = try SyntheticStore.addRun(store, engines: ["full", "lm-infinite"], lengths: [1024, 2048], depths: [nil], samples: 2,
                                          score: right)
        // The second run is 40% slower everywhere; full's samples at 2k ran beside another process.
        let b = try SyntheticStore.addRun(store, engines: ["full", "lm-infinite"], lengths: [1024, 2048], depths: [nil], samples: 2,
                                          prefill: { _, l in Double(l) / 500 * 1000 / 0.6 }, contended: { e, l in e == "full" && l == 2048 },
                                          score: right)
        let comparison = Comparison(before: try store.samples(runIDs: [a]), after: try store.samples(runIDs: [b]), runs: try store.runs())
        let flagged = Set(comparison.regressions.map { "\($0.engine)@\($0.column)" })
        XCTAssertEqual(flagged, ["full@1k", "lm-infinite@1k", "lm-infinite@2k"])
        let contendedRow = try XCTUnwrap(comparison.rows.first { $0.engine == "full" && $0.column == "2k" })
        XCTAssertEqual(contendedRow.flags, [])
        XCTAssertEqual(contendedRow.notes, ["speed not compared: 0 before and 2 after of the samples ran while another process took cores"])
        let markdown = comparison.document(title: "t", beforeName: "a", afterName: "b").markdown
        XCTAssertTrue(markdown.contains("Not compared (timings from a shared machine are not the engine's own):"), markdown)
        XCTAssertTrue(markdown.contains("needle · full · 2k: speed not compared"), markdown)

        // The run's report marks the contended cell's speeds and counts its samples; the other cells stay plain.
        let report = try RunReport(store: store, runIDs: [b]).render()
        let latency = report.components(separatedBy: "\n").filter { $0.hasPrefix("| 1k |") || $0.hasPrefix("| 2k |") }
        XCTAssertEqual(latency.filter { $0.contains("†") }.count, 1, latency.joined(separator: "\n"))
        XCTAssertTrue(latency.contains { $0.hasPrefix("| 2k | full |") && $0.hasSuffix("40.0 † | 2 |") }, latency.joined(separator: "\n"))
        XCTAssertTrue(report.contains(Format.contendedNote))
        XCTAssertFalse(try RunReport(store: store, runIDs: [a]).render().contains("†"))

        // The leaderboard's speed column is the longest length's: full's is contended there.
        let board = try Leaderboard(store: store, task: "needle").document().markdown
        XCTAssertTrue(board.contains(" † |"), board)
        XCTAssertTrue(board.contains(Format.contendedNote))
    }
}
