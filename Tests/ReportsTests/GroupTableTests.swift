import XCTest
import Results
@testable import Reports

/// Accuracy by record group (LongBench v2's overall / easy / hard / short / medium / long).
final class GroupTableTests: XCTestCase {
    func sample(_ engine: String, _ dataset: String, _ score: Double) -> SampleRecord {
        var s = SampleRecord()
        s.runID = 1
        s.engine = engine
        s.task = "longbench_v2"
        s.taskFamily = "jsonl"
        s.dataset = dataset
        s.score = score
        s.metric = "longbench_v2_choice"
        s.metricKind = .proportion
        return s
    }

    func testScoresAreGroupedByEveryValueInTheDeclaredOrder() throws {
        var run = RunRecord()
        run.id = 1
        run.taskParameters = ["groups": "difficulty=easy|hard;length=short|medium|long"]
        let samples = [
            sample("full", "longbench_v2;difficulty=hard;length=long", 1),
            sample("full", "longbench_v2;difficulty=easy;length=long", 0),
            sample("full", "longbench_v2;difficulty=hard;length=short", 1),
            sample("infllm", "longbench_v2;difficulty=hard;length=short", 0),
            sample("full", "qasper", 1),
        ]
        let table = GroupTable(samples, runs: [run])
        XCTAssertEqual(table.columns(task: "longbench_v2").map(\.label),
                       ["difficulty=easy", "difficulty=hard", "length=short", "length=long"], "declared order, values seen only")
        let hard = GroupTable.Column(group: "difficulty", value: "hard")
        XCTAssertEqual(table.cell(task: "longbench_v2", engine: "full", column: nil)?.score.value, 2.0 / 3.0)
        XCTAssertEqual(table.cell(task: "longbench_v2", engine: "full", column: hard)?.score.value, 1)
        XCTAssertEqual(table.cell(task: "longbench_v2", engine: "full", column: hard)?.score.n, 2)
        XCTAssertEqual(table.cell(task: "longbench_v2", engine: "infllm", column: hard)?.score.value, 0)
        XCTAssertNil(table.cell(task: "qasper", engine: "full", column: nil), "an ungrouped dataset has no table")
        let markdown = table.document().markdown
        XCTAssertTrue(markdown.contains("## longbench_v2: accuracy by group × engine (×100)"), markdown)
        XCTAssertTrue(markdown.contains("| engine | overall | difficulty=easy | difficulty=hard | length=short | length=long |"), markdown)
        XCTAssertTrue(markdown.contains("| infllm | 0.00"), markdown)
        XCTAssertTrue(GroupTable([sample("full", "qasper", 1)], runs: [run]).document().blocks.isEmpty)
    }
}
