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
        the suite: accuracy below its 95% interval, tokens/s down or peak RSS up by more than 10%.
        Exit status 0 when clean, 3 when a regression is found. --no-run compares the two newest
        nightlies already stored.
        """
    static let options: [CommandLineOptions.Option] = [
        .init(name: "suite", valueName: "FILE", help: "Suite file (example: tasks/nightly.json)."),
        .init(name: "out-dir", valueName: "DIR", help: "Where the leaderboard and regression report go (default results/nightly)."),
        .init(name: "no-run", valueName: nil, help: "Only compare the two newest stored nightlies of the suite."),
        .init(name: "threshold", valueName: "X", help: "Accuracy threshold of the leaderboard's effective length (default 0.85)."),
        StoreLocation.dbOption, StoreLocation.tasksOption, ModelLocation.modelOption, ModelLocation.threadsOption,
    ]

    struct Suite: Decodable {
        var generator: String
        var name: String
        var description: String?
        var runs: [RunSettings]
    }

    static func run(_ arguments: [String]) throws {
        let o = try CommandLineOptions(command: "nightly", options: options, arguments: arguments)
        if o.wantsHelp { print(o.help(usage: usage, summary: summary)); return }
        guard o.positional.isEmpty else { throw UsageError("lmbench nightly: unexpected argument '\(o.positional[0])'") }
        guard let path = o.string("suite") else { throw UsageError("lmbench nightly: --suite FILE is required (example: tasks/nightly.json)") }
        guard let data = FileManager.default.contents(atPath: path) else { throw CommandError("\(path): cannot read the suite file") }
        let suite: Suite
        do { suite = try JSONDecoder().decode(Suite.self, from: data) } catch {
            throw CommandError("\(path): not a suite file (\(decodingReason(error)))")
        }
        guard suite.generator == "suite", !suite.runs.isEmpty else { throw CommandError("\(path): a suite needs \"generator\": \"suite\" and at least one run") }
        let threshold = try Output.threshold(o)
        let store = try StoreLocation.open(o)

        if !o.flag("no-run") {
            let catalog = try StoreLocation.catalog(o)
            let formatter = ISO8601DateFormatter()
            let tags = ["suite": suite.name, "nightly": formatter.string(from: Date())]
            var loaded: LoadedModel?
            for settings in suite.runs {
                let outcome = try RunCommand.execute(settings, tags: tags, fresh: true, requireExisting: false, chunk: 512, store: store,
                                                     catalog: catalog, loadModel: {
                    if let loaded { return loaded }
                    loaded = try ModelLocation.load(o)
                    return loaded!
                })
                print(outcome.describe(store: store, dbOption: o.string("db")))
            }
        }

        // The nightlies of this suite, by stamp.
        var stamps: [String: [Int64]] = [:]
        for run in try store.runs() where run.tags["suite"] == suite.name {
            if let stamp = run.tags["nightly"] { stamps[stamp, default: []].append(run.id) }
        }
        let ordered = stamps.keys.sorted()
        guard let latest = ordered.last else { throw CommandError("\(store.path): no nightly of suite '\(suite.name)' stored") }
        let folder = o.string("out-dir") ?? "results/nightly"
        let (board, plots) = try LeaderboardCommand.render(store: store, tasks: nil, threshold: threshold)
        try Output.publish(markdown: board, title: "lmbench leaderboard", plots: plots, format: "md", to: folder + "/leaderboard.md")
        try Output.publish(markdown: board, title: "lmbench leaderboard", plots: plots, format: "html", to: folder + "/leaderboard.html")

        guard ordered.count >= 2 else {
            try Output.write("# Nightly \(suite.name) \(latest)\n\nFirst nightly of this suite: nothing to compare with.\n", to: folder + "/regressions.md")
            print("nightly \(latest): first of suite '\(suite.name)'; nothing to compare with")
            return
        }
        let previous = ordered[ordered.count - 2]
        let comparison = Comparison(before: try store.samples(runIDs: stamps[previous]!.sorted()), after: try store.samples(runIDs: stamps[latest]!.sorted()))
        let report = "# Nightly \(suite.name): \(previous) → \(latest)\n\n"
            + comparison.markdown(title: "Regressions", beforeName: "before", afterName: "after")
        try Output.write(report, to: folder + "/regressions.md")
        let regressions = comparison.regressions
        if regressions.isEmpty {
            print("nightly \(latest): no regressions against \(previous)")
            return
        }
        print("nightly \(latest): \(regressions.count) regression\(regressions.count == 1 ? "" : "s") against \(previous):")
        for row in regressions { print("  \(row.task) · \(row.engine) · \(row.column): " + row.flags.joined(separator: "; ")) }
        fflush(stdout)
        exit(3)
    }

    static func decodingReason(_ error: Error) -> String {
        switch error {
        case let DecodingError.keyNotFound(key, _): return "missing field '\(key.stringValue)'"
        case let DecodingError.typeMismatch(_, c), let DecodingError.valueNotFound(_, c):
            return "field '\(c.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type"
        default: return "not valid JSON"
        }
    }
}
