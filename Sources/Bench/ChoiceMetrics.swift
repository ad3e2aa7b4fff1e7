import Foundation

/// Multiple-choice scorers: LongBench v2's (`pred.py`'s `extract_answer`) and InfiniteBench's
/// (`compute_scores.py`: longbook_choice_eng and code_debug), their quirks included. A choice task's
/// answers are the letter (LongBench v2), or the correct option's text and its letter
/// (InfiniteBench's `get_answer`; `JSONLTask`'s `answer_format`).
extension Metric {
    /// LongBench v2: the letter after "The correct answer is (X)", else after "The correct answer is
    /// X", asterisks removed first, equals the answer.
    public static let longBenchV2Choice = bestOverAnswers("longbench_v2_choice", .proportion) { prediction, answer, _ in
        Metrics.longBenchV2Answer(prediction) == answer ? 1 : 0
    }

    /// InfiniteBench longbook_choice_eng, answers [text, letter].
    public static let infiniteBenchChoice = Metric(name: "infinitebench_choice", kind: .proportion) { prediction, answers, _ in
        MetricResult(score: Metrics.infiniteBenchChoice(prediction, label: answers) ? 1 : 0)
    }

    /// InfiniteBench code_debug, answers [function name, letter].
    public static let infiniteBenchCodeDebug = Metric(name: "infinitebench_code_debug", kind: .proportion) { prediction, answers, _ in
        guard answers.count == 2 else { return MetricResult(score: 0) }
        return MetricResult(score: Metrics.infiniteBenchCodeDebug(prediction, function: answers[0], letter: answers[1]) ? 1 : 0)
    }
}

extension Metrics {
    /// The letter LongBench v2's `extract_answer` reads from a response, or nil.
    public static func longBenchV2Answer(_ response: String) -> String? {
        let text = response.replacingOccurrences(of: "*", with: "")
        return firstCapture(#"The correct answer is \(([A-D])\)"#, in: text) ?? firstCapture(#"The correct answer is ([A-D])"#, in: text)
    }

    /// Python's `str.strip()`, then each of `characters` replaced by a space and runs of spaces
    /// collapsed, as InfiniteBench cleans a prediction before looking for an answer prefix.
    static func spaced(_ text: String, replacing characters: [String]) -> String {
        var text = text.trimmingCharacters(in: .whitespacesAndNewlines)
        for c in characters { text = text.replacingOccurrences(of: c, with: " ") }
        while text.contains("  ") { text = text.replacingOccurrences(of: "  ", with: " ") }
        return text
    }

    /// Where InfiniteBench's prefix search ends: no prefix found, the first one found (in the
    /// list's order) ends the prediction, or the text after it and the one character that follows.
    enum AfterPrefix: Equatable {
        case none, atEnd
        case text(Substring)
    }

    static func afterPrefix(_ text: String, _ prefixes: [String]) -> AfterPrefix {
        for prefix in prefixes {
            guard let found = text.range(of: prefix) else { continue }
            let scalars = text.unicodeScalars
            guard found.upperBound < scalars.endIndex else { return .atEnd }
            return .text(Substring(scalars[scalars.index(after: found.upperBound)...]))
        }
        return .none
    }

    /// longbook_choice_eng: a prediction starting with a letter is that letter; otherwise the
    /// prediction as a whole, then the text after an answer prefix, then the first word that is a
    /// piece of "ABCD", is compared with the label [text, letter].
    public static func infiniteBenchChoice(_ prediction: String, label: [String]) -> Bool {
        let stripped = prediction.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let first = stripped.unicodeScalars.first else { return false }
        if "ABCD".unicodeScalars.contains(first) { return label.contains(String(first)) }
        if label.contains(stripped) { return true }
        let text = spaced(stripped, replacing: ["\n", "\"", "'", ".", ",", "?", "!", "{", "}"])
        switch afterPrefix(text, ["answer is:", "answer:", "answer is", "option is"]) {
        case .atEnd: return false
        case let .text(after): return label.contains { after.hasPrefix($0) }
        case .none:
            // Python's `word in "ABCD"` is a substring test: "AB" passes too.
            guard let word = text.split(separator: " ").first(where: { "ABCD".contains($0) }) else { return false }
            return label.contains(String(word))
        }
    }

    /// code_debug: the prediction starts with "X." or "X:" for the right letter X, or the text after
    /// its first answer prefix starts with the letter or the function's name.
    public static func infiniteBenchCodeDebug(_ prediction: String, function: String, letter: String) -> Bool {
        let stripped = prediction.trimmingCharacters(in: .whitespacesAndNewlines)
        if [letter + ".", letter + ":"].contains(String(String.UnicodeScalarView(stripped.unicodeScalars.prefix(2)))) { return true }
        let text = spaced(stripped, replacing: ["\n", "`", "'", "\"", "-", "*", "Option", "option"])
        guard case let .text(after) = afterPrefix(text, ["answer is:", "is:", "answer:", "correct option is:"]) else { return false }
        return after.hasPrefix(letter) || after.hasPrefix(function)
    }
}
