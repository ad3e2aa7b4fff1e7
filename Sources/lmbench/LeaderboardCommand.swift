import Foundation
import Reports
import Results

/// `lmbench leaderboard`: engines ranked per task over everything in the store.
enum LeaderboardCommand {
    static let usage = "lmbench leaderboard [--task T] [--threshold 0.85] [--format md|html] [--out FILE] [--db PATH]"
    static let summary = """
        One row per model and engine configuration (newest sample of each key and task parameters,
        seed included, across runs), ranked by mean accuracy: accuracy per length with 95% intervals
        (Wilson for proportions, bootstrap for continuous scores; LongBench: score per dataset),
        the mean, the effective length (longest length up to which accuracy stays at or above the
        threshold, as RULER defines it), prefill tokens/s and peak RSS at the longest length, the
        number of samples and the date of the newest run, and each row against the top one on their
        common samples (McNemar's exact test or a paired bootstrap, p-value, flagged at p < 0.05).
        One table per task unless --task is given.
        """
    static let options: [CommandLineOptions.Option] = [
        .init(name: "task", valueName: "T", help: "Only this task."),
        .init(name: "threshold", valueName: "X", help: "Accuracy threshold of the effective length (default 0.85)."),
        .init(name: "format", valueName: "md|html", help: "Markdown (default) or one HTML page with plots."),
        .init(name: "out", valueName: "FILE", help: "Write to FILE instead of standard output."),
        StoreLocation.dbOption,
    ]

    static func run(_ arguments: [String]) throws {
        let o = try CommandLineOptions(command: "leaderboard", options: options, arguments: arguments)
        if o.wantsHelp { print(o.help(usage: usage, summary: summary)); return }
        guard o.positional.isEmpty else { throw UsageError("lmbench leaderboard: unexpected argument '\(o.positional[0])'") }
        let format = try Output.format(o)
        let threshold = try Output.threshold(o)
        let store = try StoreLocation.openForReading(o)
        let page = try LeaderboardPage(store: store, tasks: o.string("task").map { [$0] }, threshold: threshold)
        try Output.publish(page.document, title: "lmbench leaderboard", plots: page.plots, format: format, to: o.string("out"))
    }
}
