import Foundation
import Reports
import Results

/// `lmbench report`: a report of stored runs, Markdown or HTML, from the store alone.
enum ReportCommand {
    static let usage = "lmbench report [--run ID[,ID...] | --latest] [--format md|html] [--out FILE] [--db PATH]"
    static let summary = """
        Writes a report of stored runs (default: the latest): accuracy, latency and memory by length ×
        engine, LongBench scores per dataset with LongBench-E buckets, samples that did not run, and
        every run's parameters. Built from the database alone. With --out, the Markdown report writes
        its plots (SVG: needle heatmap, accuracy, prefill tokens/s and peak memory against length)
        beside the file and links them; --format html writes one self-contained page with the plots inline.
        """
    static let options: [CommandLineOptions.Option] = [
        .init(name: "run", valueName: "ID[,ID...]", help: "Runs to report, side by side."),
        .init(name: "latest", valueName: nil, help: "Report the newest run (the default)."),
        .init(name: "format", valueName: "md|html", help: "Markdown (default) or one self-contained HTML page."),
        .init(name: "out", valueName: "FILE", help: "Write the report to FILE instead of standard output."),
        StoreLocation.dbOption,
    ]

    static func run(_ arguments: [String]) throws {
        let o = try CommandLineOptions(command: "report", options: options, arguments: arguments)
        if o.wantsHelp { print(o.help(usage: usage, summary: summary)); return }
        guard o.positional.isEmpty else { throw UsageError("lmbench report: unexpected argument '\(o.positional[0])'") }
        let store = try StoreLocation.openForReading(o)
        let ids = try StoreLocation.runIDs(o, store: store) { [try store.latestRunID()] }
        let format = try Output.format(o)
        let report = try RunReport(store: store, runIDs: ids)
        try Output.publish(report.document(), title: report.title, plots: ReportPlots(samples: report.samples).files, format: format,
                           to: o.string("out"))
    }
}
