import Foundation
import Inference
import Kernels

/// Where the model file is: `--model PATH`, else `LMBENCH_MODEL`, else the default path that
/// `lmbench model fetch` writes.
enum ModelLocation {
    static let defaultPath = "models/gemma-3-270m-q4_k_m.gguf"

    static func path(_ options: CommandLineOptions) -> String {
        options.string("model") ?? ProcessInfo.processInfo.environment["LMBENCH_MODEL"] ?? defaultPath
    }

    static let modelOption = CommandLineOptions.Option(
        name: "model", valueName: "PATH", help: "GGUF model file (default: $LMBENCH_MODEL, else \(defaultPath)).")
    static let threadsOption = CommandLineOptions.Option(
        name: "threads", valueName: "N", help: "Threads for the kernels (default: every core).")

    /// Opens the model, with a hint when the default file has not been fetched yet.
    static func load(_ options: CommandLineOptions) throws -> LoadedModel {
        let path = path(options)
        if !FileManager.default.fileExists(atPath: path) {
            let hint = options.string("model") == nil ? " (run `lmbench model fetch` to download it)" : ""
            throw CommandError("\(path): model file not found\(hint)")
        }
        let threads = try options.int("threads", default: ProcessInfo.processInfo.activeProcessorCount, in: 1...1024)
        return try LoadedModel(path: path, parallelism: Parallelism(threads: threads))
    }
}
