import Foundation
import Results

/// The leaderboard page: one leaderboard per task (default: every task in the store), with an
/// accuracy-against-length plot for each task laid out by length.
public struct LeaderboardPage {
    public var document = Document()
    public var plots: [Plot] = []

    public init(store: ResultsStore, tasks: [String]?, threshold: Double) throws {
        let names = try tasks ?? Leaderboard.tasks(in: store)
        guard !names.isEmpty else { throw StoreError.empty(path: store.path, what: "no runs yet (run `lmbench run ...` first)") }
        document.heading(1, "lmbench leaderboard")
        document.paragraph("From \(store.path).")
        for task in names {
            let board = try Leaderboard(store: store, task: task, threshold: threshold)
            document += board.document()
            guard !board.byDataset, board.columns.count > 1 else { continue }
            let series = board.rows.map { row in
                SVG.Series(name: row.engine, points: board.columns.compactMap { c in
                    row.cells[c.label]?.score.value.map { (x: Double(c.order), y: $0, label: c.label) }
                })
            }
            plots.append(Plot(name: "\(task)-leaderboard.svg", title: "\(task): accuracy vs length",
                              svg: SVG.lineChart(title: "\(task): accuracy vs length", xLabel: "prompt length (tokens, log₂ scale)",
                                                 yLabel: "accuracy", series: series, logX: true, unitY: true, valueFormat: "%.2f")))
        }
    }
}

/// The nightlies of one suite in a store (runs tagged `suite=NAME` and `nightly=STAMP`), and the
/// comparison of the two newest.
public struct NightlyHistory {
    public let suite: String
    /// Stamps, oldest first, with their run ids.
    public let nightlies: [(stamp: String, runIDs: [Int64])]

    public init(store: ResultsStore, suite: String) throws {
        self.suite = suite
        var stamps: [String: [Int64]] = [:]
        for run in try store.runs() where run.tags["suite"] == suite {
            if let stamp = run.tags["nightly"] { stamps[stamp, default: []].append(run.id) }
        }
        nightlies = stamps.keys.sorted().map { (stamp: $0, runIDs: stamps[$0]!.sorted()) }
        guard !nightlies.isEmpty else { throw StoreError.empty(path: store.path, what: "no nightly of suite '\(suite)' stored") }
    }

    public var latest: String { nightlies.last!.stamp }
    public var previous: String? { nightlies.count >= 2 ? nightlies[nightlies.count - 2].stamp : nil }

    /// The newest nightly against the one before, or nil when there is only one.
    public func comparison(store: ResultsStore) throws -> Comparison? {
        guard nightlies.count >= 2 else { return nil }
        let before = nightlies[nightlies.count - 2].runIDs, after = nightlies.last!.runIDs
        return Comparison(before: try store.samples(runIDs: before), after: try store.samples(runIDs: after),
                          runs: try (before + after).map { try store.run(id: $0) })
    }

    /// The regression report of the newest nightly.
    public func document(_ comparison: Comparison?) -> Document {
        var doc = Document()
        guard let comparison, let previous else {
            doc.heading(1, "Nightly \(suite) \(latest)")
            doc.paragraph("First nightly of this suite: nothing to compare with.")
            return doc
        }
        doc.heading(1, "Nightly \(suite): \(previous) → \(latest)")
        return doc + comparison.document(title: "Regressions", beforeName: "before", afterName: "after")
    }
}
