import Foundation
import Results

/// The perplexity section of a report (LM-Infinite, Fig. 1) for samples that carry
/// `PerplexityFigures`: perplexity per sample length and per position range × engine, and a plot of
/// log-perplexity (mean NLL) against position, one line per engine, the trained context marked.
/// Each engine's curve comes from its longest sample: the shorter ones are its prefixes, scored alike.
public struct PerplexityReport {
    /// One engine's NLL by position.
    public struct Curve: Sendable {
        public var engine: String
        /// Position buckets, each from the longest sample that has it.
        public var buckets: [PerplexityFigures.Bucket]
        public var bucketSize: Int
        public var trainedContext: Int?
    }

    public private(set) var curves: [Curve] = []
    /// Sample length → engine → the samples' overall mean NLL.
    private var byLength: [Int: [String: Mean]] = [:]

    /// At most this many points per line: adjacent buckets are merged (weighted by their tokens)
    /// so a 1M-token run with 1k buckets stays a readable plot.
    static let maximumPoints = 256

    public init(_ samples: [SampleRecord]) {
        let scored = samples.filter { $0.status == .ok && $0.figures[PerplexityFigures.meanNLL] != nil }
        var engines: [String] = []
        for s in scored where !engines.contains(s.engine) { engines.append(s.engine) }
        for engine in engines {
            let mine = scored.filter { $0.engine == engine }.sorted { ($0.figures[PerplexityFigures.scoredTokens] ?? 0) > ($1.figures[PerplexityFigures.scoredTokens] ?? 0) }
            var merged: [Int: PerplexityFigures.Bucket] = [:]
            for s in mine {
                for bucket in PerplexityFigures.buckets(s.figures) where merged[bucket.start].map({ $0.tokens < bucket.tokens }) ?? true {
                    merged[bucket.start] = bucket
                }
                byLength[s.length, default: [:]][engine, default: Mean()].add(s.figures[PerplexityFigures.meanNLL])
            }
            curves.append(Curve(engine: engine, buckets: merged.values.sorted { $0.start < $1.start },
                                bucketSize: Int(mine[0].figures[PerplexityFigures.bucketTokens] ?? 1),
                                trainedContext: mine[0].figures[PerplexityFigures.trainedContext].map(Int.init)))
        }
    }

    /// exp of the token-weighted mean NLL of `buckets`, with their tokens.
    static func perplexity(_ buckets: [PerplexityFigures.Bucket]) -> (value: Double, tokens: Int)? {
        let tokens = buckets.reduce(0) { $0 + $1.tokens }
        guard tokens > 0 else { return nil }
        return (Foundation.exp(buckets.reduce(0) { $0 + Double($1.tokens) * $1.meanNLL } / Double(tokens)), tokens)
    }

    /// Position ranges doubling from the bucket size: [0, b), [b, 2b), [2b, 4b), … up to the last scored position.
    func positionRanges() -> [Range<Int>] {
        let size = curves.map(\.bucketSize).min() ?? 1
        let end = curves.compactMap { $0.buckets.last.map { $0.start + $0.tokens } }.max() ?? 0
        var ranges = [0..<size]
        while ranges[ranges.count - 1].upperBound < end {
            let start = ranges[ranges.count - 1].upperBound
            ranges.append(start..<(2 * start))
        }
        return ranges
    }

    public func document() -> Document {
        var doc = Document()
        guard !curves.isEmpty else { return doc }
        doc.heading(2, "Perplexity")
        let trained = Set(curves.compactMap(\.trainedContext)).sorted().map { LengthAxis.label(tokens: $0) }
        doc.paragraph("Every token of the text after the first is scored: its NLL is −ln p(token | all tokens before it), under the "
                      + "engine's attention strategy, and perplexity is exp(mean NLL). A sample's score is 1 / perplexity (the geometric "
                      + "mean probability of its tokens), so higher is better in the accuracy tables. "
                      + "Trained context: \(trained.isEmpty ? "–" : trained.joined(separator: ", ")) tokens.")
        let engines = curves.map(\.engine)
        let right = Set(1...engines.count)
        doc.heading(3, "Perplexity by length × engine")
        doc.table(["length (tokens)"] + engines, byLength.keys.sorted().map { length in
            [LengthAxis.label(tokens: length)] + engines.map { engine in
                byLength[length]?[engine].flatMap { mean in mean.value.map { Format.number(Foundation.exp($0), decimals: 2) + " (n=\(mean.n))" } } ?? "–"
            }
        }, rightAligned: right)
        doc.heading(3, "Perplexity per position range × engine")
        let trainedContext = curves.compactMap(\.trainedContext).min()
        doc.table(["positions"] + engines, positionRanges().map { range in
            let past = trainedContext.map { range.lowerBound >= $0 } ?? false
            return ["\(LengthAxis.label(tokens: range.lowerBound))–\(LengthAxis.label(tokens: range.upperBound))" + (past ? " (past trained context)" : "")]
                + curves.map { curve in
                    Self.perplexity(curve.buckets.filter { range.contains($0.start) }).map { Format.number($0.value, decimals: 2) + " (\($0.tokens) tokens)" } ?? "–"
                }
        }, rightAligned: right)
        return doc
    }

    /// Log-perplexity (mean NLL) against position, one line per engine.
    public var plots: [Plot] {
        guard !curves.isEmpty else { return [] }
        let series = curves.map { curve -> SVG.Series in
            let group = max(1, (curve.buckets.count + Self.maximumPoints - 1) / Self.maximumPoints)
            let points = stride(from: 0, to: curve.buckets.count, by: group).compactMap { i -> (x: Double, y: Double, label: String)? in
                let part = Array(curve.buckets[i..<min(i + group, curve.buckets.count)])
                guard let first = part.first, let last = part.last, let ppl = Self.perplexity(part) else { return nil }
                let end = last.start + curve.bucketSize
                return (x: Double(first.start + end) / 2, y: Foundation.log(ppl.value),
                        label: "positions \(first.start)–\(end)")
            }
            return SVG.Series(name: curve.engine, points: points)
        }
        let end = Double(curves.compactMap { $0.buckets.last.map { $0.start + $0.tokens } }.max() ?? 1)
        // Round steps in k tokens, so ticks read 1k, 2k … rather than 1000, 1.95k.
        let step = end >= 4096 ? max(1, SVG.niceCeiling(end / 5 / 1024)) * 1024 : SVG.niceCeiling(end / 5)
        let ticks = stride(from: 0, through: end, by: step).map { (x: $0, label: Self.positionLabel(Int($0))) }
        let trained = Set(curves.compactMap(\.trainedContext)).sorted()
        let markers = trained.map { (x: Double($0), label: "trained context \(LengthAxis.label(tokens: $0))") }
        // The chart draws a marker only inside the positions scored; one past them is said instead.
        let beyond = trained.filter { Double($0) >= end }.map { LengthAxis.label(tokens: $0) }
        let title = "Log-perplexity vs position" + (beyond.isEmpty ? "" : " (trained context \(beyond.joined(separator: ", ")): past the last position)")
        return [Plot(name: "perplexity.svg", title: title, svg:
                     SVG.lineChart(title: "log-perplexity vs position", xLabel: "position (tokens)", yLabel: "log-perplexity (mean NLL, nats)",
                                   series: series, logX: false, unitY: false, valueFormat: "%.2f", xTicks: ticks, markers: markers,
                                   pointRadius: 1.5))]
    }

    /// A tick label: 0, 512, 20k, 1.5M.
    static func positionLabel(_ n: Int) -> String {
        if n >= 1 << 20 { return String(format: "%gM", Double(n) / Double(1 << 20)) }
        if n >= 1024 { return String(format: "%gk", Double(n) / 1024) }
        return "\(n)"
    }
}
