import XCTest
import Bench
import Inference

final class GridTests: XCTestCase {
    func testLengths() throws {
        XCTAssertEqual(try LengthGrid.parse("4k..1M"), [4096, 8192, 16384, 32768, 65536, 131072, 262144, 524288, 1 << 20])
        XCTAssertEqual(try LengthGrid.parse("1k,3k,8k"), [1024, 3072, 8192])
        XCTAssertEqual(try LengthGrid.parse("4k..32k:+4k"), (1...8).map { $0 * 4096 })
        XCTAssertEqual(try LengthGrid.parse("1000..2500:+1000"), [1000, 2000, 2500])
        XCTAssertEqual(try LengthGrid.parse("512, 512,1k"), [512, 1024])
        for bad in ["", "4q", "0", "-1k", "8k..4k", "4k..32k:4k", "4k..", "2000M"] {
            XCTAssertThrowsError(try LengthGrid.parse(bad), bad) { XCTAssertTrue("\($0)".contains("--lengths")) }
        }
        // The step is named as the step, not as a length.
        XCTAssertThrowsError(try LengthGrid.parse("4k..1M:+0")) {
            XCTAssertEqual("\($0)", "--lengths: step '+0' in '4k..1M:+0' must be +N with N a length of 1 to 1024M tokens (e.g. 4k..32k:+4k)")
        }
        XCTAssertEqual(LengthGrid.label(4096), "4k")
        XCTAssertEqual(LengthGrid.label(1 << 20), "1M")
        XCTAssertEqual(LengthGrid.label(3000), "3000")
    }

    /// Grids are counted before they are made: these once allocated gigabytes before failing.
    func testGridsTooLargeAreRefusedBeforeTheyAreBuilt() throws {
        XCTAssertEqual(try LengthGrid.parse("1..10000:+1").count, LengthGrid.maximumPoints)
        XCTAssertEqual(try LengthGrid.parse("1..9999:+1,1M").count, LengthGrid.maximumPoints)
        for bad in ["1..1024M:+1", "1..10001:+1", "1..9999:+1,1M,2M", "1..10000:+1,4k..1M"] {
            XCTAssertThrowsError(try LengthGrid.parse(bad), bad) {
                XCTAssertTrue("\($0)".hasSuffix("makes more than the 10000 lengths a grid may hold"), "\($0)")
            }
        }
        XCTAssertEqual(try DepthGrid.parse("0..100/9999").count, 10_000)
        for bad in ["0..100/1000000000", "0..100/9223372036854775807", "0..100/10000", "0..100/9999,50.5"] {
            XCTAssertThrowsError(try DepthGrid.parse(bad), bad) {
                XCTAssertTrue("\($0)".hasSuffix("depths a grid may hold"), "\($0)")
            }
        }
    }

    /// Inputs FuzzGrids found: a parameter that overflowed `Int` once multiplied by its suffix
    /// (a trap), and text echoed raw into a message (NULs and newlines breaking the one line).
    func testFuzzFindingsAreOneLineErrors() throws {
        var p = StrategyParameters(["n_local": "9007199254740993k", "n_global": "-9223372036854775807k", "top_k": "2048M"], strategy: "lm-infinite")
        for (name, text) in [("n_local", "9007199254740993k"), ("n_global", "-9223372036854775807k"), ("top_k", "2048M")] {
            XCTAssertThrowsError(try p.int(name, default: 1)) {
                XCTAssertEqual("\($0)", "lm-infinite: parameter \(name) must be an integer from 0 to 1024M, not '\(text)'")
            }
        }
        var largest = StrategyParameters(["n_local": "1024M"], strategy: "lm-infinite")
        XCTAssertEqual(try largest.int("n_local", default: 1), 1 << 30)
        XCTAssertThrowsError(try LengthGrid.parse("4k..32k:+4\0\0k")) {
            XCTAssertEqual("\($0)", #"--lengths: step '+4\0\0k' in '4k..32k:+4\0\0k' must be +N with N a length of 1 to 1024M tokens (e.g. 4k..32k:+4k)"#)
        }
        func message(_ parse: () throws -> Any) -> String {
            do { return "parsed: \(try parse())" } catch { return "\(error)" }
        }
        for text in ["4k\n8k", "5\n0", "lm\n-infinite"] {
            for error in [message { try LengthGrid.parse(text) }, message { try DepthGrid.parse(text) },
                          message { try EngineKinds.kind(of: EngineSpec.parse(text)) }] {
                XCTAssertFalse(error.contains("\n"), "\(text.debugDescription): \(error)")
            }
        }
    }

    func testDepths() throws {
        XCTAssertEqual(try DepthGrid.parse("0..100/10"), stride(from: 0.0, through: 100, by: 10).map { $0 })
        XCTAssertEqual(try DepthGrid.parse("0,50,100"), [0, 50, 100])
        XCTAssertEqual(try DepthGrid.parse("25..75/2"), [25, 50, 75])
        // A fuzz finding: 0.1 + 99.9 rounds to 100.00000000000001, outside the depths' range.
        let steps = try DepthGrid.parse(".10..100/00192")
        XCTAssertEqual(steps.count, 193)
        XCTAssertEqual(steps.first, 0.1)
        XCTAssertEqual(steps.last, 100)
        XCTAssertTrue(steps.allSatisfy { (0.1...100).contains($0) }, "\(steps.filter { !(0.1...100).contains($0) })")
        for bad in ["101", "0..100", "0..100/0", "50..0/5", "x"] {
            XCTAssertThrowsError(try DepthGrid.parse(bad), bad) { XCTAssertTrue("\($0)".contains("--depths")) }
        }
    }

    func testEngineSpecs() throws {
        let specs = try EngineSpec.parseList("full,lm-infinite:n_local=4096:n_global=10")
        XCTAssertEqual(specs.map(\.name), ["full", "lm-infinite"])
        XCTAssertEqual(specs[1].parameters, ["n_local": "4096", "n_global": "10"])
        XCTAssertEqual(specs[1].label, "lm-infinite:n_local=4096:n_global=10")
        XCTAssertThrowsError(try EngineSpec.parseList("full,full"))
        XCTAssertThrowsError(try EngineSpec.parseList("lm-infinite:n_local"))
        XCTAssertThrowsError(try EngineSpec.parseList(",full"))
    }

    func testTruncationRules() {
        let tokens = (0..<10).map(Int32.init)
        func cut(_ rule: PromptTruncation.Rule, budget: Int?, head: Int, trained: Int = 100, maxNewTokens: Int = 0) -> (tokens: [Int32], truncated: Bool) {
            PromptTruncation(rule: rule, budget: budget, head: head, trainedContext: trained).apply(tokens, maxNewTokens: maxNewTokens)
        }
        XCTAssertEqual(cut(.middle, budget: 6, head: 0).tokens, [0, 1, 2, 7, 8, 9])
        XCTAssertEqual(cut(.suffix, budget: 6, head: 2).tokens, [0, 1, 6, 7, 8, 9])
        let untouched = cut(.middle, budget: 10, head: 0)
        XCTAssertEqual(untouched.tokens, tokens)
        XCTAssertFalse(untouched.truncated)
        // Without a budget of its own: the trained context less the generation budget (LongBench).
        XCTAssertEqual(cut(.middle, budget: nil, head: 0, trained: 12, maxNewTokens: 4).tokens, [0, 1, 2, 3, 6, 7, 8, 9])
        let policy = PromptTruncation(rule: .middle, budget: nil, head: 0, trainedContext: 12)
        XCTAssertEqual(policy.keptTokens(10, maxNewTokens: 4), 8)
        XCTAssertEqual(policy.keptTokens(5, maxNewTokens: 4), 5)
        XCTAssertEqual(policy.parameters, ["rule": "middle", "head": "0", "budget": "12 - max_new_tokens"])
        XCTAssertEqual(WholePrompt().apply(tokens, maxNewTokens: 4).tokens, tokens)
        // Every engine name has one kind, and a name of none is a one-line error.
        XCTAssertEqual(EngineKinds.engineNames, ["full", "infllm", "lm-infinite", "openai", "streaming-llm", "truncation"])
        XCTAssertThrowsError(try EngineKinds.kind(of: EngineSpec.parse("warp"))) {
            XCTAssertEqual("\($0)", "--engines: unknown engine 'warp' (engines: full, infllm, lm-infinite, openai, streaming-llm, truncation)")
        }
    }

    func testTemplatesFillInOnePass() {
        XCTAssertEqual(fillTemplate("Q: {input} {{x}} C: {context}", ["input": "{context}", "context": "c"]), "Q: {context} {x} C: c")
        XCTAssertEqual(fillTemplate("{unknown}", [:]), "{unknown}")
    }

    func testSeededRandomIsStable() {
        var a = SeededRandom(seed: 42, [4096, 1])
        var b = SeededRandom(seed: 42, [4096, 1])
        var c = SeededRandom(seed: 42, [4096, 2])
        let x = (0..<4).map { _ in a.next() }
        XCTAssertEqual(x, (0..<4).map { _ in b.next() })
        XCTAssertNotEqual(x, (0..<4).map { _ in c.next() })
    }
}
