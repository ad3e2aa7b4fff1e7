import KernelsAVX512

/// Single-precision matrix multiply built around one register-blocked micro-kernel:
///
///     C[6 × 16] (+)= A[6 × k] · B[k × 16]
///
/// A is read row-major with row stride `lda` (each element is broadcast); B is read as k rows of 16
/// contiguous elements (f32, or f16 widened on load) with row stride `ldb`. Twelve 8-wide accumulators stay in registers, so each
/// step issues 12 FMAs for 2 loads of B and 6 broadcasts of A. It serves the weight GEMM (B = a
/// dequantized, packed panel of 16 weight rows); attention, whose B is the f16 cache, has a kernel of
/// its own shape (`AttentionTile`). This is the AVX2 path's tile; the AVX-512 path's is 8 × 16
/// (`AVX512Kernels.gemmTile`), and `edgeKernel` runs the tile of the path it is given.
public enum GEMM {
    public static let tileRows = 6
    public static let tileCols = 16

    @inline(__always)
    public static func microKernel<B: PanelScalar>(_ a: UnsafePointer<Float>, _ lda: Int,
                                                   _ b: UnsafePointer<B>, _ ldb: Int, _ k: Int,
                                   _ c: UnsafeMutablePointer<Float>, _ ldc: Int, accumulate: Bool) {
        var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
        var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
        var c40 = SIMD8<Float>(), c41 = SIMD8<Float>(), c50 = SIMD8<Float>(), c51 = SIMD8<Float>()
        if accumulate {
            c00 = load8(c); c01 = load8(c + 8)
            c10 = load8(c + ldc); c11 = load8(c + ldc + 8)
            c20 = load8(c + 2 * ldc); c21 = load8(c + 2 * ldc + 8)
            c30 = load8(c + 3 * ldc); c31 = load8(c + 3 * ldc + 8)
            c40 = load8(c + 4 * ldc); c41 = load8(c + 4 * ldc + 8)
            c50 = load8(c + 5 * ldc); c51 = load8(c + 5 * ldc + 8)
        }
        let a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda, a4 = a + 4 * lda, a5 = a + 5 * lda
        var bp = b
        for i in 0..<k {
            let b0 = B.load8(bp), b1 = B.load8(bp + 8)
            var x = SIMD8<Float>(repeating: a0[i]); c00.addProduct(x, b0); c01.addProduct(x, b1)
            x = SIMD8<Float>(repeating: a1[i]); c10.addProduct(x, b0); c11.addProduct(x, b1)
            x = SIMD8<Float>(repeating: a2[i]); c20.addProduct(x, b0); c21.addProduct(x, b1)
            x = SIMD8<Float>(repeating: a3[i]); c30.addProduct(x, b0); c31.addProduct(x, b1)
            x = SIMD8<Float>(repeating: a4[i]); c40.addProduct(x, b0); c41.addProduct(x, b1)
            x = SIMD8<Float>(repeating: a5[i]); c50.addProduct(x, b0); c51.addProduct(x, b1)
            bp += ldb
        }
        store8(c, c00); store8(c + 8, c01)
        store8(c + ldc, c10); store8(c + ldc + 8, c11)
        store8(c + 2 * ldc, c20); store8(c + 2 * ldc + 8, c21)
        store8(c + 3 * ldc, c30); store8(c + 3 * ldc + 8, c31)
        store8(c + 4 * ldc, c40); store8(c + 4 * ldc + 8, c41)
        store8(c + 5 * ldc, c50); store8(c + 5 * ldc + 8, c51)
    }

    /// The full tile of `path`: `path.gemmTileRows` × 16.
    @inline(__always)
    static func tile(_ path: KernelPath, _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ k: Int,
                     _ c: UnsafeMutablePointer<Float>, _ ldc: Int, accumulate: Bool) {
        switch path {
        case .avx2: microKernel(a, lda, b, ldb, k, c, ldc, accumulate: accumulate)
        case .avx512: AVX512Kernels.gemmTile(a, lda, b, ldb, k, c, ldc, accumulate: accumulate)
        }
    }

    /// The tile of `path` for a tile that may be smaller than its full one (`rows` ≤
    /// `path.gemmTileRows`, `cols` ≤ 16). Rows of A past `rows` are read from `paddedA` (a full-height
    /// copy, see `padRows`) and C goes through `cScratch`.
    @inline(__always)
    static func edgeKernel(_ path: KernelPath, rows: Int, cols: Int,
                           _ a: UnsafePointer<Float>, _ lda: Int,
                           _ b: UnsafePointer<Float>, _ ldb: Int, _ k: Int,
                           _ c: UnsafeMutablePointer<Float>, _ ldc: Int, accumulate: Bool,
                           cScratch: UnsafeMutablePointer<Float>) {
        if rows == path.gemmTileRows && cols == tileCols {
            tile(path, a, lda, b, ldb, k, c, ldc, accumulate: accumulate)
            return
        }
        if accumulate {
            for r in 0..<rows { for j in 0..<cols { cScratch[r * tileCols + j] = c[r * ldc + j] } }
        }
        tile(path, a, lda, b, ldb, k, cScratch, tileCols, accumulate: accumulate)
        for r in 0..<rows { for j in 0..<cols { c[r * ldc + j] = cScratch[r * tileCols + j] } }
    }

    /// Copies `rows` (< `tileRows`) rows of `k` floats into `dst` (`tileRows` × k), zero-filling the
    /// rest, so a partial row tile can run through the full micro-kernel.
    static func padRows(_ src: UnsafePointer<Float>, _ lds: Int, rows: Int, k: Int, tileRows: Int, into dst: UnsafeMutablePointer<Float>) {
        for r in 0..<tileRows {
            if r < rows { (dst + r * k).update(from: src + r * lds, count: k) }
            else { (dst + r * k).update(repeating: 0, count: k) }
        }
    }
}
