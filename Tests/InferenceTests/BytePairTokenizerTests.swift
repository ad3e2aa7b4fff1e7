import Foundation
import XCTest
import GGUF
import GGUFTestSupport
import Inference
import ModelTestSupport

/// The byte-level BPE tokenizer (`tokenizer.ggml.model = "gpt2"`) against llama.cpp's ids for
/// SmolLM2 (llama-family-spec §5), its pre-tokenizer chains on their own, and its metadata checks
/// on small hand-written GGUF files.
final class BytePairTokenizerTests: XCTestCase {
    private struct Fixture: Decodable {
        struct Case: Decodable {
            let text: String
            let add_bos: Bool
            let parse_special: Bool
            let ids: [Int32]
        }
        let cases: [Case]
    }

    private static let smolLM2: Result<Tokenizer, Error> = Result {
        try TokenizerFactory.make(from: GGUFFile(path: try TestModel.requireSmolLM2Path()))
    }

    private func smolLM2() throws -> Tokenizer { try Self.smolLM2.get() }

    private func fixture() throws -> Fixture {
        try JSONDecoder().decode(Fixture.self, from: TestModel.fixture("smollm2-tokenizer.json"))
    }

    // MARK: - SmolLM2 against llama.cpp

    func testSmolLM2IsByteLevelBPE() throws {
        let t = try smolLM2()
        XCTAssertTrue(t is BytePairTokenizer)
        XCTAssertEqual((t as? BytePairTokenizer)?.preTokenizer.name, "smollm")
        XCTAssertEqual(t.vocabularySize, 49_152)
        XCTAssertEqual(t.bosID, 1)
        XCTAssertEqual(t.eosID, 2)
    }

    func testEveryFixtureCaseMatchesLlamaCpp() throws {
        let t = try smolLM2()
        let fixture = try fixture()
        XCTAssertEqual(fixture.cases.count, 16)
        for c in fixture.cases {
            XCTAssertEqual(t.encode(c.text, addSpecial: c.add_bos, parseSpecial: c.parse_special), c.ids,
                           "text: \(c.text.debugDescription)")
        }
    }

    func testDecodingRoundTripsEveryPlainFixtureText() throws {
        let t = try smolLM2()
        for c in try fixture().cases where !c.parse_special {
            XCTAssertEqual(t.decode(c.ids, renderSpecial: false), c.text)
        }
    }

    /// §5.3's merge traces end in these tokens.
    func testMergeTraces() throws {
        let t = try smolLM2()
        XCTAssertEqual(t.encode(" Hello", addSpecial: false, parseSpecial: false), [38699])
        XCTAssertEqual(t.encode(" world", addSpecial: false, parseSpecial: false), [905])
    }

    /// §5.6's table.
    func testWorkedExamples() throws {
        let t = try smolLM2()
        func ids(_ text: String, special: Bool = false) -> [Int32] { t.encode(text, addSpecial: true, parseSpecial: special) }
        XCTAssertEqual(ids("Hello world"), [19556, 905])
        XCTAssertEqual(ids(" Hello world"), [38699, 905])
        XCTAssertEqual(ids("The pass key is 71432."), [504, 1301, 1646, 314, 216, 39, 33, 36, 35, 34, 30])
        XCTAssertEqual(ids("It's isn't they're I'm"), [1589, 506, 3247, 982, 502, 2316, 339, 5248])
        XCTAssertEqual(ids("a  b\tc\n\nd  \n e"), [81, 216, 278, 197, 83, 198, 198, 84, 32057, 297])
        XCTAssertEqual(ids("def f(x):\n    return x * 2\n"), [1604, 275, 24, 104, 727, 472, 1003, 1792, 1672, 216, 34, 198])
        XCTAssertEqual(ids("Wait... what?!?!"), [33359, 2026, 732, 17593, 17593])
        XCTAssertEqual(ids("naïve café"), [3546, 46494, 37366])
        let chat = "<|im_start|>user\nHi<|im_end|>\n"
        XCTAssertEqual(ids(chat, special: true), [1, 4093, 198, 26843, 2, 198])
        XCTAssertEqual(ids(chat), [44, 108, 306, 79, 3738, 108, 46, 4093, 198, 26843, 44, 108, 306, 79, 486, 108, 46, 198])
        XCTAssertEqual(ids(""), [])
    }

    /// §5.2: byte 0x04 has no token, so llama.cpp emits nothing for it.
    func testByteWithoutTokenIsDropped() throws {
        let t = try smolLM2()
        let ids = t.encode("ctrl\u{04}char", addSpecial: false, parseSpecial: false)
        XCTAssertEqual(ids, t.encode("ctrl", addSpecial: false, parseSpecial: false) + t.encode("char", addSpecial: false, parseSpecial: false))
        XCTAssertEqual(t.decode(ids, renderSpecial: false), "ctrlchar")
    }

    /// §5.5: one character's bytes spread over three tokens decode only once joined.
    func testDecodingJoinsBytesBeforeUTF8() throws {
        let t = try smolLM2()
        XCTAssertEqual(t.decode([10813, 242, 218], renderSpecial: false), "😀")
        XCTAssertEqual(t.decodeBytes([10813], renderSpecial: false), [0xF0, 0x9F])
        XCTAssertEqual(t.decode([1, 19556, 2], renderSpecial: true), "<|im_start|>Hello<|im_end|>")
        XCTAssertEqual(t.decode([1, 19556, 2], renderSpecial: false), "Hello")
        // smollm has no clean_spaces: the space before punctuation stays.
        XCTAssertEqual(t.decode(t.encode("Hi , there !", addSpecial: false, parseSpecial: false), renderSpecial: false), "Hi , there !")
    }

    func testStopTokensAreLlamaCppsEndOfGenerationSet() throws {
        XCTAssertEqual(try smolLM2().stopTokens, [0, 2, 4])
    }

    /// SmolLM2 sets `add_bos_token` false, so adding special tokens adds nothing.
    func testAddSpecialAddsNothingForSmolLM2() throws {
        let t = try smolLM2()
        for text in ["Hello world", "", "<|im_start|>user"] {
            XCTAssertEqual(t.encode(text, addSpecial: true, parseSpecial: true), t.encode(text, addSpecial: false, parseSpecial: true))
        }
        XCTAssertEqual(t.encode("", addSpecial: true, parseSpecial: false), [])
    }

    /// The harness tokenizes haystacks of up to a million tokens.
    func testLongProseTokenizesAndRoundTrips() throws {
        let t = try smolLM2()
        let line = "The grass is green. The sky is blue, isn't it? Numbers like 1234 and 3.14159 appear too.\n"
        let text = String(repeating: line, count: 4000) + "<|im_end|>"
        let start = Date()
        let ids = t.encode(text, addSpecial: false, parseSpecial: true)
        let seconds = Date().timeIntervalSince(start)
        XCTAssertGreaterThan(ids.count, 4000 * 25)
        XCTAssertEqual(ids.last, 2)
        XCTAssertEqual(t.decode(ids, renderSpecial: true), text)
        print("BPE: \(text.utf8.count) bytes → \(ids.count) tokens in \(String(format: "%.3f", seconds)) s")
    }

    // MARK: - Pre-tokenizer chains (§5.4)

    private func words(_ pre: String?, _ text: String) throws -> [String] {
        try PreTokenizer(pre: pre, path: "test.gguf").words(in: text)
    }

    func testSmolLMIsolatesEveryDigit() throws {
        XCTAssertEqual(try words("smollm", "is 71432."), ["is", " ", "7", "1", "4", "3", "2", "."])
        XCTAssertEqual(try words("smollm", " 71432"), [" ", "7", "1", "4", "3", "2"])
        // \p{N} is any number category.
        XCTAssertEqual(try words("smollm", "x①½²"), ["x", "①", "½", "²"])
        XCTAssertEqual(try words("starcoder", "a1b"), ["a", "1", "b"])
    }

    func testGPT2Chain() throws {
        XCTAssertEqual(try words("gpt-2", " 71432 apples"), [" 71432", " apples"])
        // The whitespace rule: all but the last character of a run before a non-space.
        XCTAssertEqual(try words("gpt-2", "\n\nd"), ["\n", "\n", "d"])
        XCTAssertEqual(try words("gpt-2", "a  b"), ["a", " ", " b"])
        XCTAssertEqual(try words("gpt-2", "x  "), ["x", "  "])
        XCTAssertEqual(try words("gpt-2", "!!!\n\nWorld"), ["!!!", "\n", "\n", "World"])
        // Contractions are case-sensitive.
        XCTAssertEqual(try words("gpt-2", "it's I'M"), ["it", "'s", " I", "'", "M"])
        XCTAssertEqual(try words("gpt-2", "we'll they've"), ["we", "'ll", " they", "'ve"])
        // Non-ASCII whitespace from the \s set counts as whitespace, and only a plain space joins the word.
        XCTAssertEqual(try words("gpt-2", "a\u{3000}\u{3000}b"), ["a", "\u{3000}", "\u{3000}", "b"])
        XCTAssertEqual(try words("gpt-2", "a\u{3000} b"), ["a", "\u{3000}", " b"])
    }

    func testDefaultChain() throws {
        XCTAssertEqual(try words("default", "don't"), ["don", "'", "t"])
        XCTAssertEqual(try words("default", " [x"), [" ", "[", "x"])
        XCTAssertEqual(try words("default", "  (x)"), ["  ", "(", "x", ")"])
        XCTAssertEqual(try words("default", "1234567"), ["123", "456", "7"])
        XCTAssertEqual(try words("default", "a+=b"), ["a", "+=", "b"])
        // A missing `tokenizer.ggml.pre` means default.
        XCTAssertEqual(try words(nil, "don't"), ["don", "'", "t"])
        XCTAssertEqual(try PreTokenizer(pre: nil, path: "test.gguf").name, "default")
    }

    func testLlama3Chain() throws {
        for pre in ["llama3", "llama-v3", "llama-bpe"] {
            // Newlines glue onto punctuation; the BPE then makes `!!!` and `ĊĊ` of that piece.
            XCTAssertEqual(try words(pre, "!!!\n\nWorld"), ["!!!\n\n", "World"])
        }
        XCTAssertEqual(try words("llama3", "\r\n\r\n"), ["\r\n\r\n"])
        XCTAssertEqual(try words("llama3", "a \n\n b"), ["a", " \n\n", " b"])
        XCTAssertEqual(try words("llama3", "I'M we'LL"), ["I", "'M", " we", "'LL"])
        // One non-letter, non-number character may lead a word.
        XCTAssertEqual(try words("llama3", "$hello\tworld"), ["$hello", "\tworld"])
        XCTAssertEqual(try words("llama3", "1234567"), ["123", "456", "7"])
        XCTAssertEqual(try words("llama3", " 42"), [" ", "42"])
    }

    func testQwen2ChainTakesDigitsOneAtATime() throws {
        XCTAssertEqual(try words("qwen2", "x 1234"), ["x", " ", "1", "2", "3", "4"])
        XCTAssertEqual(try words("qwen2", "!!!\n\nWorld"), ["!!!\n\n", "World"])
    }

    func testUnknownPreTokenizerIsAnErrorNamingKeyAndValue() {
        XCTAssertThrowsError(try PreTokenizer(pre: "gpt-5", path: "m.gguf")) { error in
            let message = String(describing: error)
            XCTAssertTrue(message.contains("tokenizer.ggml.pre"), message)
            XCTAssertTrue(message.contains("'gpt-5'"), message)
        }
    }

    // MARK: - Small hand-written vocabularies

    /// A vocabulary of a few letters: `a b c ab bc abc`, the space `Ġ`, `?`, `'`, `s`, `Ġ'`, and
    /// the control tokens `<s>` (BOS) and `<|endoftext|>`.
    private static let tokens = ["a", "b", "c", "ab", "bc", "abc", "Ġ", "?", "'", "s", "Ġ'", "<s>", "<|endoftext|>"]
    private static let types: [Int32] = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3]

    private func makeTokenizer(_ overrides: [(String, GGUFWriter.Value)] = [], removing removed: [String] = []) throws -> Tokenizer {
        var keys: [(String, GGUFWriter.Value)] = [
            ("general.architecture", .string("llama")),
            ("tokenizer.ggml.model", .string("gpt2")),
            ("tokenizer.ggml.pre", .string("smollm")),
            ("tokenizer.ggml.tokens", .array(8, Self.tokens.map { .string($0) })),
            ("tokenizer.ggml.token_type", .array(5, Self.types.map { .i32($0) })),
            ("tokenizer.ggml.merges", .array(8, ["b c", "a b", "Ġ '"].map { .string($0) })),
            ("tokenizer.ggml.bos_token_id", .u32(11)),
            ("tokenizer.ggml.eos_token_id", .u32(12)),
        ]
        for (key, value) in overrides {
            keys.removeAll { $0.0 == key }
            keys.append((key, value))
        }
        var writer = GGUFWriter()
        for (key, value) in keys where !removed.contains(key) { writer.add(key, value) }
        let url = try makeTemporaryDirectory("bpe").appendingPathComponent("vocab.gguf")
        try writer.write(to: url)
        return try TokenizerFactory.make(from: GGUFFile(path: url.path))
    }

    private func assertBadMetadata(_ overrides: [(String, GGUFWriter.Value)], removing removed: [String] = [],
                                   naming key: String, line: UInt = #line) {
        XCTAssertThrowsError(try makeTokenizer(overrides, removing: removed), line: line) { error in
            XCTAssertTrue(String(describing: error).contains(key), "\(error)", line: line)
        }
    }

    func testMergesApplyLowestRankFirst() throws {
        let t = try makeTokenizer()
        // "b c" outranks "a b": abc → a, bc.
        XCTAssertEqual(t.encode("abc", addSpecial: false, parseSpecial: false), [0, 4])
        XCTAssertEqual(t.encode("ab", addSpecial: false, parseSpecial: false), [3])
        // Bytes without a token ("d") are dropped; the EOG set is eos plus <|endoftext|> by text.
        XCTAssertEqual(t.encode("adb", addSpecial: false, parseSpecial: false), [0, 1])
        XCTAssertEqual(t.stopTokens, [12])
    }

    func testLlama3IgnoresMergesAndAddsBOSByDefault() throws {
        let t = try makeTokenizer([("tokenizer.ggml.pre", .string("llama3"))])
        XCTAssertEqual(t.encode("abc", addSpecial: true, parseSpecial: false), [11, 5])
        XCTAssertEqual(t.encode("abc", addSpecial: false, parseSpecial: false), [5])
        let keyed = try makeTokenizer([("tokenizer.ggml.pre", .string("llama3")), ("tokenizer.ggml.add_bos_token", .bool(false))])
        XCTAssertEqual(keyed.encode("abc", addSpecial: true, parseSpecial: false), [5])
        let withEOS = try makeTokenizer([("tokenizer.ggml.add_eos_token", .bool(true))])
        XCTAssertEqual(withEOS.encode("ab", addSpecial: true, parseSpecial: false), [3, 12])
    }

    func testCleanSpacesOnlyWhereThePreTokenizerHasIt() throws {
        // Ġ ? = " ?", Ġ' s = " 's"
        let ids: [Int32] = [0, 6, 7, 10, 9]
        XCTAssertEqual(try makeTokenizer().decode(ids, renderSpecial: false), "a ? 's")
        XCTAssertEqual(try makeTokenizer([("tokenizer.ggml.pre", .string("gpt-2"))]).decode(ids, renderSpecial: false), "a?'s")
        // " ' " loses both spaces.
        XCTAssertEqual(try makeTokenizer([("tokenizer.ggml.pre", .string("default"))]).decode([0, 10, 6, 1], renderSpecial: false), "a'b")
    }

    func testBadMetadataIsAnErrorNamingTheKey() {
        assertBadMetadata([("tokenizer.ggml.merges", .array(8, [.string("a d")]))], naming: "tokenizer.ggml.merges")
        assertBadMetadata([("tokenizer.ggml.merges", .array(8, [.string("ab")]))], naming: "tokenizer.ggml.merges")
        // "c a" joins to "ca", which is not a token.
        assertBadMetadata([("tokenizer.ggml.merges", .array(8, [.string("c a")]))], naming: "tokenizer.ggml.merges")
        assertBadMetadata([("tokenizer.ggml.merges", .array(5, [.i32(1)]))], naming: "tokenizer.ggml.merges")
        assertBadMetadata([], removing: ["tokenizer.ggml.merges"], naming: "tokenizer.ggml.merges")
        assertBadMetadata([("tokenizer.ggml.tokens", .array(5, [.i32(1)]))], naming: "tokenizer.ggml.tokens")
        assertBadMetadata([("tokenizer.ggml.token_type", .array(8, [.string("normal")]))], naming: "tokenizer.ggml.token_type")
        assertBadMetadata([("tokenizer.ggml.token_type", .array(5, [.i32(1)]))], naming: "tokenizer.ggml.token_type")
        assertBadMetadata([("tokenizer.ggml.token_type", .array(5, Self.types.map { .i32($0 == 3 ? 9 : $0) }))], naming: "tokenizer.ggml.token_type")
        assertBadMetadata([("tokenizer.ggml.pre", .string("no-such-pre"))], naming: "tokenizer.ggml.pre")
        assertBadMetadata([("tokenizer.ggml.pre", .u32(2))], naming: "tokenizer.ggml.pre")
        assertBadMetadata([("tokenizer.ggml.bos_token_id", .u32(99))], naming: "tokenizer.ggml.bos_token_id")
        assertBadMetadata([("tokenizer.ggml.add_bos_token", .bool(true))], removing: ["tokenizer.ggml.bos_token_id"],
                          naming: "tokenizer.ggml.add_bos_token")
    }
}
