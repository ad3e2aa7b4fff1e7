import Bench
import Foundation

/// `lmbench merge OUT IN...`: join results databases (the shards of a sweep) into a new one.
enum MergeCommand {
    static let usage = "lmbench merge OUT.sqlite IN.sqlite..."
    static let summary = """
        Writes a new results database OUT holding the runs of every IN, which are opened read-only.
        Runs of the same identity (task, task parameters, seed, engines and their parameters, model
        sha256, chat template, tags other than the shard, and lmbench version) become one run: the
        shards of a sweep (`lmbench run ... --shard I/N`) merge into the run the unsharded command
        makes. A sample stored more than once (a shard re-run after a crash) is kept once, the first
        copy in shard, then argument, order. Each input run's provenance is kept in the run_sources
        table and each sample's source in sample_sources. Shards of one sweep whose parameters
        differ are refused, and nothing is written. OUT must not exist.
        """
    static let options: [CommandLineOptions.Option] = []

    static func run(_ arguments: [String]) throws {
        let o = try CommandLineOptions(command: "merge", options: options, arguments: arguments)
        if o.wantsHelp { print(o.help(usage: usage, summary: summary)); return }
        guard o.positional.count >= 2 else {
            throw UsageError("lmbench merge: expected OUT.sqlite and at least one IN.sqlite (see lmbench merge --help)")
        }
        do {
            print(try StoreMerge.merge(Array(o.positional.dropFirst()), into: o.positional[0]).describe())
        } catch let error as StoreMerge.MergeError {
            throw CommandError("lmbench merge: \(error.description)")
        }
    }
}
