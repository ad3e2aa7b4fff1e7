import Bench
import Foundation
import Results

/// The results database (`--db PATH`, default results/lmbench.sqlite) and the task folder
/// (`--tasks DIR`, else `LMBENCH_TASKS`, else tasks/).
enum StoreLocation {
    static let dbOption = CommandLineOptions.Option(
        name: "db", valueName: "PATH", help: "Results database (default \(ResultsStore.defaultPath); a new one is created only in an existing folder).")
    static let tasksOption = CommandLineOptions.Option(
        name: "tasks", valueName: "DIR", help: "Folder of task definitions (default: $LMBENCH_TASKS, else tasks).")

    static func path(_ o: CommandLineOptions) -> String { o.string("db") ?? ResultsStore.defaultPath }

    /// The database of a command that writes: created if missing (in an existing folder), migrated.
    static func openForWriting(_ o: CommandLineOptions) throws -> ResultsStore { try ResultsStore(path: path(o)) }

    /// `openForWriting` on first use: a command rejected before it needs the store leaves no file behind.
    static func openOnDemand(_ o: CommandLineOptions) -> () throws -> ResultsStore {
        var store: ResultsStore?
        return {
            if let store { return store }
            let opened = try openForWriting(o)
            store = opened
            return opened
        }
    }

    /// The database of a command that only reads: it must exist, and is never changed.
    static func openForReading(_ o: CommandLineOptions) throws -> ResultsStore {
        try ResultsStore(path: path(o), access: .readOnly)
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
