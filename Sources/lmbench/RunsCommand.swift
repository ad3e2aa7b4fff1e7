import Foundation
import Reports
import Results

/// `lmbench runs`: the runs in the store.
enum RunsCommand {
    static let usage = "lmbench runs [--db PATH]"
    static let summary = "Lists the runs in the results database: id, date, task, engines, samples stored of planned, model."
    static let options: [CommandLineOptions.Option] = [StoreLocation.dbOption]

    static func run(_ arguments: [String]) throws {
        let o = try CommandLineOptions(command: "runs", options: options, arguments: arguments)
        if o.wantsHelp { print(o.help(usage: usage, summary: summary)); return }
        guard o.positional.isEmpty else { throw UsageError("lmbench runs: unexpected argument '\(o.positional[0])'") }
        let store = try StoreLocation.openForReading(o)
        let counts = try store.sampleCounts()
        let rows = try store.runs().map { r in
            [String(r.id), r.createdAt, r.task, r.taskFamily, r.engines.map(\.label).joined(separator: ", "),
             "\(counts[r.id] ?? 0)/\(r.plannedSamples)", r.finishedAt == nil ? "no" : "yes", r.modelName, r.lmbenchVersion]
        }
        print(Format.table(["id", "created", "task", "family", "engines", "samples", "finished", "model", "version"], rows))
    }
}
