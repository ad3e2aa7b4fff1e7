import Foundation
import Results

/// A metric's verdict on one output: the score (0…1) and any named extra figures, stored beside it.
public struct MetricResult: Equatable, Sendable {
    public var score: Double
    public var figures: [String: Double]

    public init(score: Double, figures: [String: Double] = [:]) {
        self.score = score
        self.figures = figures
    }
}

/// A scoring rule as task files name it: its kind says which statistics fit its scores (Wilson
/// and McNemar for proportions, bootstrap for continuous scores).
public struct Metric: Sendable {
    public let name: String
    public let kind: MetricKind
    let scoring: @Sendable (_ prediction: String, _ answers: [String], _ allClasses: [String]) -> MetricResult
    /// For a metric of what the engine measured rather than what it wrote (perplexity): the
    /// verdict from the engine's figures (`Sample.score(_:)` with an `EngineOutput`).
    let figureScoring: (@Sendable (_ figures: [String: Double]) -> MetricResult)?

    public init(name: String, kind: MetricKind,
                scoring: @escaping @Sendable (_ prediction: String, _ answers: [String], _ allClasses: [String]) -> MetricResult) {
        self.name = name
        self.kind = kind
        self.scoring = scoring
        figureScoring = nil
    }

    /// A metric of the engine's figures; an output's text alone scores 0.
    public init(name: String, kind: MetricKind, scoringFigures: @escaping @Sendable (_ figures: [String: Double]) -> MetricResult) {
        self.name = name
        self.kind = kind
        scoring = { _, _, _ in MetricResult(score: 0) }
        figureScoring = scoringFigures
    }

    /// A metric scoring against each reference answer alone, the sample's score being the best
    /// over its answers (LongBench's rule).
    public static func bestOverAnswers(_ name: String, _ kind: MetricKind,
                                       _ score: @escaping @Sendable (_ prediction: String, _ answer: String, _ allClasses: [String]) -> Double) -> Metric {
        Metric(name: name, kind: kind) { prediction, answers, classes in
            MetricResult(score: answers.map { score(prediction, $0, classes) }.max() ?? 0)
        }
    }

    public func score(_ prediction: String, answers: [String], allClasses: [String] = []) -> MetricResult {
        guard !answers.isEmpty else { return MetricResult(score: 0) }
        return scoring(prediction, answers, allClasses)
    }
}

/// LongBench's metrics follow `LongBench/metrics.py` and the packages it calls (`rouge` 1.0.1,
/// `fuzzywuzzy` 0.18.0 on difflib) quirks included, so scores compare with published numbers.
extension Metric {
    /// The first run of digits in the output equals the answer (passkey).
    public static let firstInteger = bestOverAnswers("first_integer", .proportion) { prediction, answer, _ in
        let gold = Metrics.firstInteger(answer)
        return gold != nil && Metrics.firstInteger(prediction) == gold ? 1 : 0
    }

    /// The fraction of the answers that occur in the output, case-insensitively (needle), with the
    /// number found as a figure.
    public static let containsAll = Metric(name: "contains_all", kind: .proportion) { prediction, answers, _ in
        let text = prediction.lowercased()
        let found = answers.filter { text.contains($0.lowercased()) }.count
        return MetricResult(score: Double(found) / Double(answers.count),
                            figures: ["answers_found": Double(found), "answers": Double(answers.count)])
    }

    public static let qaF1 = bestOverAnswers("qa_f1", .continuous) { p, a, _ in Metrics.qaF1(p, a) }
    public static let rougeL = bestOverAnswers("rouge_l", .continuous) { p, a, _ in Metrics.rougeL(p, a) }
    public static let classification = bestOverAnswers("classification", .proportion) { p, a, classes in
        Metrics.classification(p, a, allClasses: classes)
    }
    public static let retrieval = bestOverAnswers("retrieval", .proportion) { p, a, _ in Metrics.retrieval(p, a) }
    public static let count = bestOverAnswers("count", .proportion) { p, a, _ in Metrics.count(p, a) }
    public static let codeSimilarity = bestOverAnswers("code_sim", .continuous) { p, a, _ in Metrics.codeSimilarity(p, a) }
}

public enum Metrics {
    // MARK: Shared pieces

    /// Runs of decimal digits (Python's `\d+`).
    static func digitRuns(_ text: String) -> [String] {
        var runs: [String] = []
        var current = ""
        for scalar in text.unicodeScalars {
            if scalar.properties.numericType == .decimal { current.unicodeScalars.append(scalar) }
            else if !current.isEmpty { runs.append(current); current = "" }
        }
        if !current.isEmpty { runs.append(current) }
        return runs
    }

    public static func firstInteger(_ text: String) -> String? { digitRuns(text).first }

    /// LongBench cuts the prediction of trec, triviaqa, samsum and lsht to its first line.
    public static func firstLine(_ text: String) -> String {
        let trimmed = text.drop { $0 == "\n" }
        return String(trimmed.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
    }

    // MARK: QA F1 (SQuAD normalisation)

    /// Lower-case, delete ASCII punctuation, replace the words a/an/the by a space, collapse
    /// whitespace; then split into words.
    public static func normalizedWords(_ text: String) -> [String] {
        let punctuation = Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".unicodeScalars)
        var cleaned = String.UnicodeScalarView()
        for scalar in text.lowercased().unicodeScalars where !punctuation.contains(scalar) { cleaned.append(scalar) }
        // \b(a|an|the)\b: whole runs of word characters.
        func isWord(_ s: Unicode.Scalar) -> Bool { s.properties.isAlphabetic || s.properties.numericType != nil || s == "_" }
        var result = String.UnicodeScalarView()
        var run = String.UnicodeScalarView()
        func flush() {
            let word = String(run)
            if word == "a" || word == "an" || word == "the" { result.append(" ") } else { result.append(contentsOf: run) }
            run.removeAll()
        }
        for scalar in cleaned {
            if isWord(scalar) { run.append(scalar) } else { flush(); result.append(scalar) }
        }
        flush()
        return String(result).split(whereSeparator: { $0.isWhitespace }).map(String.init)
    }

    public static func qaF1(_ prediction: String, _ answer: String) -> Double {
        tokenF1(normalizedWords(prediction), normalizedWords(answer))
    }

    static func tokenF1(_ prediction: [String], _ reference: [String]) -> Double {
        var counts: [String: Int] = [:]
        for w in reference { counts[w, default: 0] += 1 }
        var same = 0
        for w in prediction where (counts[w] ?? 0) > 0 {
            counts[w]! -= 1
            same += 1
        }
        guard same > 0 else { return 0 }
        let precision = Double(same) / Double(prediction.count), recall = Double(same) / Double(reference.count)
        return 2 * precision * recall / (precision + recall)
    }

    // MARK: ROUGE-L F (the `rouge` 1.0.1 package, summary level)

    /// Sentences as the package splits them: on every ".", empty pieces dropped, whitespace runs
    /// collapsed (a piece of spaces survives as an empty sentence).
    static func rougeSentences(_ text: String) -> [[String]] {
        text.split(separator: ".", omittingEmptySubsequences: true).map { piece in
            let collapsed = piece.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
            return collapsed.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        }
    }

    /// The words of one longest common subsequence of `x` and `y`, reconstructed from the bottom-right
    /// corner of the DP table as the package does.
    static func lcsWords(_ x: [String], _ y: [String]) -> [String] {
        let n = x.count, m = y.count
        var table = [Int](repeating: 0, count: (n + 1) * (m + 1))
        for i in 1...max(n, 1) where n > 0 {
            for j in 1...max(m, 1) where m > 0 {
                table[i * (m + 1) + j] = x[i - 1] == y[j - 1] ? table[(i - 1) * (m + 1) + j - 1] + 1
                    : max(table[(i - 1) * (m + 1) + j], table[i * (m + 1) + j - 1])
            }
        }
        var words: [String] = []
        var i = n, j = m
        while i > 0 && j > 0 {
            if x[i - 1] == y[j - 1] { words.append(x[i - 1]); i -= 1; j -= 1 }
            else if table[(i - 1) * (m + 1) + j] > table[i * (m + 1) + j - 1] { i -= 1 }
            else { j -= 1 }
        }
        return words.reversed()
    }

    public static func rougeL(_ prediction: String, _ reference: String) -> Double {
        let hypothesis = rougeSentences(prediction), references = rougeSentences(reference)
        // The package raises on an empty side; LongBench scores that 0.
        guard !hypothesis.isEmpty, !references.isEmpty else { return 0 }
        let m = Set(references.joined()).count, n = Set(hypothesis.joined()).count
        var union = Set<String>()
        for r in references {
            for c in hypothesis { union.formUnion(lcsWords(r, c)) }
        }
        let llcs = Double(union.count)
        let recall = llcs / Double(m), precision = llcs / Double(n)
        return 2 * (precision * recall) / (precision + recall + 1e-8)
    }

    // MARK: Classification, retrieval, count

    public static func classification(_ prediction: String, _ answer: String, allClasses: [String]) -> Double {
        var matches = allClasses.filter { prediction.contains($0) }
        // Upstream removes from the list while iterating over it, which skips the element after
        // each removal; reproduce that.
        var i = 0
        while i < matches.count {
            let term = matches[i]
            if answer.contains(term) && term != answer, let at = matches.firstIndex(of: term) { matches.remove(at: at) }
            i += 1
        }
        return matches.contains(answer) ? 1 / Double(matches.count) : 0
    }

    public static func retrieval(_ prediction: String, _ answer: String) -> Double {
        guard let range = answer.range(of: #"Paragraph (\d+)"#, options: .regularExpression) else { return 0 }
        let gold = String(answer[range].dropFirst("Paragraph ".count))
        return fractionEqual(digitRuns(prediction), gold)
    }

    public static func count(_ prediction: String, _ answer: String) -> Double {
        fractionEqual(digitRuns(prediction), answer)
    }

    static func fractionEqual(_ numbers: [String], _ gold: String) -> Double {
        numbers.isEmpty ? 0 : Double(numbers.filter { $0 == gold }.count) / Double(numbers.count)
    }

    // MARK: Code similarity (fuzzywuzzy.fuzz.ratio over difflib)

    public static func codeSimilarity(_ prediction: String, _ answer: String) -> Double {
        let lines = prediction.drop { $0 == "\n" }.split(separator: "\n", omittingEmptySubsequences: false)
        let line = lines.first { !$0.contains("`") && !$0.contains("#") && !$0.contains("//") }.map(String.init) ?? ""
        return Double(fuzzRatio(line, answer)) / 100
    }

    /// `fuzz.ratio`: 100 for equal strings, 0 when one is empty, else round(100 · difflib ratio)
    /// with Python's round-half-to-even.
    public static func fuzzRatio(_ a: String, _ b: String) -> Int {
        if a == b { return 100 }
        if a.isEmpty || b.isEmpty { return 0 }
        let ratio = SequenceMatcher(Array(a.unicodeScalars.map(\.value)), Array(b.unicodeScalars.map(\.value))).ratio
        return Int((100 * ratio).rounded(.toNearestOrEven))
    }
}

/// difflib.SequenceMatcher with no junk function and the default autojunk heuristic.
struct SequenceMatcher {
    let a: [UInt32], b: [UInt32]
    private var b2j: [UInt32: [Int]] = [:]

    init(_ a: [UInt32], _ b: [UInt32]) {
        self.a = a
        self.b = b
        for (j, element) in b.enumerated() { b2j[element, default: []].append(j) }
        // Autojunk: in a b of 200+ elements, elements occurring more than 1 + len(b)/100 times are
        // "popular" and never seed a match.
        if b.count >= 200 {
            let limit = b.count / 100 + 1
            b2j = b2j.filter { $0.value.count <= limit }
        }
    }

    /// (i, j, k): the longest block a[i..<i+k] == b[j..<j+k] in the given ranges, earliest on ties.
    func longestMatch(_ alo: Int, _ ahi: Int, _ blo: Int, _ bhi: Int) -> (Int, Int, Int) {
        var besti = alo, bestj = blo, bestsize = 0
        var lengths: [Int: Int] = [:]
        for i in alo..<ahi {
            var next: [Int: Int] = [:]
            for j in b2j[a[i]] ?? [] {
                if j < blo { continue }
                if j >= bhi { break }
                let k = (lengths[j - 1] ?? 0) + 1
                next[j] = k
                if k > bestsize { besti = i - k + 1; bestj = j - k + 1; bestsize = k }
            }
            lengths = next
        }
        // Popular elements are not junk: extend the match over equal neighbours on both sides.
        while besti > alo && bestj > blo && a[besti - 1] == b[bestj - 1] { besti -= 1; bestj -= 1; bestsize += 1 }
        while besti + bestsize < ahi && bestj + bestsize < bhi && a[besti + bestsize] == b[bestj + bestsize] { bestsize += 1 }
        return (besti, bestj, bestsize)
    }

    /// Total size of the matching blocks found by the recursive longest-match algorithm.
    var matches: Int {
        var queue = [(0, a.count, 0, b.count)]
        var total = 0
        while let (alo, ahi, blo, bhi) = queue.popLast() {
            let (i, j, k) = longestMatch(alo, ahi, blo, bhi)
            guard k > 0 else { continue }
            total += k
            if alo < i && blo < j { queue.append((alo, i, blo, j)) }
            if i + k < ahi && j + k < bhi { queue.append((i + k, ahi, j + k, bhi)) }
        }
        return total
    }

    var ratio: Double {
        let total = a.count + b.count
        return total == 0 ? 1 : 2 * Double(matches) / Double(total)
    }
}
