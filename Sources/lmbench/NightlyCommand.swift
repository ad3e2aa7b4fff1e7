import Bench
import Inference
import Foundation
import Reports
import Results

/// `lmbench nightly --suite FILE`: run a suite, tag it, write the leaderboard and a regression
/// report against the previous nightly of the same suite; exit 3 on a regression.
enum NightlyCommand {
    static let usage = "lmbench nightly --suite FILE [--out-dir DIR] [--no-run] [--db PATH]"
    static let summary = """
        Runs every entry of a suite file (JSON: {"generator": "suite", "name": ..., "runs": [{"task",
        "lengths", "depths", "engines", "samples", "seed", "data", "limit", "haystack"}]}), tags the runs
        with suite=NAME and nightly=TIMESTAMP, then writes DIR/leaderboard.md, DIR/leaderboard.html and
        DIR/regressions.md (default DIR: results/nightly). Regressions against the previous nightly of
        the suite: accuracy below its 95% interval (with McNemar's exact test or a paired bootstrap on the
        samples both ran), tokens/s down or peak RSS up by more than 10%. Exit status 0 when clean, 3 when a regression is found. --no-run compares the two newest
        nightlies already stored.
        """
    static let options: [CommandLineOptions.Option] = [
        .init(name: "suite", valueName: "FILE", help: "Suite file (example: tasks/suites/nightly.json)."),
        .init(name: "out-dir", valueName: "DIR", help: "Where the leaderboard and regression report go (default results/nightly)."),
        .init(name: "no-run", valueName: nil, help: "Only compare the two newest stored nightlies of the suite."),
        .init(name: "threshold", valueName: "X", help: "Accuracy threshold of the leaderboard's effective length (default 0.85)."),
        StoreLocation.dbOption, StoreLocation.tasksOption, ModelLocation.modelOption, ModelLocation.threadsOption,
    ]

    static func run(_ arguments: [String]) throws {
        let o = try CommandLineOptions(command: "nightly", options: options, arguments: arguments)
        if o.wantsHelp { print(o.help(usage: usage, summary: summary)); return }
        guard o.positional.isEmpty else { throw UsageError("lmbench nightly: unexpected argument '\(o.positional[0])'") }
        guard let path = o.string("suite") else { throw UsageError("lmbench nightly: --suite FILE is required (example: tasks/suites/nightly.json)") }
        let suite = try Suite.load(path)
        let threshold = try Output.threshold(o)
        let store = try o.flag("no-run") ? StoreLocation.openForReading(o) : StoreLocation.openForWriting(o)

        if !o.flag("no-run") {
            let catalog = try StoreLocation.catalog(o)
            let tags = ["suite": suite.name, "nightly": ISO8601DateFormatter().string(from: Date())]
            let context = EngineContext { try ModelLocation.load(o) }
            let runner = Runner(store: store)
            for settings in suite.runs {
                let plan = try RunPlan(settings, tags: tags, catalog: catalog, context: context, store: { store }, command: CommandLine.invocation)
                let summary = try runner.run(plan, resume: .fresh)
                print(summary.describe(storePath: store.path, engines: plan.engines.map(\.record.label), dbOption: o.string("db")))
            }
        }

        let history = try NightlyHistory(store: store, suite: suite.name)
        let folder = o.string("out-dir") ?? "results/nightly"
        let board = try LeaderboardPage(store: store, tasks: nil, threshold: threshold)
        for format in ["md", "html"] {
            try Output.publish(board.document, title: "lmbench leaderboard", plots: board.plots, format: format, to: folder + "/leaderboard." + format)
        }
        let comparison = try history.comparison(store: store)
        try Output.publish(history.document(comparison), title: "lmbench nightly", format: "md", to: folder + "/regressions.md")
        guard let comparison, let previous = history.previous else {
            print("nightly \(history.latest): first of suite '\(suite.name)'; nothing to compare with")
            return
        }
        let regressions = comparison.regressions
        for note in comparison.notes { print("nightly \(history.latest): not compared: \(note)") }
        if regressions.isEmpty {
            print("nightly \(history.latest): no regressions against \(previous)")
            return
        }
        print("nightly \(history.latest): \(regressions.count) regression\(regressions.count == 1 ? "" : "s") against \(previous):")
        for row in regressions { print("  \(row.task) · \(row.engine) · \(row.column): " + row.flags.joined(separator: "; ")) }
        fflush(stdout)
        exit(3)
    }
}
