import Foundation
import GGUF
import Inference

/// The real Gemma 3 270M model the engine tests run against, loaded once per test process.
public enum TestModel {
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `LMBENCH_MODEL`, else `models/gemma-3-270m-q4_k_m.gguf` in the package.
    public static var path: String {
        ProcessInfo.processInfo.environment["LMBENCH_MODEL"]
            ?? packageRoot.appendingPathComponent("models/gemma-3-270m-q4_k_m.gguf").path
    }

    /// `LMBENCH_SMOLLM2_MODEL`, else `models/smollm2-135m-instruct-q4_1.gguf` in the package: the
    /// all-global-attention Llama-family model (SmolLM2-135M-Instruct, Q4_1).
    public static var smolLM2Path: String {
        ProcessInfo.processInfo.environment["LMBENCH_SMOLLM2_MODEL"]
            ?? packageRoot.appendingPathComponent("models/smollm2-135m-instruct-q4_1.gguf").path
    }

    private static let loaded: Result<LoadedModel, Error> = Result { try load(path, fetchName: "gemma-3-270m") }
    private static let loadedSmolLM2: Result<LoadedModel, Error> = Result { try load(smolLM2Path, fetchName: "smollm2-135m-instruct") }

    private static func load(_ path: String, fetchName: String) throws -> LoadedModel {
        guard FileManager.default.fileExists(atPath: path) else {
            throw TestSetupError("model not found at \(path): run `swift run -c release lmbench model fetch \(fetchName)`")
        }
        return try LoadedModel(path: path)
    }

    /// The Gemma 3 model, or a test failure that says how to get it.
    public static func require(file: StaticString = #filePath, line: UInt = #line) throws -> LoadedModel {
        try loaded.get()
    }

    /// SmolLM2-135M-Instruct, or a test failure that says how to get it.
    public static func requireSmolLM2() throws -> LoadedModel {
        try loadedSmolLM2.get()
    }

    /// The path of SmolLM2's file, or a failure that says how to get it (for tests that open only
    /// the GGUF, such as the tokenizer's).
    public static func requireSmolLM2Path() throws -> String {
        guard FileManager.default.fileExists(atPath: smolLM2Path) else {
            throw TestSetupError("model not found at \(smolLM2Path): run `swift run -c release lmbench model fetch smollm2-135m-instruct`")
        }
        return smolLM2Path
    }

    /// A file of `../shared` beside the checkout, or a failure that says it is missing.
    public static func shared(_ relative: String) throws -> String {
        let path = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/" + relative).path
        guard FileManager.default.fileExists(atPath: path) else {
            throw TestSetupError("\(path) is missing: these tests read ../shared (data and fixtures beside the checkout)")
        }
        return path
    }

    public static func fixture(_ name: String) throws -> Data {
        let url = packageRoot.appendingPathComponent("Tests/InferenceTests/Fixtures/\(name)")
        guard let data = FileManager.default.contents(atPath: url.path) else { throw TestSetupError("fixture missing: \(url.path)") }
        return data
    }
}

public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}
