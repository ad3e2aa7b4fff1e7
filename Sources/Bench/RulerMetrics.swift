/// RULER's scorers (`scripts/eval/synthetic/constants.py`, after `evaluate.py`'s post-processing),
/// per sample: RULER's task score is their mean × 100. Each also gives the figure `null`, 1 for an
/// empty prediction (RULER's Nulls column), and the references found.
extension Metric {
    /// The fraction of the references that occur in the prediction (niah, vt, cwe, fwe).
    public static let stringMatchAll = Metric(name: "string_match_all", kind: .continuous) { prediction, answers, _ in
        let (found, null) = Metrics.rulerMatches(prediction, answers)
        return MetricResult(score: Double(found) / Double(answers.count),
                            figures: ["null": null ? 1 : 0, "references_found": Double(found), "references": Double(answers.count)])
    }

    /// 1 when any reference occurs in the prediction (qa).
    public static let stringMatchPart = Metric(name: "string_match_part", kind: .proportion) { prediction, answers, _ in
        let (found, null) = Metrics.rulerMatches(prediction, answers)
        return MetricResult(score: found > 0 ? 1 : 0,
                            figures: ["null": null ? 1 : 0, "references_found": Double(found), "references": Double(answers.count)])
    }
}

extension Metrics {
    /// RULER's post-processing: strip, every control character \x00-\x1f to "\n", strip again.
    public static func rulerPostprocess(_ prediction: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in pythonStripped(prediction.unicodeScalars) { scalars.append(scalar.value < 0x20 ? "\n" : scalar) }
        return String(String.UnicodeScalarView(pythonStripped(scalars)))
    }

    /// Python's `str.strip()`: white space as `str.isspace` has it, \x1c-\x1f included.
    static func pythonStripped<C: BidirectionalCollection>(_ scalars: C) -> C.SubSequence where C.Element == Unicode.Scalar {
        func isSpace(_ s: Unicode.Scalar) -> Bool { (0x1C...0x1F).contains(s.value) || s.properties.isWhitespace }
        var slice = scalars[...]
        while let first = slice.first, isSpace(first) { slice = slice.dropFirst() }
        while let last = slice.last, isSpace(last) { slice = slice.dropLast() }
        return slice
    }

    /// How many references occur in the post-processed prediction (case-insensitive substrings of
    /// code points, as Python's `in`, not of Swift's grapheme clusters), and whether it is empty.
    static func rulerMatches(_ prediction: String, _ references: [String]) -> (found: Int, null: Bool) {
        let text = Array(rulerPostprocess(prediction).lowercased().utf8)
        return (references.filter { text.firstRange(of: Array($0.lowercased().utf8)) != nil }.count, text.isEmpty)
    }
}
