import XCTest
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import GGUFTestSupport
import Results
import StoreTestSupport

/// Nightly, leaderboard and compare on stores the test writes: two nightlies of the example suite,
/// one engine made worse in the second.
extension CLITests {
    func writeNightly(_ store: ResultsStore, stamp: String, worseEngine: String?) throws {
        let tags = ["suite": "nightly", "nightly": stamp]
        try SyntheticStore.addRun(store, task: "passkey", engines: ["full", "lm-infinite:n_local=1k", "infllm:n_local=1k"],
                                  lengths: [1024, 2048], depths: [nil], samples: 4, tags: tags) { engine, length, _, _ in
            engine == worseEngine && length == 2048 ? 0 : 1
        }
        try SyntheticStore.addRun(store, task: "needle", engines: ["full", "lm-infinite:n_local=1k"], lengths: [1024, 2048],
                                  depths: [0, 50, 100], samples: 1, tags: tags) { _, _, _, _ in 1 }
    }

    func wellFormed(_ path: String) -> Bool {
        guard let parser = XMLParser(contentsOf: URL(fileURLWithPath: path)) else { return false }
        return parser.parse()
    }

    func testNightlyFlagsExactlyTheRegressionAndExitsThree() throws {
        let dir = try makeTemporaryDirectory("nightly")
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("n.sqlite").path, out = dir.appendingPathComponent("out").path
        let store = try ResultsStore(path: db)
        try writeNightly(store, stamp: "2026-11-21T02:00:00Z", worseEngine: nil)
        try writeNightly(store, stamp: "2026-11-22T02:00:00Z", worseEngine: "infllm:n_local=1k")

        let nightly = try lmbench(["nightly", "--suite", "tasks/suites/nightly.json", "--no-run", "--db", db, "--out-dir", out])
        XCTAssertEqual(nightly.status, 3, nightly.stdout + nightly.stderr)
        let flagged = nightly.stdout.split(separator: "\n").filter { $0.hasPrefix("  ") }
        XCTAssertEqual(flagged.count, 1, nightly.stdout)
        XCTAssertTrue(flagged.first?.hasPrefix("  passkey · infllm:n_local=1k · 2k: accuracy 1.00 → 0.00") ?? false, nightly.stdout)
        for file in ["leaderboard.md", "leaderboard.html", "regressions.md"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + file), file)
        }
        XCTAssertTrue(wellFormed(out + "/leaderboard.html"))
        let regressions = try String(contentsOfFile: out + "/regressions.md", encoding: .utf8)
        XCTAssertTrue(regressions.contains("**1 regression**"), regressions)

        // A third nightly like the second: clean against it.
        try writeNightly(store, stamp: "2026-11-23T02:00:00Z", worseEngine: "infllm:n_local=1k")
        let clean = try lmbench(["nightly", "--suite", "tasks/suites/nightly.json", "--no-run", "--db", db, "--out-dir", out])
        XCTAssertEqual(clean.status, 0, clean.stdout + clean.stderr)
        XCTAssertTrue(clean.stdout.contains("no regressions against 2026-11-22T02:00:00Z"), clean.stdout)

        // The leaderboard ranks the engines with intervals and effective lengths.
        let board = try lmbench(["leaderboard", "--task", "passkey", "--db", db])
        XCTAssertEqual(board.status, 0, board.stderr)
        let rows = board.stdout.split(separator: "\n").filter { $0.hasPrefix("| 1 |") || $0.hasPrefix("| 2 |") || $0.hasPrefix("| 3 |") }
        XCTAssertEqual(rows.count, 3, board.stdout)
        XCTAssertTrue(rows[2].contains("infllm:n_local=1k") && rows[2].contains("0.00 [0.00, 0.49] n=4") && rows[2].contains("| 1k |"), board.stdout)
        XCTAssertTrue(rows[0].contains("1.00 [0.51, 1.00] n=4") && rows[0].contains("| 2k |"), board.stdout)
        let html = dir.appendingPathComponent("board.html").path
        XCTAssertEqual(try lmbench(["leaderboard", "--db", db, "--format", "html", "--out", html]).status, 0)
        XCTAssertTrue(wellFormed(html))

        // compare: the same cells of two runs.
        let compare = try lmbench(["compare", "1", "3", "--db", db])
        XCTAssertEqual(compare.status, 0, compare.stderr)
        XCTAssertTrue(compare.stdout.contains("**1 regression**"), compare.stdout)
        // The collapse of infllm at 2k (4 of 4 right → 0 of 4) with its paired test: McNemar, 4 discordant pairs, p = 2/16.
        XCTAssertTrue(compare.stdout.contains("accuracy 1.00 → 0.00 (below 0.51), paired: McNemar exact p=0.125, n=4"), compare.stdout)
        XCTAssertTrue(compare.stdout.contains("-1.00, p=0.125 (McNemar exact, n=4)"), compare.stdout)
        // Two engines of one run, paired on their samples.
        let engines = try lmbench(["compare", "3", "--engines", "full,infllm:n_local=1k", "--db", db])
        XCTAssertEqual(engines.status, 0, engines.stderr)
        XCTAssertTrue(engines.stdout.contains("| passkey | full → infllm:n_local=1k | 2k |"), engines.stdout)
        XCTAssertTrue(engines.stdout.contains("-1.00, p=0.125 (McNemar exact, n=4)"), engines.stdout)
        assertOneLineError(try lmbench(["compare", "3", "--engines", "full,warp", "--db", db]), status: 1, contains: "run 3 has no engine 'warp'")
        assertOneLineError(try lmbench(["compare", "3", "--db", db]), status: 2, contains: "expected two run ids")
        assertOneLineError(try lmbench(["compare", "1", "99", "--db", db]), status: 1, contains: "no run with id 99")
        assertOneLineError(try lmbench(["nightly", "--db", db]), status: 2, contains: "--suite FILE is required")
    }
}
