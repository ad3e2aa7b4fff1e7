import Foundation
import Kernels

/// What a forward call computes after the last layer.
public enum ForwardOutput {
    /// Nothing: the tokens only extend the attention state (a prompt chunk before the last).
    case none
    /// The next-token logits after the last token (`vocabularySize` floats).
    case lastLogits(UnsafeMutablePointer<Float>)
    /// For every position i of the call, log p(targets[i] | the sequence up to and including
    /// position i): the log-softmax of that position's logits at `targets[i]` (`tokens.count`
    /// values; `targets` has one id per token).
    case logProbabilities(targets: UnsafeBufferPointer<Int32>, into: UnsafeMutablePointer<Float>)

    /// Whether the call's last position is the one generation continues from, the row
    /// LM-Infinite's optional top-k middle tokens serve. Scoring every position treats each alike,
    /// so the scores do not depend on where chunks end.
    var endsInput: Bool {
        if case .lastLogits = self { return true }
        return false
    }
}

/// The output head: the final RMSNorm, the projection onto the vocabulary (the model's own or the
/// tied embedding) and, for models that have one, the final logit soft cap `cap · tanh(l / cap)`.
struct OutputHead {
    let norm: UnsafePointer<Float>
    let weights: WeightMatrix
    let epsilon: Float
    let softcap: Float?

    /// Logits of at most this many floats exist at once while scoring: the vocabulary is projected
    /// in slices of rows, so a chunk of 512 positions never holds a 512 × vocabulary matrix (Gemma 3:
    /// 262,144 entries per position) but 512 × 8,192.
    static let scoringLogitBudget = 1 << 22

    /// Writes what `output` asks for from the residual stream `x` of `t` positions. `scratch` holds
    /// at least t × embedding floats (the normed rows).
    func write(_ output: ForwardOutput, residual x: UnsafePointer<Float>, rows t: Int, scratch: UnsafeMutablePointer<Float>,
               context: ComputeContext) {
        switch output {
        case .none:
            return
        case let .lastLogits(logits):
            let d = weights.cols
            Elementwise.rmsNorm(x + (t - 1) * d, rows: 1, n: d, weight: norm, eps: epsilon, into: scratch)
            context.matmul(scratch, rows: 1, weights, logits)
            if let softcap { for i in 0..<weights.rows { logits[i] = softcap * tanhf(logits[i] / softcap) } }
        case let .logProbabilities(targets, into):
            precondition(targets.count == t, "one target per position")
            writeLogProbabilities(x, rows: t, targets: targets, scratch: scratch, context: context, into: into)
        }
    }

    /// log-softmax(head · rmsnorm(x[i]))[targets[i]] for each of the `t` rows: the vocabulary is
    /// taken in slices, each slice's logits computed for all rows with the GEMM and folded at once
    /// into a running log-sum-exp per row (maximum and scaled sum, in Double), so only
    /// `scoringLogitBudget` logits exist at a time.
    private func writeLogProbabilities(_ x: UnsafePointer<Float>, rows t: Int, targets: UnsafeBufferPointer<Int32>,
                                       scratch: UnsafeMutablePointer<Float>, context: ComputeContext,
                                       into logProbabilities: UnsafeMutablePointer<Float>) {
        let d = weights.cols, vocabulary = weights.rows
        Elementwise.rmsNorm(x, rows: t, n: d, weight: norm, eps: epsilon, into: scratch)
        let sliceRows = min(vocabulary, max(GEMM.tileCols, Self.scoringLogitBudget / t / GEMM.tileCols * GEMM.tileCols))
        let logits = UnsafeMutablePointer<Float>.allocate(capacity: t * sliceRows)
        var maximum = [Double](repeating: -.infinity, count: t)
        var scaledSum = [Double](repeating: 0, count: t)
        var targetLogit = [Double](repeating: .nan, count: t)
        defer { logits.deallocate() }
        maximum.withUnsafeMutableBufferPointer { maximum in
            scaledSum.withUnsafeMutableBufferPointer { scaledSum in
                targetLogit.withUnsafeMutableBufferPointer { targetLogit in
                    var first = 0
                    while first < vocabulary {
                        let count = min(sliceRows, vocabulary - first)
                        context.matmul(scratch, rows: t, weights.rows(first..<first + count), logits)
                        context.parallelism.forEach(t) { row, _ in
                            let l = logits + row * count
                            if let softcap { for j in 0..<count { l[j] = softcap * tanhf(l[j] / softcap) } }
                            let target = Int(targets[row]) - first
                            if target >= 0 && target < count { targetLogit[row] = Double(l[target]) }
                            let (sliceMaximum, sliceSum) = Self.sumOfExponentials(l, count)
                            // Rescale whichever sum has the smaller maximum, so no exponent overflows.
                            if sliceMaximum > maximum[row] {
                                scaledSum[row] = scaledSum[row] * Foundation.exp(maximum[row] - sliceMaximum) + sliceSum
                                maximum[row] = sliceMaximum
                            } else {
                                scaledSum[row] += sliceSum * Foundation.exp(sliceMaximum - maximum[row])
                            }
                        }
                        first += count
                    }
                    for row in 0..<t {
                        logProbabilities[row] = Float(targetLogit[row] - (maximum[row] + Foundation.log(scaledSum[row])))
                    }
                }
            }
        }
    }

    /// The maximum m of `n` logits and Σ exp(l − m), eight lanes at a time.
    private static func sumOfExponentials(_ l: UnsafePointer<Float>, _ n: Int) -> (maximum: Double, sum: Double) {
        func load(_ j: Int) -> SIMD8<Float> { UnsafeRawPointer(l + j).loadUnaligned(as: SIMD8<Float>.self) }
        var maxima = SIMD8<Float>(repeating: -.infinity)
        var j = 0
        while j + 8 <= n {
            maxima = pointwiseMax(maxima, load(j))
            j += 8
        }
        var m = maxima.max()
        while j < n {
            m = max(m, l[j])
            j += 1
        }
        let mv = SIMD8<Float>(repeating: m)
        var lanes = SIMD8<Float>()
        j = 0
        while j + 8 <= n {
            lanes += Elementwise.exp(load(j) - mv)
            j += 8
        }
        var sum = Double(lanes.sum())
        while j < n {
            sum += Double(expf(l[j] - m))
            j += 1
        }
        return (Double(m), sum)
    }
}
