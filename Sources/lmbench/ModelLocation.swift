import Foundation
import Inference
import Kernels

/// Where the model file is: `--model NAME|PATH`, else `LMBENCH_MODEL`, else the default model's
/// path. A known model's name (`lmbench model list`) stands for the file `lmbench model fetch NAME`
/// writes.
enum ModelLocation {
    static var defaultPath: String { KnownModel.defaultModel.path }

    static func path(_ options: CommandLineOptions) -> String {
        let given = options.string("model") ?? ProcessInfo.processInfo.environment["LMBENCH_MODEL"] ?? defaultPath
        return KnownModel.named(given)?.path ?? given
    }

    static let modelOption = CommandLineOptions.Option(
        name: "model", valueName: "NAME|PATH",
        help: "A known model (\(KnownModel.names)) or a GGUF file (default: $LMBENCH_MODEL, else \(KnownModel.defaultModel.name)).")
    static let threadsOption = CommandLineOptions.Option(
        name: "threads", valueName: "N", help: "Threads for the kernels (default: every core).")

    /// Opens the model, with a hint when the default file has not been fetched yet.
    static func load(_ options: CommandLineOptions) throws -> LoadedModel {
        let path = path(options)
        if !FileManager.default.fileExists(atPath: path) {
            let known = KnownModel.catalog.first { $0.path == path }
            let hint = known.map { " (run `lmbench model fetch \($0.name)` to download it)" } ?? ""
            throw CommandError("\(path): model file not found\(hint)")
        }
        let threads = try options.int("threads", default: ProcessInfo.processInfo.activeProcessorCount, in: 1...1024)
        return try LoadedModel(path: path, parallelism: Parallelism(threads: threads))
    }
}
