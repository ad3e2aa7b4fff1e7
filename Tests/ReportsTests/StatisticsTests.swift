import XCTest
import Foundation
import Results
import Reports

/// Test data from a generator independent of the one in Statistics.swift: Knuth's MMIX 64-bit LCG,
/// top 53 bits as a uniform in [0, 1). Fixed seeds, so the data are the same on every machine.
private struct TestLCG {
    var state: UInt64
    mutating func uniform() -> Double {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Double(state >> 11) / 9_007_199_254_740_992.0
    }
    mutating func uniforms(_ n: Int) -> [Double] { (0..<n).map { _ in uniform() } }
}

/// Two-sided binomial(n, ½) tail, 2·Σ_{i≤k} C(n,i)/2ⁿ capped at 1, by a different route from the
/// code under test: every term separately from lgamma, summed from the smallest up.
private func referenceBinomialP(b: Int, c: Int) -> Double {
    let n = Double(b + c), k = min(b, c)
    let logNFactorial: Double = lgamma(n + 1)
    let logTwoToN: Double = n * log(2.0)
    var sum = 0.0
    for i in 0...k {
        let x = Double(i)
        let logTerm: Double = logNFactorial - lgamma(x + 1) - lgamma(n - x + 1) - logTwoToN
        sum += exp(logTerm)
    }
    return min(1, 2 * sum)
}

private func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(x.count) }

final class StatisticsTests: XCTestCase {
    // MARK: McNemar

    func testMcNemarWorkedByHand() {
        // n = 10, k = 2: C(10,0) + C(10,1) + C(10,2) = 1 + 10 + 45 = 56; 2·56/1024.
        XCTAssertEqual(McNemarTest.exactTwoSidedP(b: 8, c: 2), 0.109375)
        XCTAssertEqual(McNemarTest.exactTwoSidedP(b: 2, c: 8), 0.109375)
        // n = 5, k = 0: 2·1/32.
        XCTAssertEqual(McNemarTest.exactTwoSidedP(b: 5, c: 0), 0.0625)
        XCTAssertEqual(McNemarTest.exactTwoSidedP(b: 0, c: 5), 0.0625)
        XCTAssertEqual(McNemarTest.exactTwoSidedP(b: 0, c: 0), 1)
        // Balanced: 2·P(X ≤ 10 | n = 20) > 1, capped.
        XCTAssertEqual(McNemarTest.exactTwoSidedP(b: 10, c: 10), 1)
        // n = 11, k = 5: 2·(1+11+55+165+330+462)/2048 = 2·1024/2048 = 1 exactly.
        XCTAssertEqual(McNemarTest.exactTwoSidedP(b: 6, c: 5), 1)
        // n = 13, k = 1: 2·(1 + 13)/8192.
        XCTAssertEqual(McNemarTest.exactTwoSidedP(b: 12, c: 1), 28.0 / 8192)
        // n = 1: 2·½ = 1.
        XCTAssertEqual(McNemarTest.exactTwoSidedP(b: 1, c: 0), 1)
    }

    func testMcNemarAgainstScipyAndIndependentSum() {
        // scipy.stats.binomtest(40, 100, 0.5).pvalue = 0.05688793364098078
        let p = McNemarTest.exactTwoSidedP(b: 60, c: 40)
        XCTAssertEqual(p, 0.05688793364098078, accuracy: 1e-14)
        XCTAssertEqual(p, referenceBinomialP(b: 60, c: 40), accuracy: 1e-12)
        XCTAssertEqual(McNemarTest.exactTwoSidedP(b: 40, c: 60), p)
    }

    func testMcNemarLargeCountsStayFiniteAndAccurate() {
        // Both sides of the n = 1000 switch between the direct and the log-space sum.
        for (b, c) in [(520, 480), (521, 480), (1050, 950), (5200, 4800), (50_500, 49_500), (50_200, 49_800)] {
            let p = McNemarTest.exactTwoSidedP(b: b, c: c)
            let ref = referenceBinomialP(b: b, c: c)
            XCTAssertTrue(p.isFinite && p > 0 && p <= 1, "b=\(b) c=\(c): \(p)")
            XCTAssertEqual(p / ref, 1, accuracy: 1e-8, "b=\(b) c=\(c): \(p) vs \(ref)")
        }
        // One more discordant pair on b's side makes the evidence stronger across the switch.
        XCTAssertLessThan(McNemarTest.exactTwoSidedP(b: 521, c: 480), McNemarTest.exactTwoSidedP(b: 520, c: 480))
        // n = 100,000, |b − c| = 1000: normal approximation z = (1000 − 1)/√100000 ≈ 3.159, p ≈ 0.00158.
        XCTAssertEqual(McNemarTest.exactTwoSidedP(b: 50_500, c: 49_500), erfc(999 / 100_000.0.squareRoot() / 2.0.squareRoot()), accuracy: 5e-5)
        // Far tails underflow to 0, never NaN; balanced counts cap at 1.
        XCTAssertEqual(McNemarTest.exactTwoSidedP(b: 100_000, c: 0), 0)
        XCTAssertEqual(McNemarTest.exactTwoSidedP(b: 90_000, c: 10_000), 0)
        XCTAssertEqual(McNemarTest.exactTwoSidedP(b: 50_000, c: 50_000), 1)
        // k = m − 1 with n = 2m: 2·P(X ≤ m − 1) = 1 − C(2m, m)/4^m, and by Stirling
        // C(2m, m)/4^m = (1 − 1/(8m) + …)/√(πm) (≈ 0.0025231 for m = 50,000).
        let m = 50_000.0
        let middle = (1 - 1 / (8 * m)) / (Double.pi * m).squareRoot()
        XCTAssertEqual(McNemarTest.exactTwoSidedP(b: 50_001, c: 49_999), 1 - middle, accuracy: 1e-9)
    }

    // MARK: PairedComparison

    private func binaryPairs(aOnly: Int, bOnly: Int, both: Int, neither: Int = 0) -> [(a: Double, b: Double)] {
        Array(repeating: (a: 1.0, b: 0.0), count: aOnly) + Array(repeating: (a: 0.0, b: 1.0), count: bOnly)
            + Array(repeating: (a: 1.0, b: 1.0), count: both) + Array(repeating: (a: 0.0, b: 0.0), count: neither)
    }

    func testProportionPairsUseMcNemar() {
        let r = PairedComparison.compare(kind: .proportion, pairs: binaryPairs(aOnly: 8, bOnly: 2, both: 20))
        XCTAssertEqual(r.test, .mcNemarExact)
        XCTAssertEqual(r.testName, "McNemar exact")
        XCTAssertEqual(r.n, 30)
        XCTAssertEqual(r.pValue, 0.109375)
        XCTAssertFalse(r.significant)
        XCTAssertEqual(r.discordant, PairedResult.Discordant(aRightBWrong: 8, aWrongBRight: 2))
        XCTAssertEqual(r.meanA, 28.0 / 30, accuracy: 1e-12)
        XCTAssertEqual(r.meanB, 22.0 / 30, accuracy: 1e-12)
        XCTAssertEqual(r.meanDifference, -6.0 / 30, accuracy: 1e-12)
        XCTAssertNil(r.differenceLower)

        let strong = PairedComparison.compare(kind: .proportion, pairs: binaryPairs(aOnly: 12, bOnly: 1, both: 20, neither: 5))
        XCTAssertEqual(strong.test, .mcNemarExact)
        XCTAssertEqual(strong.pValue, 28.0 / 8192)
        XCTAssertTrue(strong.significant)
        XCTAssertEqual(strong.discordant, PairedResult.Discordant(aRightBWrong: 12, aWrongBRight: 1))
        XCTAssertEqual(strong.meanDifference, -11.0 / 38, accuracy: 1e-12)
    }

    func testFractionalProportionsFallBackToBootstrap() {
        var pairs = binaryPairs(aOnly: 8, bOnly: 2, both: 20)
        pairs[0] = (a: 1.0 / 3, b: 0)
        let r = PairedComparison.compare(kind: .proportion, pairs: pairs)
        XCTAssertEqual(r.test, .pairedBootstrapFractional)
        XCTAssertTrue(r.testName.hasPrefix("paired bootstrap"))
        XCTAssertTrue(r.testName.contains("fractional"))
        XCTAssertNil(r.discordant)
        XCTAssertNotNil(r.differenceLower)
        let direct = PairedBootstrapTest(before: pairs.map(\.a), after: pairs.map(\.b))
        XCTAssertEqual(r.pValue, direct.pValue)
        XCTAssertEqual(r.meanDifference, direct.meanDifference)
        // Continuous metrics use the bootstrap even when the scores happen to be 0/1.
        let c = PairedComparison.compare(kind: .continuous, pairs: binaryPairs(aOnly: 8, bOnly: 2, both: 20))
        XCTAssertEqual(c.test, .pairedBootstrap)
        XCTAssertEqual(c.testName, "paired bootstrap")
        XCTAssertNil(c.discordant)
    }

    func testNoPairsIsNotSignificant() {
        for kind in MetricKind.allCases {
            let r = PairedComparison.compare(kind: kind, pairs: [])
            XCTAssertEqual(r.n, 0)
            XCTAssertEqual(r.pValue, 1)
            XCTAssertFalse(r.significant)
            XCTAssertEqual(r.meanDifference, 0)
        }
    }

    // MARK: Paired bootstrap

    func testPairedBootstrapIdenticalScores() {
        var g = TestLCG(state: 7)
        let a = g.uniforms(30)
        let t = PairedBootstrapTest(before: a, after: a)
        XCTAssertEqual(t.pValue, 1)
        XCTAssertEqual(t.meanDifference, 0)
        XCTAssertEqual(t.lower, 0)
        XCTAssertEqual(t.upper, 0)
        XCTAssertEqual(t.resamples, 10_000)
    }

    func testPairedBootstrapFindsAConsistentGain() {
        var g = TestLCG(state: 11)
        let a = g.uniforms(30)
        let b = a.map { $0 + 0.2 + 0.01 * (g.uniform() - 0.5) }
        let t = PairedBootstrapTest(before: a, after: b)
        XCTAssertLessThan(t.pValue, 0.01)
        XCTAssertEqual(t.meanDifference, 0.2, accuracy: 0.005)
        XCTAssertLessThanOrEqual(t.lower, t.meanDifference)
        XCTAssertGreaterThanOrEqual(t.upper, t.meanDifference)
        XCTAssertGreaterThan(t.lower, 0.19)
        XCTAssertLessThan(t.upper, 0.21)
        // The same through the entry point, with b − a as the direction.
        let r = PairedComparison.compare(kind: .continuous, pairs: zip(a, b).map { (a: $0, b: $1) })
        XCTAssertTrue(r.significant)
        XCTAssertEqual(r.pValue, t.pValue)
        XCTAssertEqual(r.meanDifference, t.meanDifference, accuracy: 1e-12)
        XCTAssertEqual(r.meanB - r.meanA, t.meanDifference, accuracy: 1e-12)
        // And reversed: the same p, the opposite sign.
        let reversed = PairedBootstrapTest(before: b, after: a)
        XCTAssertLessThan(reversed.pValue, 0.01)
        XCTAssertEqual(reversed.meanDifference, -t.meanDifference, accuracy: 1e-12)
    }

    func testPairedBootstrapIsDeterministic() {
        var g = TestLCG(state: 13)
        let a = g.uniforms(50), b = g.uniforms(50)
        let first = PairedBootstrapTest(before: a, after: b)
        let second = PairedBootstrapTest(before: a, after: b)
        XCTAssertEqual(first, second)
        XCTAssertEqual(PairedComparison.compare(kind: .continuous, pairs: zip(a, b).map { (a: $0, b: $1) }).pValue, first.pValue)
        // The seed is what fixes it: another seed draws other resamples.
        let other = PairedBootstrapTest(before: a, after: b, seed: 12345)
        XCTAssertNotEqual(other.lower, first.lower)
    }

    func testPairedBootstrapOnNoise() {
        // Differences symmetric around 0.
        let alternating = (0..<30).map { $0 % 2 == 0 ? 0.1 : -0.1 }
        let t = PairedBootstrapTest(differences: alternating)
        XCTAssertGreaterThan(t.pValue, 0.5)
        XCTAssertFalse(PairedComparison.compare(kind: .continuous, pairs: alternating.map { (a: 0.5, b: 0.5 + $0) }).significant)

        // Uniform(−1, 1) noise: the bootstrap p should agree with the normal approximation
        // 2·(1 − Φ(|d̄|/(σ̂/√n))) (σ̂ with divisor n, the bootstrap's plug-in variance) to within
        // Monte Carlo error (sd ≈ 0.005 at B = 10,000) plus the small non-normality at n = 40.
        var g = TestLCG(state: 17)
        let d = g.uniforms(40).map { 2 * $0 - 1 }
        let m = mean(d)
        let sigma = (d.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(d.count)).squareRoot()
        let z = abs(m) / (sigma / Double(d.count).squareRoot())
        let normalP = erfc(z / 2.0.squareRoot())
        let noise = PairedBootstrapTest(differences: d)
        XCTAssertEqual(noise.pValue, normalP, accuracy: 0.03, "z = \(z)")
        XCTAssertLessThan(noise.lower, 0)
        XCTAssertGreaterThan(noise.upper, 0)
    }

    func testPairedBootstrapSmallAndClamped() {
        // One pair can never be significant, however large its difference.
        let one = PairedBootstrapTest(before: [0], after: [1])
        XCTAssertEqual(one.pValue, 1)
        XCTAssertEqual(one.meanDifference, 1)
        XCTAssertEqual(one.resamples, 0)
        let empty = PairedBootstrapTest(differences: [])
        XCTAssertEqual(empty.pValue, 1)
        XCTAssertEqual(empty.n, 0)
        // Too few resamples are raised to the minimum.
        let d = (0..<20).map { Double($0) / 20 - 0.4 }
        let few = PairedBootstrapTest(differences: d, resamples: 100)
        XCTAssertEqual(few.resamples, BootstrapInterval.minimumResamples)
        XCTAssertEqual(few, PairedBootstrapTest(differences: d, resamples: BootstrapInterval.minimumResamples))
        XCTAssertGreaterThanOrEqual(few.pValue, 1.0 / Double(few.resamples + 1))
    }

    // MARK: Bootstrap interval

    func testPercentileIsType7() {
        // numpy.percentile([1, 2, 3, 4], [0, 25, 50, 100]) = [1, 1.75, 2.5, 4].
        XCTAssertEqual(BootstrapInterval.percentile([1, 2, 3, 4], 0), 1)
        XCTAssertEqual(BootstrapInterval.percentile([1, 2, 3, 4], 0.25), 1.75)
        XCTAssertEqual(BootstrapInterval.percentile([1, 2, 3, 4], 0.5), 2.5)
        XCTAssertEqual(BootstrapInterval.percentile([1, 2, 3, 4], 1), 4)
        // h = 4·0.975 = 3.9: 40 + 0.9·10.
        XCTAssertEqual(BootstrapInterval.percentile([10, 20, 30, 40, 50], 0.975), 49, accuracy: 1e-12)
        XCTAssertEqual(BootstrapInterval.percentile([5], 0.025), 5)
    }

    func testBootstrapIntervalDegenerateCases() {
        XCTAssertNil(BootstrapInterval(scores: []))
        let constant = BootstrapInterval(scores: Array(repeating: 0.37, count: 25))
        XCTAssertEqual(constant?.lower, 0.37)
        XCTAssertEqual(constant?.upper, 0.37)
        XCTAssertEqual(constant?.mean, 0.37)
        let single = BootstrapInterval(scores: [0.8])
        XCTAssertEqual(single?.lower, 0.8)
        XCTAssertEqual(single?.upper, 0.8)
    }

    func testBootstrapIntervalContainsMeanAndIsDeterministic() throws {
        var g = TestLCG(state: 23)
        let scores = g.uniforms(60).map { $0 * $0 }  // skewed towards 0
        let first = try XCTUnwrap(BootstrapInterval(scores: scores))
        XCTAssertEqual(first.mean, mean(scores), accuracy: 1e-12)
        XCTAssertLessThan(first.lower, first.mean)
        XCTAssertGreaterThan(first.upper, first.mean)
        XCTAssertGreaterThanOrEqual(first.lower, scores.min()!)
        XCTAssertLessThanOrEqual(first.upper, scores.max()!)
        XCTAssertEqual(first.resamples, 2000)
        XCTAssertEqual(BootstrapInterval(scores: scores), first)
        XCTAssertNotEqual(BootstrapInterval(scores: scores, seed: 99)?.lower, first.lower)
        // Below the minimum, resamples are clamped up to 2000 (not a crash): the same as asking for 2000.
        let few = try XCTUnwrap(BootstrapInterval(scores: scores, resamples: 10))
        XCTAssertEqual(few.resamples, BootstrapInterval.minimumResamples)
        XCTAssertEqual(few, first)
        // More resamples are honoured.
        XCTAssertEqual(BootstrapInterval(scores: scores, resamples: 5000)?.resamples, 5000)
    }

    func testBootstrapIntervalWidthMatchesNormalTheory() throws {
        // For 400 uniform(0, 1) scores the mean is close to normal, so the 95% percentile interval
        // should be about 2·1.96·sd/√n wide (≈ 0.0566 for sd ≈ 0.2887).
        var g = TestLCG(state: 29)
        let scores = g.uniforms(400)
        let m = mean(scores)
        let sd = (scores.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(scores.count - 1)).squareRoot()
        let expected = 2 * 1.96 * sd / Double(scores.count).squareRoot()
        let interval = try XCTUnwrap(BootstrapInterval(scores: scores))
        let width = interval.upper - interval.lower
        XCTAssertEqual(width / expected, 1, accuracy: 0.15, "width \(width) vs \(expected)")
        // And roughly centred on the mean.
        XCTAssertEqual((interval.lower + interval.upper) / 2, m, accuracy: 0.1 * expected)
    }

    // MARK: ScoreInterval

    func testScoreIntervalPicksTheMethodByKind() throws {
        let proportions: [Double] = [1, 0, 1, 1, 0.5, 0, 1, 1, 1.0 / 3, 1]
        let w = WilsonInterval(successes: proportions.reduce(0, +), trials: proportions.count)
        let p = try XCTUnwrap(ScoreInterval.interval(kind: .proportion, scores: proportions))
        XCTAssertEqual(p.lower, w.lower)
        XCTAssertEqual(p.upper, w.upper)
        XCTAssertEqual(ScoreInterval.label(for: .proportion), "Wilson")
        XCTAssertEqual(ScoreInterval.method(for: .proportion), .wilson)

        var g = TestLCG(state: 31)
        let continuous = g.uniforms(50)
        let b = try XCTUnwrap(BootstrapInterval(scores: continuous))
        let c = try XCTUnwrap(ScoreInterval.interval(kind: .continuous, scores: continuous))
        XCTAssertEqual(c.lower, b.lower)
        XCTAssertEqual(c.upper, b.upper)
        XCTAssertEqual(ScoreInterval.label(for: .continuous), "bootstrap")
        XCTAssertEqual(ScoreInterval.method(for: .continuous), .bootstrap)
        // The two methods really differ on the same scores.
        let asProportion = try XCTUnwrap(ScoreInterval.interval(kind: .proportion, scores: continuous))
        XCTAssertNotEqual(asProportion.lower, c.lower)

        XCTAssertNil(ScoreInterval.interval(kind: .proportion, scores: []))
        XCTAssertNil(ScoreInterval.interval(kind: .continuous, scores: []))
    }

    func testFewContinuousPairsAreJudgedByTheExactSignFlipTest() {
        // d = (0.2, 0.4): of the four sign assignments, (+,+) and (−,−) reach |sum| 0.6: p = 2/4.
        XCTAssertEqual(SignFlipTest.exactTwoSidedP(differences: [0.2, 0.4]), 0.5)
        let two = PairedComparison.compare(kind: .continuous, pairs: [(a: 0.1, b: 0.3), (a: 0.2, b: 0.6)])
        XCTAssertEqual(two.testName, "sign-flip exact")
        XCTAssertEqual(two.pValue, 0.5)
        XCTAssertFalse(two.significant)
        // Six differences all positive: only all-plus and all-minus reach the observed sum: p = 2/64.
        let six = PairedComparison.compare(kind: .continuous, pairs: (1...6).map { (a: 0.1, b: 0.1 + 0.05 * Double($0)) })
        XCTAssertEqual(six.pValue, 2.0 / 64, accuracy: 1e-15)
        XCTAssertTrue(six.significant)
        // d = (0.1, −0.1, 0.3): sums 0.3 observed; assignments reaching |0.3|: ±(0.1 − 0.1 + 0.3), ±(−0.1 + 0.1 + 0.3),
        // ±(0.1 + 0.1 + 0.3) → 6 of 8.
        XCTAssertEqual(SignFlipTest.exactTwoSidedP(differences: [0.1, -0.1, 0.3]), 0.75)
        XCTAssertEqual(SignFlipTest.exactTwoSidedP(differences: [0, 0]), 1)
        XCTAssertEqual(PairedComparison.compare(kind: .continuous, pairs: (0..<17).map { (a: 0.0, b: 0.01 * Double($0)) }).testName,
                       "paired bootstrap", "beyond 16 pairs the bootstrap decides")
    }
}
