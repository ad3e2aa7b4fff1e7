import XCTest
import ModelTestSupport
import Inference

final class TokenizerTests: XCTestCase {
    struct Fixture: Decodable {
        struct Case: Decodable {
            let text: String
            let add_bos: Bool
            let parse_special: Bool
            let ids: [Int32]
        }
        let cases: [Case]
    }

    func testEveryFixtureCaseMatchesLlamaCpp() throws {
        let tokenizer = try TestModel.require().tokenizer
        let fixture = try JSONDecoder().decode(Fixture.self, from: TestModel.fixture("tokenizer.json"))
        XCTAssertEqual(fixture.cases.count, 46)
        for c in fixture.cases {
            XCTAssertEqual(tokenizer.encode(c.text, addSpecial: c.add_bos, parseSpecial: c.parse_special), c.ids, "text: \(c.text.debugDescription)")
        }
    }

    func testDecodingRoundTripsFixtureTexts() throws {
        let tokenizer = try TestModel.require().tokenizer
        let fixture = try JSONDecoder().decode(Fixture.self, from: TestModel.fixture("tokenizer.json"))
        for c in fixture.cases where !c.parse_special {
            XCTAssertEqual(tokenizer.decode(c.ids, renderSpecial: false), c.text)
        }
    }

    func testSpecExamples() throws {
        let t = try TestModel.require().tokenizer
        // engine-spec §4.5
        XCTAssertEqual(t.encode("naïve café 東京 🙂", addSpecial: true, parseSpecial: false), [2, 1789, 238527, 560, 33443, 86459, 57235])
        XCTAssertEqual(t.encode("\u{0}\u{1}", addSpecial: true, parseSpecial: false), [2, 238, 249732])
        XCTAssertEqual(t.encode("<start_of_turn>user\nHi<end_of_turn>\n", addSpecial: true, parseSpecial: true), [2, 105, 2364, 107, 10979, 106, 107])
        XCTAssertEqual(t.decode([2, 105, 9259], renderSpecial: true), "<bos><start_of_turn>Hello")
        XCTAssertEqual(t.decode([2, 105, 9259], renderSpecial: false), "Hello")
        XCTAssertEqual(t.stopTokens, [1, 106])
        XCTAssertEqual(t.vocabularySize, 262_144)
    }

    /// Byte tokens of one multi-byte character decode only when joined.
    func testByteFallbackReassemblesUTF8() throws {
        let t = try TestModel.require().tokenizer
        let bytes = Array("€".utf8).map { Int32(238 + Int($0)) }  // <0xE2> <0x82> <0xAC>
        XCTAssertEqual(t.decode(bytes, renderSpecial: false), "€")
    }

    func testLongTextTokenizesQuickly() throws {
        let t = try TestModel.require().tokenizer
        let line = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "
        let text = String(repeating: line, count: 2000) + "\n<b>x</b>"
        let ids = t.encode(text, addSpecial: true, parseSpecial: false)
        XCTAssertGreaterThan(ids.count, 2000 * 20)
        XCTAssertEqual(t.decode(ids, renderSpecial: false), text)
    }
}
