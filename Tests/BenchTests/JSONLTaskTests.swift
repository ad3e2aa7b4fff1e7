import XCTest
import Inference
import ModelTestSupport
import Results
import StoreTestSupport
@testable import Bench

/// The `jsonl` generator: a task file mapping a JSONL file's fields onto a template and a metric,
/// LongBench v2 and InfiniteBench as task files on it, middle truncation, and bad lines.
final class JSONLTaskTests: XCTestCase {
    var tokenizer: Tokenizer!
    var dir: URL!

    override func setUpWithError() throws {
        tokenizer = try TestModel.require().tokenizer
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmbench-jsonl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// The project's own tasks/ folder.
    var catalog: TaskCatalog { get throws { try TaskCatalog(folder: TestModel.packageRoot.appendingPathComponent("tasks").path) } }

    func request(_ data: String, limit: Int? = nil) -> TaskRequest {
        TaskRequest(lengths: [], depths: nil, samplesPerCell: 1, seed: 7, limit: limit, dataPath: data, haystackPath: nil)
    }

    /// `lines` written as a .jsonl file, objects serialised, strings as they are.
    func data(_ lines: [Any], name: String = "data.jsonl") throws -> String {
        let path = dir.appendingPathComponent(name).path
        let text = try lines.map { line -> String in
            if let raw = line as? String { return raw }
            return String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self)
        }
        try text.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A catalog of one task file, `tasks/NAME.json`, with `json` as its text.
    func catalog(_ name: String, _ json: String) throws -> TaskCatalog {
        let folder = dir.appendingPathComponent("tasks-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try json.write(to: folder.appendingPathComponent("\(name).json"), atomically: true, encoding: .utf8)
        return try TaskCatalog(folder: folder.path)
    }

    func samples(_ task: BenchmarkTask) throws -> [Sample] { try task.plan().map { try task.makeSample($0) } }

    // MARK: Metrics

    func testLongBenchV2ExtractsTheLetterWithAndWithoutParentheses() {
        XCTAssertEqual(Metrics.longBenchV2Answer("The correct answer is (B)."), "B")
        XCTAssertEqual(Metrics.longBenchV2Answer("Reasoning… The correct answer is C"), "C")
        // Asterisks go first, so Markdown bold still reads.
        XCTAssertEqual(Metrics.longBenchV2Answer("**The correct answer is (D)**"), "D")
        // The parenthesised form anywhere wins over an earlier bare one, as pred.py searches it first.
        XCTAssertEqual(Metrics.longBenchV2Answer("The correct answer is A, no: The correct answer is (C)"), "C")
        XCTAssertNil(Metrics.longBenchV2Answer("The correct answer is (E)"))
        XCTAssertNil(Metrics.longBenchV2Answer("the correct answer is (A)"), "case-sensitive, as upstream")
        XCTAssertEqual(Metric.longBenchV2Choice.score("The correct answer is (B)", answers: ["B"]).score, 1)
        XCTAssertEqual(Metric.longBenchV2Choice.score("The correct answer is B", answers: ["B"]).score, 1)
        XCTAssertEqual(Metric.longBenchV2Choice.score("The correct answer is (A)", answers: ["B"]).score, 0)
        XCTAssertEqual(Metric.longBenchV2Choice.score("B", answers: ["B"]).score, 0, "no statement, no answer")
    }

    func testInfiniteBenchOptionParsing() {
        let label = ["Walking Georgie", "A"]
        // Examples from InfiniteBench's results/gpt4/preds_longbook_choice_eng.jsonl.
        XCTAssertTrue(Metrics.infiniteBenchChoice("A. Walking Georgie", label: label))
        XCTAssertFalse(Metrics.infiniteBenchChoice("B. Hall Farm", label: ["Snowfield", "C"]))
        XCTAssertTrue(Metrics.infiniteBenchChoice("  Walking Georgie\n", label: label), "the option's text as a whole")
        XCTAssertTrue(Metrics.infiniteBenchChoice("I think the answer is: A", label: label))
        XCTAssertFalse(Metrics.infiniteBenchChoice("I think the answer is: B", label: label))
        XCTAssertFalse(Metrics.infiniteBenchChoice("so the answer is", label: label), "a prefix ending the prediction")
        XCTAssertTrue(Metrics.infiniteBenchChoice("Probably A, since", label: label), "the first word that is a piece of ABCD")
        XCTAssertFalse(Metrics.infiniteBenchChoice("Probably AB", label: label), "'AB' is in 'ABCD' but is not the letter")
        XCTAssertFalse(Metrics.infiniteBenchChoice("", label: label))
        XCTAssertEqual(Metric.infiniteBenchChoice.score("A", answers: label).score, 1)

        // code_debug: "X." or "X:" at the start, else what follows the first answer prefix found.
        XCTAssertTrue(Metrics.infiniteBenchCodeDebug("B: it crashes", function: "repack_carchive", letter: "B"))
        XCTAssertFalse(Metrics.infiniteBenchCodeDebug("C. cmd_gen", function: "repack_carchive", letter: "B"))
        XCTAssertTrue(Metrics.infiniteBenchCodeDebug("The correct option is: `repack_carchive`", function: "repack_carchive", letter: "B"),
                      "'is:' is found, backticks became spaces, the name follows")
        XCTAssertFalse(Metrics.infiniteBenchCodeDebug("The bug is in repack_carchive", function: "repack_carchive", letter: "B"))
        XCTAssertEqual(Metric.infiniteBenchCodeDebug.score("B.", answers: ["f", "B"]).score, 1)
    }

    func testInfiniteBenchScorersWorkedByHand() {
        // ROUGE-Lsum: reference sentences [a b c], [d e]; prediction [a c], [d x]. LCS unions hit a, c
        // then d: recall 3/5, precision 3/4, F = 2/3.
        XCTAssertEqual(Metrics.rougeLsum("A c.\nd x", "a b c\nd e"), 2.0 / 3.0, accuracy: 1e-12)
        XCTAssertEqual(Metrics.rougeLsum("", "a b"), 0)
        XCTAssertEqual(Metric.rougeLsum.score("a b", answers: ["x y", "a b"]).score, 1, accuracy: 1e-12)
        // math_calc: the values repeated in order up to the first mistake.
        XCTAssertEqual(Metric.numberPrefix.score("[1, 4, 9, 8]", answers: ["1", "4", "8"]).score, 2.0 / 3.0, accuracy: 1e-12)
        XCTAssertEqual(Metric.numberPrefix.score("[-1, 4]", answers: ["-1", "4"]).score, 0, "digit runs carry no sign")
        // math_find: the first number, as an integer when the label is one.
        XCTAssertEqual(Metric.firstNumber.score("It is 88.", answers: ["88"]).score, 1)
        XCTAssertEqual(Metric.firstNumber.score("88.5", answers: ["88"]).score, 0)
        XCTAssertEqual(Metric.firstNumber.score("88.5", answers: ["88.5"]).score, 1)
        // code_run: the last word, after "." became a space.
        XCTAssertEqual(Metric.lastInteger.score("The value of func_1(2) is -4.", answers: ["-4"]).score, 1)
        XCTAssertEqual(Metric.lastInteger.score("It is 4 or maybe five", answers: ["4"]).score, 0)
        // longdialogue_qa_eng: only the first label counts, against upper-cased words.
        XCTAssertEqual(Metric.uppercaseWords.score("Ace Rothstein", answers: ["ACE", "ACE ROTHSTEIN"]).score, 1)
        XCTAssertEqual(Metric.uppercaseWords.score("Remo", answers: ["GAGGI", "REMO"]).score, 0)
    }

    // MARK: Loading through task files

    func testAJSONLFileMappedByATaskFileIsPromptedAndScored() throws {
        let catalog = try catalog("trivia", #"""
        {"generator": "jsonl", "fields": {"context": "doc", "question": "q", "answers": "gold", "id": "key", "length": "n"},
         "template": "Read {context}\n{{not a field}} Q: {question} ({source})", "answer_prefix": "A:", "max_new_tokens": 9,
         "metric": "qa_f1", "groups": [{"field": "n", "bounds": [3, 10]}]}
        """#)
        let path = try data([
            ["doc": "alpha beta", "q": "which?", "gold": ["Alpha", "a"], "key": 17, "n": 2, "source": "wiki"],
            "",
            ["doc": "gamma", "q": "what?", "gold": "Gamma ray", "key": "k2", "n": 12, "source": 3],
        ])
        let task = try catalog.make("trivia", request: request(path), tokenizer: tokenizer)
        XCTAssertEqual(task.family, "jsonl")
        let planned = try task.plan()
        XCTAssertEqual(planned.map(\.key), ["trivia/17/1", "trivia/k2/3"], "keys from the id field and the line")
        XCTAssertEqual(planned.map(\.length), [2, 12])
        let s = try samples(task)
        XCTAssertEqual(s[0].prompt, "Read alpha beta\n{not a field} Q: which? (wiki)A:", "roles, the record's own fields, {{ }} unescaped")
        XCTAssertEqual(s[1].prompt, "Read gamma\n{not a field} Q: what? (3)A:")
        XCTAssertEqual(s[0].promptTokens, tokenizer.encode(s[0].prompt, addSpecial: true, parseSpecial: false))
        XCTAssertEqual(s[0].answers, ["Alpha", "a"])
        XCTAssertEqual(s[1].answers, ["Gamma ray"])
        XCTAssertEqual(s[0].maxNewTokens, 9)
        XCTAssertEqual(s.map(\.dataset), ["trivia;n=<3", "trivia;n=10+"])
        XCTAssertEqual(s[0].score("alpha").score, 1)
        XCTAssertEqual(s[1].score("gamma").score, 2.0 / 3.0, accuracy: 1e-12)
        XCTAssertFalse(s[0].truncatedByTask)
        XCTAssertEqual(task.parameters["groups"], "n=<3|3-10|10+")
        XCTAssertEqual(task.parameters["fields"], "context=doc,question=q,answers=gold,id=key,length=n")
        XCTAssertEqual(try catalog.make("trivia", request: request(path, limit: 1), tokenizer: tokenizer).plan().count, 1, "--limit")
        XCTAssertThrowsError(try catalog.make("trivia", request: TaskRequest(lengths: [], depths: nil, samplesPerCell: 1, seed: 7, limit: nil,
                                                                             dataPath: nil, haystackPath: nil), tokenizer: tokenizer)) {
            XCTAssertTrue("\($0)".contains("--data FILE is required"), "\($0)")
        }
    }

    func testLongBenchV2RecordsAreStrippedGroupedAndScoredOnTheLetter() throws {
        let record: [String: Any] = ["_id": "66f36490821e116aacb2cc22", "domain": "Single-Document QA", "sub_domain": "Financial",
                                     "difficulty": "hard", "length": "short", "question": " Which year? ", "choice_A": "1999 ",
                                     "choice_B": "2001", "choice_C": "2003", "choice_D": "\n2005", "answer": "B", "context": "\n The report.\n"]
        let path = try data([record])
        let task = try catalog.make("longbench_v2", request: request(path), tokenizer: tokenizer)
        let sample = try task.makeSample(try task.plan()[0])
        XCTAssertEqual(sample.prompt, "Please read the following text and answer the question below.\n\n<text>\nThe report.\n</text>\n\n"
                       + "What is the correct answer to this question: Which year?\nChoices:\n(A) 1999\n(B) 2001\n(C) 2003\n(D) 2005\n\n"
                       + "Format your response as follows: \"The correct answer is (insert answer here)\".")
        XCTAssertEqual(sample.answers, ["B"])
        XCTAssertEqual(sample.dataset, "longbench_v2;difficulty=hard;length=short")
        XCTAssertEqual(sample.key, "longbench_v2/66f36490821e116aacb2cc22/1")
        XCTAssertEqual(sample.maxNewTokens, 128)
        XCTAssertEqual(sample.score("The correct answer is (B)").score, 1)
        XCTAssertEqual(sample.score("The correct answer is A").score, 0)
        XCTAssertEqual(task.parameters["groups"], "difficulty=easy|hard;length=short|medium|long")
        XCTAssertEqual(task.parameters["truncate_to"], "120000")
        let cot = try catalog.make("longbench_v2_cot", request: request(path), tokenizer: tokenizer)
        let cotSample = try cot.makeSample(try cot.plan()[0])
        XCTAssertTrue(cotSample.prompt.hasSuffix("(D) 2005\n\nLet’s think step by step:"))
        XCTAssertEqual(cotSample.maxNewTokens, 1024)
    }

    func testInfiniteBenchFilesLoadAsTheyAre() throws {
        let catalog = try catalog
        let book = try data([["id": 0, "context": "Once upon a time.", "input": "Who walked?", "answer": ["Walking Georgie"],
                              "options": ["Walking Georgie", "Hall Farm", "Snowfield", "Kindergarten"]]], name: "choice.jsonl")
        let choice = try samples(try catalog.make("infinitebench_longbook_choice_eng", request: request(book), tokenizer: tokenizer))[0]
        XCTAssertEqual(choice.answers, ["Walking Georgie", "A"], "get_answer: the option's text and its letter")
        XCTAssertTrue(choice.prompt.hasSuffix("Question: Who walked?\nA. Walking Georgie\nB. Hall Farm\nC. Snowfield\nD. Kindergarten\n\n"
                                              + "The letter of the correct answer is"))
        XCTAssertEqual(choice.score(" A").score, 1)
        XCTAssertEqual(choice.metric.name, "infinitebench_choice")

        let code = try data([["id": 3, "context": "def func_12(x):\n    return x - 1", "input": "What is func_12(-3)?", "answer": -4,
                              "options": []]], name: "run.jsonl")
        let run = try samples(try catalog.make("infinitebench_code_run", request: request(code), tokenizer: tokenizer))[0]
        XCTAssertEqual(run.prompt, "There is a function called func_12 in the following Python code.\n\ndef func_12(x):\n    return x - 1\n\n"
                       + "Please compute the exact value of func_12(-3). The value of func_12(-3) is")
        XCTAssertEqual(run.answers, ["-4"])
        XCTAssertEqual(run.score(" -4.").score, 1)

        let math = try data([["id": 1, "context": "[3, 88, 5]", "input": "What is The largest number of the list?", "answer": 88]],
                            name: "find.jsonl")
        let find = try samples(try catalog.make("infinitebench_math_find", request: request(math), tokenizer: tokenizer))[0]
        XCTAssertTrue(find.prompt.hasPrefix("What is the largest number in the following list?\n\n[3, 88, 5]\n\nWhat is The largest"))
        XCTAssertEqual(find.maxNewTokens, 3)

        // Every InfiniteBench task file names a registered metric and loads.
        for name in ["passkey", "number_string", "kv_retrieval", "longbook_sum_eng", "longbook_qa_eng", "longdialogue_qa_eng", "math_calc",
                     "code_debug"] {
            let file = try data([["id": 0, "context": "c", "input": "q", "answer": ["B", "A"], "options": ["a", "b", "c", "d"]]],
                                name: "\(name).jsonl")
            let sample = try samples(try catalog.make("infinitebench_\(name)", request: request(file), tokenizer: tokenizer))[0]
            XCTAssertEqual(catalog.files["infinitebench_\(name)"]?.generator, "jsonl")
            XCTAssertFalse(sample.prompt.contains("{"), "\(name): every placeholder filled")
        }
    }

    // MARK: Truncation

    func testOverLongPromptsAreCutInTheMiddleAndCounted() throws {
        let catalog = try catalog("long", #"""
        {"generator": "jsonl", "fields": {"context": "context", "question": "q", "answers": "a"},
         "template": "Start here. {context} Question: {question}", "max_new_tokens": 2, "metric": "first_integer", "truncate_to": 64}
        """#)
        let long = (1...200).map { "word\($0)" }.joined(separator: " ")
        let path = try data([["context": long, "q": "what is 7?", "a": "7"], ["context": "short", "q": "what is 7?", "a": "7"]])
        let task = try catalog.make("long", request: request(path), tokenizer: tokenizer)
        let whole = tokenizer.encode("Start here. \(long) Question: what is 7?", addSpecial: true, parseSpecial: false)
        XCTAssertGreaterThan(whole.count, 64)
        let s = try samples(task)
        XCTAssertTrue(s[0].truncatedByTask)
        XCTAssertEqual(s[0].promptTokens, Array(whole.prefix(32) + whole.suffix(32)), "the first and last halves, in the model's tokens")
        XCTAssertTrue(s[0].prompt.hasPrefix("Start here. word1 "))
        XCTAssertTrue(s[0].prompt.hasSuffix(" Question: what is 7?"))
        XCTAssertFalse(s[0].prompt.contains("word100 "))
        XCTAssertFalse(s[1].truncatedByTask, "a prompt within the budget is kept whole")
        XCTAssertEqual(s[1].promptTokens, tokenizer.encode("Start here. short Question: what is 7?", addSpecial: true, parseSpecial: false))
        // The store counts the task's truncation as the sample's, whatever engine ran it.
        let engine = try NativeEngine(try EngineSpec.parse("full"), generator: Generator(try TestModel.require()))
        let (store, dir) = try SyntheticStore.make()
        defer { try? FileManager.default.removeItem(at: dir) }
        let summary = try Runner(store: store).run(RunPlan(task: task, engines: [engine], record: SyntheticStore.runRecord(task: "long", engines: ["full"]),
                                                           timeLimit: nil))
        let stored = try store.samples(runIDs: [summary.runID])
        XCTAssertEqual(stored.first { $0.promptTokens == 64 }?.truncated, true)
        XCTAssertEqual(stored.first { $0.promptTokens != 64 }?.truncated, false)
    }

    // MARK: Errors

    func testBadLinesAndBadTaskFilesAreOneLineErrorsNamingTheFileLineAndField() throws {
        let v2 = try catalog
        let good: [String: Any] = ["_id": "x", "difficulty": "easy", "length": "long", "question": "q", "choice_A": "a", "choice_B": "b",
                                   "choice_C": "c", "choice_D": "d", "answer": "A", "context": "ctx"]
        func with(_ changes: [String: Any?]) -> [String: Any] {
            var r = good
            for (k, v) in changes { r[k] = v }
            return r
        }
        let cases: [(Any, String)] = [
            ("{\"_id\": ", ":2: not valid JSON ("),
            (with(["question": nil]), ":2: field 'question' (the question) is missing"),
            (with(["answer": "E"]), ":2: the answer 'E' is not one choice letter (A, B, C, D)"),
            (with(["difficulty": "medium"]), ":2: field 'difficulty' is 'medium', not one of the task file's values (easy, hard)"),
            (with(["choice_C": ["c"]]), ":2: field 'choice_C' is a list, not a string or a number"),
            (with(["context": 12]), ":2: field 'context' is the number 12, not a string"),
        ]
        for (i, (line, expected)) in cases.enumerated() {
            let path = try data([good, line], name: "bad\(i).jsonl")
            XCTAssertThrowsError(try v2.make("longbench_v2", request: request(path), tokenizer: tokenizer)) {
                XCTAssertTrue("\($0)".hasPrefix(path + expected), "\($0)")
                XCTAssertFalse("\($0)".contains { $0.isNewline }, "one line: \("\($0)".debugDescription)")
            }
        }
        let options = try data([["id": 0, "context": "c", "input": "q", "answer": "Elsewhere", "options": ["a", "b", "c", "d"]]], name: "mc.jsonl")
        XCTAssertThrowsError(try v2.make("infinitebench_longbook_choice_eng", request: request(options), tokenizer: tokenizer)) {
            XCTAssertEqual("\($0)", options + ":1: the answer 'Elsewhere' is not the text of one of the choices")
        }
        let code = try data([["id": 0, "context": "c", "input": "no call here", "answer": 1]], name: "run.jsonl")
        XCTAssertThrowsError(try v2.make("infinitebench_code_run", request: request(code), tokenizer: tokenizer)) {
            XCTAssertTrue("\($0)".hasPrefix(code + ":1: 'input' does not match the pattern of 'func_call'"), "\($0)")
        }
        let typo = try catalog("typo", #"{"generator": "jsonl", "fields": {"context": "c", "answers": "a"}, "template": "{contxt}", "max_new_tokens": 1, "metric": "qa_f1"}"#)
        let plain = try data([["c": "x", "a": "y"]], name: "plain.jsonl")
        XCTAssertThrowsError(try typo.make("typo", request: request(plain), tokenizer: tokenizer)) {
            XCTAssertEqual("\($0)", plain + ":1: the template's {contxt} has no value (it is not a role or a string or number field of the record)")
        }
        let fileCases: [(String, String)] = [
            (#""answer_format": "letter""#, "field 'answer_format' letter needs 'fields.choices'"),
            (#""answer_format": "roman""#, "field 'answer_format' has a bad value"),
            (#""derived": [{"name": "d", "from": "c", "pattern": "("}]"#, "field 'derived[0].pattern' is not a valid regular expression: '('"),
            (#""truncate_to": 1"#, "field 'truncate_to' is 1, not at least 2"),
            (#""groups": [{"field": "n", "bounds": [5, 5]}]"#, "field 'groups[0].bounds' must be a non-empty list of increasing integers"),
        ]
        for (i, (field, expected)) in fileCases.enumerated() {
            let bad = try catalog("bad\(i)", #"{"generator": "jsonl", "fields": {"context": "c", "answers": "a"}, "max_new_tokens": 1, "metric": "qa_f1", "#
                                  + field + "}")
            XCTAssertThrowsError(try bad.make("bad\(i)", request: request(plain), tokenizer: tokenizer)) {
                XCTAssertTrue("\($0)".hasPrefix(bad.files["bad\(i)"]!.path + ": " + expected), "\($0)")
            }
        }
    }
}
