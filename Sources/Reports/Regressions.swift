import Foundation
import Results

/// Cells of two sets of samples compared: accuracy that fell below the earlier cell's 95% Wilson
/// interval, prefill tokens/s down by more than 10%, peak RSS up by more than 10%.
public struct Comparison: Sendable {
    public struct Row: Sendable {
        public var task: String
        public var engine: String
        public var column: String
        public var before: Cell?
        public var after: Cell?
        public var flags: [String]
    }

    public static let speedTolerance = 0.10
    public static let memoryTolerance = 0.10

    public var rows: [Row]
    public var regressions: [Row] { rows.filter { !$0.flags.isEmpty } }

    /// Compares `before` and `after` cell by cell: (task, engine, length or LongBench bucket).
    public init(before: [SampleRecord], after: [SampleRecord]) {
        func cells(_ samples: [SampleRecord]) -> [String: (task: String, engine: String, column: String, order: Int, cell: Cell)] {
            var result: [String: (String, String, String, Int, Cell)] = [:]
            for s in samples {
                let g = LengthAxis.group(s)
                let key = "\(s.task)\u{1F}\(s.engine)\u{1F}\(g.label)"
                var entry = result[key] ?? (s.task, s.engine, g.label, g.order, Cell())
                entry.4.add(s)
                result[key] = entry
            }
            return result.mapValues { (task: $0.0, engine: $0.1, column: $0.2, order: $0.3, cell: $0.4) }
        }
        let a = cells(before), b = cells(after)
        let keys = Set(a.keys).union(b.keys).sorted {
            let x = a[$0] ?? b[$0]!, y = a[$1] ?? b[$1]!
            return (x.task, x.engine, x.order) < (y.task, y.engine, y.order)
        }
        rows = keys.map { key in
            let x = a[key], y = b[key]
            let info = x ?? y!
            return Row(task: info.task, engine: info.engine, column: info.column, before: x?.cell, after: y?.cell,
                       flags: Comparison.flags(before: x?.cell, after: y?.cell))
        }
    }

    static func flags(before: Cell?, after: Cell?) -> [String] {
        guard let before, let after else { return [] }
        var flags: [String] = []
        if let old = before.score.value, let new = after.score.value {
            let interval = WilsonInterval(successes: before.score.sum, trials: before.score.n)
            if new < interval.lower { flags.append(String(format: "accuracy %.2f → %.2f (below %.2f)", old, new, interval.lower)) }
        }
        if let old = before.prefillTokensPerSecond.value, let new = after.prefillTokensPerSecond.value, new < old * (1 - speedTolerance) {
            flags.append(String(format: "prefill %.0f → %.0f tok/s (%+.0f%%)", old, new, 100 * (new / old - 1)))
        }
        if let old = before.decodeTokensPerSecond.value, let new = after.decodeTokensPerSecond.value, new < old * (1 - speedTolerance) {
            flags.append(String(format: "decode %.1f → %.1f tok/s (%+.0f%%)", old, new, 100 * (new / old - 1)))
        }
        if let old = before.peakRSSBytes.value, let new = after.peakRSSBytes.value, new > old * (1 + memoryTolerance) {
            flags.append(String(format: "peak RSS %.0f → %.0f MiB (%+.0f%%)", old / 1_048_576, new / 1_048_576, 100 * (new / old - 1)))
        }
        let failedBefore = before.notRun, failedAfter = after.notRun
        if failedAfter > failedBefore { flags.append("\(failedAfter - failedBefore) more samples did not run") }
        return flags
    }

    public func markdown(title: String, beforeName: String, afterName: String) -> String {
        func delta(_ a: Double?, _ b: Double?, percent: Bool, format: String) -> String {
            guard let a, let b else { return "–" }
            return percent ? String(format: "%+.1f%%", 100 * (b / a - 1)) : String(format: format, b - a)
        }
        var out = ["## \(title)", ""]
        let flagged = regressions
        out.append(flagged.isEmpty ? "No regressions." : "**\(flagged.count) regression\(flagged.count == 1 ? "" : "s")** (accuracy below the earlier 95% interval, speed down or memory up by more than 10%):")
        out.append("")
        for row in flagged { out.append("- \(row.task) · \(row.engine) · \(row.column): " + row.flags.joined(separator: "; ")) }
        if !flagged.isEmpty { out.append("") }
        let body = rows.map { r -> [String] in
            [r.task, r.engine, r.column,
             Leaderboard.accuracyCell(r.before), Leaderboard.accuracyCell(r.after),
             delta(r.before?.score.value, r.after?.score.value, percent: false, format: "%+.2f"),
             Format.number(r.before?.prefillTokensPerSecond.value), Format.number(r.after?.prefillTokensPerSecond.value),
             delta(r.before?.prefillTokensPerSecond.value, r.after?.prefillTokensPerSecond.value, percent: true, format: ""),
             Format.mebibytes(r.before?.peakRSSBytes.value), Format.mebibytes(r.after?.peakRSSBytes.value),
             delta(r.before?.peakRSSBytes.value, r.after?.peakRSSBytes.value, percent: true, format: ""),
             r.flags.isEmpty ? "" : "⚠ " + r.flags.joined(separator: "; ")]
        }
        out.append(Format.table(["task", "engine", "length", "accuracy \(beforeName)", "accuracy \(afterName)", "Δ",
                                 "prefill tok/s \(beforeName)", "prefill tok/s \(afterName)", "Δ", "peak RSS MiB \(beforeName)",
                                 "peak RSS MiB \(afterName)", "Δ", "flags"], body, rightAligned: Set(3...11)))
        out.append("")
        return out.joined(separator: "\n")
    }
}
