import Foundation
import Results

/// One leaderboard row: a model with one engine configuration, over the newest sample of each
/// sample identity in every run that has them. A sample's identity is its key together with the
/// task parameters of its run (seed included), so runs with other seeds or an edited task file add
/// samples instead of replacing them.
public struct LeaderboardRow: Sendable {
    public var model: String
    public var modelSHA256: String
    public var engine: String
    public var parameters: [String: String]
    /// Column (length label or LongBench dataset) → cell.
    public var cells: [String: Cell]
    /// Sample identity → score, for paired comparisons between rows.
    public var scores: [String: Double]
    public var kind: MetricKind
    public var mean: Double?
    public var effectiveLength: String?
    public var longestColumn: String?
    public var samples: Int
    public var newestRun: String
    /// This row against the top row on the samples both ran (nil for the top row).
    public var versusBest: PairedResult?
}

/// A leaderboard for one task: rows ranked by mean accuracy, then effective length, then speed;
/// each row below the first is tested against the first on their common samples.
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

    /// A run's task parameters as one canonical string: part of each of its samples' identity.
    static func parameterIdentity(_ run: RunRecord) -> String {
        run.taskParameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\u{1F}")
    }

    public init(store: ResultsStore, task: String, threshold: Double = 0.85) throws {
        self.task = task
        self.threshold = threshold
        let runs = try store.runs().filter { $0.task == task }.sorted { $0.id > $1.id }
        guard !runs.isEmpty else { throw StoreError.empty(path: store.path, what: "no runs of task '\(task)'") }
        struct RowKey: Hashable { var sha: String; var engine: String; var parameters: [String: String] }
        var samplesByRow: [RowKey: [String: SampleRecord]] = [:]
        var info: [RowKey: (model: String, newest: String)] = [:]
        for run in runs {
            let engines = Dictionary(run.engines.map { ($0.label, $0) }, uniquingKeysWith: { a, _ in a })
            let parameters = Self.parameterIdentity(run)
            for s in try store.samples(runIDs: [run.id]) {
                let key = RowKey(sha: run.modelSHA256, engine: s.engine, parameters: engines[s.engine]?.parameters ?? [:])
                if info[key] == nil { info[key] = (run.modelName, run.createdAt) }
                let identity = parameters + "\u{1E}" + s.sampleKey
                if samplesByRow[key, default: [:]][identity] == nil { samplesByRow[key, default: [:]][identity] = s }
            }
        }
        let all = samplesByRow.values.flatMap(\.values)
        let byDataset = !all.isEmpty && all.allSatisfy(ReportLayout.isByDataset)
        self.byDataset = byDataset
        let group: (SampleRecord) -> (label: String, order: Int) = byDataset ? { ($0.dataset, 0) } : LengthAxis.group
        var columnOrder: [String: Int] = [:]
        for s in all { let g = group(s); columnOrder[g.label] = g.order }
        columns = columnOrder.map { (label: $0.key, order: $0.value) }.sorted { ($0.order, $0.label) < ($1.order, $1.label) }
        let labels = columns.map(\.label)
        rows = samplesByRow.map { key, byIdentity in
            var cells: [String: Cell] = [:]
            var scores: [String: Double] = [:]
            for (identity, s) in byIdentity {
                cells[group(s).label, default: Cell()].add(s)
                if s.status == .ok, let score = s.score { scores[identity] = score }
            }
            let means = labels.compactMap { cells[$0]?.score.value }
            var effective: String?
            if !byDataset {
                for label in labels where cells[label] != nil {
                    guard let value = cells[label]?.score.value, value >= threshold else { break }
                    effective = label
                }
            }
            let kinds = Set(byIdentity.values.filter { $0.status == .ok }.map(\.metricKind))
            return LeaderboardRow(model: info[key]!.model, modelSHA256: key.sha, engine: key.engine, parameters: key.parameters,
                                  cells: cells, scores: scores, kind: kinds.count == 1 ? kinds.first! : .continuous,
                                  mean: means.isEmpty ? nil : means.reduce(0, +) / Double(means.count),
                                  effectiveLength: effective, longestColumn: labels.last { cells[$0] != nil },
                                  samples: byIdentity.count, newestRun: info[key]!.newest, versusBest: nil)
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
        if let best = rows.first {
            for i in rows.indices.dropFirst() {
                let common = best.scores.keys.filter { rows[i].scores[$0] != nil }.sorted()
                let kind: MetricKind = best.kind == rows[i].kind ? best.kind : .continuous
                rows[i].versusBest = PairedComparison.compare(kind: kind, pairs: common.map { (a: best.scores[$0]!, b: rows[i].scores[$0]!) })
            }
        }
    }

    /// "0.83 [0.44, 0.97] n=6" with the interval its kind calls for, or a dash.
    public static func accuracyCell(_ cell: Cell?, scale: Double = 1) -> String {
        guard let cell, let mean = cell.score.value, let interval = cell.scoreInterval else { return "–" }
        let digits = scale == 1 ? 2 : 1
        return String(format: "%.\(digits)f [%.\(digits)f, %.\(digits)f] n=%d", mean * scale, interval.lower * scale, interval.upper * scale, cell.score.n)
    }

    /// "−0.25, p=0.031 ⚠" (significant at 5%), or "+0.02, p=0.81".
    static func pairedCell(_ result: PairedResult?, scale: Double) -> String {
        guard let result else { return "–" }
        guard result.n > 0 else { return "no common samples" }
        let digits = scale == 1 ? 2 : 1
        return String(format: "%+.\(digits)f, p=%.3g", result.meanDifference * scale, result.pValue) + (result.significant ? " ⚠" : "")
            + " (\(result.testName), n=\(result.n))"
    }

    public func document() -> Document {
        let scale = byDataset ? 100.0 : 1
        var doc = Document()
        doc.heading(2, "Leaderboard: \(task)")
        doc.paragraph((byDataset
            ? "Scores ×100 per LongBench dataset with 95% intervals (Wilson for proportions, bootstrap for continuous scores); ranked by the mean over datasets."
            : "Accuracy per length with 95% intervals (Wilson for proportions, bootstrap for continuous scores); effective length = the longest length up to which accuracy stays ≥ \(String(format: "%.2f", threshold)) (RULER); ranked by the mean over lengths, then effective length, then speed.")
            + " \"vs #1\": the difference from the top row on the samples both ran, with a paired test (McNemar's exact test for right/wrong scores, a paired bootstrap otherwise); ⚠ marks p < 0.05.")
        var header = ["rank", "model", "engine"] + columns.map(\.label) + ["mean"]
        if !byDataset { header.append("effective length") }
        header += ["vs #1", "prefill tok/s (longest)", "peak RSS MiB (longest)", "n", "newest run"]
        let body = rows.enumerated().map { i, row -> [String] in
            var cells = ["\(i + 1)", row.model, row.engine] + columns.map { Self.accuracyCell(row.cells[$0.label], scale: scale) }
            cells.append(row.mean.map { String(format: byDataset ? "%.1f" : "%.3f", $0 * scale) } ?? "–")
            if !byDataset { cells.append(row.effectiveLength ?? "none") }
            cells.append(i == 0 ? "" : Self.pairedCell(row.versusBest, scale: scale))
            let longest = row.longestColumn.flatMap { row.cells[$0] }
            cells += [longest.map { Format.speed($0.prefillTokensPerSecond.value, of: $0) } ?? "–", Format.mebibytes(longest?.peakRSSBytes.value),
                      "\(row.samples)", row.newestRun]
            return cells
        }
        doc.table(header, body, rightAligned: Set(3..<header.count - 1))
        if rows.contains(where: { row in row.longestColumn.flatMap { row.cells[$0] }.map { $0.contended > 0 } ?? false }) {
            doc.paragraph(Format.contendedNote)
        }
        let configured = rows.filter { !$0.parameters.isEmpty }
        if !configured.isEmpty {
            doc.paragraph("Engine parameters:")
            doc.bullets(configured.map { row in
                "`\(row.engine)`: " + row.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
            })
        }
        return doc
    }
}
