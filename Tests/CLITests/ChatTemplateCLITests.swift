import XCTest
import Foundation
import Results
import GGUFTestSupport

/// `--chat-template` on `lmbench run` and `lmbench generate`: one-line errors for unknown names,
/// the run row and report naming the template, and a prompt rendered by lmbench giving the same
/// ids as the same prompt written out with `--special` (the check against llama.cpp's rendering).
extension CLITests {
    func testUnknownChatTemplatesAreOneLineUsageErrors() throws {
        let dir = try makeTemporaryDirectory("chat-errors")
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("c.sqlite").path
        let run = try lmbench(["run", "passkey", "--chat-template", "nonsense", "--db", db])
        assertOneLineError(run, status: 2, contains: "--chat-template: unknown template 'nonsense' (auto, none, chatml, ")
        XCTAssertTrue(run.stderr.contains("gemma") && run.stderr.contains("llama3"), run.stderr)
        assertOneLineError(try lmbench(["generate", "--prompt", "x", "--chat-template", "chatml2"]), status: 2,
                           contains: "unknown template 'chatml2'")
        XCTAssertTrue(try lmbench(["run", "--help"]).stdout.contains("--chat-template"))
        XCTAssertTrue(try lmbench(["generate", "--help"]).stdout.contains("--chat-template"))
    }

    func testARunStoresAndReportsItsChatTemplate() throws {
        try requireModel()
        let dir = try makeTemporaryDirectory("chat-run")
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("c.sqlite").path
        let run = try lmbench(["run", "passkey", "--lengths", "256", "--samples", "1", "--chat-template", "gemma", "--db", db])
        XCTAssertEqual(run.status, 0, run.stderr)
        let raw = try lmbench(["run", "passkey", "--lengths", "256", "--samples", "1", "--db", db])
        XCTAssertEqual(raw.status, 0, raw.stderr)
        let store = try ResultsStore(path: db)
        XCTAssertEqual(try store.run(id: 1).chatTemplate, "gemma")
        XCTAssertEqual(try store.run(id: 1).taskParameters["chat_template"], "gemma")
        XCTAssertEqual(try store.run(id: 2).chatTemplate, "none", "auto on a model without a template")
        let samples = try store.samples(runIDs: [1])
        XCTAssertEqual(samples.map(\.status), [.ok], samples.first?.error ?? "")
        let report = try lmbench(["report", "--run", "1,2", "--db", db])
        XCTAssertTrue(report.stdout.contains("| chat template | gemma |"), report.stdout)
        XCTAssertTrue(report.stdout.contains("| chat template | none |"), report.stdout)
    }

    func testGenerateThroughATemplateMatchesThePromptWrittenOutWithSpecial() throws {
        try requireModel()
        func generate(_ arguments: [String]) throws -> [String: Any] {
            let run = try lmbench(["generate", "--model", CLITests.modelPath, "--max-new-tokens", "3", "--json", "--threads", "2"] + arguments)
            XCTAssertEqual(run.status, 0, run.stderr)
            return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        }
        let templated = try generate(["--chat-template", "gemma", "--prompt", "What is the capital of France?"])
        let written = try generate(["--special", "--prompt", "<start_of_turn>user\nWhat is the capital of France?<end_of_turn>\n<start_of_turn>model\n"])
        XCTAssertEqual(templated["chat_template"] as? String, "gemma")
        XCTAssertEqual(written["chat_template"] as? String, "none")
        XCTAssertEqual(templated["prompt_ids"] as? [Int], [2, 105, 2364, 107, 3689, 563, 506, 5279, 529, 7001, 236881, 106, 107, 105, 4368, 107])
        XCTAssertEqual(written["prompt_ids"] as? [Int], templated["prompt_ids"] as? [Int])
        XCTAssertEqual(written["ids"] as? [Int], templated["ids"] as? [Int])
        let plain = try generate(["--prompt", "<start_of_turn>user"])
        XCTAssertEqual(plain["prompt_ids"] as? [Int] == [2, 105, 2364], false, "without --special control-token text stays text")
    }
}
