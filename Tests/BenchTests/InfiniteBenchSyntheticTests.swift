import XCTest
import Inference
import ModelTestSupport
import Bench

/// InfiniteBench's passkey and number_string generated at any length (the passkey generator with
/// InfiniteBench's texts): newline-ended filler lines, digit keys, sized in the model's tokens.
final class InfiniteBenchSyntheticTests: XCTestCase {
    var catalog: TaskCatalog!
    var tokenizer: Tokenizer!

    override func setUpWithError() throws {
        catalog = try TaskCatalog(folder: TestModel.packageRoot.appendingPathComponent("tasks").path)
        tokenizer = try TestModel.require().tokenizer
    }

    func samples(_ task: String, lengths: [Int], depths: [Double]) throws -> [(planned: PlannedSample, sample: Sample)] {
        let request = TaskRequest(lengths: lengths, depths: depths, samplesPerCell: 2, seed: 7, limit: nil, dataPath: nil, haystackPath: nil)
        let made = try catalog.make(task, request: request, tokenizer: tokenizer)
        return try made.plan().map { ($0, try made.makeSample($0)) }
    }

    /// What both tasks share: exact sizing, ids that say what the text says, the key line where the
    /// depth puts it, scoring by the first run of digits (leading zeros kept).
    func check(_ task: String, keySentence: (String) -> String, question: String, answerPrefix: String,
               key isValid: (String) -> Bool) throws -> [String] {
        var keys: [String] = []
        for (p, sample) in try samples(task, lengths: [1024, 2048], depths: [0, 50, 100]) {
            let tokens = try XCTUnwrap(sample.promptTokens)
            XCTAssertLessThanOrEqual(tokens.count, p.length)
            XCTAssertGreaterThan(tokens.count, p.length - 30, "one filler line of slack at most")
            XCTAssertEqual(tokenizer.decode(tokens, renderSpecial: false), sample.prompt)
            let key = sample.answers[0]
            XCTAssertTrue(isValid(key), "\(task): key \(key)")
            keys.append(key)
            XCTAssertTrue(sample.prompt.contains(keySentence(key)))
            XCTAssertTrue(sample.prompt.hasSuffix(".\n" + question + answerPrefix), String(sample.prompt.suffix(120)))
            let filler = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.\n"
            switch p.depth {
            case 0: XCTAssertTrue(sample.prompt.contains("\n\n" + keySentence(key) + filler), "depth 0: the key line comes first")
            case 100: XCTAssertTrue(sample.prompt.contains(filler + keySentence(key) + question), "depth 100: the key line comes last")
            default: XCTAssertTrue(sample.prompt.contains(filler + keySentence(key) + filler))
            }
            XCTAssertEqual(sample.score(" \(key). Remember it.").score, 1)
            XCTAssertEqual(sample.score(" \(key.dropFirst())").score, 0)
        }
        return keys
    }

    func testInfiniteBenchPasskeyHasFiveDigitKeysInNewlineEndedLines() throws {
        let keys = try check("passkey_infinitebench", keySentence: { "The pass key is \($0). Remember it. \($0) is the pass key.\n" },
                             question: "\n\nWhat is the pass key?", answerPrefix: "\n\nThe pass key is") {
            $0.count == 5 && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber)
        }
        XCTAssertGreaterThan(Set(keys).count, keys.count / 2, "keys are drawn per sample")
    }

    func testNumberStringKeysAreTenDigitsWithRepeatedDigits() throws {
        let keys = try check("number_string", keySentence: { "The sequence of digits is \($0). Remember it. \($0) is the sequence of digits.\n" },
                             question: "\n\nWhat is the sequence of digits?", answerPrefix: "\n\nThe sequence of digits is") { key in
            let digits = Array(key)
            // Each of the 5 insertions puts a digit beside a copy of itself.
            return digits.count == 10 && digits.allSatisfy { $0.isASCII && $0.isNumber } && zip(digits, digits.dropFirst()).contains { $0 == $1 }
        }
        XCTAssertGreaterThan(Set(keys).count, keys.count / 2)
    }
}
