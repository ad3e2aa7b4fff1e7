import Foundation
import Reports
import Results

/// `lmbench report`: Markdown from the store.
enum ReportCommand {
    static let usage = "lmbench report [--run ID[,ID...] | --latest] [--out FILE] [--db PATH]"
    static let summary = """
        Writes a Markdown report of stored runs (default: the latest): accuracy, latency and memory by
        length × engine, LongBench scores per dataset with LongBench-E buckets, samples that did not
        run, and every run's parameters. Built from the database alone.
        """
    static let options: [CommandLineOptions.Option] = [
        .init(name: "run", valueName: "ID[,ID...]", help: "Runs to report, side by side."),
        .init(name: "latest", valueName: nil, help: "Report the newest run (the default)."),
        .init(name: "out", valueName: "FILE", help: "Write the report to FILE instead of standard output."),
        StoreLocation.dbOption,
    ]

    static func run(_ arguments: [String]) throws {
        let o = try CommandLineOptions(command: "report", options: options, arguments: arguments)
        if o.wantsHelp { print(o.help(usage: usage, summary: summary)); return }
        guard o.positional.isEmpty else { throw UsageError("lmbench report: unexpected argument '\(o.positional[0])'") }
        let store = try StoreLocation.openExisting(o)
        let ids = try StoreLocation.runIDs(o, store: store) { [try store.latestRunID()] }
        let markdown = try MarkdownReport(store: store, runIDs: ids).render()
        try Output.write(markdown, to: o.string("out"))
    }
}

/// Standard output, or a file written atomically (its folder created if needed).
enum Output {
    static func write(_ text: String, to path: String?) throws {
        guard let path else { print(text, terminator: ""); return }
        let folder = (path as NSString).deletingLastPathComponent
        do {
            if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw CommandError("\(path): cannot write: \(error.localizedDescription)")
        }
        FileHandle.standardError.write(Data("wrote \(path)\n".utf8))
    }
}
