import XCTest
import Results
import StoreTestSupport
import Reports

final class LeaderboardTests: XCTestCase {
    func testWilsonIntervalsWorkedByHand() {
        // 5 of 10: centre (0.5 + z²/20)/(1 + z²/10) = 0.5; half-width z/(1 + z²/10)·√(0.025 + z²/400) = 0.2634.
        let half = WilsonInterval(successes: 5, trials: 10)
        XCTAssertEqual(half.lower, 0.2366, accuracy: 1e-4)
        XCTAssertEqual(half.upper, 0.7634, accuracy: 1e-4)
        // 3 of 3: centre (1 + z²/6)/(1 + z²/3) = 0.7193, half-width z/(1 + z²/3)·√(z²/36) = 0.2808.
        let all = WilsonInterval(successes: 3, trials: 3)
        XCTAssertEqual(all.lower, 0.4385, accuracy: 1e-4)
        XCTAssertEqual(all.upper, 1, accuracy: 1e-12)
        XCTAssertEqual(WilsonInterval(successes: 0, trials: 0), WilsonInterval(successes: 0, trials: 0))
    }

    func testRanksWithIntervalsAndEffectiveLengths() throws {
        let (store, dir) = try SyntheticStore.make()
        defer { try? FileManager.default.removeItem(at: dir) }
        // "strong": 1.0 at 1k and 2k, 0.9 at 4k, 0.5 at 8k → effective length 4k (threshold 0.85).
        // "weak": 1.0 at 1k, 0.6 at 2k, 1.0 at 4k → effective length 1k: accuracy must *stay* above.
        let strong: [Int: Double] = [1024: 1, 2048: 1, 4096: 0.9, 8192: 0.5]
        let weak: [Int: Double] = [1024: 1, 2048: 0.6, 4096: 1, 8192: 0]
        try SyntheticStore.addRun(store, task: "passkey", engines: ["strong", "weak"], lengths: [1024, 2048, 4096, 8192], depths: [nil],
                                  samples: 10) { engine, length, _, i in
            let target = (engine == "strong" ? strong : weak)[length]!
            return Double(i) < target * 10 ? 1 : 0
        }
        let board = try Leaderboard(store: store, task: "passkey")
        XCTAssertEqual(board.rows.map(\.engine), ["strong", "weak"])
        XCTAssertEqual(board.rows[0].effectiveLength, "4k")
        XCTAssertEqual(board.rows[1].effectiveLength, "1k")
        XCTAssertEqual(board.rows[0].mean ?? 0, (1 + 1 + 0.9 + 0.5) / 4, accuracy: 1e-12)
        XCTAssertEqual(board.rows[0].samples, 40)
        let text = board.document().markdown
        XCTAssertTrue(text.contains("| 1 | Gemma 3 270m | strong | 1.00 [0.72, 1.00] n=10 | 1.00 [0.72, 1.00] n=10 | 0.90 [0.60, 0.98] n=10 | 0.50 [0.24, 0.76] n=10 | 0.850 | 4k |  | 500.0 |"), text)
        XCTAssertTrue(text.contains("| 2 | Gemma 3 270m | weak |"), text)
        // weak against strong on the same 40 samples: right/wrong differ on 4 (2k) + 1 (4k) + 5 (8k) samples;
        // strong alone is right on 4 + 5 = 9 of them... worked from the scripts: 2k strong 10 weak 6, 4k strong 9 weak 10,
        // 8k strong 5 weak 0 → discordant 4 + 5 = 9 (strong right) and 1 (weak right): McNemar p = 2·(1 + 10)/1024.
        let paired = try XCTUnwrap(board.rows[1].versusBest)
        XCTAssertEqual(paired.n, 40)
        XCTAssertEqual(paired.testName, "McNemar exact")
        XCTAssertEqual(paired.discordant?.aRightBWrong, 9)
        XCTAssertEqual(paired.discordant?.aWrongBRight, 1)
        XCTAssertEqual(paired.pValue, 22.0 / 1024, accuracy: 1e-12)
        XCTAssertTrue(paired.significant)
        XCTAssertTrue(text.contains("-0.20, p=0.0215 ⚠ (McNemar exact, n=40)"), text)
    }

    func testComparisonFlagsOnlyWhatGotWorse() throws {
        let (store, dir) = try SyntheticStore.make()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good: (String, Int, Double?, Int) -> Double = { _, _, _, _ in 1 }
        let a = try SyntheticStore.addRun(store, engines: ["full", "lm-infinite"], lengths: [1024, 2048], depths: [0, 50, 100], samples: 2, score: good)
        // The second run: lm-infinite loses accuracy at 2k, full gets 20% slower at 2k and uses 15% more memory at 1k;
        // 5% slower at 1k stays within tolerance.
        let b = try SyntheticStore.addRun(store, engines: ["full", "lm-infinite"], lengths: [1024, 2048], depths: [0, 50, 100], samples: 2,
                                          prefill: { e, l in Double(l) / 500 * 1000 * (e == "full" ? (l == 2048 ? 1.25 : 1.05) : 1) },
                                          rss: { e, l in Int(Double((300 << 20) + l * 1024) * (e == "full" && l == 1024 ? 1.15 : 1)) }) { e, l, _, i in
            e == "lm-infinite" && l == 2048 && i == 0 ? 0 : (e == "lm-infinite" && l == 2048 ? 0 : 1)
        }
        let runs = try store.runs()
        let comparison = Comparison(before: try store.samples(runIDs: [a]), after: try store.samples(runIDs: [b]), runs: runs)
        let flagged = comparison.regressions.map { "\($0.engine)@\($0.column): \($0.flags.joined(separator: "; "))" }
        XCTAssertEqual(flagged.count, 3, flagged.joined(separator: "\n"))
        XCTAssertTrue(flagged.contains { $0.hasPrefix("lm-infinite@2k: accuracy 1.00 → 0.00") }, "\(flagged)")
        XCTAssertTrue(flagged.contains { $0.hasPrefix("full@2k: prefill 500 → 400 tok/s (-20%)") }, "\(flagged)")
        XCTAssertTrue(flagged.contains { $0.hasPrefix("full@1k: peak RSS") && $0.contains("(+15%)") }, "\(flagged)")
        XCTAssertTrue(Comparison(before: try store.samples(runIDs: [a]), after: try store.samples(runIDs: [a]), runs: runs).regressions.isEmpty)
        XCTAssertEqual(comparison.rows.first { $0.engine == "lm-infinite" && $0.column == "2k" }?.paired?.n, 6)
        // Runs of another seed share sample keys but not prompts: nothing is paired.
        let c = try SyntheticStore.addRun(store, engines: ["full", "lm-infinite"], lengths: [1024, 2048], depths: [0, 50, 100], samples: 2,
                                          taskParameters: ["seed": "9"], score: good)
        let otherSeed = Comparison(before: try store.samples(runIDs: [b]), after: try store.samples(runIDs: [c]), runs: try store.runs())
        XCTAssertTrue(otherSeed.rows.allSatisfy { $0.paired == nil })
    }

    func testRunsWithOtherSeedsOrTaskParametersAddSamples() throws {
        let (store, dir) = try SyntheticStore.make()
        defer { try? FileManager.default.removeItem(at: dir) }
        for seed in ["1", "2"] {
            try SyntheticStore.addRun(store, task: "passkey", engines: ["full"], lengths: [1024], depths: [nil], samples: 3,
                                      taskParameters: ["seed": seed]) { _, _, _, _ in 1 }
        }
        // The same seed again replaces nothing it did not run: the newest sample of each identity counts once.
        try SyntheticStore.addRun(store, task: "passkey", engines: ["full"], lengths: [1024], depths: [nil], samples: 3,
                                  taskParameters: ["seed": "2"]) { _, _, _, _ in 0 }
        let board = try Leaderboard(store: store, task: "passkey")
        XCTAssertEqual(board.rows.count, 1)
        XCTAssertEqual(board.rows[0].samples, 6, "seeds 1 and 2 are different samples with the same keys")
        XCTAssertEqual(board.rows[0].mean ?? -1, 0.5, accuracy: 1e-12, "seed 2's newest run (all wrong) replaced its older one")
    }

    func testContinuousScoresAreComparedByAPairedBootstrap() throws {
        let (store, dir) = try SyntheticStore.make()
        defer { try? FileManager.default.removeItem(at: dir) }
        try SyntheticStore.addRun(store, task: "qmsum", engines: ["full", "cut"], lengths: [1024], depths: [nil], samples: 30,
                                  metric: ("rouge_l", .continuous)) { e, _, _, i in
            0.3 + 0.01 * Double(i % 7) - (e == "cut" ? 0.1 : 0)
        }
        let board = try Leaderboard(store: store, task: "qmsum")
        let paired = try XCTUnwrap(board.rows[1].versusBest)
        XCTAssertEqual(board.rows[1].engine, "cut")
        XCTAssertEqual(paired.testName, "paired bootstrap")
        XCTAssertEqual(paired.meanDifference, -0.1, accuracy: 1e-9)
        XCTAssertLessThan(paired.pValue, 0.01)
        let cell = try XCTUnwrap(board.rows[0].cells["1k"])
        let bootstrap = try XCTUnwrap(BootstrapInterval(scores: cell.score.values))
        XCTAssertTrue(Leaderboard.accuracyCell(cell).contains(String(format: "[%.2f, %.2f]", bootstrap.lower, bootstrap.upper)))
    }
}
