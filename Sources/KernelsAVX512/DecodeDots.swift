/// Decoding dot products: weight rows times the mat-vec input as Kernels' `QuantizedDot` rounds it,
/// x[i] ≈ scales[i / 32] · codes[i] with 16-bit codes, in 16-bit integer products exact in 32 bits.
extension AVX512Kernels {
    /// out[r] = row r of a Q8_0 matrix (blocks of 34 bytes: f16 d, 32 signed bytes) times x, for r in
    /// `rows`: Σ_b d_b · s_b · Σ q·code, one zmm `vpmaddwd` per block (the AVX2 kernel takes two and
    /// an add).
    @inline(never)
    public static func q8_0(_ matrix: UnsafeRawPointer, rowBytes: Int, rows: Range<Int>, codes: UnsafePointer<Int16>, scales: UnsafePointer<Float>, cols: Int,
                            into out: UnsafeMutablePointer<Float>) {
        for r in rows {
            let w = matrix + r * rowBytes
            out[r] = sumOfBlocks(cols / 32) { b in
                let blk = w + 34 * b
                return (floats16(multiplyAddPairs(signedBytes32(blk + 2), codes32(codes + 32 * b))), SIMD16(repeating: half(blk) * scales[b]))
            }
        }
    }

    /// out[r] = row r of an int8 matrix with one f32 scale per 16 columns (Kernels' `.i8`, Q6_K
    /// re-encoded at load) times x: per 32-element input block b, one `vpmaddwd` whose low eight
    /// lanes are the first group's pair sums and high eight the second's, scaled by a vector of the
    /// two group scales.
    @inline(never)
    public static func int8Groups16(_ matrix: UnsafeRawPointer, groupScales: UnsafePointer<Float>, rows: Range<Int>, codes: UnsafePointer<Int16>,
                                    scales: UnsafePointer<Float>, cols: Int, into out: UnsafeMutablePointer<Float>) {
        for r in rows {
            let w = matrix + r * cols, g = groupScales + r * (cols / 16)
            out[r] = sumOfBlocks(cols / 32) { b in
                let s = scales[b]
                var scale = SIMD16<Float>(repeating: g[2 * b] * s)
                scale.highHalf = SIMD8(repeating: g[2 * b + 1] * s)
                return (floats16(multiplyAddPairs(signedBytes32(w + 32 * b), codes32(codes + 32 * b))), scale)
            }
        }
    }

    /// Σ over `blocks` blocks of term(b).products · term(b).scale, summed over the lanes. Two
    /// accumulators take alternate blocks, so that the loop-carried FMA latency does not cap
    /// throughput.
    @inline(__always)
    static func sumOfBlocks(_ blocks: Int, _ term: (Int) -> (products: SIMD16<Float>, scale: SIMD16<Float>)) -> Float {
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
        var b = 0
        while b + 2 <= blocks {
            let t0 = term(b), t1 = term(b + 1)
            acc0.addProduct(t0.products, t0.scale)
            acc1.addProduct(t1.products, t1.scale)
            b += 2
        }
        if b < blocks {
            let t = term(b)
            acc0.addProduct(t.products, t.scale)
        }
        return horizontalSum(acc0 + acc1)
    }

    /// The f16 at p as a float.
    @inline(__always)
    static func half(_ p: UnsafeRawPointer) -> Float {
        Float(Float16(bitPattern: p.loadUnaligned(as: UInt16.self)))
    }
}
