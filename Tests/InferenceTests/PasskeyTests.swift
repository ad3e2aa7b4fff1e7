import XCTest
import ModelTestSupport
import Inference

/// A 4k-token passkey prompt in LM-Infinite's format (benchmark-formats §4.3) is answered correctly
/// with full attention.
final class PasskeyTests: XCTestCase {
    static let prefix = "There is an important info hidden inside a lot of irrelevant text. Find it and memorize it. I will quiz you about the important information there."
    static let filler = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again."

    /// prefix + filler×k + key sentence + filler×(N−k), joined by single spaces, where N fills the
    /// token budget, followed by the question.
    static func prompt(key: Int, budget: Int, depth: Double, tokenizer: Tokenizer) -> String {
        func count(_ s: String) -> Int { tokenizer.encode(s, addSpecial: false, parseSpecial: false).count }
        let keySentence = "The pass key is \(key). Remember it. \(key) is the pass key."
        let n = (budget - count(keySentence) - count(prefix)) / count(filler)
        let k = Int((Double(n) * depth).rounded())
        let haystack = [prefix] + Array(repeating: filler, count: k) + [keySentence] + Array(repeating: filler, count: n - k)
        return haystack.joined(separator: " ") + " What is the pass key? The pass key is "
    }

    func testKeyInTheMiddleOfFourThousandTokens() throws {
        let loaded = try TestModel.require()
        let key = 6_011_988
        let tokens = loaded.tokenizer.encode(Self.prompt(key: key, budget: 4096, depth: 0.5, tokenizer: loaded.tokenizer),
                                             addSpecial: true, parseSpecial: false)
        XCTAssertGreaterThan(tokens.count, 4000)
        XCTAssertLessThan(tokens.count, 4200)
        let result = try Generator(loaded).generate(GenerationRequest(promptTokens: tokens, maxNewTokens: 7))
        let firstInteger = result.text.split(whereSeparator: { !$0.isNumber }).first.map(String.init)
        XCTAssertEqual(firstInteger, String(key), "answer: \(result.text.debugDescription)")
        // Sliding-window layers hold a fixed ring; the three global layers hold every position.
        XCTAssertGreaterThan(result.attentionStateBytes, 3 * 2 * tokens.count * 256 * 2)
    }
}
