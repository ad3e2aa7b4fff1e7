import Foundation
import Reports
import Results

/// `lmbench compare RUN_A RUN_B` or `lmbench compare RUN --engines A,B`: the same cells side by
/// side, with paired tests on the samples both sides ran.
enum CompareCommand {
    static let usage = "lmbench compare RUN_A RUN_B | RUN --engines A,B [--format md|html] [--out FILE] [--db PATH]"
    static let summary = """
        Puts the cells (task × engine × length) of two runs, or of two engines of one run, side by side:
        accuracy with 95% intervals (Wilson for proportions, bootstrap for continuous scores), the
        difference on the samples both sides ran with its paired test (McNemar's exact test for
        right/wrong scores, a paired bootstrap for continuous ones) and p-value, prefill tokens/s and
        peak RSS with deltas. Flags a cell whose accuracy fell below the earlier cell's interval, whose prefill or decode tokens/s fell by more than 10%, or whose
        peak RSS rose by more than 10%.
        """
    static let options: [CommandLineOptions.Option] = [
        .init(name: "engines", valueName: "A,B", help: "Compare two engines of one run (their labels as stored)."),
        .init(name: "format", valueName: "md|html", help: "Markdown (default) or one HTML page."),
        .init(name: "out", valueName: "FILE", help: "Write to FILE instead of standard output."),
        StoreLocation.dbOption,
    ]

    static func run(_ arguments: [String]) throws {
        let o = try CommandLineOptions(command: "compare", options: options, arguments: arguments)
        if o.wantsHelp { print(o.help(usage: usage, summary: summary)); return }
        let format = try Output.format(o)
        let ids = try o.positional.map { text -> Int64 in
            guard let id = Int64(text), id > 0 else { throw UsageError("lmbench compare: '\(text)' is not a run id") }
            return id
        }
        let store = try StoreLocation.openForReading(o)
        for id in ids { _ = try store.run(id: id) }
        var document = Document()
        if let engines = o.string("engines") {
            let names = engines.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard ids.count == 1, names.count == 2, !names.contains("") else {
                throw UsageError("lmbench compare: --engines A,B compares two engines of one run, e.g. lmbench compare 3 --engines full,infllm")
            }
            let samples = try store.samples(runIDs: ids)
            for name in names where !samples.contains(where: { $0.engine == name }) {
                throw CommandError("\(store.path): run \(ids[0]) has no engine '\(name)' (engines: \(Set(samples.map(\.engine)).sorted().joined(separator: ", ")))")
            }
            document.heading(1, "lmbench compare: run \(ids[0]), \(names[0]) → \(names[1])")
            document += Comparison(samples: samples, first: names[0], second: names[1], runs: [try store.run(id: ids[0])])
                .document(title: "Cells", beforeName: names[0], afterName: names[1])
        } else {
            guard ids.count == 2 else { throw UsageError("lmbench compare: expected two run ids (lmbench compare 3 4) or one with --engines A,B") }
            document.heading(1, "lmbench compare: run \(ids[0]) → run \(ids[1])")
            document += Comparison(before: try store.samples(runIDs: [ids[0]]), after: try store.samples(runIDs: [ids[1]]),
                                   runs: try ids.map { try store.run(id: $0) })
                .document(title: "Cells", beforeName: "run \(ids[0])", afterName: "run \(ids[1])")
        }
        try Output.publish(document, title: "lmbench compare", format: format, to: o.string("out"))
    }
}
