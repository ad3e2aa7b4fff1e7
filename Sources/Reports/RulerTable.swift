import Foundation
import Results

/// RULER's results table (its README's layout) for the samples of family `ruler`, per engine: each
/// task's score (mean × 100) per length, the average over tasks per length, and the effective
/// length. RULER's effective length is the longest length whose average exceeds 85.6 (Llama-2-7B's
/// score at 4K); here it is the longest length up to which every length's average exceeds the
/// threshold. A small model may never reach 85.6, so the table also gives the effective length at
/// a threshold relative to the model's own shortest-length average: 0.856 × that average (the same
/// fraction of its best-case score as 85.6 is of a perfect one).
public struct RulerTable {
    public static let absoluteThreshold = 85.6
    public static let relativeFraction = 0.856

    public private(set) var engines: [String] = []
    public private(set) var tasks: [String] = []
    public private(set) var lengths: [Int] = []
    /// engine → task → length → scores (× 100) of the samples that ran.
    private var scores: [String: [String: [Int: Mean]]] = [:]
    /// engine → task → length → samples with an empty prediction.
    private var nulls: [String: [String: [Int: Int]]] = [:]

    public init(_ samples: [SampleRecord]) {
        for s in samples where s.lengthUnit == .tokens {
            if scores[s.engine] == nil { engines.append(s.engine); scores[s.engine] = [:]; nulls[s.engine] = [:] }
            if !tasks.contains(s.dataset) { tasks.append(s.dataset) }
            if !lengths.contains(s.length) { lengths.append(s.length) }
            guard s.status == .ok else { continue }
            scores[s.engine]![s.dataset, default: [:]][s.length, default: Mean()].add(s.score.map { $0 * 100 })
            nulls[s.engine]![s.dataset, default: [:]][s.length, default: 0] += (s.figures["null"] ?? 0) > 0 ? 1 : 0
        }
        tasks.sort()
        lengths.sort()
    }

    public func score(_ engine: String, _ task: String, _ length: Int) -> Mean? { scores[engine]?[task]?[length] }
    public func nullCount(_ engine: String, _ task: String, _ length: Int) -> Int { nulls[engine]?[task]?[length] ?? 0 }

    /// The mean over tasks of each task's score at `length` (tasks without samples there left out).
    public func average(_ engine: String, _ length: Int) -> Mean {
        Mean(tasks.compactMap { score(engine, $0, length)?.value })
    }

    /// The longest length up to which every length's average exceeds `threshold`; nil when the
    /// shortest does not.
    public func effectiveLength(_ engine: String, threshold: Double) -> Int? {
        var effective: Int?
        for length in lengths {
            guard let average = average(engine, length).value, average > threshold else { break }
            effective = length
        }
        return effective
    }

    /// 0.856 × the engine's average at its shortest length.
    public func relativeThreshold(_ engine: String) -> Double? {
        lengths.lazy.compactMap { average(engine, $0).value }.first.map { $0 * Self.relativeFraction }
    }

    public func document() -> Document {
        var doc = Document()
        guard !engines.isEmpty else { return doc }
        doc.heading(2, "RULER scores per task × length (×100)")
        doc.paragraph("Each cell is the task's mean score over its samples (string_match_all or string_match_part, as RULER's evaluator), "
                      + "with n; nulls are samples with an empty prediction. The average is over the tasks with samples at that length. "
                      + "Effective length: the longest length up to which every average exceeds the threshold — RULER's absolute "
                      + "\(Format.number(Self.absoluteThreshold)), and \(Self.relativeFraction) × the engine's own average at its shortest length.")
        let labels = lengths.map { LengthAxis.label(tokens: $0) }
        let right = Set(1...lengths.count)
        for engine in engines {
            if engines.count > 1 { doc.heading(3, "Engine \(engine)") }
            var rows = tasks.map { task in
                [task] + lengths.map { length -> String in
                    guard let mean = score(engine, task, length), let value = mean.value else { return "–" }
                    let nulls = nullCount(engine, task, length)
                    return Format.number(value) + " (n=\(mean.n)\(nulls > 0 ? ", \(nulls) null" : ""))"
                }
            }
            rows.append(["**average**"] + lengths.map { length in
                let mean = average(engine, length)
                let partial = mean.n < tasks.count ? " (\(mean.n) of \(tasks.count) tasks)" : ""
                return mean.value.map { "**" + Format.number($0) + "**" + partial } ?? "–"
            })
            doc.table(["task"] + labels, rows, rightAligned: right)
            let relative = relativeThreshold(engine)
            func effective(_ threshold: Double?) -> String {
                guard let threshold else { return "–" }
                return effectiveLength(engine, threshold: threshold).map { LengthAxis.label(tokens: $0) } ?? "below it at \(labels[0])"
            }
            doc.bullets([
                "Effective length at \(Format.number(Self.absoluteThreshold)) (RULER's threshold): \(effective(Self.absoluteThreshold))",
                "Effective length at \(relative.map { Format.number($0) } ?? "–") (\(Self.relativeFraction) × the \(labels[0]) average): "
                    + effective(relative),
            ])
        }
        return doc
    }
}
