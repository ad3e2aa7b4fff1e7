import Foundation

/// The per-sample figures of a perplexity run (`lmbench run perplexity`): written by the bench,
/// read by the reports, named here only. A token's position is its index in the text the model
/// reads (0 is BOS, never predicted); its NLL is −log p(token | every token before it), in nats.
///
/// - `nll_bucket_PPPPPPPP`: the mean NLL of the tokens at positions PPPPPPPP ..< PPPPPPPP + bucket
///   (the start zero-padded to 8 digits, so names sort in position order);
/// - `nll_mean`: the mean NLL of every scored token; `perplexity`: exp(`nll_mean`);
/// - `scored_tokens`: tokens scored (the text's tokens − 1); `bucket_tokens`: the bucket size;
/// - `trained_context`: the model's trained context length, which the report marks.
public enum PerplexityFigures {
    public static let bucketPrefix = "nll_bucket_"
    public static let meanNLL = "nll_mean"
    public static let perplexity = "perplexity"
    public static let scoredTokens = "scored_tokens"
    public static let bucketTokens = "bucket_tokens"
    public static let trainedContext = "trained_context"

    public static func bucketName(start: Int) -> String { bucketPrefix + String(format: "%08d", start) }

    public static func bucketStart(_ name: String) -> Int? {
        name.hasPrefix(bucketPrefix) ? Int(name.dropFirst(bucketPrefix.count)) : nil
    }

    /// One bucket of a sample: its first position, how many tokens it scored, their mean NLL.
    public struct Bucket: Equatable, Sendable {
        public var start: Int
        public var tokens: Int
        public var meanNLL: Double

        public init(start: Int, tokens: Int, meanNLL: Double) {
            self.start = start
            self.tokens = tokens
            self.meanNLL = meanNLL
        }
    }

    /// A sample's buckets in position order, each with its token count (the bucket size, less
    /// position 0 in the first and the text's end in the last); empty for other samples.
    public static func buckets(_ figures: [String: Double]) -> [Bucket] {
        guard let size = figures[bucketTokens].map(Int.init), size > 0, let scored = figures[scoredTokens].map(Int.init) else { return [] }
        return figures.compactMap { name, value -> Bucket? in
            guard let start = bucketStart(name) else { return nil }
            let tokens = min(start + size, scored + 1) - max(start, 1)
            return tokens > 0 ? Bucket(start: start, tokens: tokens, meanNLL: value) : nil
        }.sorted { $0.start < $1.start }
    }
}

/// Sums of the NLL per position bucket, fed a chunk of log-probabilities at a time: memory grows by
/// one bucket per `bucketSize` positions, never by token.
public struct PerplexityAccumulator: Sendable {
    public let bucketSize: Int
    private var sums: [Double] = []
    private var counts: [Int] = []

    public init(bucketSize: Int) {
        precondition(bucketSize > 0)
        self.bucketSize = bucketSize
    }

    /// `logProbabilities[i]` is log p(token at `firstPosition + i` | the tokens before it).
    public mutating func add(firstPosition: Int, _ logProbabilities: UnsafeBufferPointer<Float>) {
        for (i, logProbability) in logProbabilities.enumerated() {
            let bucket = (firstPosition + i) / bucketSize
            while sums.count <= bucket {
                sums.append(0)
                counts.append(0)
            }
            sums[bucket] -= Double(logProbability)
            counts[bucket] += 1
        }
    }

    public var scoredTokens: Int { counts.reduce(0, +) }
    public var meanNLL: Double { sums.reduce(0, +) / Double(max(1, scoredTokens)) }

    /// The figures `PerplexityFigures` names (all but `trained_context`, which the engine knows).
    public var figures: [String: Double] {
        var figures = [PerplexityFigures.meanNLL: meanNLL, PerplexityFigures.perplexity: Foundation.exp(meanNLL),
                       PerplexityFigures.scoredTokens: Double(scoredTokens), PerplexityFigures.bucketTokens: Double(bucketSize)]
        for (bucket, count) in counts.enumerated() where count > 0 {
            figures[PerplexityFigures.bucketName(start: bucket * bucketSize)] = sums[bucket] / Double(count)
        }
        return figures
    }
}
