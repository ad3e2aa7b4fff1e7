import XCTest
import Results
import Reports
import StoreTestSupport

/// RULER's table from a store: task × length scores, averages, nulls and effective lengths.
final class RulerTableTests: XCTestCase {
    /// Scores × 100 per (task, length): samples scoring score/100 each, `nulls` of them empty.
    let scores: [String: [Int: Double]] = [
        "niah_single_1": [4096: 100, 8192: 90, 16384: 60],
        "vt": [4096: 90, 8192: 84, 16384: 40],
    ]

    func store() throws -> (ResultsStore, Int64) {
        let (store, _) = try SyntheticStore.make()
        return (store, try addRun(store, scores))
    }

    /// A RULER run of engine "full" on `model` with two samples per (task, length) of `scores`.
    func addRun(_ store: ResultsStore, _ scores: [String: [Int: Double]], model: String = "Gemma 3 270m", template: String = "none") throws -> Int64 {
        var record = SyntheticStore.runRecord(task: "ruler", engines: ["full"], plannedSamples: 2 * scores.values.map(\.count).reduce(0, +))
        record.taskFamily = "ruler"
        record.modelName = model
        record.chatTemplate = template
        let run = try store.insertRun(record)
        for (task, byLength) in scores {
            for (length, score) in byLength {
                for i in 0..<2 {
                    var s = SampleRecord()
                    s.runID = run.id
                    s.engine = "full"
                    s.sampleKey = "\(task)/\(length)/uniform/\(i)"
                    s.taskFamily = "ruler"
                    s.task = "ruler"
                    s.dataset = task
                    s.sampleID = s.sampleKey
                    s.length = length
                    s.expected = ["x"]
                    s.output = length == 16384 && i == 0 ? "" : "x"
                    s.score = score / 100
                    s.metric = "string_match_all"
                    s.metricKind = .continuous
                    s.figures = ["null": s.output.isEmpty ? 1 : 0]
                    s.promptTokens = length - 128
                    try store.record(s)
                }
            }
        }
        try store.markFinished(runID: run.id)
        return run.id
    }

    func testTheTableAveragesTasksPerLengthAndFindsTheEffectiveLengths() throws {
        let (store, run) = try store()
        let report = try RunReport(store: store, runIDs: [run])
        let table = RulerTable(report.samples)
        XCTAssertEqual(table.tasks, ["niah_single_1", "vt"])
        XCTAssertEqual(table.lengths, [4096, 8192, 16384])
        XCTAssertEqual(try XCTUnwrap(table.average("full", 4096).value), 95, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(table.average("full", 8192).value), 87, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(table.average("full", 16384).value), 50, accuracy: 1e-9)
        XCTAssertEqual(table.nullCount("full", "vt", 16384), 1)
        XCTAssertEqual(table.effectiveLength("full", threshold: RulerTable.absoluteThreshold), 8192, "87 > 85.6 at 8k, 50 at 16k")
        // Relative: 0.856 × 95 = 81.32, which 8k's 87 exceeds and 16k's 50 does not.
        XCTAssertEqual(try XCTUnwrap(table.relativeThreshold("full")), 81.32, accuracy: 1e-9)
        XCTAssertEqual(table.effectiveLength("full", threshold: 90), 4096)
        XCTAssertNil(table.effectiveLength("full", threshold: 96), "below the threshold at the shortest length")

        let markdown = report.render()
        XCTAssertTrue(markdown.contains("## RULER scores per task × length (×100)"), markdown)
        XCTAssertTrue(markdown.contains("| task | 4k | 8k | 16k |"), markdown)
        XCTAssertTrue(markdown.contains("| niah_single_1 | 100.0 (n=2) | 90.0 (n=2) | 60.0 (n=2, 1 null) |"), markdown)
        XCTAssertTrue(markdown.contains("| **average** | **95.0** | **87.0** | **50.0** |"), markdown)
        XCTAssertTrue(markdown.contains("Effective length at 85.6 (RULER's threshold): 8k"), markdown)
        XCTAssertTrue(markdown.contains("Effective length at 81.3 (0.856 × the 4k average): 8k"), markdown)
        XCTAssertTrue(report.document().html.contains("<td class=\"num\"><strong>95.0</strong></td>"), "the HTML page has the table too")
    }

    /// A sweep continued in later runs (8k after 4k, a task added) fills one table; a run on another
    /// model or chat template gets its own, and runs that cover the same cells are told apart by run.
    func testRunsOfOneEngineAndModelOnOtherCellsShareOneTable() throws {
        let (store, _) = try SyntheticStore.make()
        let at4k = try addRun(store, ["niah_single_1": [4096: 100], "vt": [4096: 90]])
        let at8k = try addRun(store, ["niah_single_1": [8192: 90]])
        let vtAt8k = try addRun(store, ["vt": [8192: 84]])
        let smol = try addRun(store, ["vt": [4096: 50]], model: "SmolLM2 135M")
        let merged = try RunReport(store: store, runIDs: [at4k, at8k, vtAt8k]).render()
        XCTAssertTrue(merged.contains("| task | 4k | 8k |"), merged)
        XCTAssertTrue(merged.contains("| vt | 90.0 (n=2) | 84.0 (n=2) |"), merged)
        XCTAssertTrue(merged.contains("| **average** | **95.0** | **87.0** |"), merged)
        XCTAssertTrue(merged.contains("Effective length at 85.6 (RULER's threshold): 8k"), merged)
        XCTAssertFalse(merged.contains("(run "), merged)

        let twoModels = RulerTable(try RunReport(store: store, runIDs: [at4k, smol]).labelledSamples)
        XCTAssertEqual(twoModels.engines, ["full (Gemma 3 270m)", "full (SmolLM2 135M)"])
        XCTAssertEqual(twoModels.score("full (SmolLM2 135M)", "vt", 4096)?.value, 50)

        let templated = try addRun(store, ["vt": [8192: 10]], template: "gemma")
        let twoTemplates = RulerTable(try RunReport(store: store, runIDs: [at4k, templated]).labelledSamples)
        XCTAssertEqual(twoTemplates.engines, ["full (template none)", "full (template gemma)"], "another prompt is another configuration")

        let again = try addRun(store, ["vt": [4096: 70]])
        let overlapping = RulerTable(try RunReport(store: store, runIDs: [at4k, again]).labelledSamples)
        XCTAssertEqual(Set(overlapping.engines), ["full (run \(at4k))", "full (run \(again))"])
    }

    func testOtherFamiliesGetNoRulerTable() throws {
        let (store, _) = try SyntheticStore.make()
        let run = try SyntheticStore.addRun(store, task: "passkey", engines: ["full"], lengths: [1024], depths: [nil], samples: 1) { _, _, _, _ in 1 }
        XCTAssertFalse(try RunReport(store: store, runIDs: [run]).render().contains("RULER"))
    }
}
