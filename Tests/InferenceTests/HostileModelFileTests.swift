import XCTest
import Foundation
import GGUF
import GGUFTestSupport
import Inference
import Kernels
import ModelTestSupport

/// Model files as an adversary writes them: thousands of corruptions of small complete models, and
/// the numbers and types that once crashed, ran away or were silently misread. Every file either
/// loads (and tokenizes) or is refused with a one-line error; none traps or hangs.
final class HostileModelFileTests: XCTestCase {
    /// A seeded generator (SplitMix64), so that a failing case can be replayed.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// What loading one file came to: `loaded`, or the error's type and case. Each file is a new
    /// one written with stdio: Foundation's writers fsync every file, and truncating a file written
    /// a moment ago makes ext4 flush it first, which would take most of the test's time.
    static func outcome(of bytes: [UInt8], at url: URL) throws -> (outcome: String, message: String?) {
        unlink(url.path)
        guard let file = fopen(url.path, "wb") else { throw TestSetupError("cannot write \(url.path)") }
        let written = fwrite(bytes, 1, bytes.count, file)
        guard fclose(file) == 0, written == bytes.count else { throw TestSetupError("cannot write \(url.path)") }
        do {
            let loaded = try LoadedModel(path: url.path, parallelism: Parallelism(threads: 1))
            let ids = loaded.tokenizer.encode("hello world\n<start_of_turn>", addSpecial: true, parseSpecial: true)
            _ = loaded.tokenizer.decode(ids, renderSpecial: true)
            return ("loaded", nil)
        } catch {
            let kind = Mirror(reflecting: error).children.first?.label.map { "\(type(of: error)).\($0)" } ?? "\(type(of: error))"
            return (kind, "\(error)")
        }
    }

    /// An error message as the CLI prints it: one line of readable length.
    func assertOneLine(_ message: String, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(message.contains(where: { $0.isNewline || $0 == "\0" }), "\(what): \(message.debugDescription)", file: file, line: line)
        XCTAssertLessThan(message.count, 600, "\(what): \(message.prefix(200))…", file: file, line: line)
    }

    /// Bit flips, byte values, overwritten numbers, cuts and shifts of each synthetic model's header
    /// (metadata and tensor directory), and truncations anywhere: 30,000 files in all.
    func testMutatedModelFilesLoadOrAreRefusedInOneLine() throws {
        let url = try makeTemporaryDirectory("mutated").appendingPathComponent("model.gguf")
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        let interesting: [UInt64] = [0, 1, 2, 15, 16, 0x7F, 0x80, 0xFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 1 << 39, 1 << 62,
                                     UInt64(Int64.max), UInt64(bitPattern: -1), UInt64(bitPattern: -16)]
        var random = SplitMix64(state: 15)
        var counts: [String: Int] = [:]
        var slowest = 0.0
        for architecture in SyntheticModel.Architecture.allCases {
            let original = SyntheticModel.gguf(architecture).bytes()
            XCTAssertEqual(try Self.outcome(of: original, at: url).outcome, "loaded", "\(architecture) loads unchanged")
            let header = try GGUFFile(path: url.path).dataStart
            for i in 0..<10_000 {
                var bytes = original
                let at = Int.random(in: 0..<header, using: &random)
                switch i % 6 {
                case 0:
                    for _ in 0..<Int.random(in: 1...3, using: &random) {
                        bytes[Int.random(in: 0..<header, using: &random)] ^= 1 << UInt8.random(in: 0..<8, using: &random)
                    }
                case 1:
                    bytes[at] = [0, 0xFF, 0x7F, 0x80, UInt8.random(in: 0...255, using: &random)].randomElement(using: &random)!
                case 2:
                    let value = interesting.randomElement(using: &random)!
                    let width = [4, 8].randomElement(using: &random)!
                    for k in 0..<min(width, bytes.count - at) { bytes[at + k] = UInt8(truncatingIfNeeded: value >> (8 * k)) }
                case 3:
                    bytes.removeSubrange(Int.random(in: 0...bytes.count, using: &random)...)
                case 4:
                    bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...16, using: &random)))
                default:
                    bytes.insert(contentsOf: bytes[at..<min(bytes.count, at + Int.random(in: 1...16, using: &random))], at: at)
                }
                let started = Date()
                let (outcome, message) = try Self.outcome(of: bytes, at: url)
                slowest = max(slowest, Date().timeIntervalSince(started))
                counts[outcome, default: 0] += 1
                if let message { assertOneLine(message, "\(architecture) mutation \(i)") }
            }
        }
        let total = counts.values.reduce(0, +)
        XCTAssertGreaterThanOrEqual(total, 10_000)
        XCTAssertLessThan(slowest, 2, "no file takes long to load or refuse")
        print("mutated GGUF files: \(total), slowest \(String(format: "%.3f", slowest)) s")
        for (outcome, n) in counts.sorted(by: { $0.value > $1.value }) { print("  \(n)\t\(outcome)") }
    }

    /// The numbers that once divided by zero, allocated without bound or wrapped, and metadata of
    /// the wrong type: each is an error naming its key (or tensor).
    func testImpossibleValuesAreErrorsNamingTheKey() throws {
        let url = try makeTemporaryDirectory("targeted").appendingPathComponent("model.gguf")
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        let g = "gemma3.", t = "tokenizer.ggml."
        let cases: [(String, GGUFWriter.Value)] = [
            (g + "attention.head_count", .u32(0)), (g + "attention.head_count_kv", .u32(0)), (g + "embedding_length", .u32(0)),
            (g + "block_count", .i64(-1)), (g + "context_length", .u32(0)), (g + "attention.key_length", .i32(-16)),
            (g + "rope.dimension_count", .i32(-2)), (g + "attention.sliding_window", .u32(0)),
            (g + "attention.layer_norm_rms_epsilon", .f32(.nan)), (g + "rope.freq_base", .f32(0)),
            (g + "rope.scaling.type", .u32(1)), (g + "final_logit_softcapping", .f32(-1)),
            (t + "bos_token_id", .bool(true)), (t + "bos_token_id", .u32(1 << 31)), (t + "eos_token_id", .i64(-1)),
            (t + "add_bos_token", .u8(1)), (t + "token_type", .array(5, [.i32(99)])), (t + "scores", .array(6, [.f32(0)])),
            (t + "tokens", .array(8, [])), (t + "model", .string("unigram\n\u{0}")), ("general.architecture", .string("gemma9")),
            ("general.alignment", .u32(3)),
        ]
        for (key, value) in cases {
            var w = SyntheticModel.gguf(.gemma3)
            w.metadata.removeAll { $0.0 == key }
            w.add(key, value)
            let (outcome, message) = try Self.outcome(of: w.bytes(), at: url)
            XCTAssertNotEqual(outcome, "loaded", key)
            XCTAssertTrue(message?.contains(key.replacingOccurrences(of: "general.", with: "")) == true, "\(key): \(message ?? "")")
            assertOneLine(message ?? "", key)
        }
        // Negative and wrapping tensor dimensions (the element count once wrapped to 0).
        for shape in [[-1, 16], [16, 262_144, 1 << 39, 1 << 39], [0, 16]] {
            var w = SyntheticModel.gguf(.gemma3)
            let i = try XCTUnwrap(w.tensors.firstIndex { $0.name == "token_embd.weight" })
            w.tensors[i].shape = shape
            let (outcome, message) = try Self.outcome(of: w.bytes(), at: url)
            XCTAssertEqual(outcome, "GGUFError.badTensorShape", "\(shape): \(message ?? "")")
            XCTAssertTrue(message?.contains("token_embd.weight") == true, message ?? "")
        }
    }

    /// Token texts all empty once tokenized "hello" to BOS alone, and a SentencePiece vocabulary
    /// without byte tokens dropped what it had no piece for: both are errors when the file loads.
    func testVocabulariesThatWouldDropTextAreRefused() throws {
        let url = try makeTemporaryDirectory("vocabulary").appendingPathComponent("model.gguf")
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        var emptied = SyntheticModel.gguf(.gemma3)
        let tokens = try XCTUnwrap(emptied.metadata.firstIndex { $0.0 == "tokenizer.ggml.tokens" })
        guard case let .array(type, values) = emptied.metadata[tokens].1 else { return XCTFail("tokens are an array") }
        emptied.metadata[tokens].1 = .array(type, values.map { _ in .string("") })
        XCTAssertEqual(try Self.outcome(of: emptied.bytes(), at: url).message,
                       "\(url.path): bad hyperparameter 'tokenizer.ggml.tokens': token 0 has empty text (\(values.count) of \(values.count) tokens do)")
        var byteless = SyntheticModel.gguf(.gemma3)
        byteless.metadata[tokens].1 = .array(type, values.map { value -> GGUFWriter.Value in
            if case .string("<0x41>") = value { return .string("<0x41>?") }
            return value
        })
        XCTAssertEqual(try Self.outcome(of: byteless.bytes(), at: url).message,
                       "\(url.path): bad hyperparameter 'tokenizer.ggml.tokens': no token for the byte <0x41>, which SentencePiece falls back to")
    }

    /// The fuzz targets' seed corpus holds these models as they are written now (regenerate with
    /// LMBENCH_WRITE_FUZZ_SEEDS=1).
    func testFuzzSeedCorpusHoldsTheSyntheticModels() throws {
        let folder = TestModel.packageRoot.appendingPathComponent("Fuzz/corpus/modelfile")
        for architecture in SyntheticModel.Architecture.allCases {
            let url = folder.appendingPathComponent("\(architecture.rawValue).gguf")
            let bytes = SyntheticModel.gguf(architecture).bytes()
            if ProcessInfo.processInfo.environment["LMBENCH_WRITE_FUZZ_SEEDS"] != nil { try Data(bytes).write(to: url) }
            XCTAssertEqual(try Data(contentsOf: url), Data(bytes), "\(url.path) is stale: LMBENCH_WRITE_FUZZ_SEEDS=1 swift test --filter \(#function)")
        }
    }
}
