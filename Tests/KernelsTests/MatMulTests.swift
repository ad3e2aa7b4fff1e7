import XCTest
import GGUF
import Kernels
import ModelTestSupport

final class MatMulTests: KernelPathTestCase {
    /// x · Wᵀ in Double from the dequantized weights.
    func reference(_ x: [Float], rows: Int, _ w: [Float], n: Int, k: Int) -> [Double] {
        var y = [Double](repeating: 0, count: rows * n)
        for t in 0..<rows { for j in 0..<n {
            var s = 0.0
            for i in 0..<k { s += Double(x[t * k + i]) * Double(w[j * k + i]) }
            y[t * n + j] = s
        } }
        return y
    }

    func check(_ type: GGMLType, rows: Int, n: Int, k: Int, threads: Int, seed: UInt64, file: StaticString = #filePath, line: UInt = #line) {
        var random = RandomWeights(seed: seed)
        let bytes = random.matrix(type, rows: n, cols: k)
        let x = random.floats(rows * k)
        withMatrix(bytes, type, rows: n, cols: k) { w in
            let want = reference(x, rows: rows, dequantized(w), n: n, k: k)
            var got = [Float](repeating: .nan, count: rows * n)
            let context = ComputeContext(parallelism: Parallelism(threads: threads), path: kernelPath)
            x.withUnsafeBufferPointer { xp in
                got.withUnsafeMutableBufferPointer { context.matmul(xp.baseAddress!, rows: rows, w, $0.baseAddress!) }
            }
            let scale = want.map(abs).max()! + 1e-3
            for i in 0..<(rows * n) where abs(Double(got[i]) - want[i]) > 2e-5 * scale * Double(k).squareRoot() {
                XCTFail("\(type) rows=\(rows) n=\(n) k=\(k): element \(i) got \(got[i]) want \(want[i])", file: file, line: line)
                return
            }
        }
    }

    /// One row goes through the fused quantized dot products (decoding).
    func testMatVecEveryType() {
        onEveryKernelPath {
            for (i, type) in [GGMLType.q8_0, .q4_0, .q5_0, .q4_K, .q6_K, .f32, .q4_1, .q5_1, .q5_K, .q8_K, .f16, .bf16].enumerated() {
                let k = type.blockElements == 256 ? 768 : 96
                check(type, rows: 1, n: 70, k: k, threads: 2, seed: UInt64(i + 1))
            }
        }
    }

    /// Decoding rounds its input to 16-bit codes, one scale per 32 elements, before the integer
    /// kernels multiply. Each output's error is then at most Σ_i |w_i|·step_i/2, where step_i is
    /// 1/32767 of the largest |x| in element i's block: checked with an outlier 300 times the other
    /// values in every block, the case that makes the steps coarsest (Gemma's hidden states have
    /// such outliers).
    func testMatVecInputRoundingStaysWithinHalfAStep() {
        onEveryKernelPath {
            for (i, type) in [GGMLType.q8_0, .q4_K, .q6_K].enumerated() {
                var random = RandomWeights(seed: UInt64(200 + i))
                let n = 24, k = 512
                let bytes = random.matrix(type, rows: n, cols: k)
                var x = random.floats(k)
                for b in 0..<(k / 32) { x[32 * b + (7 * b) % 32] = b % 2 == 0 ? 300 : -300 }
                let step = (0..<k).map { i in Double(x[(i / 32 * 32)..<(i / 32 * 32 + 32)].map(abs).max()!) / 32767 }
                withMatrix(bytes, type, rows: n, cols: k) { w in
                    let weights = dequantized(w)
                    let want = reference(x, rows: 1, weights, n: n, k: k)
                    var got = [Float](repeating: .nan, count: n)
                    x.withUnsafeBufferPointer { xp in
                        got.withUnsafeMutableBufferPointer { ComputeContext(parallelism: Parallelism(threads: 2), path: kernelPath).matmul(xp.baseAddress!, rows: 1, w, $0.baseAddress!) }
                    }
                    var worstShare = 0.0
                    for j in 0..<n {
                        let row = weights[(j * k)..<(j * k + k)].map(Double.init)
                        let rounding = zip(row, step).reduce(0) { $0 + abs($1.0) * $1.1 / 2 }
                        let float32 = 1e-6 * zip(row, x).reduce(0) { $0 + abs($1.0 * Double($1.1)) }
                        let error = abs(Double(got[j]) - want[j])
                        XCTAssertLessThanOrEqual(error, rounding + float32, "\(type) row \(j)")
                        worstShare = max(worstShare, error / (rounding + float32))
                    }
                    // The bound is not vacuous: the rounding is visible at the level it predicts.
                    XCTAssertGreaterThan(worstShare, 0.01, "\(type): errors far below the rounding bound")
                }
            }
        }
    }

    /// Matrices re-encoded at load (Q5_0 as Q8_0, Q6_K as int8 with group scales) through both
    /// paths, against the original format's dequantized values.
    func testReencodedMatricesMatchTheirSource() {
        onEveryKernelPath {
            for (i, type) in [GGMLType.q5_0, .q6_K].enumerated() {
                var random = RandomWeights(seed: UInt64(300 + i))
                let n = 40, k = 512
                let bytes = random.matrix(type, rows: n, cols: k)
                withMatrix(bytes, type, rows: n, cols: k) { stored in
                    let reencoded = ReencodedWeights(parallelism: Parallelism(threads: 2))
                    guard let w = reencoded.reencoded(stored) else { return XCTFail("\(type) is not re-encoded") }
                    XCTAssertEqual(dequantized(w), dequantized(stored), "\(type): re-encoding changed values")
                    for rows in [1, 7] {
                        let x = random.floats(rows * k)
                        let want = reference(x, rows: rows, dequantized(stored), n: n, k: k)
                        var got = [Float](repeating: .nan, count: rows * n)
                        x.withUnsafeBufferPointer { xp in
                            got.withUnsafeMutableBufferPointer { ComputeContext(parallelism: Parallelism(threads: 2), path: kernelPath).matmul(xp.baseAddress!, rows: rows, w, $0.baseAddress!) }
                        }
                        let scale = want.map(abs).max()! + 1e-3
                        for j in 0..<(rows * n) {
                            XCTAssertEqual(Double(got[j]), want[j], accuracy: 2e-5 * scale * Double(k).squareRoot(), "\(type) → \(w.type), \(rows) rows, element \(j)")
                        }
                    }
                }
            }
        }
    }

    /// Several rows go through the packed GEMM, including partial row tiles (not a multiple of 6)
    /// and partial column panels (not a multiple of 16).
    func testGEMMShapes() {
        onEveryKernelPath {
            for (i, (rows, n)) in [(2, 16), (5, 33), (6, 16), (7, 40), (13, 64), (64, 31)].enumerated() {
                check(.q5_0, rows: rows, n: n, k: 640, threads: 2, seed: UInt64(100 + i))
            }
            check(.q4_K, rows: 17, n: 48, k: 512, threads: 3, seed: 7)
            check(.q6_K, rows: 9, n: 20, k: 256, threads: 1, seed: 8)
            check(.q8_0, rows: 12, n: 32, k: 64, threads: 2, seed: 9)
            check(.f32, rows: 3, n: 5, k: 40, threads: 2, seed: 10)
        }
    }

    func testBatchedJobsShareTheInput() {
        onEveryKernelPath {
            var random = RandomWeights(seed: 11)
            let k = 64
            let a = random.matrix(.q8_0, rows: 48, cols: k), b = random.matrix(.q5_0, rows: 16, cols: k)
            let x = random.floats(4 * k)
            let context = ComputeContext(parallelism: Parallelism(threads: 2), path: kernelPath)
            withMatrix(a, .q8_0, rows: 48, cols: k) { wa in
                withMatrix(b, .q5_0, rows: 16, cols: k) { wb in
                    for rows in [1, 4] {
                        var ya = [Float](repeating: 0, count: rows * 48), yb = [Float](repeating: 0, count: rows * 16)
                        var sa = ya, sb = yb
                        x.withUnsafeBufferPointer { xp in
                            ya.withUnsafeMutableBufferPointer { pa in yb.withUnsafeMutableBufferPointer { pb in
                                context.matmul(xp.baseAddress!, rows: rows, [MatMulJob(wa, pa.baseAddress!), MatMulJob(wb, pb.baseAddress!)])
                            } }
                            sa.withUnsafeMutableBufferPointer { context.matmul(xp.baseAddress!, rows: rows, wa, $0.baseAddress!) }
                            sb.withUnsafeMutableBufferPointer { context.matmul(xp.baseAddress!, rows: rows, wb, $0.baseAddress!) }
                        }
                        XCTAssertEqual(ya, sa)
                        XCTAssertEqual(yb, sb)
                    }
                }
            }
        }
    }
}
