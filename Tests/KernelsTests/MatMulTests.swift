import XCTest
import GGUF
import Kernels

final class MatMulTests: XCTestCase {
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
            let context = ComputeContext(parallelism: Parallelism(threads: threads))
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
        for (i, type) in [GGMLType.q8_0, .q4_0, .q5_0, .q4_K, .q6_K, .f32, .q4_1, .q5_1, .q5_K, .q8_K, .f16, .bf16].enumerated() {
            let k = type.blockElements == 256 ? 768 : 96
            check(type, rows: 1, n: 70, k: k, threads: 2, seed: UInt64(i + 1))
        }
    }

    /// Several rows go through the packed GEMM, including partial row tiles (not a multiple of 6)
    /// and partial column panels (not a multiple of 16).
    func testGEMMShapes() {
        for (i, (rows, n)) in [(2, 16), (5, 33), (6, 16), (7, 40), (13, 64), (64, 31)].enumerated() {
            check(.q5_0, rows: rows, n: n, k: 640, threads: 2, seed: UInt64(100 + i))
        }
        check(.q4_K, rows: 17, n: 48, k: 512, threads: 3, seed: 7)
        check(.q6_K, rows: 9, n: 20, k: 256, threads: 1, seed: 8)
        check(.q8_0, rows: 12, n: 32, k: 64, threads: 2, seed: 9)
        check(.f32, rows: 3, n: 5, k: 40, threads: 2, seed: 10)
    }

    func testBatchedJobsShareTheInput() {
        var random = RandomWeights(seed: 11)
        let k = 64
        let a = random.matrix(.q8_0, rows: 48, cols: k), b = random.matrix(.q5_0, rows: 16, cols: k)
        let x = random.floats(4 * k)
        let context = ComputeContext(parallelism: Parallelism(threads: 2))
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
