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

    private static let loaded: Result<LoadedModel, Error> = Result {
        guard FileManager.default.fileExists(atPath: path) else {
            throw TestSetupError("model not found at \(path): run `swift run -c release lmbench model fetch` (or set LMBENCH_MODEL)")
        }
        return try LoadedModel(path: path)
    }

    /// The model, or a test failure that says how to get it.
    public static func require(file: StaticString = #filePath, line: UInt = #line) throws -> LoadedModel {
        try loaded.get()
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
