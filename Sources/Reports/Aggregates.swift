import Foundation
import Results

/// Mean of a set of numbers with its count (every mean a report shows carries its n), keeping the
/// values for intervals that need them (the bootstrap).
public struct Mean: Equatable, Sendable {
    public private(set) var values: [Double] = []
    public var sum: Double { values.reduce(0, +) }
    public var n: Int { values.count }

    public init() {}
    public init<S: Sequence>(_ values: S) where S.Element == Double { for v in values { add(v) } }

    public mutating func add(_ value: Double?) {
        guard let value, value.isFinite else { return }
        values.append(value)
    }

    public var value: Double? { n > 0 ? sum / Double(n) : nil }
}

/// One (engine, length) cell of a run's samples: accuracy, latency and memory.
public struct Cell: Equatable, Sendable {
    public var score = Mean()
    /// The kind of the scores' metric: continuous as soon as one sample's is (a cell mixing
    /// metrics must not get a Wilson interval on F1 scores).
    public var kind = MetricKind.proportion
    public var timeToFirstTokenMs = Mean()
    public var prefillTokensPerSecond = Mean()
    public var decodeTokensPerSecond = Mean()
    public var peakRSSBytes = Mean()
    public var attentionStateBytes = Mean()
    public var promptTokens = Mean()
    public var truncated = 0
    /// Samples that ran while another process took cores: their speed is not the engine's own.
    public var contended = 0
    public var statuses: [SampleStatus: Int] = [:]

    public init() {}

    public mutating func add(_ s: SampleRecord) {
        statuses[s.status, default: 0] += 1
        guard s.status == .ok else { return }
        if s.metricKind == .continuous { kind = .continuous }
        score.add(s.score)
        timeToFirstTokenMs.add(s.timeToFirstTokenMs)
        prefillTokensPerSecond.add(s.prefillTokensPerSecond)
        decodeTokensPerSecond.add(s.decodeTokensPerSecond)
        peakRSSBytes.add(s.peakRSSBytes.map(Double.init))
        attentionStateBytes.add(s.attentionStateBytes.map(Double.init))
        promptTokens.add(Double(s.promptTokens))
        if s.truncated { truncated += 1 }
        if s.contended { contended += 1 }
    }

    /// The 95% interval of the mean score that fits the metric's kind.
    public var scoreInterval: (lower: Double, upper: Double)? { ScoreInterval.interval(kind: kind, scores: score.values) }

    /// Samples that did not run to completion.
    public var notRun: Int { statuses.filter { $0.key != .ok }.reduce(0) { $0 + $1.value } }
}

/// How samples are grouped along the length axis: grid lengths for samples sized in tokens,
/// LongBench-E buckets for samples measured in their records' words.
public enum LengthAxis {
    /// The label and a sort order.
    public static func group(_ s: SampleRecord) -> (label: String, order: Int) {
        switch s.lengthUnit {
        case .words: return longBenchBucket(words: s.length)
        case .tokens: return (label(tokens: s.length), s.length)
        }
    }

    public static func longBenchBucket(words: Int) -> (label: String, order: Int) {
        words < 4000 ? ("0-4k", 0) : words < 8000 ? ("4-8k", 1) : ("8k+", 2)
    }

    public static func label(tokens n: Int) -> String {
        if n >= 1 << 20 && n % (1 << 20) == 0 { return "\(n >> 20)M" }
        if n >= 1024 && n % 1024 == 0 { return "\(n >> 10)k" }
        return "\(n)"
    }
}

/// How a task family's results are laid out: per dataset (loaded benchmarks whose records come
/// from several datasets) or per length (generated tasks). A family laid out per dataset is one
/// line here.
public enum ReportLayout {
    public static let byDatasetFamilies: Set<String> = ["longbench"]

    public static func isByDataset(_ s: SampleRecord) -> Bool { byDatasetFamilies.contains(s.taskFamily) }

    /// Families that get RULER's task × length table beside the per-length sections.
    public static let rulerFamilies: Set<String> = ["ruler"]

    public static func isRuler(_ s: SampleRecord) -> Bool { rulerFamilies.contains(s.taskFamily) }
}

/// Samples grouped into cells by engine and length, keeping the engines' first-seen order.
public struct CellTable: Sendable {
    public var engines: [String] = []
    public var lengths: [(label: String, order: Int)] = []
    public var cells: [String: [String: Cell]] = [:]   // engine → length label → cell

    public init(_ samples: [SampleRecord], group: (SampleRecord) -> (label: String, order: Int) = LengthAxis.group) {
        var seenLengths: [String: Int] = [:]
        for s in samples {
            if cells[s.engine] == nil { engines.append(s.engine); cells[s.engine] = [:] }
            let g = group(s)
            seenLengths[g.label] = g.order
            cells[s.engine]![g.label, default: Cell()].add(s)
        }
        lengths = seenLengths.map { (label: $0.key, order: $0.value) }.sorted { $0.order < $1.order }
    }

    public func cell(_ engine: String, _ length: String) -> Cell? { cells[engine]?[length] }
}
