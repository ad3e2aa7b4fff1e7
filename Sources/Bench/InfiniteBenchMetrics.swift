/// InfiniteBench's scorers (`eval_utils.py`), as its kv_retrieval results are computed.
extension Metric {
    /// The label is one of the prediction's words, after `\n : " ' . , ? ! { }` become spaces.
    public static let kvWords = bestOverAnswers("kv_words", .proportion) { prediction, answer, _ in
        let separators = Set("\n:\"'.,?!{}")
        let words = String(prediction.map { separators.contains($0) ? " " : $0 }).split(whereSeparator: \.isWhitespace).map(String.init)
        return words.contains(answer) ? 1 : 0
    }
}
