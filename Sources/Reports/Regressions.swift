import Foundation
import Results

/// Cells (task × engine × length) of two sets of samples compared. Accuracy is flagged when it fell
/// below the earlier cell's 95% interval (Wilson for proportions, bootstrap for continuous scores);
/// where the same samples ran on both sides (the same sample keys: nightlies of one suite, or two
/// engines of one run), the paired test of the difference (McNemar's exact test for right/wrong
/// scores, a paired bootstrap otherwise) is given beside it. Small nightlies flag a collapse that a
/// paired test at n = 4 cannot call significant, so the flag is the interval's. Also flagged:
/// prefill or decode tokens/s down, or peak RSS up, by more than 10%, and more samples that did not run.
/// Speed is not compared where either side has samples that ran contended (another process took
/// cores): the row says so instead of flagging the machine's slowness as the engine's.
public struct Comparison: Sendable {
    public struct Row: Sendable {
        public var task: String
        public var engine: String
        public var column: String
        public var before: Cell?
        public var after: Cell?
        /// After against before on the samples both ran.
        public var paired: PairedResult?
        public var flags: [String]
        /// Comparisons not made, and why (speed of contended samples).
        public var notes: [String]
    }

    public static let speedTolerance = 0.10
    public static let memoryTolerance = 0.10

    public var rows: [Row]
    public var regressions: [Row] { rows.filter { !$0.flags.isEmpty } }

    struct Side {
        var task: String, engine: String, column: String, order: Int
        var cell = Cell()
        var scores: [String: Double] = [:]
    }

    /// Compares `before` and `after` cell by cell: (task, engine, length, or dataset for families laid
    /// out by dataset). `runs` holds the samples' runs: two samples pair only when their keys and
    /// their runs' task parameters (seed included) are the same, so they were the same prompt.
    public init(before: [SampleRecord], after: [SampleRecord], runs: [RunRecord]) {
        let parameters = Dictionary(runs.map { ($0.id, Leaderboard.parameterIdentity($0)) }, uniquingKeysWith: { a, _ in a })
        func sides(_ samples: [SampleRecord]) -> [String: Side] {
            var result: [String: Side] = [:]
            for s in samples {
                let g = ReportLayout.isByDataset(s) ? (label: s.dataset, order: 0) : LengthAxis.group(s)
                let key = "\(s.task)\u{1F}\(s.engine)\u{1F}\(g.label)"
                var side = result[key] ?? Side(task: s.task, engine: s.engine, column: g.label, order: g.order)
                side.cell.add(s)
                if s.status == .ok, let score = s.score { side.scores[(parameters[s.runID] ?? "?\(s.runID)") + "\u{1E}" + s.sampleKey] = score }
                result[key] = side
            }
            return result
        }
        let a = sides(before), b = sides(after)
        let keys = Set(a.keys).union(b.keys).sorted {
            let x = a[$0] ?? b[$0]!, y = a[$1] ?? b[$1]!
            return (x.task, x.engine, x.order, x.column) < (y.task, y.engine, y.order, y.column)
        }
        rows = keys.map { key in
            let x = a[key], y = b[key]
            let info = x ?? y!
            var paired: PairedResult?
            if let x, let y {
                let common = x.scores.keys.filter { y.scores[$0] != nil }.sorted()
                if !common.isEmpty {
                    let kind: MetricKind = x.cell.kind == y.cell.kind ? x.cell.kind : .continuous
                    paired = PairedComparison.compare(kind: kind, pairs: common.map { (a: x.scores[$0]!, b: y.scores[$0]!) })
                }
            }
            let (flags, notes) = Comparison.flags(before: x?.cell, after: y?.cell, paired: paired)
            return Row(task: info.task, engine: info.engine, column: info.column, before: x?.cell, after: y?.cell, paired: paired,
                       flags: flags, notes: notes)
        }
    }

    /// Two engines of the same samples: `first`'s samples against `second`'s, cell by cell.
    public init(samples: [SampleRecord], first: String, second: String, runs: [RunRecord]) {
        func relabelled(_ engine: String) -> [SampleRecord] {
            samples.filter { $0.engine == engine }.map { s in
                var s = s
                s.engine = "\(first) → \(second)"
                return s
            }
        }
        self.init(before: relabelled(first), after: relabelled(second), runs: runs)
    }

    static func flags(before: Cell?, after: Cell?, paired: PairedResult?) -> (flags: [String], notes: [String]) {
        guard let before, let after else { return ([], []) }
        var flags: [String] = [], notes: [String] = []
        if let old = before.score.value, let new = after.score.value, let interval = before.scoreInterval, new < interval.lower {
            var flag = String(format: "accuracy %.2f → %.2f (below %.2f)", old, new, interval.lower)
            if let paired { flag += String(format: ", paired: %@ p=%.3g, n=%d", paired.testName, paired.pValue, paired.n) }
            flags.append(flag)
        }
        if before.contended > 0 || after.contended > 0 {
            notes.append("speed not compared: \(before.contended) before and \(after.contended) after of the samples ran while "
                         + "another process took cores")
        } else {
            if let old = before.prefillTokensPerSecond.value, let new = after.prefillTokensPerSecond.value, new < old * (1 - speedTolerance) {
                flags.append(String(format: "prefill %.0f → %.0f tok/s (%+.0f%%)", old, new, 100 * (new / old - 1)))
            }
            if let old = before.decodeTokensPerSecond.value, let new = after.decodeTokensPerSecond.value, new < old * (1 - speedTolerance) {
                flags.append(String(format: "decode %.1f → %.1f tok/s (%+.0f%%)", old, new, 100 * (new / old - 1)))
            }
        }
        if let old = before.peakRSSBytes.value, let new = after.peakRSSBytes.value, new > old * (1 + memoryTolerance) {
            flags.append(String(format: "peak RSS %.0f → %.0f MiB (%+.0f%%)", old / 1_048_576, new / 1_048_576, 100 * (new / old - 1)))
        }
        let failedBefore = before.notRun, failedAfter = after.notRun
        if failedAfter > failedBefore { flags.append("\(failedAfter - failedBefore) more samples did not run") }
        return (flags, notes)
    }

    /// Rows with comparisons not made, each as "task · engine · column: why".
    public var notes: [String] {
        rows.filter { !$0.notes.isEmpty }.map { "\($0.task) · \($0.engine) · \($0.column): " + $0.notes.joined(separator: "; ") }
    }

    public func document(title: String, beforeName: String, afterName: String) -> Document {
        func delta(_ a: Double?, _ b: Double?, percent: Bool, format: String) -> String {
            guard let a, let b else { return "–" }
            return percent ? String(format: "%+.1f%%", 100 * (b / a - 1)) : String(format: format, b - a)
        }
        var doc = Document()
        doc.heading(2, title)
        let flagged = regressions
        doc.paragraph(flagged.isEmpty ? "No regressions." : "**\(flagged.count) regression\(flagged.count == 1 ? "" : "s")** (accuracy below the earlier 95% interval, with the paired test on the common samples; speed down or memory up by more than 10%):")
        doc.bullets(flagged.map { "\($0.task) · \($0.engine) · \($0.column): " + $0.flags.joined(separator: "; ") })
        if !notes.isEmpty {
            doc.paragraph("Not compared (timings from a shared machine are not the engine's own):")
            doc.bullets(notes)
        }
        doc.paragraph("\"paired\": the accuracy difference on the samples both sides ran, with McNemar's exact test (right/wrong scores) or a paired bootstrap (continuous scores); ⚠ marks p < 0.05.")
        let body = rows.map { r -> [String] in
            [r.task, r.engine, r.column,
             Leaderboard.accuracyCell(r.before), Leaderboard.accuracyCell(r.after),
             delta(r.before?.score.value, r.after?.score.value, percent: false, format: "%+.2f"),
             Leaderboard.pairedCell(r.paired, scale: 1),
             r.before.map { Format.speed($0.prefillTokensPerSecond.value, of: $0) } ?? "–",
             r.after.map { Format.speed($0.prefillTokensPerSecond.value, of: $0) } ?? "–",
             delta(r.before?.prefillTokensPerSecond.value, r.after?.prefillTokensPerSecond.value, percent: true, format: ""),
             Format.mebibytes(r.before?.peakRSSBytes.value), Format.mebibytes(r.after?.peakRSSBytes.value),
             delta(r.before?.peakRSSBytes.value, r.after?.peakRSSBytes.value, percent: true, format: ""),
             r.flags.isEmpty ? "" : "⚠ " + r.flags.joined(separator: "; ")]
        }
        doc.table(["task", "engine", "length", "accuracy \(beforeName)", "accuracy \(afterName)", "Δ", "paired",
                   "prefill tok/s \(beforeName)", "prefill tok/s \(afterName)", "Δ", "peak RSS MiB \(beforeName)",
                   "peak RSS MiB \(afterName)", "Δ", "flags"], body, rightAligned: Set(3...12))
        return doc
    }
}
