import GGUF

/// Decodes 32-element quant blocks (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) of 8 consecutive weight rows
/// straight into 8 columns of a GEMM panel (k rows of 16 floats, `ComputeContext.pack`).
///
/// Each step reads the same 32-bit word of the same block in all 8 rows into one vector (lane r =
/// row r), so that every code extracted from it by a shift and a mask is one panel row's 8 values:
/// one conversion, one FMA and one 32-byte store per 8 weights, instead of dequantizing each row
/// into a buffer and then storing it down its panel column one float at a time (16 stores per
/// 64-byte panel row, which also leave L1 once the panel outgrows it: k = 1536 makes it 96 KB).
/// Values are computed as `Dequantize` computes them, d·(q + bias) or d·q + m with d·q exact, so
/// the panel holds the same floats.
///
/// Measured on 2 cores (Intel Xeon, KVM guest, AVX2 build), Q4_1 at SmolLM2's shapes, rows × cols
/// of W, best of several runs: a 24-row prompt chunk (2 threads) 174 → 113 µs (576×576), 459 →
/// 295 µs (1536×576), 896 → 338 µs (576×1536: the 96 KB panel); a 512-row chunk (1 thread, where
/// the micro-kernel dominates) 4.07 → 3.89 ms, 10.4 → 9.6 ms and 11.6 → 10.4 ms. Q8_0 and Q4_0
/// gain the same.
enum PanelPacking {
    static func handles(_ type: GGMLType) -> Bool {
        switch type {
        case .q8_0, .q4_0, .q4_1, .q5_0, .q5_1: return true
        default: return false
        }
    }

    /// Rows firstRow..<firstRow+8 of w (one of the `handles` formats) into columns 0..<8 of
    /// `panel` (row stride 16).
    static func pack8(_ w: WeightMatrix, firstRow: Int, into panel: UnsafeMutablePointer<Float>) {
        let base = w.row(firstRow), rb = w.rowBytes
        switch w.type {
        case .q8_0: blocks(base, rb, w.cols, stride: 34, qs: 2, qh: nil, bytes: true, hasMin: false, bias: 0, panel)
        case .q4_0: blocks(base, rb, w.cols, stride: 18, qs: 2, qh: nil, bytes: false, hasMin: false, bias: -8, panel)
        case .q4_1: blocks(base, rb, w.cols, stride: 20, qs: 4, qh: nil, bytes: false, hasMin: true, bias: 0, panel)
        case .q5_0: blocks(base, rb, w.cols, stride: 22, qs: 6, qh: 2, bytes: false, hasMin: false, bias: -16, panel)
        case .q5_1: blocks(base, rb, w.cols, stride: 24, qs: 8, qh: 4, bytes: false, hasMin: true, bias: 0, panel)
        default: preconditionFailure("PanelPacking.pack8 called with \(w.type)")
        }
    }

    /// The 32-bit word at byte `offset` of 8 rows `rb` bytes apart, lane r from row r.
    @inline(__always)
    static func gather(_ p: UnsafeRawPointer, _ rb: Int, _ offset: Int) -> SIMD8<UInt32> {
        @inline(__always)
        func word(_ r: Int) -> UInt32 { p.loadUnaligned(fromByteOffset: rb * r + offset, as: UInt32.self) }
        return SIMD8(word(0), word(1), word(2), word(3), word(4), word(5), word(6), word(7))
    }

    /// Blocks of `stride` bytes: f16 d at 0, f16 m at 2 if `hasMin`, the fifth bits at `qh` (32
    /// bits, bit l for element l) if any, and codes at `qs`: 32 signed bytes if `bytes`, else 16
    /// bytes of nibbles (element l < 16 the low nibble of byte l, element l + 16 its high nibble).
    /// Element l of a block is d·(q + bias), or d·q + m.
    @inline(__always)
    static func blocks(_ base: UnsafeRawPointer, _ rb: Int, _ k: Int, stride: Int, qs: Int, qh: Int?, bytes: Bool,
                       hasMin: Bool, bias: Int32, _ panel: UnsafeMutablePointer<Float>) {
        let tc = GEMM.tileCols
        let low4 = SIMD8<UInt32>(repeating: 0x0F), bit4 = SIMD8<UInt32>(repeating: 0x10)
        for b in 0..<(k / 32) {
            let blk = base + stride * b, out = panel + 32 * tc * b
            let (d, m) = QuantizedDot.halves(gather(blk, rb, 0))
            @inline(__always)
            func store(_ l: Int, _ q: SIMD8<Int32>) {
                let c = floats(bias == 0 ? q : q &+ SIMD8(repeating: bias))
                store8(out + tc * l, hasMin ? m.addingProduct(c, d) : c * d)
            }
            if bytes {
                for t in 0..<8 {
                    let v = unsafeBitCast(gather(blk, rb, qs + 4 * t), to: SIMD8<Int32>.self)
                    // Byte e of each lane, sign-extended: moved to the top, then shifted back down.
                    store(4 * t, (v &<< 24) &>> 24); store(4 * t + 1, (v &<< 16) &>> 24)
                    store(4 * t + 2, (v &<< 8) &>> 24); store(4 * t + 3, v &>> 24)
                }
            } else {
                let high = qh.map { gather(blk, rb, $0) }
                @inline(__always)
                func code(_ v: SIMD8<UInt32>, _ shift: UInt32, _ l: Int) -> SIMD8<Int32> {
                    var q = (v &>> shift) & low4
                    if let high {
                        // Bit l of qh, moved to bit 4.
                        q |= l <= 4 ? (high &<< UInt32(4 - l)) & bit4 : (high &>> UInt32(l - 4)) & bit4
                    }
                    return unsafeBitCast(q, to: SIMD8<Int32>.self)
                }
                for t in 0..<4 {
                    let v = gather(blk, rb, qs + 4 * t)
                    for e in 0..<4 {
                        let l = 4 * t + e
                        store(l, code(v, UInt32(8 * e), l))
                        store(l + 16, code(v, UInt32(8 * e + 4), l + 16))
                    }
                }
            }
        }
    }
}
