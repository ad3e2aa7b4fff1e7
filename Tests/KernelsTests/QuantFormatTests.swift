import XCTest
import GGUF
import GGUFTestSupport
import Kernels
import ModelTestSupport

/// Every weight format through both matmul paths, against the reference dequantizer and a dot
/// product in Double: one row (decoding: the fused dot products, which round the input to 16-bit
/// codes) and several rows (the packed GEMM, all f32), at shapes that reach every tail: row counts
/// that are not a multiple of the mat-vec's 32-row items or the GEMM's 16-column panels, row tiles
/// with a partial last tile, and widths that end in fewer blocks than the kernels take per step.
final class QuantFormatTests: KernelPathTestCase {
    static let formats: [GGMLType] = [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K, .f16, .bf16, .f32]

    /// Widths per format: for 32-element blocks, 18 blocks (two steps of 8 and a scalar tail of 2),
    /// 7 (tail only) and 8 (one step, no tail); 3 and 1 K-quant blocks; for the float formats one
    /// width that is not a multiple of 8.
    static func widths(_ type: GGMLType) -> [Int] {
        switch type.blockElements {
        case 256: return [768, 256]
        case 32: return [576, 224, 256]
        default: return [100, 576]
        }
    }

    // MARK: Random matrices

    /// A random matrix in `type`, with, for each element, the part of its value that the decoding
    /// kernels multiply by the rounded input (`integerPart`: d·q, d·(q − 16), d·sc·q, …); the rest
    /// of each weight is a per-block (or per-group) offset, applied through exact sums of x.
    struct Sample {
        var bytes: [UInt8] = []
        var integerPart: [Double] = []
    }

    struct Generator {
        var rng: SeededGenerator
        init(seed: UInt64) { rng = SeededGenerator(seed: seed) }

        /// A block scale: random sign, magnitude spread over 2⁻¹⁴…2⁻⁴, and now and then zero or an
        /// f16 subnormal (which the vector half conversion must get right).
        mutating func scale() -> Float16 {
            switch UInt8.random(in: 0...31, using: &rng) {
            case 0: return 0
            case 1: return Float16(bitPattern: UInt16.random(in: 1...0x3FF, using: &rng) | (Bool.random(using: &rng) ? 0x8000 : 0))
            default:
                return Float16(sign: Bool.random(using: &rng) ? .minus : .plus, exponent: Int.random(in: -14 ... -5, using: &rng),
                               significand: Float16.random(in: 1..<2, using: &rng))
            }
        }

        mutating func codes(_ n: Int, _ range: ClosedRange<UInt8>) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: range, using: &rng) } }

        mutating func block(_ type: GGMLType, into s: inout Sample) {
            switch type {
            case .q8_0:
                let d = scale(), q = (0..<32).map { _ in Int8.random(in: -128...127, using: &rng) }
                s.bytes += BlockEncoder.q8_0(d: d, q: q)
                s.integerPart += q.map { Double(d) * Double($0) }
            case .q4_0:
                let d = scale(), q = codes(32, 0...15)
                s.bytes += BlockEncoder.q4_0(d: d, q: q)
                s.integerPart += q.map { Double(d) * Double($0) }
            case .q4_1:
                let d = scale(), m = scale(), q = codes(32, 0...15)
                s.bytes += BlockEncoder.q4_1(d: d, m: m, q: q)
                s.integerPart += q.map { Double(d) * Double($0) }
            case .q5_0:
                let d = scale(), q = codes(32, 0...31)
                s.bytes += BlockEncoder.q5_0(d: d, q: q)
                s.integerPart += q.map { Double(d) * (Double($0) - 16) }
            case .q5_1:
                let d = scale(), m = scale(), q = codes(32, 0...31)
                s.bytes += BlockEncoder.q5_1(d: d, m: m, q: q)
                s.integerPart += q.map { Double(d) * (Double($0) - 16) }
            case .q4_K, .q5_K:
                let d = scale(), dmin = scale(), sc = codes(8, 0...63), m = codes(8, 0...63)
                let q = codes(256, type == .q4_K ? 0...15 : 0...31)
                s.bytes += type == .q4_K ? BlockEncoder.q4_K(d: d, dmin: dmin, sc: sc, m: m, q: q)
                                         : BlockEncoder.q5_K(d: d, dmin: dmin, sc: sc, m: m, q: q)
                s.integerPart += (0..<256).map { Double(d) * Double(sc[$0 / 32]) * Double(q[$0]) }
            case .q6_K:
                let d = scale(), scales = (0..<16).map { _ in Int8.random(in: -128...127, using: &rng) }, q = codes(256, 0...63)
                s.bytes += BlockEncoder.q6_K(d: d, scales: scales, q: q)
                s.integerPart += (0..<256).map { Double(d) * Double(scales[$0 / 16]) * Double(q[$0]) }
            case .f16:
                s.bytes += le(Float16(Float.random(in: -1...1, using: &rng)).bitPattern)
                s.integerPart.append(0)
            case .bf16:
                s.bytes += le(UInt16(Float.random(in: -1...1, using: &rng).bitPattern >> 16))
                s.integerPart.append(0)
            case .f32:
                s.bytes += le(Float.random(in: -1...1, using: &rng).bitPattern)
                s.integerPart.append(0)
            default: fatalError("no generator for \(type)")
            }
        }

        mutating func matrix(_ type: GGMLType, rows: Int, cols: Int) -> Sample {
            var s = Sample()
            for _ in 0..<(rows * cols / type.blockElements) { block(type, into: &s) }
            return s
        }

        mutating func floats(_ n: Int) -> [Float] { (0..<n).map { _ in Float.random(in: -1...1, using: &rng) } }
    }

    // MARK: Helpers

    func multiply(_ w: WeightMatrix, _ x: [Float], rows: Int, threads: Int) -> [Float] {
        var y = [Float](repeating: .nan, count: rows * w.rows)
        x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { ComputeContext(parallelism: Parallelism(threads: threads), path: kernelPath).matmul(xp.baseAddress!, rows: rows, w, $0.baseAddress!) }
        }
        return y
    }

    /// Σ_i w[j·k + i] · x[t·k + i] in Double, and Σ |w·x|.
    func referenceDot(_ w: [Float], row j: Int, _ x: [Float], input t: Int, k: Int) -> (value: Double, magnitude: Double) {
        var s = 0.0, m = 0.0
        for i in 0..<k {
            let p = Double(w[j * k + i]) * Double(x[t * k + i])
            s += p
            m += abs(p)
        }
        return (s, m)
    }

    /// The decoding error bound of QuantizedDot's header: each element of x is rounded to within
    /// half a step, 1/32767 of the largest |x| in its 32-element block, and that error is multiplied
    /// by the integer part of the weight; plus f32 rounding, relative to the magnitudes the kernels
    /// accumulate (integer parts and offsets).
    func decodingBound(_ sample: Sample, _ weights: [Float], row j: Int, _ x: [Float], k: Int) -> (rounding: Double, float32: Double) {
        var rounding = 0.0, magnitude = 0.0
        for b in 0..<((k + 31) / 32) {
            let block = (32 * b)..<min(k, 32 * b + 32)
            let step = Double(x[block].map(abs).max()!) / 32767
            for i in block {
                let integer = sample.integerPart[j * k + i], offset = Double(weights[j * k + i]) - integer
                rounding += abs(integer) * step / 2
                magnitude += (abs(integer) + abs(offset)) * Double(abs(x[i]))
            }
        }
        return (rounding, 4e-6 * magnitude)
    }

    // MARK: Tests

    /// The generator's integer parts are what the reference dequantizer decodes, up to a per-block
    /// offset: checked once, so that the bound below rests on the format definitions.
    func testGeneratedBlocksDecodeToTheirCodes() {
        onEveryKernelPath {
            var g = Generator(seed: 1)
            for type in Self.formats where type.blockElements > 1 {
                let k = type.blockElements, rows = 64
                let sample = g.matrix(type, rows: rows, cols: k)
                let weights = withMatrix(sample.bytes, type, rows: rows, cols: k) { dequantized($0) }
                // Within a block (32 elements, or a K-quant's 16-element group), weight − integer part is one constant.
                let group = type == .q6_K ? 16 : 32
                for g0 in stride(from: 0, to: rows * k, by: group) {
                    let offsets = (g0..<(g0 + group)).map { Double(weights[$0]) - sample.integerPart[$0] }
                    let spread = offsets.max()! - offsets.min()!
                    let size = (g0..<(g0 + group)).map { abs(Double(weights[$0])) + abs(sample.integerPart[$0]) }.max()!
                    XCTAssertLessThanOrEqual(spread, 1e-6 * size, "\(type): elements \(g0)..<\(g0 + group) do not share one offset")
                }
            }
        }
    }

    /// One row: every format's fused dot product within the rounding bound of its input codes, at
    /// 1 and 2 threads, for row counts that leave a partial work item.
    func testMatVecEveryFormatWithinTheRoundingBound() {
        onEveryKernelPath {
            for (f, type) in Self.formats.enumerated() {
                for (s, k) in Self.widths(type).enumerated() {
                    var g = Generator(seed: UInt64(100 * f + s + 1))
                    let n = [45, 70, 33][s % 3]
                    let sample = g.matrix(type, rows: n, cols: k)
                    let x = g.floats(k)
                    withMatrix(sample.bytes, type, rows: n, cols: k) { w in
                        let weights = dequantized(w)
                        for threads in [1, 2] {
                            let got = multiply(w, x, rows: 1, threads: threads)
                            for j in 0..<n {
                                let want = referenceDot(weights, row: j, x, input: 0, k: k)
                                let bound = decodingBound(sample, weights, row: j, x, k: k)
                                let error = abs(Double(got[j]) - want.value)
                                if !(error <= bound.rounding + bound.float32) {
                                    XCTFail("\(type) \(n)×\(k), \(threads) threads, row \(j): got \(got[j]), want \(want.value), bound \(bound.rounding + bound.float32)")
                                    return
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The bound is tight enough to mean something: with an outlier 300 times the other values in
    /// every block (the coarsest steps, as in Gemma's hidden states), the errors reach a visible
    /// share of it, and never exceed it.
    func testMatVecRoundingReachesItsBoundWithOutliers() {
        onEveryKernelPath {
            for (f, type) in Self.formats.enumerated() where type.blockElements > 1 {
                var g = Generator(seed: UInt64(500 + f))
                let n = 24, k = type.blockElements == 256 ? 512 : 576
                let sample = g.matrix(type, rows: n, cols: k)
                var x = g.floats(k)
                for b in 0..<(k / 32) { x[32 * b + (7 * b) % 32] = b % 2 == 0 ? 300 : -300 }
                withMatrix(sample.bytes, type, rows: n, cols: k) { w in
                    let weights = dequantized(w)
                    let got = multiply(w, x, rows: 1, threads: 2)
                    var worstShare = 0.0
                    for j in 0..<n {
                        let want = referenceDot(weights, row: j, x, input: 0, k: k).value
                        let bound = decodingBound(sample, weights, row: j, x, k: k)
                        let error = abs(Double(got[j]) - want)
                        XCTAssertLessThanOrEqual(error, bound.rounding + bound.float32, "\(type) row \(j)")
                        worstShare = max(worstShare, error / (bound.rounding + bound.float32))
                    }
                    XCTAssertGreaterThan(worstShare, 0.01, "\(type): errors far below the rounding bound")
                }
            }
        }
    }

    /// Several rows: the packed GEMM in f32, for row counts with partial 6-row tiles (2, 7, 13) and
    /// output counts with a partial 16-column panel (37, 5, 45: 13 columns, one group of 8 decoded straight into the panel and 5 through the row buffer), at 1–3 threads. Packing must reproduce
    /// the dequantized weights, so the only error left is f32 accumulation.
    func testGEMMEveryFormat() {
        onEveryKernelPath {
            for (f, type) in Self.formats.enumerated() {
                for (s, k) in Self.widths(type).enumerated() {
                    for (r, (rows, n)) in [(2, 37), (7, 5), (13, 45)].enumerated() {
                        var g = Generator(seed: UInt64(1000 + 100 * f + 10 * s + r))
                        let sample = g.matrix(type, rows: n, cols: k)
                        let x = g.floats(rows * k)
                        withMatrix(sample.bytes, type, rows: n, cols: k) { w in
                            let weights = dequantized(w)
                            let got = multiply(w, x, rows: rows, threads: 1 + r)
                            for t in 0..<rows { for j in 0..<n {
                                let want = referenceDot(weights, row: j, x, input: t, k: k)
                                let got = Double(got[t * n + j])
                                if !(abs(got - want.value) <= 1e-6 * Double(k).squareRoot() * want.magnitude) {
                                    XCTFail("\(type) \(rows) rows × \(n)×\(k): element (\(t), \(j)) got \(got), want \(want.value)")
                                    return
                                }
                            } }
                        }
                    }
                }
            }
        }
    }

    /// The packed panels hold exactly the dequantized weights: with one-hot input rows (x = the
    /// identity) every GEMM output is one weight times 1 plus zeros, so any packing difference,
    /// even in the last bit, shows.
    func testGEMMPanelsHoldExactlyTheDequantizedWeights() {
        onEveryKernelPath {
            for (f, type) in Self.formats.enumerated() {
                var g = Generator(seed: UInt64(3000 + f))
                let k = type.blockElements == 256 ? 256 : 224, n = 45
                let sample = g.matrix(type, rows: n, cols: k)
                var identity = [Float](repeating: 0, count: k * k)
                for i in 0..<k { identity[i * k + i] = 1 }
                withMatrix(sample.bytes, type, rows: n, cols: k) { w in
                    let weights = dequantized(w)
                    let got = multiply(w, identity, rows: k, threads: 2)
                    var mismatches = 0
                    for i in 0..<k { for j in 0..<n where got[i * n + j] != weights[j * k + i] { mismatches += 1 } }
                    XCTAssertEqual(mismatches, 0, "\(type): packed weights differ from Dequantize")
                }
            }
        }
    }

    /// Jobs of different formats in one call share the input and give what each gives alone.
    func testMixedFormatJobs() {
        onEveryKernelPath {
            var g = Generator(seed: 77)
            let k = 576, types: [GGMLType] = [.q4_1, .q8_0, .f16, .q5_1]
            let samples = types.map { g.matrix($0, rows: 40, cols: k) }
            let x = g.floats(9 * k)
            let context = ComputeContext(parallelism: Parallelism(threads: 2), path: kernelPath)
            for rows in [1, 9] {
                var together = types.map { _ in [Float](repeating: 0, count: rows * 40) }
                var alone = together
                samples[0].bytes.withUnsafeBytes { b0 in samples[1].bytes.withUnsafeBytes { b1 in
                    samples[2].bytes.withUnsafeBytes { b2 in samples[3].bytes.withUnsafeBytes { b3 in
                        let matrices = zip(types, [b0, b1, b2, b3]).map { WeightMatrix(name: "w", type: $0.0, rows: 40, cols: k, data: $0.1.baseAddress!) }
                        x.withUnsafeBufferPointer { xp in
                            let outputs = (0..<4).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: rows * 40) }
                            defer { outputs.forEach { $0.deallocate() } }
                            context.matmul(xp.baseAddress!, rows: rows, zip(matrices, outputs).map { MatMulJob($0.0, $0.1) })
                            for i in 0..<4 { together[i] = Array(UnsafeBufferPointer(start: outputs[i], count: rows * 40)) }
                            for i in 0..<4 {
                                context.matmul(xp.baseAddress!, rows: rows, matrices[i], outputs[i])
                                alone[i] = Array(UnsafeBufferPointer(start: outputs[i], count: rows * 40))
                            }
                        }
                    } }
                } }
                XCTAssertEqual(together, alone, "\(rows) rows")
            }
        }
    }
}
