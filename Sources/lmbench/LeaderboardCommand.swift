import Foundation
import Reports
import Results

/// `lmbench leaderboard`: engines ranked per task over everything in the store.
enum LeaderboardCommand {
    static let usage = "lmbench leaderboard [--task T] [--threshold 0.85] [--format md|html] [--out FILE] [--db PATH]"
    static let summary = """
        One row per model and engine configuration (newest sample of each key across runs), ranked by
        mean accuracy: accuracy per length with 95% Wilson intervals (LongBench: score per dataset),
        the mean, the effective length (longest length up to which accuracy stays at or above the
        threshold, as RULER defines it), prefill tokens/s and peak RSS at the longest length, the
        number of samples and the date of the newest run. One table per task unless --task is given.
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
        let store = try StoreLocation.openExisting(o)
        let (markdown, plots) = try render(store: store, tasks: o.string("task").map { [$0] }, threshold: threshold)
        try Output.publish(markdown: markdown, title: "lmbench leaderboard", plots: plots, format: format, to: o.string("out"))
    }

    /// The leaderboard Markdown of `tasks` (default: every task in the store) and its plots.
    static func render(store: ResultsStore, tasks: [String]?, threshold: Double) throws -> (String, [(name: String, title: String, svg: String)]) {
        let names = try tasks ?? Leaderboard.tasks(in: store)
        guard !names.isEmpty else { throw StoreError.empty(path: store.path, what: "no runs yet (run `lmbench run ...` first)") }
        var markdown = "# lmbench leaderboard\n\nFrom \(store.path).\n\n"
        var plots: [(name: String, title: String, svg: String)] = []
        for task in names {
            let board = try Leaderboard(store: store, task: task, threshold: threshold)
            markdown += board.markdown() + "\n"
            guard !board.byDataset, board.columns.count > 1 else { continue }
            let series = board.rows.map { row in
                SVG.Series(name: row.engine, points: board.columns.compactMap { c in
                    row.cells[c.label]?.score.value.map { (x: Double(c.order), y: $0, label: c.label) }
                })
            }
            plots.append(("\(task)-leaderboard.svg", "\(task): accuracy vs length",
                          SVG.lineChart(title: "\(task): accuracy vs length", xLabel: "prompt length (tokens, log₂ scale)", yLabel: "accuracy",
                                        series: series, logX: true, unitY: true, valueFormat: "%.2f")))
        }
        return (markdown, plots)
    }
}
