import XCTest
import Inference
import ModelTestSupport
import Bench

/// The native engine's memory check covers building the prompt, not only the attention state: a
/// 1024M-token passkey under lm-infinite (a constant state) once passed the check and then built its
/// prompt for ten minutes at 8.4 GB.
final class PromptMemoryTests: XCTestCase {
    func testThePromptIsPartOfTheMemoryCheck() throws {
        let engine = try NativeEngine(EngineSpec.parse("lm-infinite:n_local=1024"), generator: Generator(try TestModel.require()))
        let available = try XCTUnwrap(ProcessMemory.availableBytes)
        // Too many tokens to build, while the evicting cache itself stays small.
        let tokens = available / NativeEngine.promptBytesPerToken + (64 << 20)
        let refusal = try XCTUnwrap(engine.refusal(promptTokens: tokens, maxNewTokens: 16))
        XCTAssertTrue(refusal.contains("building the prompt"), refusal)
        XCTAssertNil(engine.refusal(promptTokens: 4096, maxNewTokens: 16))
    }

    /// The figure the check uses holds for every generated task: building a 1M-token prompt raises
    /// the peak resident set by less than `promptBytesPerToken` per token.
    func testGeneratedTasksBuildPromptsWithinTheirEstimate() throws {
        let catalog = try TaskCatalog(folder: TestModel.packageRoot.appendingPathComponent("tasks").path)
        let length = 1 << 20
        for name in ["passkey", "needle", "kv_retrieval"] {
            let request = TaskRequest(lengths: [length], depths: [50], samplesPerCell: 1, seed: 3, limit: nil, dataPath: nil, haystackPath: nil)
            let task = try catalog.make(name, request: request, tokenizer: try TestModel.require().tokenizer)
            let planned = try XCTUnwrap(try task.plan().first)
            guard ProcessMemory.resetPeakResident(), let before = ProcessMemory.peakResidentBytes else {
                throw XCTSkip("this system does not report the peak resident set")
            }
            let sample = try task.makeSample(planned)
            let grown = try XCTUnwrap(ProcessMemory.peakResidentBytes) - before
            XCTAssertGreaterThan(sample.promptTokens?.count ?? 0, length - 256, name)
            XCTAssertLessThan(grown, length * NativeEngine.promptBytesPerToken, "\(name): \(Double(grown) / Double(length)) bytes a token")
        }
    }
}
