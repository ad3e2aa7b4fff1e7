import Foundation
import Results

/// The Wilson score interval for a proportion: k successes (scores may be fractional; their sum is
/// used) out of n, at 95% (z = 1.96). Better behaved than the normal interval at small n and near 0 or 1.
public struct WilsonInterval: Equatable, Sendable {
    public var lower: Double
    public var upper: Double

    public init(successes k: Double, trials n: Int, z: Double = 1.959963984540054) {
        guard n > 0 else { lower = 0; upper = 1; return }
        let nn = Double(n), p = k / nn, z2 = z * z
        let center = (p + z2 / (2 * nn)) / (1 + z2 / nn)
        let half = z / (1 + z2 / nn) * (p * (1 - p) / nn + z2 / (4 * nn * nn)).squareRoot()
        lower = max(0, center - half)
        upper = min(1, center + half)
    }
}

/// One leaderboard row: a model with one engine configuration, over the newest sample of each key
/// in every run that has them.
public struct LeaderboardRow: Sendable {
    public var model: String
    public var modelSHA256: String
    public var engine: String
    public var parameters: [String: String]
    /// Column (length label or LongBench dataset) → cell.
    public var cells: [String: Cell]
    public var mean: Double?
    public var effectiveLength: String?
    public var longestColumn: String?
    public var samples: Int
    public var newestRun: String
}

/// A leaderboard for one task: rows ranked by mean accuracy, then effective length, then speed.
public struct Leaderboard: Sendable {
    public var task: String
    public var columns: [(label: String, order: Int)]
    public var rows: [LeaderboardRow]
    public var threshold: Double
    /// True when columns are LongBench datasets rather than lengths.
    public var byDataset: Bool

    public static func tasks(in store: ResultsStore) throws -> [String] {
        Array(Set(try store.runs().map(\.task))).sorted()
    }

    public init(store: ResultsStore, task: String, threshold: Double = 0.85) throws {
        self.task = task
        self.threshold = threshold
        let runs = try store.runs().filter { $0.task == task }.sorted { $0.id > $1.id }
        guard !runs.isEmpty else { throw StoreError.empty(path: store.path, what: "no runs of task '\(task)'") }
        // Newest sample per (model, engine, parameters, sample key).
        struct RowKey: Hashable { var sha: String; var engine: String; var parameters: [String: String] }
        var samplesByRow: [RowKey: [String: SampleRecord]] = [:]
        var info: [RowKey: (model: String, newest: String)] = [:]
        for run in runs {
            let engines = Dictionary(run.engines.map { ($0.label, $0) }, uniquingKeysWith: { a, _ in a })
            for s in try store.samples(runIDs: [run.id]) {
                let parameters = engines[s.engine]?.parameters ?? [:]
                let key = RowKey(sha: run.modelSHA256, engine: s.engine, parameters: parameters)
                if info[key] == nil { info[key] = (run.modelName, run.createdAt) }
                if samplesByRow[key, default: [:]][s.sampleKey] == nil { samplesByRow[key, default: [:]][s.sampleKey] = s }
            }
        }
        let all = samplesByRow.values.flatMap(\.values)
        let byDataset = !all.isEmpty && all.allSatisfy { $0.lengthWords != nil }
        self.byDataset = byDataset
        let group: (SampleRecord) -> (label: String, order: Int) = byDataset ? { ($0.dataset, 0) } : { (LengthAxis.label(tokens: $0.lengthTokens), $0.lengthTokens) }
        var columnOrder: [String: Int] = [:]
        for s in all { let g = group(s); columnOrder[g.label] = g.order }
        columns = columnOrder.map { (label: $0.key, order: $0.value) }.sorted { ($0.order, $0.label) < ($1.order, $1.label) }
        let labels = columns.map(\.label)
        rows = samplesByRow.map { key, byKey in
            let samples = byKey.values.sorted { $0.sampleKey < $1.sampleKey }
            var cells: [String: Cell] = [:]
            for s in samples { cells[group(s).label, default: Cell()].add(s) }
            let means = labels.compactMap { cells[$0]?.score.value }
            var effective: String?
            if !byDataset {
                for label in labels where cells[label] != nil {
                    guard let value = cells[label]?.score.value, value >= threshold else { break }
                    effective = label
                }
            }
            return LeaderboardRow(model: info[key]!.model, modelSHA256: key.sha, engine: key.engine, parameters: key.parameters,
                                  cells: cells, mean: means.isEmpty ? nil : means.reduce(0, +) / Double(means.count),
                                  effectiveLength: effective, longestColumn: labels.last { cells[$0] != nil },
                                  samples: samples.count, newestRun: info[key]!.newest)
        }
        let order = Dictionary(uniqueKeysWithValues: columns.enumerated().map { ($1.label, $0) })
        rows.sort { a, b in
            let ma = a.mean ?? -1, mb = b.mean ?? -1
            if ma != mb { return ma > mb }
            let ea = a.effectiveLength.flatMap { order[$0] } ?? -1, eb = b.effectiveLength.flatMap { order[$0] } ?? -1
            if ea != eb { return ea > eb }
            let sa = a.longestColumn.flatMap { a.cells[$0]?.prefillTokensPerSecond.value } ?? 0
            let sb = b.longestColumn.flatMap { b.cells[$0]?.prefillTokensPerSecond.value } ?? 0
            if sa != sb { return sa > sb }
            return a.engine < b.engine
        }
    }

    /// "0.83 [0.44, 0.97] n=6", or a dash.
    public static func accuracyCell(_ cell: Cell?, scale: Double = 1) -> String {
        guard let cell, let mean = cell.score.value else { return "–" }
        let interval = WilsonInterval(successes: cell.score.sum, trials: cell.score.n)
        let digits = scale == 1 ? 2 : 1
        return String(format: "%.\(digits)f [%.\(digits)f, %.\(digits)f] n=%d", mean * scale, interval.lower * scale, interval.upper * scale, cell.score.n)
    }

    public func markdown() -> String {
        let scale = byDataset ? 100.0 : 1
        var out = ["## Leaderboard: \(task)", ""]
        out.append(byDataset
            ? "Scores ×100 per LongBench dataset with 95% Wilson intervals; ranked by the mean over datasets."
            : "Accuracy per length with 95% Wilson intervals; effective length = the longest length up to which accuracy stays ≥ \(String(format: "%.2f", threshold)) (RULER); ranked by the mean over lengths, then effective length, then speed.")
        out.append("")
        var header = ["rank", "model", "engine"] + columns.map(\.label) + ["mean"]
        if !byDataset { header.append("effective length") }
        header += ["prefill tok/s (longest)", "peak RSS MiB (longest)", "n", "newest run"]
        let body = rows.enumerated().map { i, row -> [String] in
            var cells = ["\(i + 1)", row.model, row.engine] + columns.map { Self.accuracyCell(row.cells[$0.label], scale: scale) }
            cells.append(row.mean.map { String(format: byDataset ? "%.1f" : "%.3f", $0 * scale) } ?? "–")
            if !byDataset { cells.append(row.effectiveLength ?? "none") }
            let longest = row.longestColumn.flatMap { row.cells[$0] }
            cells += [Format.number(longest?.prefillTokensPerSecond.value), Format.mebibytes(longest?.peakRSSBytes.value),
                      "\(row.samples)", row.newestRun]
            return cells
        }
        out.append(Format.table(header, body, rightAligned: Set(3..<header.count - 1)))
        out.append("")
        let configured = rows.filter { !$0.parameters.isEmpty }
        if !configured.isEmpty {
            out.append("Engine parameters:")
            out.append("")
            for row in configured {
                out.append("- `\(row.engine)`: " + row.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
            }
            out.append("")
        }
        return out.joined(separator: "\n")
    }
}
