/// The kernels of the AVX-512 path (Kernels' `KernelPath.avx512`): the operations of the AVX2 kernels,
/// shaped for 32 zmm registers. They are called only after the CPU was found to have the extensions
/// this module is built for; entry points are `@inline(never)` so that none is inlined into the
/// AVX2 build of the Kernels module.
public enum AVX512Kernels {
    /// Rows of the GEMM tile: one 16-wide accumulator per row (the broadcasts of A fold into the
    /// FMAs as `{1to16}` memory operands). Eight rows read in place stay within the 8 ways of an L1
    /// set even when they are 4 or 8 KB apart (k = 1024 or 2048).
    public static let gemmTileRows = 8

    /// Measured against a 12-row tile (2 cores of an AMD EPYC Zen 4, `lmbench bench --gemm`, Gemma 3):
    /// read in place, twelve rows of A 4 or 8 KB apart share one set of the 8-way L1 and the Q4_K
    /// and Q6_K matrices (k = 1024, 2048) ran at 58–63% of the FMA peak; packed first (rows
    /// interleaved), 71–79% everywhere; this tile 84–90%, the AVX2 tile 74–89%.
    ///
    /// C[8 × 16] (+)= A[8 × k] · B[k × 16]: A row-major with row stride `lda`, B k rows of 16 floats
    /// `ldb` apart (a packed weight panel), C with row stride `ldc`. Per step of k: one load of B and
    /// eight FMAs.
    @inline(never)
    public static func gemmTile(_ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ k: Int,
                                _ c: UnsafeMutablePointer<Float>, _ ldc: Int, accumulate: Bool) {
        var c0 = SIMD16<Float>(), c1 = SIMD16<Float>(), c2 = SIMD16<Float>(), c3 = SIMD16<Float>()
        var c4 = SIMD16<Float>(), c5 = SIMD16<Float>(), c6 = SIMD16<Float>(), c7 = SIMD16<Float>()
        if accumulate {
            c0 = load16(c); c1 = load16(c + ldc); c2 = load16(c + 2 * ldc); c3 = load16(c + 3 * ldc)
            c4 = load16(c + 4 * ldc); c5 = load16(c + 5 * ldc); c6 = load16(c + 6 * ldc); c7 = load16(c + 7 * ldc)
        }
        var p = a, q = a + 4 * lda
        let l1 = lda, l2 = 2 * lda, l3 = 3 * lda
        var bp = b
        for _ in 0..<k {
            let bv = load16(bp)
            c0.addProduct(SIMD16(repeating: p[0]), bv); c1.addProduct(SIMD16(repeating: p[l1]), bv)
            c2.addProduct(SIMD16(repeating: p[l2]), bv); c3.addProduct(SIMD16(repeating: p[l3]), bv)
            c4.addProduct(SIMD16(repeating: q[0]), bv); c5.addProduct(SIMD16(repeating: q[l1]), bv)
            c6.addProduct(SIMD16(repeating: q[l2]), bv); c7.addProduct(SIMD16(repeating: q[l3]), bv)
            p += 1; q += 1; bp += ldb
        }
        store16(c, c0); store16(c + ldc, c1); store16(c + 2 * ldc, c2); store16(c + 3 * ldc, c3)
        store16(c + 4 * ldc, c4); store16(c + 5 * ldc, c5); store16(c + 6 * ldc, c6); store16(c + 7 * ldc, c7)
    }

    /// Twelve chains of 16-wide FMAs a ← a + x·y, for measuring the zmm multiply-add peak (Kernels'
    /// `PeakThroughput`, whose 8-wide twin is built for the AVX2 path in that module).
    @inline(never)
    public static func fmaChains(_ iterations: Int, seed: Float) -> Float {
        let x = SIMD16<Float>(repeating: 0.5), y = SIMD16<Float>(repeating: 1e-3)
        var a0 = SIMD16<Float>(repeating: seed), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0
        var a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0
        for _ in 0..<iterations {
            a0.addProduct(x, y); a1.addProduct(x, y); a2.addProduct(x, y); a3.addProduct(x, y)
            a4.addProduct(x, y); a5.addProduct(x, y); a6.addProduct(x, y); a7.addProduct(x, y)
            a8.addProduct(x, y); a9.addProduct(x, y); a10.addProduct(x, y); a11.addProduct(x, y)
        }
        return horizontalSum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11)
    }
}
