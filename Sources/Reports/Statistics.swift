import Foundation
import Results

// Statistics for reports: 95% intervals for a cell's mean score and significance tests for two
// configurations compared on the same samples. Which method applies follows `MetricKind`:
//
//   kind         interval                               paired test
//   .proportion  Wilson score (WilsonInterval)          exact McNemar (scores all 0/1), else paired bootstrap
//   .continuous  percentile bootstrap (BootstrapInterval) paired bootstrap
//
// Everything here is deterministic: resampling draws from a fixed-seed SplitMix64 stream, so a
// report built twice from the same store, on any machine, prints the same intervals and p-values.

// MARK: - Seeded generator

/// SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014;
/// constants from Vigna's reference `splitmix64.c`). Chosen because it is tiny, passes BigCrush, and
/// is pure integer arithmetic, so its stream is bit-identical on every platform, unlike
/// `SystemRandomNumberGenerator`, which is seeded by the OS and cannot be replayed.
private struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform integer in 0..<n, without modulo bias: Lemire's multiply-shift with rejection
    /// ("Fast random integer generation in an interval", ACM TOMACS 2019). This is written out here
    /// rather than left to `Int.random(in:using:)`, whose algorithm the standard library may change.
    mutating func index(below n: Int) -> Int {
        let bound = UInt64(n)
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold { product = next().multipliedFullWidth(by: bound) }
        }
        return Int(product.high)
    }
}

/// The means of `resamples` bootstrap resamples of `x` (each n draws with replacement), in the
/// order drawn. `x` must not be empty.
private func bootstrapMeans(_ x: [Double], resamples: Int, seed: UInt64) -> [Double] {
    var rng = SplitMix64(seed: seed)
    let n = x.count
    var means = [Double](repeating: 0, count: resamples)
    x.withUnsafeBufferPointer { values in
        for r in 0..<resamples {
            var sum = 0.0
            for _ in 0..<n { sum += values[rng.index(below: n)] }
            means[r] = sum / Double(n)
        }
    }
    return means
}

private func mean(_ x: [Double]) -> Double { x.isEmpty ? 0 : x.reduce(0, +) / Double(x.count) }

// MARK: - Wilson interval of a proportion

/// The Wilson score interval for a proportion: k successes (scores may be fractional; their sum is
/// used) out of n, at 95% (z = 1.96). Better behaved than the normal interval at small n and near 0 or 1.
public struct WilsonInterval: Equatable, Sendable {
    public var lower: Double
    public var upper: Double

    public init(successes k: Double, trials n: Int, z: Double = 1.959963984540054) {
        guard n > 0 else { lower = 0; upper = 1; return }
        let nn = Double(n), p = k / nn, z2 = z * z
        let center = (p + z2 / (2 * nn)) / (1 + z2 / nn)
        let half = z / (1 + z2 / nn) * (p * (1 - p) / nn + z2 / (4 * nn * nn)).squareRoot()
        lower = max(0, center - half)
        upper = min(1, center + half)
    }
}

// MARK: - Bootstrap interval of a mean

/// The percentile bootstrap 95% interval of the mean of per-sample scores (Efron & Tibshirani,
/// *An Introduction to the Bootstrap*, 1993, ch. 13): draw `resamples` samples of size n with
/// replacement, take each one's mean, and report the 2.5th and 97.5th percentiles of those means.
/// Used for continuous metrics (F1, ROUGE-L, similarity), whose scores are not counts, so the
/// Wilson interval does not apply, and whose distributions are often skewed or bounded, so a
/// normal (mean ± 1.96·se) interval can run past the score's range.
///
/// Reproducible: the resampling stream is seeded (`defaultSeed` unless told otherwise).
public struct BootstrapInterval: Equatable, Sendable {
    /// The fewest resamples allowed: below about 2000 the 2.5% and 97.5% tails rest on too few
    /// resampled means (50 each) and the endpoints jitter from seed to seed (Efron & Tibshirani §19.3).
    public static let minimumResamples = 2000
    /// The fixed default seed ("lmbench!" in ASCII), so every report draws the same resamples.
    public static let defaultSeed: UInt64 = 0x6C6D_6265_6E63_6821
    /// The interval's coverage; fixed at 95% to match the Wilson intervals beside it.
    public static let confidence = 0.95

    public var lower: Double
    public var upper: Double
    /// The sample mean of the scores (not of the resampled means).
    public var mean: Double
    /// Resamples actually drawn: `max(requested, minimumResamples)`; 0 when no resampling was
    /// needed (one score, or all equal).
    public var resamples: Int

    /// Nil for no scores. One score, or all scores equal, gives the degenerate interval [x, x]
    /// without resampling (every resample would have mean x anyway).
    ///
    /// A `resamples` below `minimumResamples` is clamped up to it rather than trapping, so a
    /// caller's small setting cannot crash a report; `resamples` on the result says what was used.
    public init?(scores: [Double], resamples: Int = BootstrapInterval.minimumResamples,
                 seed: UInt64 = BootstrapInterval.defaultSeed) {
        guard let first = scores.first else { return nil }
        if scores.allSatisfy({ $0 == first }) {
            lower = first; upper = first; mean = first; self.resamples = 0
            return
        }
        let b = max(resamples, Self.minimumResamples)
        let means = bootstrapMeans(scores, resamples: b, seed: seed).sorted()
        let tail = (1 - Self.confidence) / 2
        lower = Self.percentile(means, tail)
        upper = Self.percentile(means, 1 - tail)
        mean = Reports.mean(scores)
        self.resamples = b
    }

    /// The q-quantile (0 ≤ q ≤ 1) of ascending `sorted` values by Hyndman & Fan's type 7 rule
    /// ("Sample quantiles in statistical packages", Am. Stat. 1996), the default of numpy's
    /// `percentile`/`quantile` and R's `quantile`: with h = (n − 1)·q, linearly interpolate between
    /// the ⌊h⌋-th and ⌈h⌉-th values (0-based). Precondition: `sorted` is not empty.
    public static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        precondition(!sorted.isEmpty, "percentile of no values")
        let h = Double(sorted.count - 1) * min(max(q, 0), 1)
        let i = Int(h.rounded(.down))
        guard i + 1 < sorted.count else { return sorted[sorted.count - 1] }
        return sorted[i] + (h - Double(i)) * (sorted[i + 1] - sorted[i])
    }
}

// MARK: - One entry point for a cell's interval

/// The 95% interval of a cell's mean score, by the method that fits the metric's kind: Wilson
/// score interval for proportions (successes = sum of scores, trials = n; see `WilsonInterval`),
/// percentile bootstrap for continuous scores (see `BootstrapInterval`).
public enum ScoreInterval {
    public enum Method: String, Sendable, CaseIterable {
        case wilson = "Wilson"
        case bootstrap = "bootstrap"
    }

    public static func method(for kind: MetricKind) -> Method {
        switch kind {
        case .proportion: return .wilson
        case .continuous: return .bootstrap
        }
    }

    /// "Wilson" or "bootstrap", for a report's footnote on how its intervals were made.
    public static func label(for kind: MetricKind) -> String { method(for: kind).rawValue }

    /// Nil for no scores (for both kinds: an empty cell has no interval to print, although
    /// `WilsonInterval` itself would answer [0, 1]).
    public static func interval(kind: MetricKind, scores: [Double]) -> (lower: Double, upper: Double)? {
        guard !scores.isEmpty else { return nil }
        switch kind {
        case .proportion:
            let w = WilsonInterval(successes: scores.reduce(0, +), trials: scores.count)
            return (w.lower, w.upper)
        case .continuous:
            guard let b = BootstrapInterval(scores: scores) else { return nil }
            return (b.lower, b.upper)
        }
    }
}

// MARK: - Exact McNemar test

/// McNemar's test for paired right/wrong outcomes (McNemar, Psychometrika 1947), exact form: under
/// the null that both configurations are equally good, each of the n = b + c discordant pairs is
/// equally likely to favour either side, so min(b, c) ~ Binomial(n, ½), and the two-sided p is
/// twice the lower tail, capped at 1. The exact form (not the χ² approximation, and not mid-p) is
/// used because benchmark comparisons often have few discordant pairs, where the χ² approximation
/// is poor; it is conservative, never anti-conservative (Fagerland, Lydersen & Laake, BMC Med. Res.
/// Methodol. 2013).
public enum McNemarTest {
    /// p = min(1, 2 · Σ_{i=0}^{min(b,c)} C(n, i) / 2ⁿ), n = b + c; n = 0 gives 1.
    ///
    /// Up to n = 1000 the binomial coefficients are summed in Double directly (exact while they
    /// stay below 2⁵³, which makes small hand-worked cases exact, and finite since 2¹⁰⁰⁰ < Double's
    /// maximum) and divided by 2ⁿ exactly by exponent shift. Beyond that the sum is formed in log
    /// space: anchored on the largest term C(n, k)/2ⁿ (k = min(b, c) ≤ n/2, so terms grow with i),
    /// taken from `lgamma`, with the smaller terms added as ratios to it, so neither 2ⁿ nor C(n, k)
    /// overflows and nothing is NaN for n in the hundreds of thousands (a p below ~1e−308 is 0).
    public static func exactTwoSidedP(b: Int, c: Int) -> Double {
        precondition(b >= 0 && c >= 0, "discordant counts must be non-negative")
        let n = b + c, k = min(b, c)
        guard n > 0 else { return 1 }
        if 2 * k >= n { return 1 }  // the tail reaches the middle term: 2·P ≥ 1
        if n <= 1000 {
            var term = 1.0, sum = 1.0
            if k > 0 {
                for i in 1...k {
                    term = term * Double(n - i + 1) / Double(i)
                    sum += term
                }
            }
            return min(1, 2 * sum * Double(sign: .plus, exponent: -n, significand: 1))
        }
        let nn = Double(n), kk = Double(k)
        let logAnchor = lgamma(nn + 1) - lgamma(kk + 1) - lgamma(nn - kk + 1) - nn * M_LN2
        // Σ_{i≤k} C(n,i)/C(n,k), walking down: C(n,i−1)/C(n,i) = i/(n−i+1).
        var ratio = 1.0, sum = 1.0
        var i = k
        while i > 0 {
            ratio *= Double(i) / Double(n - i + 1)
            sum += ratio
            if ratio < sum * 1e-17 { break }
            i -= 1
        }
        return min(1, 2 * exp(logAnchor + log(sum)))
    }
}

// MARK: - Paired bootstrap test

/// Two-sided paired bootstrap test of a mean difference (Efron & Tibshirani 1993, §16.4; the
/// paired form common in NLP system comparison: Koehn, EMNLP 2004; Berg-Kirkpatrick et al., EMNLP
/// 2012). On per-sample differences dᵢ = afterᵢ − beforeᵢ, draw B resamples with replacement and
/// take each mean m*; centring them on the observed mean d̄ imitates the null of no difference, so
///
///     p = (1 + #{ |m* − d̄| ≥ |d̄| }) / (B + 1).
///
/// The +1s count the observed data as one of the resamples, so p is never 0 (Davison & Hinkley,
/// *Bootstrap Methods and Their Application*, 1997, §4.2; Phipson & Smyth 2010); the smallest
/// reportable p is 1/(B + 1). Pairing removes between-sample variance (some samples are hard for
/// every model), which makes this far more sensitive than comparing two unpaired intervals.
public struct PairedBootstrapTest: Equatable, Sendable {
    public static let defaultResamples = 10_000
    public static let defaultSeed: UInt64 = BootstrapInterval.defaultSeed

    public var n: Int
    /// d̄ = mean(after − before).
    public var meanDifference: Double
    /// Percentile (type 7) 95% interval of the mean difference from the same resamples.
    public var lower: Double
    public var upper: Double
    public var pValue: Double
    /// Resamples drawn; 0 when fewer than two pairs made resampling pointless.
    public var resamples: Int

    /// Precondition: equal lengths. Fewer than two pairs cannot show a difference is more than
    /// chance (one pair's bootstrap is a point mass, which would make any nonzero difference
    /// "significant"), so n < 2 gives p = 1 with the observed difference as a point interval
    /// (0 for n = 0). `resamples` is clamped up to `BootstrapInterval.minimumResamples`.
    public init(before: [Double], after: [Double], resamples: Int = PairedBootstrapTest.defaultResamples,
                seed: UInt64 = PairedBootstrapTest.defaultSeed) {
        precondition(before.count == after.count, "paired samples must have equal counts")
        self.init(differences: zip(after, before).map { $0 - $1 }, resamples: resamples, seed: seed)
    }

    /// The same test on differences already formed (after − before).
    public init(differences d: [Double], resamples: Int = PairedBootstrapTest.defaultResamples,
                seed: UInt64 = PairedBootstrapTest.defaultSeed) {
        let observedMean = Reports.mean(d)
        n = d.count
        meanDifference = observedMean
        guard n >= 2 else {
            lower = observedMean; upper = observedMean; pValue = 1; self.resamples = 0
            return
        }
        let b = max(resamples, BootstrapInterval.minimumResamples)
        let means = bootstrapMeans(d, resamples: b, seed: seed)
        let observed = abs(observedMean)
        let extreme = means.reduce(0) { $0 + (abs($1 - observedMean) >= observed ? 1 : 0) }
        pValue = Double(1 + extreme) / Double(b + 1)
        let sorted = means.sorted()
        let tail = (1 - BootstrapInterval.confidence) / 2
        lower = BootstrapInterval.percentile(sorted, tail)
        upper = BootstrapInterval.percentile(sorted, 1 - tail)
        self.resamples = b
    }
}

/// The exact paired sign-flip (permutation) test: under the null hypothesis each difference is as
/// likely to have the other sign, so p is the share of the 2ⁿ sign assignments whose mean is at
/// least as far from 0 as the observed one (Fisher's randomization test).
public enum SignFlipTest {
    /// Pairs up to which every assignment is enumerated (2¹⁶ · 16 additions).
    public static let exactLimit = 16

    public static func exactTwoSidedP(differences d: [Double]) -> Double {
        precondition(d.count <= exactLimit, "the exact sign-flip test enumerates at most 2^\(exactLimit) assignments")
        guard !d.isEmpty else { return 1 }
        let observed = abs(d.reduce(0, +))
        // Sums within a relative 1e-12 of the observed one count as equal, so ties are not lost to rounding.
        let tolerance = 1e-12 * max(1, d.reduce(0) { $0 + abs($1) })
        var extreme = 0
        for signs in 0..<(1 << d.count) {
            var sum = 0.0
            for (i, x) in d.enumerated() { sum += signs & (1 << i) == 0 ? x : -x }
            if abs(sum) >= observed - tolerance { extreme += 1 }
        }
        return Double(extreme) / Double(1 << d.count)
    }
}

// MARK: - One entry point for comparing two configurations

/// The outcome of comparing configuration a with configuration b on the same samples.
public struct PairedResult: Equatable, Sendable {
    public enum Test: String, Sendable, CaseIterable {
        case mcNemarExact = "McNemar exact"
        case pairedBootstrap = "paired bootstrap"
        /// A proportion metric with some fractional scores (e.g. 1/3 of needles found): the
        /// samples are not simply right or wrong, so McNemar does not apply.
        case pairedBootstrapFractional = "paired bootstrap (fractional proportion scores)"
        /// Few pairs of scores that are not simply right or wrong: the exact sign-flip test.
        case signFlipExact = "sign-flip exact"
    }

    /// Pairs that one side got right and the other wrong; only for McNemar.
    public struct Discordant: Equatable, Sendable {
        public var aRightBWrong: Int
        public var aWrongBRight: Int

        public init(aRightBWrong: Int, aWrongBRight: Int) {
            self.aRightBWrong = aRightBWrong
            self.aWrongBRight = aWrongBRight
        }
    }

    /// The significance level: `significant` is p < 0.05.
    public static let alpha = 0.05

    public var test: Test
    /// `test`'s name for a report ("McNemar exact", "paired bootstrap", …).
    public var testName: String { test.rawValue }
    public var n: Int
    /// Means over the pairs; 0 for no pairs.
    public var meanA: Double
    public var meanB: Double
    /// mean(b − a): positive when b scores higher.
    public var meanDifference: Double
    public var pValue: Double
    public var significant: Bool { pValue < Self.alpha }
    /// Set for McNemar only.
    public var discordant: Discordant?
    /// 95% percentile bootstrap interval of mean(b − a); set for the bootstrap tests only.
    public var differenceLower: Double?
    public var differenceUpper: Double?
}

/// Chooses and runs the paired test that fits the metric: exact McNemar for proportions whose
/// every score is exactly 0 or 1, the paired bootstrap otherwise (continuous metrics, and
/// proportions with fractional scores, where the test name says so).
public enum PairedComparison {
    public static func compare(kind: MetricKind, pairs: [(a: Double, b: Double)],
                               resamples: Int = PairedBootstrapTest.defaultResamples,
                               seed: UInt64 = PairedBootstrapTest.defaultSeed) -> PairedResult {
        let n = pairs.count
        let meanA = n == 0 ? 0 : pairs.reduce(0) { $0 + $1.a } / Double(n)
        let meanB = n == 0 ? 0 : pairs.reduce(0) { $0 + $1.b } / Double(n)
        let binary = pairs.allSatisfy { ($0.a == 0 || $0.a == 1) && ($0.b == 0 || $0.b == 1) }
        if kind == .proportion && binary {
            let aOnly = pairs.filter { $0.a == 1 && $0.b == 0 }.count
            let bOnly = pairs.filter { $0.a == 0 && $0.b == 1 }.count
            return PairedResult(test: .mcNemarExact, n: n, meanA: meanA, meanB: meanB,
                                meanDifference: n == 0 ? 0 : Double(bOnly - aOnly) / Double(n),
                                pValue: McNemarTest.exactTwoSidedP(b: aOnly, c: bOnly),
                                discordant: .init(aRightBWrong: aOnly, aWrongBRight: bOnly),
                                differenceLower: nil, differenceUpper: nil)
        }
        let boot = PairedBootstrapTest(before: pairs.map(\.a), after: pairs.map(\.b), resamples: resamples, seed: seed)
        // A bootstrap of a handful of differences cannot see how they could have fallen otherwise
        // (d = 0.2, 0.4 never resamples to a mean near 0, so p = 1/10001): below `SignFlipTest.exactLimit`
        // pairs the p-value is the exact sign-flip test's, whose smallest two-sided p is 2/2ⁿ.
        let exact = n <= SignFlipTest.exactLimit
        return PairedResult(test: exact ? .signFlipExact : kind == .proportion ? .pairedBootstrapFractional : .pairedBootstrap,
                            n: n, meanA: meanA, meanB: meanB, meanDifference: boot.meanDifference,
                            pValue: exact ? SignFlipTest.exactTwoSidedP(differences: pairs.map { $0.b - $0.a }) : boot.pValue,
                            discordant: nil, differenceLower: boot.lower, differenceUpper: boot.upper)
    }
}
