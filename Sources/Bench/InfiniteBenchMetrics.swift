import Foundation

/// InfiniteBench's scorers (`src/compute_scores.py`), as its published results are computed; the
/// multiple-choice ones are in `ChoiceMetrics.swift`. passkey and number_string use `first_integer`,
/// longbook_qa_eng `qa_f1` (the same SQuAD normalisation).
extension Metric {
    /// kv_retrieval: the label is one of the prediction's words, after `\n : " ' . , ? ! { }` become spaces.
    public static let kvWords = bestOverAnswers("kv_words", .proportion) { prediction, answer, _ in
        InfiniteBench.words(prediction).contains(answer) ? 1 : 0
    }

    /// longdialogue_qa_eng: the first label (an upper-case name) is one of the prediction's words,
    /// upper-cased, split as kv_retrieval's. Only the first label counts, as upstream.
    public static let uppercaseWords = Metric(name: "uppercase_words", kind: .proportion) { prediction, answers, _ in
        MetricResult(score: InfiniteBench.words(prediction).map { $0.uppercased() }.contains(answers[0]) ? 1 : 0)
    }

    /// code_run: the prediction's last word, after `\n . ` ' " :` become spaces, is the label as an
    /// integer (Python's `int`, so `+4` and `1_000` read as numbers).
    public static let lastInteger = bestOverAnswers("last_integer", .proportion) { prediction, answer, _ in
        let separators = Set("\n.`'\":")
        let words = String(prediction.map { separators.contains($0) ? " " : $0 }).split(whereSeparator: \.isWhitespace)
        guard let last = words.last, let value = InfiniteBench.pythonInt(String(last)) else { return 0 }
        return value == InfiniteBench.pythonInt(answer) ? 1 : 0
    }

    /// math_find: the prediction's first number (`\d+\.\d+|\d+`) equals the label, compared as an
    /// integer when the label is one (a fraction then never equals it) and as a float otherwise.
    public static let firstNumber = bestOverAnswers("first_number", .proportion) { prediction, answer, _ in
        guard let found = Metrics.firstCapture(#"\d+\.\d+|\d+"#, in: prediction) else { return 0 }
        if let label = Int(answer) { return Int(found) == label ? 1 : 0 }
        guard let label = Double(answer) else { return 0 }
        return Double(found) == label ? 1 : 0
    }

    /// math_calc: the fraction of the label's values that the prediction's digit runs (ASCII digits,
    /// no signs) repeat in order from the first, up to the first difference.
    public static let numberPrefix = Metric(name: "number_prefix", kind: .continuous) { prediction, answers, _ in
        let predicted = prediction.unicodeScalars.split(whereSeparator: { !("0"..."9").contains($0) }).map { Int(String($0)) }
        let labels = answers.map { Int($0) }
        var same = 0
        while same < min(labels.count, predicted.count), let label = labels[same], predicted[same] == label { same += 1 }
        return MetricResult(score: Double(same) / Double(labels.count))
    }

    /// longbook_sum_eng: ROUGE-Lsum F as HuggingFace `evaluate`'s rouge computes it (google's
    /// `rouge_score`, no stemmer), best over the references.
    public static let rougeLsum = bestOverAnswers("rouge_lsum", .continuous) { p, a, _ in Metrics.rougeLsum(p, a) }
}

/// Pieces InfiniteBench's scorers share.
enum InfiniteBench {
    /// The words of a prediction after `\n : " ' . , ? ! { }` become spaces.
    static func words(_ prediction: String) -> [String] {
        let separators = Set("\n:\"'.,?!{}")
        return String(prediction.map { separators.contains($0) ? " " : $0 }).split(whereSeparator: \.isWhitespace).map(String.init)
    }

    /// Python's `int(text)` for a word: an optional sign, digits with single underscores between them.
    static func pythonInt(_ text: String) -> Int? {
        guard text.range(of: #"^[+-]?[0-9]+(_[0-9]+)*$"#, options: .regularExpression) != nil else { return nil }
        return Int(text.replacingOccurrences(of: "_", with: ""))
    }
}

extension Metrics {
    /// The first match of `pattern` in `text`: its first capture group when it has one, else the
    /// whole match (Python's `re.search(...).group(1)` or `.group(0)`).
    public static func firstCapture(_ pattern: String, in text: String) -> String? {
        guard let regex = try? NSRegularExpression(pattern: pattern),
              let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
              let range = Range(match.range(at: match.numberOfRanges > 1 ? 1 : 0), in: text) else { return nil }
        return String(text[range])
    }

    // MARK: ROUGE-Lsum (`rouge_score`, as `evaluate.load("rouge")` calls it)

    /// `rouge_score`'s default tokenizer: lower-case, every run of characters other than a–z and 0–9
    /// is a separator.
    static func rougeScoreTokens(_ text: String) -> [String] {
        text.lowercased().unicodeScalars.split(whereSeparator: { !(("a"..."z").contains($0) || ("0"..."9").contains($0)) }).map { String($0) }
    }

    /// Indices into `ref` of one longest common subsequence with `can`, read back from the table's
    /// corner as `rouge_score`'s `_backtrack_norec` does (left when that keeps more, else up).
    static func lcsIndices(_ ref: [String], _ can: [String]) -> [Int] {
        let n = ref.count, m = can.count
        guard n > 0, m > 0 else { return [] }
        var table = [Int](repeating: 0, count: (n + 1) * (m + 1))
        for i in 1...n {
            for j in 1...m {
                table[i * (m + 1) + j] = ref[i - 1] == can[j - 1] ? table[(i - 1) * (m + 1) + j - 1] + 1
                    : max(table[(i - 1) * (m + 1) + j], table[i * (m + 1) + j - 1])
            }
        }
        var indices: [Int] = []
        var i = n, j = m
        while i > 0 && j > 0 {
            if ref[i - 1] == can[j - 1] { indices.append(i - 1); i -= 1; j -= 1 }
            else if table[i * (m + 1) + j - 1] > table[(i - 1) * (m + 1) + j] { j -= 1 }
            else { i -= 1 }
        }
        return indices.reversed()
    }

    /// Summary-level ROUGE-L F over newline-separated sentences: for each reference sentence, the
    /// union of its LCS positions with every prediction sentence; each token counts as a hit at most
    /// as often as it occurs on both sides.
    public static func rougeLsum(_ prediction: String, _ reference: String) -> Double {
        func sentences(_ text: String) -> [[String]] {
            text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: true).map { rougeScoreTokens(String($0)) }
        }
        let references = sentences(reference), predictions = sentences(prediction)
        let m = references.reduce(0) { $0 + $1.count }, n = predictions.reduce(0) { $0 + $1.count }
        guard m > 0, n > 0 else { return 0 }
        var referenceCounts: [String: Int] = [:], predictionCounts: [String: Int] = [:]
        for token in references.joined() { referenceCounts[token, default: 0] += 1 }
        for token in predictions.joined() { predictionCounts[token, default: 0] += 1 }
        var hits = 0
        for r in references {
            let union = Set(predictions.flatMap { lcsIndices(r, $0) }).sorted()
            for token in union.map({ r[$0] }) where predictionCounts[token, default: 0] > 0 && referenceCounts[token, default: 0] > 0 {
                hits += 1
                predictionCounts[token]! -= 1
                referenceCounts[token]! -= 1
            }
        }
        let recall = Double(hits) / Double(m), precision = Double(hits) / Double(n)
        return precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
    }
}
