import XCTest
import Inference
import ModelTestSupport
import Bench

/// The built-in tasks, with the real model's tokenizer and the project's own tasks/ folder.
final class TaskTests: XCTestCase {
    var catalog: TaskCatalog!
    var tokenizer: Tokenizer!

    override func setUpWithError() throws {
        catalog = try TaskCatalog(folder: TestModel.packageRoot.appendingPathComponent("tasks").path)
        tokenizer = try TestModel.require().tokenizer
    }

    func request(_ lengths: [Int], depths: [Double]? = nil, samples: Int = 1, data: String? = nil, haystack: String? = nil,
                 limit: Int? = nil) -> TaskRequest {
        TaskRequest(lengths: lengths, depths: depths, samplesPerCell: samples, seed: 7, limit: limit, dataPath: data, haystackPath: haystack)
    }

    func testEveryTaskFileLoadsAndTheLongBenchSetIsComplete() {
        for dataset in ["qasper", "narrativeqa", "multifieldqa_en", "hotpotqa", "2wikimqa", "musique", "gov_report", "qmsum",
                        "multi_news", "trec", "triviaqa", "samsum", "passage_count", "passage_retrieval_en", "lcc", "repobench-p"] {
            XCTAssertNotNil(catalog.longBenchDatasets[dataset], dataset)
        }
        XCTAssertEqual(catalog.longBenchDatasets["qasper"]?.maxNewTokens, 128)
        XCTAssertEqual(catalog.longBenchDatasets["gov_report"]?.metric, .rougeL)
        XCTAssertEqual(catalog.longBenchDatasets["trec"]?.firstLineOnly, true)
        XCTAssertTrue(catalog.names.contains("passkey") && catalog.names.contains("needle") && catalog.names.contains("longbench"))
    }

    func testPasskeyPromptsAreSizedInModelTokensAndDeterministic() throws {
        let task = try catalog.make("passkey", request: request([1024, 4096], samples: 2), tokenizer: tokenizer)
        let planned = try task.plan()
        XCTAssertEqual(planned.count, 4)
        XCTAssertEqual(Set(planned.map(\.key)).count, 4)
        for p in planned {
            let sample = try task.makeSample(p)
            let tokens = try XCTUnwrap(sample.promptTokens)
            XCTAssertLessThanOrEqual(tokens.count, p.lengthTokens)
            XCTAssertGreaterThan(tokens.count, p.lengthTokens - 30, "one filler sentence of slack at most")
            XCTAssertEqual(tokens.first, tokenizer.bosID)
            let key = sample.answers[0]
            XCTAssertTrue(sample.prompt.contains("The pass key is \(key). Remember it. \(key) is the pass key."))
            XCTAssertTrue(sample.prompt.hasSuffix("What is the pass key? The pass key is "))
            // The ids say what the text says.
            XCTAssertEqual(tokenizer.decode(tokens, renderSpecial: false), sample.prompt)
            XCTAssertEqual(sample.score(" \(key). Remember"), 1)
            XCTAssertEqual(sample.score(" 17"), 0)
            // Same seed, same sample.
            XCTAssertEqual(try task.makeSample(p).promptTokens, tokens)
        }
        let again = try catalog.make("passkey", request: request([1024], depths: [0, 100]), tokenizer: tokenizer)
        let ends = try again.plan().map { try again.makeSample($0) }
        XCTAssertTrue(ends[0].prompt.contains("there. The pass key is"), "depth 0 puts the key right after the task line")
        XCTAssertTrue(ends[1].prompt.contains("is the pass key. What is the pass key?"), "depth 100 puts it last")
        XCTAssertThrowsError(try catalog.make("passkey", request: request([40]), tokenizer: tokenizer)) {
            XCTAssertTrue("\($0)".contains("too short"))
        }
    }

    func testNeedleGoesInAtASentenceBoundaryOfTheHaystack() throws {
        let haystack = try TestModel.shared("data/haystack")
        let task = try catalog.make("needle", request: request([2048], depths: [0, 37, 100], haystack: haystack), tokenizer: tokenizer)
        for p in try task.plan() {
            let sample = try task.makeSample(p)
            let tokens = try XCTUnwrap(sample.promptTokens)
            XCTAssertEqual(tokens.count, 2048)
            let needle = "\nThe best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day.\n"
            let range = try XCTUnwrap(sample.prompt.range(of: needle), "needle missing at depth \(p.depth!)")
            let before = sample.prompt[..<range.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines)
            if p.depth! > 0 && p.depth! < 100 { XCTAssertTrue(before.hasSuffix(".") || before.hasSuffix("!") || before.hasSuffix("?"), String(before.suffix(40))) }
            let position = Double(sample.prompt.distance(from: sample.prompt.startIndex, to: range.lowerBound)) / Double(sample.prompt.count)
            XCTAssertEqual(position, p.depth! / 100, accuracy: 0.08)
            XCTAssertEqual(sample.answers, ["Dolores Park"])
            XCTAssertEqual(sample.score("eat a sandwich in dolores park."), 1)
        }
        XCTAssertThrowsError(try catalog.make("needle", request: request([2048], haystack: "/nonexistent"), tokenizer: tokenizer)) {
            XCTAssertTrue("\($0)".contains("/nonexistent: haystack not found"))
        }
    }

    func testGeneratedHaystackIsVariedProse() throws {
        let task = try catalog.make("needle", request: request([4096], depths: [50]), tokenizer: tokenizer)
        let sample = try task.makeSample(try task.plan()[0])
        let sentences = sample.prompt.split(separator: ".").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        XCTAssertGreaterThan(Set(sentences).count, sentences.count / 2, "a generated haystack must not repeat one line")
        XCTAssertEqual(sample.promptTokens?.count, 4096)
    }

    func testLongBenchLoadsTheRealFileAndScoresWithRougeL() throws {
        let data = try TestModel.shared("data/longbench/multi_news.jsonl")
        let task = try catalog.make("longbench", request: request([], data: data, limit: 3), tokenizer: tokenizer)
        let planned = try task.plan()
        XCTAssertEqual(planned.count, 3)
        let sample = try task.makeSample(planned[0])
        XCTAssertEqual(sample.dataset, "multi_news")
        XCTAssertEqual(sample.maxNewTokens, 512)
        XCTAssertEqual(sample.metric, .rougeL)
        XCTAssertTrue(sample.prompt.hasPrefix("You are given several news passages. Write a one-page summary of all news. \n\nNews:\nPassage 1:"))
        XCTAssertTrue(sample.prompt.hasSuffix("\n\nNow, write a one-page summary of all the news.\n\nSummary:"))
        XCTAssertNotNil(sample.lengthWords)
        XCTAssertEqual(sample.score(sample.answers[0]), 2 / (2 + 1e-8), accuracy: 1e-9)
        XCTAssertEqual(sample.score(""), 0)
        // `multi_news` as a task name restricts to that dataset.
        XCTAssertEqual(try catalog.make("multi_news", request: request([], data: data, limit: 2), tokenizer: tokenizer).plan().count, 2)
        XCTAssertThrowsError(try catalog.make("qasper", request: request([], data: data), tokenizer: tokenizer)) {
            XCTAssertTrue("\($0)".contains("no records of dataset 'qasper'"))
        }
    }

    func testMalformedLongBenchLinesAreReportedWithFileAndLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmbench-lb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = #"{"input": "q?", "context": "ctx", "answers": ["a"], "length": 3, "dataset": "qasper", "language": "en", "all_classes": null, "_id": "x1"}"#
        let cases: [(String, String)] = [
            ("{not json", ":2: not a JSON object"),
            (#"{"context": "c", "answers": ["a"]}"#, ":2: field 'dataset' is missing"),
            (#"{"context": "c", "answers": [], "dataset": "qasper"}"#, ":2: field 'answers' must be a non-empty list"),
            (#"{"context": "c", "answers": ["a"], "dataset": "klingon"}"#, ":2: no task definition for dataset 'klingon'"),
            (#"{"context": 5, "answers": ["a"], "dataset": "qasper"}"#, ":2: field 'context' is missing or not a string"),
        ]
        for (i, (line, expected)) in cases.enumerated() {
            let file = dir.appendingPathComponent("case\(i).jsonl").path
            try (good + "\n" + line + "\n").write(toFile: file, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try catalog.make("longbench", request: request([], data: file), tokenizer: tokenizer)) {
                XCTAssertTrue("\($0)".hasPrefix(file + expected), "\($0)")
            }
        }
        let file = dir.appendingPathComponent("ok.jsonl").path
        try (good + "\n\n").write(toFile: file, atomically: true, encoding: .utf8)
        let sample = try { () throws -> Sample in
            let task = try catalog.make("qasper", request: request([], data: file), tokenizer: tokenizer)
            return try task.makeSample(try task.plan()[0])
        }()
        XCTAssertTrue(sample.prompt.contains("Article: ctx\n\n Answer the question"))
        XCTAssertTrue(sample.prompt.hasSuffix("Question: q?\n\nAnswer:"))
    }

    func testTaskFileErrorsNameTheFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmbench-tasks-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try #"{"generator": "passkey", "max_new_tokens": 7}"#.write(toFile: dir.path + "/bad.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TaskCatalog(folder: dir.path)) { XCTAssertEqual("\($0)", "\(dir.path)/bad.json: missing field 'metric'") }
        try #"{"generator": "passkey", "max_new_tokens": 7, "metric": "vibes"}"#.write(toFile: dir.path + "/bad.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TaskCatalog(folder: dir.path)) { XCTAssertEqual("\($0)", "\(dir.path)/bad.json: field 'metric' has a bad value") }
        XCTAssertThrowsError(try TaskCatalog(folder: dir.path + "/missing")) { XCTAssertTrue("\($0)".contains("task folder not found")) }
    }
}
