import Foundation
import Reports
import Results

/// `lmbench compare RUN_A RUN_B`: the same cells of two runs side by side.
enum CompareCommand {
    static let usage = "lmbench compare RUN_A RUN_B [--out FILE] [--db PATH]"
    static let summary = """
        Puts the cells (task × engine × length) of two runs side by side: accuracy with 95% Wilson
        intervals, prefill tokens/s and peak RSS, with deltas. Flags a cell whose accuracy fell below
        RUN_A's interval, whose prefill or decode tokens/s fell by more than 10%, or whose peak RSS
        rose by more than 10%.
        """
    static let options: [CommandLineOptions.Option] = [
        .init(name: "out", valueName: "FILE", help: "Write to FILE instead of standard output."),
        StoreLocation.dbOption,
    ]

    static func run(_ arguments: [String]) throws {
        let o = try CommandLineOptions(command: "compare", options: options, arguments: arguments)
        if o.wantsHelp { print(o.help(usage: usage, summary: summary)); return }
        guard o.positional.count == 2, let a = Int64(o.positional[0]), let b = Int64(o.positional[1]) else {
            throw UsageError("lmbench compare: expected two run ids, e.g. lmbench compare 3 4")
        }
        let store = try StoreLocation.openExisting(o)
        _ = try store.run(id: a)
        _ = try store.run(id: b)
        let comparison = Comparison(before: try store.samples(runIDs: [a]), after: try store.samples(runIDs: [b]))
        try Output.write("# lmbench compare: run \(a) → run \(b)\n\n"
                         + comparison.markdown(title: "Cells", beforeName: "run \(a)", afterName: "run \(b)"), to: o.string("out"))
    }
}
