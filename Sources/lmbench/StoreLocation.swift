import Bench
import Foundation
import Results

/// The results database (`--db PATH`, default results/lmbench.sqlite) and the task folder
/// (`--tasks DIR`, else `LMBENCH_TASKS`, else tasks/).
enum StoreLocation {
    static let dbOption = CommandLineOptions.Option(
        name: "db", valueName: "PATH", help: "Results database (default \(ResultsStore.defaultPath)).")
    static let tasksOption = CommandLineOptions.Option(
        name: "tasks", valueName: "DIR", help: "Folder of task definitions (default: $LMBENCH_TASKS, else tasks).")

    static func open(_ o: CommandLineOptions) throws -> ResultsStore {
        try ResultsStore(path: o.string("db") ?? ResultsStore.defaultPath)
    }

    /// Opens an existing database only (reading commands should not create one by accident).
    static func openExisting(_ o: CommandLineOptions) throws -> ResultsStore {
        let path = o.string("db") ?? ResultsStore.defaultPath
        guard FileManager.default.fileExists(atPath: path) else {
            throw CommandError("\(path): no results database (run `lmbench run ...` first, or pass --db PATH)")
        }
        return try ResultsStore(path: path)
    }

    static func catalog(_ o: CommandLineOptions) throws -> TaskCatalog {
        try TaskCatalog(folder: o.string("tasks") ?? ProcessInfo.processInfo.environment["LMBENCH_TASKS"] ?? "tasks")
    }

    /// `--run 3,4` (ids) or `--latest`; `fallback` when neither is given.
    static func runIDs(_ o: CommandLineOptions, store: ResultsStore, fallback: () throws -> [Int64]) throws -> [Int64] {
        if let text = o.string("run") {
            return try text.split(separator: ",").map { piece in
                guard let id = Int64(piece.trimmingCharacters(in: .whitespaces)), id > 0 else {
                    throw UsageError("--run takes run ids such as 3 or 3,4, not '\(text)'")
                }
                _ = try store.run(id: id)
                return id
            }
        }
        if o.flag("latest") { return [try store.latestRunID()] }
        return try fallback()
    }
}
