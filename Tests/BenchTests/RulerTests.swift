import XCTest
import Foundation
import Inference
import ModelTestSupport
import Bench

/// RULER's 13 tasks generated with the real model's tokenizer (benchmark-formats §2): prompt
/// structure, sizing, determinism, depths; files from RULER's prepare.py; RULER's scorers.
final class RulerTests: XCTestCase {
    var catalog: TaskCatalog!
    var tokenizer: Tokenizer!
    var haystack: String!

    override func setUpWithError() throws {
        catalog = try TaskCatalog(folder: TestModel.packageRoot.appendingPathComponent("tasks").path)
        tokenizer = try TestModel.require().tokenizer
        haystack = try TestModel.shared("data/haystack")
    }

    func request(_ lengths: [Int], samples: Int = 1, seed: Int = 42, data: String? = nil, rulerTask: String? = nil,
                 template: ChatTemplate? = nil) -> TaskRequest {
        TaskRequest(lengths: lengths, depths: nil, samplesPerCell: samples, seed: seed, limit: nil, dataPath: data, haystackPath: haystack,
                    chatTemplate: template, rulerTask: rulerTask)
    }

    func samples(_ task: String, _ request: TaskRequest) throws -> [Sample] {
        let made = try catalog.make(task, request: request, tokenizer: tokenizer)
        XCTAssertEqual(made.family, "ruler", task)
        return try made.plan().map { try made.makeSample($0) }
    }

    func count(_ needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

    /// The whole prompt and the tokens to generate fit the length, within `slack` tokens of it.
    func assertSized(_ sample: Sample, slack: Int, file: StaticString = #filePath, line: UInt = #line) {
        let total = sample.promptTokens!.count + sample.maxNewTokens
        XCTAssertLessThanOrEqual(total, sample.length, sample.id, file: file, line: line)
        XCTAssertGreaterThanOrEqual(total, sample.length - slack, "\(sample.id): \(total) of \(sample.length)", file: file, line: line)
        XCTAssertEqual(sample.promptTokens!, tokenizer.encode(sample.prompt, addSpecial: true, parseSpecial: false),
                       "\(sample.id): the tokens are the prompt's", file: file, line: line)
    }

    func testTheThirteenTasksHaveRULERsGeneratorsBudgetsAndMetrics() throws {
        let expected: [String: (generator: String, tokens: Int, metric: String)] = [
            "niah_single_1": ("niah", 128, "string_match_all"), "niah_single_2": ("niah", 128, "string_match_all"),
            "niah_single_3": ("niah", 128, "string_match_all"), "niah_multikey_1": ("niah", 128, "string_match_all"),
            "niah_multikey_2": ("niah", 128, "string_match_all"), "niah_multikey_3": ("niah", 128, "string_match_all"),
            "niah_multivalue": ("niah", 128, "string_match_all"), "niah_multiquery": ("niah", 128, "string_match_all"),
            "vt": ("variable_tracking", 30, "string_match_all"), "cwe": ("common_words_extraction", 120, "string_match_all"),
            "fwe": ("freq_words_extraction", 50, "string_match_all"), "qa_1": ("qa", 32, "string_match_part"), "qa_2": ("qa", 32, "string_match_part"),
        ]
        for (name, e) in expected {
            let file = try XCTUnwrap(catalog.files[name], name)
            XCTAssertEqual(file.generator, e.generator, name)
            let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file.path))) as? [String: Any])
            XCTAssertEqual(json["max_new_tokens"] as? Int, e.tokens, name)
            XCTAssertEqual(json["metric"] as? String, e.metric, name)
        }
        let suite = try catalog.make("ruler", request: request([1024]), tokenizer: tokenizer)
        let plan = try suite.plan()
        XCTAssertEqual(Set(plan.map { String($0.key.prefix { $0 != "/" }) }), Set(expected.keys).subtracting(["qa_1", "qa_2"]),
                       "ruler runs the 11 tasks that need no data")
        XCTAssertEqual(suite.family, "ruler")
        XCTAssertEqual(suite.parameters["niah_single_2.haystack"], haystack, "the essay text used is recorded")
        XCTAssertTrue(plan.allSatisfy { $0.promptTokens! == 1024 - $0.maxNewTokens }, "the runner is told prompt + generation fit the length")
    }

    func testNeedleTasksHoldTheirNeedlesAndFitTheLength() throws {
        // (task, needles in the prompt, answers asked, key kind, value pattern)
        let cases: [(String, Int, Int, String)] = [
            ("niah_single_1", 1, 1, #"^\d{7}$"#), ("niah_single_2", 1, 1, #"^\d{7}$"#),
            ("niah_single_3", 1, 1, #"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"#),
            ("niah_multikey_1", 4, 1, #"^\d{7}$"#), ("niah_multivalue", 4, 4, #"^\d{7}$"#), ("niah_multiquery", 4, 4, #"^\d{7}$"#),
        ]
        for length in [1024, 4096] {
            for (task, needles, asked, pattern) in cases {
                let sample = try samples(task, request([length]))[0]
                assertSized(sample, slack: length == 1024 ? 40 : length / 50)
                XCTAssertEqual(count("One of the special magic", in: sample.prompt), needles, "\(task) at \(length)")
                XCTAssertEqual(sample.answers.count, asked, task)
                for answer in sample.answers {
                    XCTAssertNotNil(answer.range(of: pattern, options: .regularExpression), "\(task): \(answer)")
                    XCTAssertTrue(sample.prompt.contains(" is: \(answer)."), "\(task): the needle with \(answer) is in the prompt")
                }
                if asked == 1 {
                    let type = task == "niah_single_3" ? "uuid" : "number"
                    XCTAssertTrue(sample.prompt.hasPrefix("A special magic \(type) is hidden within the following text."), task)
                    XCTAssertTrue(sample.prompt.contains("What is the special magic \(type) for "), task)
                    XCTAssertTrue(sample.answerPrefix.hasPrefix(" The special magic \(type) for ") && sample.answerPrefix.hasSuffix(" mentioned in the provided text is"),
                                  "\(task): singular grammar: \(sample.answerPrefix)")
                } else {
                    XCTAssertTrue(sample.prompt.hasPrefix("Some special magic numbers are hidden"), task)
                    XCTAssertTrue(sample.answerPrefix.hasSuffix(" mentioned in the provided text are"), task)
                }
                if task == "niah_multiquery" { XCTAssertEqual(count(", and ", in: sample.answerPrefix), 1, "four keys asked: \(sample.answerPrefix)") }
                // Word keys are adjective-noun pairs from the committed wonderwords lists.
                let key = sample.answerPrefix.components(separatedBy: " for ")[1].components(separatedBy: ",")[0].components(separatedBy: " mentioned")[0]
                XCTAssertTrue(key.contains("-") && sample.prompt.contains("for \(key) is: "), "\(task): key \(key)")
            }
        }
    }

    func testNoiseAndDistractorHaystacks() throws {
        let noise = try samples("niah_single_1", request([4096]))[0]
        let lines = noise.prompt.components(separatedBy: "\n")
        XCTAssertGreaterThan(lines.filter { $0 == "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again." }.count, 100)
        XCTAssertEqual(lines.filter { $0.hasPrefix("One of the special magic numbers for ") }.count, 1, "the needle is a line of its own")

        for task in ["niah_multikey_2", "niah_multikey_3"] {
            let sample = try samples(task, request([4096]))[0]
            assertSized(sample, slack: 4096 / 50)
            let needles = sample.prompt.components(separatedBy: "\n").filter { $0.hasPrefix("One of the special magic ") }
            XCTAssertGreaterThan(needles.count, 40, "\(task): every haystack line is a distractor needle")
            XCTAssertEqual(needles.filter { $0.hasSuffix("is: \(sample.answers[0]).") }.count, 1, task)
            if task == "niah_multikey_3" {
                XCTAssertTrue(needles.allSatisfy { $0.range(of: #"^One of the special magic uuids for [0-9a-f-]{36} is: [0-9a-f-]{36}\.$"#, options: .regularExpression) != nil })
            }
        }
    }

    func testSamplesAreDeterministicPerSeedAndEssayDepthsAreRULERs() throws {
        let a = try samples("niah_single_2", request([1024], samples: 8)), b = try samples("niah_single_2", request([1024], samples: 8))
        XCTAssertEqual(a.map(\.prompt), b.map(\.prompt))
        let other = try samples("niah_single_2", request([1024], samples: 8, seed: 43))
        XCTAssertNotEqual(a.map(\.answers), other.map(\.answers), "another seed, other needles")
        // np.round(np.linspace(0, 100, 40)), written out.
        let depths: Set<Double> = [0, 3, 5, 8, 10, 13, 15, 18, 21, 23, 26, 28, 31, 33, 36, 38, 41, 44, 46, 49, 51, 54, 56, 59, 62, 64, 67, 69, 72, 74,
                                   77, 79, 82, 85, 87, 90, 92, 95, 97, 100]
        XCTAssertEqual(depths.count, 40)
        for sample in a + other { XCTAssertTrue(depths.contains(try XCTUnwrap(sample.depth)), "\(sample.id): depth \(sample.depth!)") }
        XCTAssertGreaterThan(Set((a + other).map(\.depth)).count, 4, "depths are drawn per sample")
        // The needle sits between sentences of the essay text, roughly at its depth.
        for sample in a {
            let needle = try XCTUnwrap(sample.prompt.range(of: "One of the special magic numbers"))
            let before = sample.prompt[..<needle.lowerBound]
            XCTAssertTrue(before.hasSuffix("\n") || (before.hasSuffix(" ") && ".!?\"'’”)]".contains(before.dropLast().last!)), "\(sample.id): \(before.suffix(30))")
        }
    }

    func testVariableTrackingChainsAndTheExample() throws {
        for length in [1024, 4096] {
            let sample = try samples("vt", request([length]))[0]
            assertSized(sample, slack: length == 1024 ? 40 : length / 50)
            XCTAssertEqual(sample.answers.count, 5)
            XCTAssertTrue(sample.answers.allSatisfy { $0.range(of: "^[A-Z]{5}$", options: .regularExpression) != nil }, "\(sample.answers)")
            let lines = sample.prompt.components(separatedBy: "\n")
            let value = try XCTUnwrap(lines.first { $0.hasPrefix("VAR \(sample.answers[0]) = ") }).dropFirst("VAR \(sample.answers[0]) = ".count)
            XCTAssertNotNil(value.range(of: #"^\d{5}$"#, options: .regularExpression))
            for hop in 1..<5 { XCTAssertTrue(lines.contains("VAR \(sample.answers[hop]) = VAR \(sample.answers[hop - 1]) "), "hop \(hop)") }
            XCTAssertEqual(count("Memorize and track the chain(s)", in: sample.prompt), 2, "the worked example comes first")
            XCTAssertTrue(lines.contains { $0.range(of: #"^VAR [A-Z]{3} = \d{5}$"#, options: .regularExpression) != nil }, "the example's renamed chain")
            XCTAssertEqual(sample.answerPrefix, " Answer: According to the chain(s) of variable assignment in the text above, 5 variables are assigned the value \(value), they are: ")
        }
    }

    func testCommonWordsRepeatAsRULERs() throws {
        // Below 4k: 10 words 6 times, the example 10 × 3 + 10 × 1 long; from 4k: 30 times, the example 10 × 10 + 30 × 3.
        for (length, common, exampleSize) in [(1024, 6, 40), (4096, 30, 190)] {
            let sample = try samples("cwe", request([length]))[0]
            assertSized(sample, slack: length / 50)
            XCTAssertEqual(sample.answers.count, 10)
            let parts = sample.prompt.components(separatedBy: "Below is a numbered list of words.")
            XCTAssertEqual(parts.count, 3, "one worked example, then the task")
            XCTAssertTrue(parts[1].contains("Answer: The top 10 words that appear most often in the list are: 1. "), "the example is answered")
            XCTAssertTrue(parts[1].contains(" \(exampleSize). ") && !parts[1].contains(" \(exampleSize + 1). "), "the example's list has its size")
            let list = parts[2].components(separatedBy: "\nQuestion:")[0]
            let words = list.split(separator: " ").map(String.init)
            for answer in sample.answers where !answer.contains(" ") {
                XCTAssertEqual(words.filter { $0 == answer }.count, common, "\(answer) at \(length)")
            }
        }
    }

    func testFrequentWordsFollowZipf() throws {
        for length in [1024, 4096] {
            let sample = try samples("fwe", request([length]))[0]
            assertSized(sample, slack: length / 50)
            XCTAssertEqual(sample.answers.count, 3)
            let words = sample.prompt.components(separatedBy: "coded words. ")[1].components(separatedBy: "\nQuestion:")[0].split(separator: " ")
            let counts = sample.answers.map { a in words.filter { $0 == a }.count }
            let noise = words.filter { $0 == "..." }.count
            XCTAssertTrue(sample.answers.allSatisfy { $0.range(of: "^[a-z]{6}$", options: .regularExpression) != nil })
            XCTAssertTrue(noise > counts[0] && counts[0] >= counts[1] && counts[1] >= counts[2] && counts[2] > 0, "\(noise) \(counts)")
            // Rank k appears ⌊n k^-2 / ζ(2)⌋ times: rank 2 a quarter as often as rank 1.
            XCTAssertEqual(Double(counts[0]) / Double(noise), 0.25, accuracy: 0.02)
        }
    }

    /// Tiny files in SQuAD v2's and HotpotQA's public formats.
    func qaFiles() throws -> (squad: String, hotpot: String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmbench-qa-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        func paragraph(_ i: Int) -> [String: Any] {
            ["context": "Paragraph \(i) says the river town of Vell\(i) was founded by traders from the coast in the year 1\(i)00.",
             "qas": [["question": "Who founded Vell\(i)?", "answers": [["text": "traders from the coast"], ["text": "traders"]], "is_impossible": false],
                     ["question": "Why is Vell\(i) blue?", "answers": [], "is_impossible": true]]]
        }
        let squad: [String: Any] = ["version": "v2.0", "data": (0..<4).map { a in ["title": "T\(a)", "paragraphs": (0..<5).map { paragraph(a * 5 + $0) }] }]
        let hotpot: [[String: Any]] = (0..<3).map { q in
            ["_id": "h\(q)", "question": "Which band did member \(q) join?", "answer": "The Quiet \(q)", "type": "bridge", "level": "easy",
             "supporting_facts": [["Member \(q)", 0]],
             "context": (0..<4).map { d in ["Title \(q)-\(d)", ["Member \(q) played bass.", " In \(1990 + d) the member joined The Quiet \(q)."]] }]
        }
        let squadPath = dir.appendingPathComponent("dev-v2.0.json").path, hotpotPath = dir.appendingPathComponent("hotpot.json").path
        try JSONSerialization.data(withJSONObject: squad).write(to: URL(fileURLWithPath: squadPath))
        try JSONSerialization.data(withJSONObject: hotpot).write(to: URL(fileURLWithPath: hotpotPath))
        return (squadPath, hotpotPath)
    }

    func testQuestionAnsweringOverSQuADAndHotpotQA() throws {
        let (squad, hotpot) = try qaFiles()
        let squadSamples = try samples("qa_1", request([1024], samples: 3, data: squad))
        for (i, sample) in squadSamples.enumerated() {
            XCTAssertEqual(sample.answers, ["traders from the coast", "traders"], "answerable questions only, in file order")
            XCTAssertTrue(sample.prompt.contains("Question: Who founded Vell\(i)?"), sample.prompt.suffix(80).description)
            XCTAssertTrue(sample.prompt.contains("Vell\(i) was founded"), "the gold paragraph is among the documents")
            XCTAssertTrue(sample.prompt.contains("Document 1:\nParagraph "))
            XCTAssertEqual(sample.answerPrefix, " Answer:")
            XCTAssertEqual(sample.metric.name, "string_match_part")
            XCTAssertLessThanOrEqual(sample.promptTokens!.count + 32, 1024)
        }
        let hotpotSample = try samples("qa_2", request([1024], data: hotpot))[0]
        for d in 0..<4 { XCTAssertTrue(hotpotSample.prompt.contains("Title 0-\(d)\nMember 0 played bass. In \(1990 + d)"), "every context paragraph") }
        XCTAssertEqual(hotpotSample.answers, ["The Quiet 0"])
        XCTAssertThrowsError(try catalog.make("qa_1", request: request([1024]), tokenizer: tokenizer)) { error in
            XCTAssertTrue("\(error)".contains("--data FILE is required (a SQuAD v2 dev JSON file, e.g. dev-v2.0.json)"), "\(error)")
        }
        XCTAssertThrowsError(try catalog.make("qa_2", request: request([1024], data: squad), tokenizer: tokenizer)) { error in
            XCTAssertTrue("\(error)".contains("\(squad): not HotpotQA"), "\(error)")
        }
    }

    func testAChatTemplateWrapsTheTaskAndCountsInTheLength() throws {
        let gemma = try XCTUnwrap(ChatTemplates.named("gemma"))
        let sample = try samples("niah_single_1", request([1024], template: gemma))[0]
        XCTAssertLessThanOrEqual(sample.promptTokens!.count + 128, 1024)
        XCTAssertTrue(sample.prompt.hasPrefix("<start_of_turn>user\nA special magic number"), sample.prompt.prefix(60).description)
        XCTAssertTrue(sample.prompt.hasSuffix("<start_of_turn>model\n" + sample.answerPrefix), "the answer prefix follows the model's header")
    }

    /// Files in the layout RULER's prepare.py writes: `…/4096/data/TASK/validation.jsonl`.
    func testFilesFromRULERsPrepareAreLoadedAndScoredByTheirTask() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("lmbench-ruler-\(UUID().uuidString)")
        let folder = root.appendingPathComponent("4096/data/niah_multivalue")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let records: [[String: Any]] = [
            ["index": 0, "input": "Some special magic numbers are hidden ... What are all the special magic numbers for x?",
             "outputs": ["1111111", "2222222", "3333333", "4444444"], "length": 4001, "length_w_model_temp": 4001,
             "answer_prefix": " The special magic numbers for x mentioned in the provided text are", "token_position_answer": 17],
            ["index": 1, "input": "older file: no answer prefix", "outputs": ["5555555"], "length": 3990],
        ]
        try records.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }.joined(separator: "\n")
            .write(to: folder.appendingPathComponent("validation.jsonl"), atomically: true, encoding: .utf8)
        let task = try catalog.make("ruler", request: request([], data: root.appendingPathComponent("4096/data").path), tokenizer: tokenizer)
        XCTAssertEqual(task.family, "ruler")
        let planned = try task.plan()
        XCTAssertEqual(planned.map(\.length), [4096, 4096], "the length RULER's folder names")
        let sample = try task.makeSample(planned[0])
        XCTAssertEqual(sample.dataset, "niah_multivalue")
        XCTAssertEqual(sample.prompt, records[0]["input"] as! String + (records[0]["answer_prefix"] as! String))
        XCTAssertEqual(sample.maxNewTokens, 128)
        XCTAssertEqual(sample.score(" 1111111, 2222222 and 3333333.").score, 0.75)
        XCTAssertEqual(try task.makeSample(planned[1]).answerPrefix, "")

        // Another name needs --ruler-task; a length outside RULER's layout rounds up to a power of two.
        let odd = root.appendingPathComponent("predictions.jsonl")
        try "{\"index\": 3, \"input\": \"q\", \"outputs\": [\"a\"], \"length\": 3000}\n".write(to: odd, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try catalog.make("ruler", request: request([], data: odd.path), tokenizer: tokenizer)) { error in
            XCTAssertTrue("\(error)".contains("\(odd.path): cannot tell which RULER task it is"), "\(error)")
        }
        XCTAssertThrowsError(try catalog.make("ruler", request: request([], data: odd.path, rulerTask: "passkey"), tokenizer: tokenizer)) { error in
            XCTAssertTrue("\(error)".hasPrefix("--ruler-task: 'passkey' is not a RULER task (tasks: cwe, fwe, niah_multikey_1"), "\(error)")
        }
        let named = try catalog.make("ruler", request: request([], data: odd.path, rulerTask: "qa_1"), tokenizer: tokenizer)
        XCTAssertEqual(try named.plan()[0].length, 4096)
        XCTAssertEqual(try named.makeSample(try named.plan()[0]).metric.name, "string_match_part")
        // A task run with --data reads the file as that task.
        XCTAssertEqual(try catalog.make("cwe", request: request([], data: odd.path), tokenizer: tokenizer).plan()[0].key.prefix(4), "cwe/")

        try "{\"index\": 0, \"input\": \"q\", \"outputs\": [\"a\"], \"length\": 10}\n{\"index\": 1, \"input\": \"q\", \"length\": 10}\n"
            .write(to: odd, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try catalog.make("ruler", request: request([], data: odd.path, rulerTask: "vt"), tokenizer: tokenizer)) { error in
            XCTAssertEqual("\(error)", "\(odd.path):2: field 'outputs' must be a non-empty list of strings")
        }
        try "{\"index\": 0, \"input\": \"q\", \"outputs\": [\"a\"], \"length\": \"4k\"}\n".write(to: odd, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try catalog.make("ruler", request: request([], data: odd.path, rulerTask: "vt"), tokenizer: tokenizer)) { error in
            XCTAssertEqual("\(error)", "\(odd.path):1: field 'length' is a string, not an integer")
        }
    }

    func testStringMatchAllAndPartAsRULERsEvaluator() {
        let refs = ["1234567", "7654321", "1111111", "2222222"]
        let all = Metric.stringMatchAll.score("  The numbers are 1234567 and 7654321.\n", answers: refs)
        XCTAssertEqual(all.score, 0.5, "two of four values")
        XCTAssertEqual(all.figures["references_found"], 2)
        XCTAssertEqual(all.figures["null"], 0)
        XCTAssertEqual(Metric.stringMatchAll.score("ABUNDANT-Fountain", answers: ["abundant-fountain"]).score, 1, "case-insensitive")
        // A control character inside a value becomes a newline, so the value is no longer there.
        XCTAssertEqual(Metric.stringMatchAll.score("12345\u{1}67", answers: ["1234567"]).score, 0)
        XCTAssertEqual(Metrics.rulerPostprocess(" \u{1F}a\tb\r\nc\u{7} "), "a\nb\n\nc")
        let empty = Metric.stringMatchAll.score(" \u{0}\t\n ", answers: ["x"])
        XCTAssertEqual(empty.score, 0)
        XCTAssertEqual(empty.figures["null"], 1, "only control characters and spaces: an empty prediction")
        XCTAssertEqual(Metric.stringMatchPart.score("It was the traders.", answers: ["traders from the coast", "Traders"]).score, 1, "any one reference")
        XCTAssertEqual(Metric.stringMatchPart.score("fishermen", answers: ["traders from the coast", "traders"]).score, 0)
        XCTAssertEqual(Metric.stringMatchAll.score("cafe\u{301}", answers: ["cafe"]).score, 1, "code points, as Python's `in`")
    }
}
