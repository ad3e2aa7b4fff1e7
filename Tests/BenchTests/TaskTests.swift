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

    /// A LongBench record of `dataset` whose context is `words` words.
    func longBenchFile(_ records: [(dataset: String, words: Int, length: Int?)]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lmbench-lb-\(UUID().uuidString).jsonl").path
        let lines = try records.enumerated().map { i, r -> String in
            var object: [String: Any] = ["input": "q?", "context": Array(repeating: "word", count: r.words).joined(separator: " \n "),
                                         "answers": ["a"], "dataset": r.dataset, "_id": "id\(i)", "all_classes": ["a", "b"]]
            if let length = r.length { object["length"] = length }
            return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        }
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testEveryTaskFileLoadsAndTheLongBenchSetIsComplete() throws {
        let data = try longBenchFile([("samsum", 5, nil), ("trec", 5, nil)])
        defer { try? FileManager.default.removeItem(atPath: data) }
        for dataset in ["qasper", "narrativeqa", "multifieldqa_en", "hotpotqa", "2wikimqa", "musique", "gov_report", "qmsum",
                        "multi_news", "trec", "triviaqa", "samsum", "passage_count", "passage_retrieval_en", "lcc", "repobench-p"] {
            XCTAssertEqual(catalog.files[dataset]?.generator, "longbench", dataset)
        }
        XCTAssertTrue(catalog.names.contains("passkey") && catalog.names.contains("needle") && catalog.names.contains("longbench"))
        XCTAssertFalse(catalog.names.contains("nightly"), "suites are not tasks")
        let ruler: Set<String> = ["ruler", "niah", "variable_tracking", "common_words_extraction", "freq_words_extraction", "qa"]
        XCTAssertEqual(Set(TaskGenerators.names), Set(["passkey", "needle", "longbench", "kv_retrieval", "jsonl", "perplexity"]).union(ruler))
        // Every task file's generator, and every metric it names, is registered (RULER's: RulerTests).
        // (The jsonl tasks map other files' fields: JSONLTaskTests; perplexity reads a text: PerplexityTaskTests.)
        for name in catalog.names where (catalog.files[name]?.generator != "longbench" || name == "longbench")
            && !ruler.contains(catalog.files[name]!.generator) && !["jsonl", "perplexity"].contains(catalog.files[name]!.generator) {
            XCTAssertNoThrow(try catalog.make(name, request: request([4096], data: data)), name)
        }
        let task = try catalog.make("longbench", request: request([], data: data))
        let samsum = try task.makeSample(try task.plan()[0]), trec = try task.makeSample(try task.plan()[1])
        XCTAssertEqual(samsum.stopStrings, ["\n"], "samsum stops at a newline, found in the decoded text")
        XCTAssertTrue(samsum.firstLineOnly)
        XCTAssertEqual(trec.metric.name, "classification")
        XCTAssertEqual(trec.metric.kind, .proportion)
        XCTAssertEqual(trec.allClasses, ["a", "b"])
        XCTAssertEqual(trec.maxNewTokens, 64)
        XCTAssertEqual(try catalog.make("gov_report", request: request([], data: try longBenchFile([("gov_report", 3, 3)]))).family, "longbench")
    }

    func testALongBenchRecordWithoutLengthIsMeasuredInItsWords() throws {
        let data = try longBenchFile([("qasper", 5000, nil), ("qasper", 12, 60)])
        defer { try? FileManager.default.removeItem(atPath: data) }
        let task = try catalog.make("qasper", request: request([], data: data))
        XCTAssertEqual(task.family, "longbench")
        let planned = try task.plan()
        XCTAssertEqual(planned.map(\.length), [5000, 60], "the context's words when `length` is absent, else `length`")
        XCTAssertEqual(planned.map(\.lengthUnit), [.words, .words])
        XCTAssertEqual(planned.map(\.promptTokens), [nil, nil], "a word count is not a token count")
        XCTAssertEqual(planned.map(\.maxNewTokens), [128, 128])
        let sample = try task.makeSample(planned[0])
        XCTAssertEqual(sample.length, 5000)
        XCTAssertEqual(sample.lengthUnit, .words)
    }

    func testPasskeyPromptsAreSizedInModelTokensAndDeterministic() throws {
        let task = try catalog.make("passkey", request: request([1024, 4096], samples: 2), tokenizer: tokenizer)
        let planned = try task.plan()
        XCTAssertEqual(planned.count, 4)
        XCTAssertEqual(Set(planned.map(\.key)).count, 4)
        for p in planned {
            let sample = try task.makeSample(p)
            let tokens = try XCTUnwrap(sample.promptTokens)
            XCTAssertLessThanOrEqual(tokens.count, p.length)
            XCTAssertGreaterThan(tokens.count, p.length - 30, "one filler sentence of slack at most")
            XCTAssertEqual(p.promptTokens, p.length)
            XCTAssertEqual(p.maxNewTokens, 7)
            XCTAssertEqual(tokens.first, tokenizer.bosID)
            let key = sample.answers[0]
            XCTAssertTrue(sample.prompt.contains("The pass key is \(key). Remember it. \(key) is the pass key."))
            XCTAssertTrue(sample.prompt.hasSuffix("What is the pass key? The pass key is "))
            // The ids say what the text says.
            XCTAssertEqual(tokenizer.decode(tokens, renderSpecial: false), sample.prompt)
            XCTAssertEqual(sample.score(" \(key). Remember").score, 1)
            XCTAssertEqual(sample.score(" 17").score, 0)
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

    func testKVRetrievalPromptsAreSizedInModelTokensAndAskAKeyOfTheObject() throws {
        let task = try catalog.make("kv_retrieval", request: request([1024, 4096], depths: [0, 50, 100]))
        XCTAssertEqual(task.family, "kv_retrieval")
        for p in try task.plan() {
            let sample = try task.makeSample(p)
            let tokens = try XCTUnwrap(sample.promptTokens)
            XCTAssertLessThanOrEqual(tokens.count, p.length)
            XCTAssertGreaterThan(tokens.count, p.length - 80, "one pair and one question of slack at most")
            XCTAssertEqual(tokenizer.decode(tokens, renderSpecial: false), sample.prompt, "the ids say what the text says")
            XCTAssertTrue(sample.prompt.hasPrefix("Extract the value corresponding to the specified key in the JSON object below.\n\nJSON data:\n{\""))
            // The JSON object parses, and the asked key maps to the expected value at the asked depth.
            let object = try XCTUnwrap(sample.prompt.range(of: "{").map { sample.prompt[$0.lowerBound...] }?.prefix { $0 != "}" })
            let pairs = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data((object + "}").utf8)) as? [String: String])
            let key = try XCTUnwrap(sample.prompt.components(separatedBy: "Key: \"").last?.prefix(36))
            XCTAssertEqual(pairs[String(key)], sample.answers[0])
            XCTAssertTrue(sample.prompt.hasSuffix("\"\nThe value associated with the specified key is: "))
            let order = object.components(separatedBy: "\": \"").count - 1
            XCTAssertEqual(order, pairs.count)
            XCTAssertEqual(sample.score("The value is \"\(sample.answers[0])\".").score, 1)
            XCTAssertEqual(sample.score(String(sample.answers[0].dropLast())).score, 0)
            XCTAssertEqual(try task.makeSample(p).promptTokens, tokens, "same seed, same sample")
        }
        let depths = try task.plan().prefix(3).map { try task.makeSample($0).depth }
        XCTAssertEqual(depths, [0, 50, 100].map(Optional.some), "the asked pair sits at the grid's depth")
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
            XCTAssertEqual(sample.score("eat a sandwich in dolores park.").score, 1)
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

    /// The generated haystack is new text to any length: at 1M tokens no stretch of it comes back
    /// (the first version cycled every 2^18 tokens), and every depth of a cell sees the same text.
    func testGeneratedHaystackDoesNotRepeatAtOneMillionTokens() throws {
        let length = 1 << 20
        let tokens = Haystack.generated(seed: 7, [length, 0], tokens: length, tokenizer: tokenizer)
        XCTAssertEqual(tokens.count, length)
        var windows = Set<[Int32]>()
        for start in stride(from: 0, to: length - 64, by: 4096) {
            XCTAssertTrue(windows.insert(Array(tokens[start..<start + 64])).inserted, "the text at token \(start) came before")
        }
        XCTAssertEqual(windows.count, length / 4096)
        let task = try catalog.make("needle", request: request([2048], depths: [0, 100]))
        let samples = try task.plan().map { try task.makeSample($0) }
        let needle = "\nThe best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day.\n"
        XCTAssertEqual(samples[0].prompt.replacingOccurrences(of: needle, with: ""), samples[1].prompt.replacingOccurrences(of: needle, with: ""))
    }

    func testLongBenchLoadsTheRealFileAndScoresWithRougeL() throws {
        let data = try TestModel.shared("data/longbench/multi_news.jsonl")
        let task = try catalog.make("longbench", request: request([], data: data, limit: 3), tokenizer: tokenizer)
        let planned = try task.plan()
        XCTAssertEqual(planned.count, 3)
        let sample = try task.makeSample(planned[0])
        XCTAssertEqual(sample.dataset, "multi_news")
        XCTAssertEqual(sample.maxNewTokens, 512)
        XCTAssertEqual(sample.metric.name, "rouge_l")
        XCTAssertEqual(sample.metric.kind, .continuous)
        XCTAssertTrue(sample.prompt.hasPrefix("You are given several news passages. Write a one-page summary of all news. \n\nNews:\nPassage 1:"))
        XCTAssertTrue(sample.prompt.hasSuffix("\n\nNow, write a one-page summary of all the news.\n\nSummary:"))
        XCTAssertEqual(sample.lengthUnit, .words)
        XCTAssertEqual(sample.score(sample.answers[0]).score, 2 / (2 + 1e-8), accuracy: 1e-9)
        XCTAssertEqual(sample.score("").score, 0)
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
        let record = #"{"input": "q?", "context": "four words of context", "answers": ["a"], "dataset": "qasper""#
        let cases: [(String, String)] = [
            ("{not json", ":2: not valid JSON ("),
            // FuzzLongBench: Foundation's description of this error quotes the NULs it stopped at.
            ("{\"input\\ud8\u{0}\u{0}\u{0}\"}", ":2: not valid JSON ('Invalid "),
            ("[1, 2]", ":2: a list, not a JSON object"),
            (#"{"context": "c", "answers": ["a"]}"#, ":2: field 'dataset' is missing"),
            (#"{"context": "c", "answers": [], "dataset": "qasper"}"#, ":2: field 'answers' must be a non-empty list"),
            (#"{"context": "c", "answers": ["a", 7], "dataset": "qasper"}"#, ":2: field 'answers' has the number 7 at index 1, not a string"),
            (#"{"context": "c", "answers": ["a"], "dataset": "klingon"}"#, ":2: no task definition for dataset 'klingon'"),
            (#"{"context": "c", "answers": ["a"], "dataset": "kling\non"}"#, #":2: no task definition for dataset 'kling\non'"#),
            (#"{"context": 5, "answers": ["a"], "dataset": "qasper"}"#, ":2: field 'context' is the number 5, not a string"),
            (#"{"context": "c", "answers": ["a"], "dataset": "trec", "all_classes": "abc"}"#, ":2: field 'all_classes' is a string, not a list of strings"),
            (#"{"context": "c", "answers": ["a"], "dataset": "qasper", "_id": 12}"#, ":2: field '_id' is the number 12, not a string"),
            // LongBench's `length` counts words: an integer no larger than the record's characters
            // (once trapped on overflow, stored huge, or wrapped to -2^63).
            (record + #", "length": 9223372036854775807}"#, ":2: field 'length' is 9223372036854775807, not in 0…24 ("),
            (record + #", "length": 50000000}"#, ":2: field 'length' is 50000000, not in 0…24 ("),
            (record + #", "length": -1}"#, ":2: field 'length' is -1, not in 0…24 ("),
            (record + #", "length": 1e300}"#, ":2: field 'length' is the number 1e+300, not an integer"),
            (record + #", "length": 2.5}"#, ":2: field 'length' is the number 2.5, not an integer"),
            (record + #", "length": "100"}"#, ":2: field 'length' is a string, not an integer"),
            (record + #", "length": true}"#, ":2: field 'length' is true, not an integer"),
        ]
        func write(_ line: [UInt8], _ i: Int) throws -> String {
            let file = dir.appendingPathComponent("case\(i).jsonl").path
            try Data(Array((good + "\n").utf8) + line + [10]).write(to: URL(fileURLWithPath: file))
            return file
        }
        let invalidUTF8 = try write(Array(#"{"context": "caf"#.utf8) + [0xE9] + Array(#"", "answers": ["a"], "dataset": "qasper"}"#.utf8), -1)
        XCTAssertThrowsError(try catalog.make("longbench", request: request([], data: invalidUTF8), tokenizer: tokenizer)) {
            XCTAssertEqual("\($0)", invalidUTF8 + ":2: byte 17 of the line is not UTF-8 (JSON text must be)")
        }
        for (i, (line, expected)) in cases.enumerated() {
            let file = try write(Array(line.utf8), i)
            XCTAssertThrowsError(try catalog.make("longbench", request: request([], data: file), tokenizer: tokenizer)) {
                XCTAssertTrue("\($0)".hasPrefix(file + expected), "\($0)")
                XCTAssertFalse("\($0)".contains { $0.isNewline || $0 == "\0" }, "one line: \("\($0)".debugDescription)")
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
        let passkey = try String(contentsOf: TestModel.packageRoot.appendingPathComponent("tasks/passkey.json"), encoding: .utf8)
        func write(_ text: String) throws { try text.write(toFile: dir.path + "/bad.json", atomically: true, encoding: .utf8) }
        try write(#"{"description": "no generator"}"#)
        XCTAssertThrowsError(try TaskCatalog(folder: dir.path)) { XCTAssertEqual("\($0)", "\(dir.path)/bad.json: missing field 'generator'") }
        // The generator decodes its own fields: its errors come when the task is made.
        try write(#"{"generator": "passkey", "max_new_tokens": 7}"#)
        XCTAssertThrowsError(try TaskCatalog(folder: dir.path).make("bad", request: request([1024]), tokenizer: tokenizer)) {
            XCTAssertEqual("\($0)", "\(dir.path)/bad.json: missing field 'prefix'")
        }
        try write(passkey.replacingOccurrences(of: "\"first_integer\"", with: "\"vibes\""))
        XCTAssertThrowsError(try TaskCatalog(folder: dir.path).make("bad", request: request([1024]), tokenizer: tokenizer)) {
            XCTAssertTrue("\($0)".hasPrefix("\(dir.path)/bad.json: unknown metric 'vibes' (metrics: first_integer, contains_all"), "\($0)")
        }
        try write(#"{"generator": "ruler9000"}"#)
        XCTAssertThrowsError(try TaskCatalog(folder: dir.path).make("bad", request: request([1024]), tokenizer: tokenizer)) {
            XCTAssertEqual("\($0)", "\(dir.path)/bad.json: unknown generator 'ruler9000' (generators: passkey, needle, longbench, kv_retrieval, ruler, niah, variable_tracking, common_words_extraction, freq_words_extraction, qa, jsonl, perplexity)")
        }
        XCTAssertThrowsError(try TaskCatalog(folder: dir.path + "/missing")) { XCTAssertTrue("\($0)".contains("task folder not found")) }
    }
}

extension TaskCatalog {
    /// A task for the real model's tokenizer.
    func make(_ name: String, request: TaskRequest) throws -> BenchmarkTask {
        try make(name, request: request, tokenizer: try TestModel.require().tokenizer)
    }
}
