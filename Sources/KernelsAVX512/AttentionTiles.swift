extension AVX512Kernels {
    /// Rows of the attention tiles: four rows by 32 columns hold eight zmm accumulators. Decoding
    /// attends with one query row per query head sharing a KV head (3 in SmolLM2, 4 in Gemma 3), so
    /// a taller tile would mostly multiply padding.
    public static let attentionTileRows = 4

    /// C[4 × 32] (+)= A[4 × k] · B[k × 32], B the half-precision KV cache: row i of B is 16 elements at
    /// `left + i·ldb` followed by 16 at `right + i·ldb` (two key panels for QKᵀ, two 16-column strips
    /// of the value rows for PV). Per step of k: two widening loads, four broadcasts, eight FMAs.
    @inline(never)
    public static func attentionWide(_ a: UnsafePointer<Float>, _ lda: Int, _ left: UnsafePointer<Float16>, _ right: UnsafePointer<Float16>,
                                     _ ldb: Int, _ k: Int, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, accumulate: Bool) {
        var c00 = SIMD16<Float>(), c01 = SIMD16<Float>(), c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
        var c20 = SIMD16<Float>(), c21 = SIMD16<Float>(), c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
        let c1 = c + ldc, c2 = c + 2 * ldc, c3 = c + 3 * ldc
        if accumulate {
            c00 = load16(c); c01 = load16(c + 16); c10 = load16(c1); c11 = load16(c1 + 16)
            c20 = load16(c2); c21 = load16(c2 + 16); c30 = load16(c3); c31 = load16(c3 + 16)
        }
        let a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda
        var l = left, r = right
        for i in 0..<k {
            let bl = halves16(l), br = halves16(r)
            var x = SIMD16<Float>(repeating: a0[i]); c00.addProduct(x, bl); c01.addProduct(x, br)
            x = SIMD16<Float>(repeating: a1[i]); c10.addProduct(x, bl); c11.addProduct(x, br)
            x = SIMD16<Float>(repeating: a2[i]); c20.addProduct(x, bl); c21.addProduct(x, br)
            x = SIMD16<Float>(repeating: a3[i]); c30.addProduct(x, bl); c31.addProduct(x, br)
            l += ldb; r += ldb
        }
        store16(c, c00); store16(c + 16, c01); store16(c1, c10); store16(c1 + 16, c11)
        store16(c2, c20); store16(c2 + 16, c21); store16(c3, c30); store16(c3 + 16, c31)
    }

    /// C[4 × 16] (+)= A[4 × k] · B[k × 16]: an odd last key panel, or a head size that is an odd
    /// multiple of 16.
    @inline(never)
    public static func attentionNarrow(_ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float16>, _ ldb: Int, _ k: Int,
                                       _ c: UnsafeMutablePointer<Float>, _ ldc: Int, accumulate: Bool) {
        var c0 = SIMD16<Float>(), c1 = SIMD16<Float>(), c2 = SIMD16<Float>(), c3 = SIMD16<Float>()
        if accumulate { c0 = load16(c); c1 = load16(c + ldc); c2 = load16(c + 2 * ldc); c3 = load16(c + 3 * ldc) }
        let a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda
        var bp = b
        for i in 0..<k {
            let bv = halves16(bp)
            c0.addProduct(SIMD16(repeating: a0[i]), bv); c1.addProduct(SIMD16(repeating: a1[i]), bv)
            c2.addProduct(SIMD16(repeating: a2[i]), bv); c3.addProduct(SIMD16(repeating: a3[i]), bv)
            bp += ldb
        }
        store16(c, c0); store16(c + ldc, c1); store16(c + 2 * ldc, c2); store16(c + 3 * ldc, c3)
    }
}
