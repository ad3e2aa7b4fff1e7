import Foundation
import XCTest
import GGUF
import Inference

/// The real Gemma 3 270M model the engine tests run against, loaded once per test process.
enum TestModel {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `LMBENCH_MODEL`, else `models/gemma-3-270m-q4_k_m.gguf` in the package.
    static var path: String {
        ProcessInfo.processInfo.environment["LMBENCH_MODEL"]
            ?? packageRoot.appendingPathComponent("models/gemma-3-270m-q4_k_m.gguf").path
    }

    private static let loaded: Result<LoadedModel, Error> = Result {
        guard FileManager.default.fileExists(atPath: path) else {
            throw TestSetupError("model not found at \(path): run `swift run -c release lmbench model fetch` (or set LMBENCH_MODEL)")
        }
        return try LoadedModel(path: path)
    }

    /// The model, or a test failure that says how to get it.
    static func require(file: StaticString = #filePath, line: UInt = #line) throws -> LoadedModel {
        try loaded.get()
    }

    static func fixture(_ name: String) throws -> Data {
        let url = packageRoot.appendingPathComponent("Tests/InferenceTests/Fixtures/\(name)")
        guard let data = FileManager.default.contents(atPath: url.path) else { throw TestSetupError("fixture missing: \(url.path)") }
        return data
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
