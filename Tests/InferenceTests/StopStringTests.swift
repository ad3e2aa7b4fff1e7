import XCTest
import ModelTestSupport
import Inference

/// Stop strings end generation on the decoded text, wherever the token boundaries fall.
final class StopStringTests: XCTestCase {
    /// 40 greedy tokens after `prompt`.
    static func generate(_ loaded: LoadedModel, _ prompt: String, stopStrings: [String] = []) throws -> GenerationResult {
        let tokens = loaded.tokenizer.encode(prompt, addSpecial: true, parseSpecial: false)
        return try Generator(loaded).generate(GenerationRequest(promptTokens: tokens, maxNewTokens: 40, stopStrings: stopStrings))
    }

    /// Byte offset where each new token's text starts, and the end of the last.
    static func tokenOffsets(_ result: GenerationResult, _ tokenizer: Tokenizer) -> [Int] {
        result.tokens.reduce(into: [0]) { offsets, token in
            offsets.append(offsets.last! + tokenizer.decodeBytes([token], renderSpecial: false).count)
        }
    }

    /// The text of `text` before the first occurrence of `stop`.
    static func prefix(of text: String, before stop: String) throws -> String {
        String(text[..<(try XCTUnwrap(text.range(of: stop), "\(stop.debugDescription) in \(text.debugDescription)")).lowerBound])
    }

    func testStopStringSpanningTokensCutsTheText() throws {
        let loaded = try TestModel.require()
        let prompt = "The history of the Roman Empire began"
        let free = try Self.generate(loaded, prompt)
        XCTAssertEqual(free.tokens.count, 40)
        XCTAssertEqual(free.stopReason, .maxTokens)
        let bytes = Array(free.text.utf8), offsets = Self.tokenOffsets(free, loaded.tokenizer)
        XCTAssertEqual(offsets.last, bytes.count)
        func isCharacterBoundary(_ offset: Int) -> Bool { bytes[offset] & 0xC0 != 0x80 }
        // From the second byte of token i to just after the second byte of token i + 2, both ends
        // strictly inside their tokens and on character boundaries, and its first occurrence in the text.
        func stopString(from i: Int) -> String? {
            let start = offsets[i] + 1, end = offsets[i + 2] + 2
            guard start < offsets[i + 1], end < offsets[i + 3], isCharacterBoundary(start), isCharacterBoundary(end) else { return nil }
            let stop = String(decoding: bytes[start..<end], as: UTF8.self)
            guard let found = free.text.range(of: stop),
                  free.text.utf8.distance(from: free.text.startIndex, to: found.lowerBound) == start else { return nil }
            return stop
        }
        let first = try XCTUnwrap((5..<(free.tokens.count - 3)).first { stopString(from: $0) != nil },
                                  "no fitting tokens in \(free.text.debugDescription)")
        let stop = try XCTUnwrap(stopString(from: first))

        let stopped = try Self.generate(loaded, prompt, stopStrings: [stop])
        XCTAssertEqual(stopped.stopReason, .stopString)
        XCTAssertEqual(stopped.text, try Self.prefix(of: free.text, before: stop), "stop string \(stop.debugDescription)")
        XCTAssertEqual(stopped.tokens, Array(free.tokens.prefix(first + 3)), "every token up to the one that completes the stop string")
        XCTAssertLessThan(stopped.tokens.count, free.tokens.count)
    }

    func testNewlineStopsAtTheFirstLineEnd() throws {
        let loaded = try TestModel.require()
        let prompt = "Three fruits that are red:\n1."
        let free = try Self.generate(loaded, prompt)
        let firstLine = try Self.prefix(of: free.text, before: "\n")
        XCTAssertFalse(firstLine.isEmpty, "the answer starts on the first line: \(free.text.debugDescription)")
        let stopped = try Self.generate(loaded, prompt, stopStrings: ["\n"])
        XCTAssertEqual(stopped.stopReason, .stopString)
        XCTAssertEqual(stopped.text, firstLine)
        XCTAssertEqual(stopped.tokens, Array(free.tokens.prefix(stopped.tokens.count)))
        // The last token is the one that brings the newline.
        XCTAssertFalse(loaded.tokenizer.decode(Array(stopped.tokens.dropLast()), renderSpecial: false).contains("\n"))
        XCTAssertTrue(loaded.tokenizer.decode(stopped.tokens, renderSpecial: false).hasPrefix(firstLine + "\n"))
        XCTAssertLessThan(stopped.tokens.count, free.tokens.count)
    }

    func testStopStringThatNeverOccursChangesNothing() throws {
        let loaded = try TestModel.require()
        let prompt = "The history of the Roman Empire began"
        let free = try Self.generate(loaded, prompt)
        let never = "§§ no such text ¶¶"
        XCTAssertNil(free.text.range(of: never))
        // An empty stop string is ignored rather than ending generation at once.
        let same = try Self.generate(loaded, prompt, stopStrings: [never, ""])
        XCTAssertEqual(same.tokens, free.tokens)
        XCTAssertEqual(same.text, free.text)
        XCTAssertEqual(same.stopReason, free.stopReason)
    }
}
