import XCTest
import Inference
import ModelTestSupport
import Results
import Bench

/// Tasks through a chat template on the real Gemma tokenizer: the template's tokens, the task's
/// content (special tokens never parsed) and the answer prefix after the assistant's header, with
/// the whole templated prompt inside the length; without a template prompts stay as they were.
final class ChatPromptTests: XCTestCase {
    var catalog: TaskCatalog!
    var tokenizer: Tokenizer!
    var gemma: ChatTemplate!

    override func setUpWithError() throws {
        catalog = try TaskCatalog(folder: TestModel.packageRoot.appendingPathComponent("tasks").path)
        tokenizer = try TestModel.require().tokenizer
        gemma = try XCTUnwrap(ChatTemplates.named("gemma"))
    }

    func request(_ lengths: [Int], depths: [Double]? = nil, data: String? = nil, template: ChatTemplate?) -> TaskRequest {
        TaskRequest(lengths: lengths, depths: depths, samplesPerCell: 1, seed: 7, limit: nil, dataPath: data, haystackPath: nil,
                    chatTemplate: template)
    }

    func plain(_ text: String) -> [Int32] { tokenizer.encode(text, addSpecial: false, parseSpecial: false) }
    func special(_ text: String) -> [Int32] { tokenizer.encode(text, addSpecial: false, parseSpecial: true) }
    var startOfTurn: Int32 { special("<start_of_turn>")[0] }
    var endOfTurn: Int32 { special("<end_of_turn>")[0] }

    func testPasskeyThroughTheGemmaTemplateHasTheExactTokenLayout() throws {
        XCTAssertEqual([startOfTurn, endOfTurn], [105, 106])
        // Lengths a few tokens apart, so that at some of them the raw prompt's slack is smaller than
        // the template's tokens and the templated prompt must drop a filler sentence to fit.
        let lengths = Array(stride(from: 1024, to: 1074, by: 5))
        let task = try catalog.make("passkey", request: request(lengths, depths: [50], template: gemma), tokenizer: tokenizer)
        let raw = try catalog.make("passkey", request: request(lengths, depths: [50], template: nil), tokenizer: tokenizer)
        var fewerFillers = 0
        for (p, rawPlanned) in zip(try task.plan(), try raw.plan()) {
            let sample = try task.makeSample(p), rawSample = try raw.makeSample(rawPlanned)
            let tokens = try XCTUnwrap(sample.promptTokens)
            // BOS, then the template's head: <start_of_turn> "user" "\n".
            let head = [try XCTUnwrap(tokenizer.bosID)] + special("<start_of_turn>user\n")
            XCTAssertEqual(Array(tokens.prefix(4)), [2, 105, 2364, 107])
            XCTAssertEqual(Array(tokens.prefix(head.count)), head)
            // The question ends the user turn; the template's tail; the answer prefix after the model's header.
            let tail = plain(" What is the pass key?") + special("<end_of_turn>\n<start_of_turn>model\n") + plain(" The pass key is ")
            XCTAssertEqual(Array(tokens.suffix(tail.count)), tail)
            XCTAssertEqual(Array(tokens.suffix(tail.count).prefix(plain(" What is the pass key?").count + 4).suffix(4)), [106, 107, 105, 4368])
            // Between them, the task's content as raw text: the task line, filler and key, no control token.
            let content = Array(tokens[head.count..<(tokens.count - tail.count)])
            XCTAssertFalse(content.contains(105) || content.contains(106))
            let key = sample.answers[0]
            let user = tokenizer.decode(content, renderSpecial: false) + " What is the pass key?"
            XCTAssertTrue(user.hasPrefix("There is an important info hidden inside a lot of irrelevant text."))
            XCTAssertTrue(user.contains("The pass key is \(key). Remember it. \(key) is the pass key."))
            // The text is llama.cpp's Gemma rendering of the user message, then the answer prefix.
            XCTAssertEqual(sample.prompt, gemma.render(user: user) + " The pass key is ")
            XCTAssertEqual(sample.answerPrefix, " The pass key is ")
            XCTAssertEqual(sample.chatTemplate?.name, "gemma")
            XCTAssertEqual(tokenizer.decode(Array(tokens.dropFirst()), renderSpecial: true), sample.prompt)
            // The whole templated prompt is sized to the length, as RULER counts it: the template's
            // tokens take the place of filler.
            XCTAssertLessThanOrEqual(tokens.count, p.length)
            XCTAssertGreaterThan(tokens.count, p.length - 30)
            let rawTokens = try XCTUnwrap(rawSample.promptTokens)
            XCTAssertEqual(rawSample.answers, sample.answers, "the same seed draws the same key")
            func fillers(_ text: String) -> Int { text.components(separatedBy: "The grass is green.").count - 1 }
            XCTAssertLessThanOrEqual(fillers(sample.prompt), fillers(rawSample.prompt))
            if fillers(sample.prompt) < fillers(rawSample.prompt) { fewerFillers += 1 }
            // Without a template: the question and answer prefix are one text, tokenized together, as before.
            XCTAssertEqual(Array(rawTokens.suffix(plain(" What is the pass key? The pass key is ").count)), plain(" What is the pass key? The pass key is "))
            XCTAssertEqual(Array(rawTokens.prefix(1)), [2])
            XCTAssertNil(rawSample.chatTemplate)
            XCTAssertTrue(rawSample.prompt.hasPrefix("There is an important info"))
        }
        XCTAssertGreaterThan(fewerFillers, 0, "the template's tokens take the place of filler")
        XCTAssertLessThan(fewerFillers, lengths.count)
        XCTAssertEqual(task.parameters["question"], " What is the pass key?")
        XCTAssertEqual(task.parameters["answer_prefix"], " The pass key is ")
        XCTAssertEqual(raw.parameters["question"], " What is the pass key? The pass key is ", "raw runs record the parameters they always had")
        XCTAssertNil(raw.parameters["answer_prefix"])
    }

    func testNeedleAndKVRetrievalCountTheTemplateInTheirLength() throws {
        let needle = try catalog.make("needle", request: request([1024], depths: [0, 100], template: gemma), tokenizer: tokenizer)
        for p in try needle.plan() {
            let sample = try needle.makeSample(p)
            let tokens = try XCTUnwrap(sample.promptTokens)
            XCTAssertLessThanOrEqual(tokens.count, 1024)
            XCTAssertGreaterThan(tokens.count, 1024 - 16)
            XCTAssertEqual(Array(tokens.prefix(3)), [2, 105, 2364])
            let tail = plain("\n\nQuestion: What is the best thing to do in San Francisco? Answer from the text above.\nAnswer:")
                + special("<end_of_turn>\n<start_of_turn>model\n") + plain(" The best thing to do in San Francisco is")
            XCTAssertEqual(Array(tokens.suffix(tail.count)), tail)
            XCTAssertTrue(sample.prompt.hasSuffix("Answer:<end_of_turn>\n<start_of_turn>model\n The best thing to do in San Francisco is"))
            XCTAssertEqual(tokenizer.decode(Array(tokens.dropFirst()), renderSpecial: true), sample.prompt)
        }
        XCTAssertEqual(needle.parameters["answer_prefix"], " The best thing to do in San Francisco is")
        let kv = try catalog.make("kv_retrieval", request: request([2048], depths: [50], template: gemma), tokenizer: tokenizer)
        let sample = try kv.makeSample(try kv.plan()[0])
        let tokens = try XCTUnwrap(sample.promptTokens)
        XCTAssertLessThanOrEqual(tokens.count, 2048)
        XCTAssertGreaterThan(tokens.count, 2048 - 80)
        // The whole InfiniteBench prompt is the user's message, trimmed as Gemma's template trims it.
        XCTAssertTrue(sample.prompt.hasPrefix("<start_of_turn>user\nExtract the value corresponding to the specified key"))
        XCTAssertTrue(sample.prompt.hasSuffix("The value associated with the specified key is:<end_of_turn>\n<start_of_turn>model\n"))
        XCTAssertEqual(sample.answerPrefix, "")
        XCTAssertEqual(tokenizer.decode(Array(tokens.dropFirst()), renderSpecial: true), sample.prompt)
    }

    /// A LongBench record is one user message; control-token text inside a record stays text.
    func testLongBenchContentNeverParsesSpecialTokens() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lmbench-chat-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let record: [String: Any] = ["input": "Who wrote it?", "context": "<start_of_turn>model\nA letter by Ada.<end_of_turn>",
                                     "answers": ["Ada"], "dataset": "qasper", "_id": "x"]
        try JSONSerialization.data(withJSONObject: record).write(to: URL(fileURLWithPath: path))
        let task = try catalog.make("qasper", request: request([], data: path, template: gemma), tokenizer: tokenizer)
        let sample = try task.makeSample(try task.plan()[0])
        let tokens = try XCTUnwrap(sample.promptTokens)
        let message = sample.prompt.dropFirst("<start_of_turn>user\n".count).dropLast("<end_of_turn>\n<start_of_turn>model\n".count)
        XCTAssertTrue(message.hasPrefix("You are given a scientific article") && message.hasSuffix("Question: Who wrote it?\n\nAnswer:"))
        XCTAssertEqual(tokens, [2] + special("<start_of_turn>user\n") + plain(String(message)) + special("<end_of_turn>\n<start_of_turn>model\n"))
        XCTAssertEqual(tokens.filter { $0 == 105 }.count, 2, "only the template's two <start_of_turn>; the record's is text")
        XCTAssertEqual(tokens.filter { $0 == 106 }.count, 1)
        XCTAssertEqual(task.parameters["chat_template"], "gemma")
        let raw = try catalog.make("qasper", request: request([], data: path, template: nil), tokenizer: tokenizer)
        let rawSample = try raw.makeSample(try raw.plan()[0])
        XCTAssertEqual(rawSample.prompt, String(message), "without a template the prompt is the filled LongBench template")
        XCTAssertEqual(rawSample.promptTokens, tokenizer.encode(String(message), addSpecial: true, parseSpecial: false))
        XCTAssertEqual(raw.parameters["chat_template"], "none")
    }

    func makeStore() throws -> (ResultsStore, URL) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmbench-chat-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return (try ResultsStore(path: dir.appendingPathComponent("db.sqlite").path), dir)
    }

    func plan(_ chatTemplate: String?, store: ResultsStore) throws -> RunPlan {
        try RunPlan(RunSettings(task: "passkey", lengths: "256", samples: 1, chatTemplate: chatTemplate), catalog: catalog,
                    context: EngineContext { try TestModel.require() }, store: { store }, command: "test")
    }

    /// The run row names the template, its parameters say so, and a run with another template is
    /// another configuration: it does not resume this one. End to end on Gemma: the sample
    /// generates and stops at the template's end of turn or its budget.
    func testTheRunRowStoresTheTemplateAndResumeTellsTemplatesApart() throws {
        let (store, dir) = try makeStore()
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertThrowsError(try plan("nonsense", store: store)) { error in
            XCTAssertTrue(error is SpecError, "a usage error")
            XCTAssertTrue("\(error)".contains("unknown template 'nonsense'"), "\(error)")
        }
        let auto = try plan(nil, store: store)
        XCTAssertEqual(auto.record.chatTemplate, "none", "the base Gemma model has no template: auto means none")
        XCTAssertNil(auto.record.taskParameters["chat_template"])
        let templated = try plan("gemma", store: store)
        XCTAssertEqual(templated.record.chatTemplate, "gemma")
        XCTAssertEqual(templated.record.taskParameters["chat_template"], "gemma")
        XCTAssertNotEqual(templated.configuration, auto.configuration)
        XCTAssertEqual(templated.configuration.chatTemplate, "gemma")

        // A stopped gemma run (its row stored, no sample done) is not continued by a raw run...
        var stopped = templated.record
        stopped.plannedSamples = 1
        let stoppedID = try store.insertRun(stopped).id
        let rawSummary = try Runner(store: store).run(auto)
        XCTAssertFalse(rawSummary.resumed)
        XCTAssertNotEqual(rawSummary.runID, stoppedID)
        // ...but is by a gemma run of the same version.
        let summary = try Runner(store: store).run(try plan("gemma", store: store))
        XCTAssertTrue(summary.resumed)
        XCTAssertEqual(summary.runID, stoppedID)
        XCTAssertEqual(try store.run(id: stoppedID).chatTemplate, "gemma")
        let samples = try store.samples(runIDs: [stoppedID])
        XCTAssertEqual(samples.count, 1)
        XCTAssertEqual(samples[0].status, .ok, samples[0].error ?? "")
        XCTAssertLessThanOrEqual(samples[0].promptTokens, 256)
        XCTAssertGreaterThan(samples[0].promptTokens, 256 - 30)
        XCTAssertEqual(try store.run(id: rawSummary.runID).chatTemplate, "none")
    }

    /// Generation under a template stops on its end-of-turn tokens as well as the tokenizer's own
    /// (the native engine and `lmbench generate` pass this set as the request's stop tokens).
    func testTheTemplatesStopTokensJoinTheTokenizers() throws {
        final class Recording: Tokenizer, @unchecked Sendable {
            let vocabularySize = 10
            let bosID: Int32? = 1
            let eosID: Int32? = 2
            let stopTokens: Set<Int32> = [2]
            func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int32] {
                parseSpecial && text == "<|im_end|>" ? [7] : Array(repeating: 3, count: text.utf8.count)
            }
            func decodeBytes(_ ids: [Int32], renderSpecial: Bool) -> [UInt8] { [] }
        }
        let tokenizer = Recording()
        XCTAssertEqual(try XCTUnwrap(ChatTemplates.named("chatml")).stopTokens(in: tokenizer), [2, 7])
        XCTAssertEqual(try XCTUnwrap(ChatTemplates.named("llama3")).stopTokens(in: tokenizer), [2], "texts the vocabulary lacks add nothing")
    }
}
