import GGUF

/// Dot products of one quantized weight row with a vector, reading each block once and never
/// materialising the dequantized row. These carry decoding (one token at a time) and the tied
/// output head, which are bound by memory bandwidth. Block layouts are in engine-spec §2;
/// `Dequantize` is the reference they are tested against.
///
/// Q8_0, Q4_K and Q6_K, the formats decoding reads, multiply in 16-bit integers: the vector is
/// rounded once per mat-vec to 16-bit codes with one scale per 32 elements (`DecodeInput`), so that
/// one `vpmaddwd` does 16 weight × input products, and each block's integer sum is scaled in float.
/// In f32 the same products cost a widening, a conversion and an FMA per 8 weights, which kept
/// Q4_K and Q6_K bound by instructions at under half the memory bandwidth. The rounding error is at
/// most 2⁻¹⁶ of the largest |x| in its block, 256 times finer than llama.cpp's 8-bit rounding of
/// the same vectors and far below the weights' own quantization error.
///
/// Code-generation note: bit fields are isolated with masks and shifts on 32-bit lanes, or on
/// 16-bit lanes freshly widened from bytes (other shifts on narrow SIMD types are per-lane generic
/// code that LLVM scalarizes here), and lane conversions are written lane by lane so that LLVM
/// emits single instructions (see SIMDSupport.swift). Constants are locals: a static `let` costs
/// a `swift_once` check inside the loop.
enum QuantizedDot {
    /// A decoding mat-vec's input, rounded once: for the 32-element block b holding element i,
    /// x[i] ≈ scales[b] · codes[i], with |codes[i]| ≤ 32767.
    struct DecodeInput {
        var codes: UnsafePointer<Int16>
        var scales: UnsafePointer<Float>
    }

    /// Rounds x (n values, a multiple of 32) to `codes` and `scales` (see `DecodeInput`): each block
    /// is scaled so that its largest |x| becomes 32767, then rounded to the nearest integer.
    static func quantize(_ x: UnsafePointer<Float>, _ n: Int, codes: UnsafeMutablePointer<Int16>, scales: UnsafeMutablePointer<Float>) {
        let magnitude = SIMD8<UInt32>(repeating: 0x7FFF_FFFF)
        for b in 0..<(n / 32) {
            let p = x + 32 * b
            let v = (load8(p), load8(p + 8), load8(p + 16), load8(p + 24))
            @inline(__always)
            func abs(_ v: SIMD8<Float>) -> SIMD8<Float> {
                unsafeBitCast(unsafeBitCast(v, to: SIMD8<UInt32>.self) & magnitude, to: SIMD8<Float>.self)
            }
            let largest = horizontalMax(lanewiseMax(lanewiseMax(abs(v.0), abs(v.1)), lanewiseMax(abs(v.2), abs(v.3))))
            let toCodes = largest > 0 ? 32767 / largest : 0
            scales[b] = largest > 0 ? largest / 32767 : 0
            let factor = SIMD8<Float>(repeating: toCodes)
            @inline(__always)
            func store(_ v: SIMD8<Float>, _ at: UnsafeMutablePointer<Int16>) {
                // Adding 1.5·2²³ rounds to the nearest integer, which lands in the low mantissa bits.
                let shifted = v * factor + SIMD8(repeating: 12_582_912)
                let r = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
                UnsafeMutableRawPointer(at).storeBytes(
                    of: SIMD8<Int16>(Int16(truncatingIfNeeded: r[0]), Int16(truncatingIfNeeded: r[1]), Int16(truncatingIfNeeded: r[2]),
                                     Int16(truncatingIfNeeded: r[3]), Int16(truncatingIfNeeded: r[4]), Int16(truncatingIfNeeded: r[5]),
                                     Int16(truncatingIfNeeded: r[6]), Int16(truncatingIfNeeded: r[7])),
                    as: SIMD8<Int16>.self)
            }
            let c = codes + 32 * b
            store(v.0, c); store(v.1, c + 8); store(v.2, c + 16); store(v.3, c + 24)
        }
    }

    /// 16 input codes at p.
    @inline(__always)
    static func codes16(_ p: UnsafePointer<Int16>) -> SIMD16<Int16> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Int16>.self)
    }

    /// Sums of each 32-element block of x, used by formats with an offset per block: the offset's
    /// contribution to a block is offset · Σx, so it is applied once per block instead of per element.
    static func blockSums(_ x: UnsafePointer<Float>, _ n: Int, into sums: UnsafeMutablePointer<Float>) {
        for b in 0..<(n / 32) {
            let p = x + 32 * b
            sums[b] = horizontalSum(load8(p) + load8(p + 8) + load8(p + 16) + load8(p + 24))
        }
    }

    /// 8 signed bytes at p, widened to 32-bit lanes.
    @inline(__always)
    static func signedBytes(_ p: UnsafeRawPointer) -> SIMD8<Int32> {
        SIMD8<Int32>(truncatingIfNeeded: p.loadUnaligned(as: SIMD8<Int8>.self))
    }

    /// 8 unsigned bytes at p, widened to 32-bit lanes.
    @inline(__always)
    static func unsignedBytes(_ p: UnsafeRawPointer) -> SIMD8<Int32> {
        SIMD8<Int32>(truncatingIfNeeded: p.loadUnaligned(as: SIMD8<UInt8>.self))
    }

    @inline(__always)
    static func float(_ v: SIMD8<Int32>) -> SIMD8<Float> { floats(v) }

    /// One Q8_0 block times its 32 input codes, as 8 lanes of exact integer sums.
    @inline(__always)
    static func q8_0Block(_ blk: UnsafeRawPointer, _ c: UnsafePointer<Int16>) -> SIMD8<Int32> {
        multiplyAddPairs(signedBytes16(blk + 2), codes16(c)) &+ multiplyAddPairs(signedBytes16(blk + 18), codes16(c + 16))
    }

    /// Q8_0: Σ_b d_b · s_b · Σ q·code. Two blocks per step feed two accumulators, so the
    /// loop-carried FMA latency does not cap throughput (this kernel carries the 262k-row tied
    /// output head).
    static func q8_0(_ w: UnsafeRawPointer, _ x: DecodeInput, _ n: Int) -> Float {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        let blocks = n / 32
        var b = 0
        while b + 2 <= blocks {
            let blk = w + 34 * b, c = x.codes + 32 * b
            let s0 = q8_0Block(blk, c), s1 = q8_0Block(blk + 34, c + 32)
            acc0.addProduct(floats(s0), SIMD8(repeating: Dequantize.loadHalf(blk, 0) * x.scales[b]))
            acc1.addProduct(floats(s1), SIMD8(repeating: Dequantize.loadHalf(blk, 34) * x.scales[b + 1]))
            b += 2
        }
        if b < blocks {
            let blk = w + 34 * b
            acc0.addProduct(floats(q8_0Block(blk, x.codes + 32 * b)), SIMD8(repeating: Dequantize.loadHalf(blk, 0) * x.scales[b]))
        }
        return horizontalSum(acc0 + acc1)
    }

    /// Q4_0: Σ_b d_b · (Σ q·x − 8·Σx).
    static func q4_0(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ xsums: UnsafePointer<Float>, _ n: Int) -> Float {
        let lowNibble = SIMD8<Int32>(repeating: 0x0F), highNibble = SIMD8<Int32>(repeating: 0xF0)
        var acc = SIMD8<Float>()
        var offset: Float = 0
        var blk = w, xp = x
        for b in 0..<(n / 32) {
            let d = Dequantize.loadHalf(blk, 0)
            let va = unsignedBytes(blk + 2), vb = unsignedBytes(blk + 10)
            var lo = float(va & lowNibble) * load8(xp)
            lo.addProduct(float(vb & lowNibble), load8(xp + 8))
            var hi = float(va & highNibble) * load8(xp + 16)
            hi.addProduct(float(vb & highNibble), load8(xp + 24))
            lo.addProduct(hi, SIMD8(repeating: 1.0 / 16))
            acc.addProduct(lo, SIMD8(repeating: d))
            offset += d * xsums[b]
            blk += 18; xp += 32
        }
        return horizontalSum(acc) - 8 * offset
    }

    /// Entry b holds 16·(bit i of b) − 16 in lane i: added to 8 Q5 low nibbles whose fifth bits form
    /// the byte b, it gives their codes minus Q5_0's offset of 16 (a 4 KB table, resident in L1
    /// while a matrix is streamed).
    static let fifthBitTable: UnsafeMutablePointer<SIMD8<Int16>> = {
        let table = UnsafeMutablePointer<SIMD8<Int16>>.allocate(capacity: 256)
        for b in 0..<256 {
            var lanes = SIMD8<Int16>(repeating: -16)
            for i in 0..<8 where b & (1 << i) != 0 { lanes[i] = 0 }
            table[b] = lanes
        }
        return table
    }()

    /// One Q5_0 block times its 32 input codes, as 8 lanes of exact integer sums of (q − 16)·code,
    /// q = nibble + 16·fifth bit. Element j < 16 is the low nibble of byte j, element j + 16 its high
    /// nibble; their fifth bits are bits j and j + 16 of the 32-bit field at offset 2.
    @inline(__always)
    static func q5_0Block(_ blk: UnsafeRawPointer, _ c: UnsafePointer<Int16>, _ table: UnsafeMutablePointer<SIMD8<Int16>>) -> SIMD8<Int32> {
        @inline(__always)
        func fifthBits(_ offset: Int) -> SIMD16<Int16> {
            SIMD16(lowHalf: table[Int(blk.load(fromByteOffset: offset, as: UInt8.self))],
                   highHalf: table[Int(blk.load(fromByteOffset: offset + 1, as: UInt8.self))])
        }
        let nibbles = unsignedBytes16(blk + 6)
        let low = (nibbles & SIMD16(repeating: 0x0F)) &+ fifthBits(2), high = (nibbles &>> 4) &+ fifthBits(4)
        return multiplyAddPairs(low, codes16(c)) &+ multiplyAddPairs(high, codes16(c + 16))
    }

    /// Q5_0: Σ_b d_b · s_b · Σ (q − 16)·code.
    static func q5_0(_ w: UnsafeRawPointer, _ x: DecodeInput, _ n: Int) -> Float {
        let table = fifthBitTable
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        let blocks = n / 32
        var b = 0
        while b + 2 <= blocks {
            let blk = w + 22 * b, c = x.codes + 32 * b
            let s0 = q5_0Block(blk, c, table), s1 = q5_0Block(blk + 22, c + 32, table)
            acc0.addProduct(floats(s0), SIMD8(repeating: Dequantize.loadHalf(blk, 0) * x.scales[b]))
            acc1.addProduct(floats(s1), SIMD8(repeating: Dequantize.loadHalf(blk, 22) * x.scales[b + 1]))
            b += 2
        }
        if b < blocks {
            let blk = w + 22 * b
            acc0.addProduct(floats(q5_0Block(blk, x.codes + 32 * b, table)), SIMD8(repeating: Dequantize.loadHalf(blk, 0) * x.scales[b]))
        }
        return horizontalSum(acc0 + acc1)
    }

    /// The eight 6-bit scales and eight 6-bit mins of a Q4_K/Q5_K block (12 bytes at p, engine-spec
    /// §2.2), as bytes in integer lanes: words 0–1 hold the scales of sub-blocks 0–7, words 2–3 the
    /// mins. Sub-blocks 0–3 keep the low 6 bits of bytes 0–3 (scales) and 4–7 (mins); sub-blocks
    /// 4–7 take their low 4 bits from bytes 8–11 and their top 2 bits from the spare top bits of
    /// bytes 0–3 (scales) and 4–7 (mins).
    @inline(__always)
    static func kQuantScalesAndMins(_ p: UnsafeRawPointer) -> (scales: SIMD8<Int32>, mins: SIMD8<Int32>) {
        let w0 = p.loadUnaligned(as: UInt32.self), w1 = p.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        let w2 = p.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
        let low6: UInt32 = 0x3F3F_3F3F, low4: UInt32 = 0x0F0F_0F0F, low2: UInt32 = 0x0303_0303
        let words = SIMD4<UInt32>(w0 & low6, (w2 & low4) | (((w0 >> 6) & low2) << 4),
                                  w1 & low6, ((w2 >> 4) & low4) | (((w1 >> 6) & low2) << 4))
        let bytes = unsafeBitCast(words, to: SIMD16<UInt8>.self)
        return (SIMD8<Int32>(truncatingIfNeeded: bytes.lowHalf), SIMD8<Int32>(truncatingIfNeeded: bytes.highHalf))
    }

    /// One Q4_K block times its 256 input codes (their scales at `inputScales`, the 32-element
    /// sums of x in `xsums`): per sub-block j, d·sc_j·s_j·Σ q·code − dmin·m_j·Σx, summed into lanes.
    /// The eight combined scales d·sc_j·s_j are computed in one vector and written to `scales`
    /// (8 floats of scratch), so that each is one broadcast load: taken from a register, LLVM
    /// extracted and converted each scale in scalar code, 40 of the block's 240 instructions.
    @inline(__always)
    static func q4_KBlock(_ blk: UnsafeRawPointer, _ c: UnsafePointer<Int16>, _ inputScales: UnsafePointer<Float>,
                          _ xsums: SIMD8<Float>, _ scales: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
        let lowNibble = SIMD16<Int16>(repeating: 0x0F)
        let d = Dequantize.loadHalf(blk, 0), dmin = Dequantize.loadHalf(blk, 2)
        let (sc, m) = kQuantScalesAndMins(blk + 4)
        store8(scales, float(sc) * SIMD8(repeating: d) * load8(inputScales))
        var sum = -(float(m) * SIMD8(repeating: dmin)) * xsums
        // Chunk k: 32 bytes; low nibbles are sub-block 2k, high nibbles 2k + 1. Written out four
        // times so that every offset is a constant.
        @inline(__always)
        func chunk(_ k: Int) {
            let q = blk + 16 + 32 * k, ck = c + 64 * k
            let v0 = unsignedBytes16(q), v1 = unsignedBytes16(q + 16)
            let low = multiplyAddPairs(v0 & lowNibble, codes16(ck)) &+ multiplyAddPairs(v1 & lowNibble, codes16(ck + 16))
            let high = multiplyAddPairs(v0 &>> 4, codes16(ck + 32)) &+ multiplyAddPairs(v1 &>> 4, codes16(ck + 48))
            sum.addProduct(floats(low), SIMD8(repeating: scales[2 * k]))
            sum.addProduct(floats(high), SIMD8(repeating: scales[2 * k + 1]))
        }
        chunk(0); chunk(1); chunk(2); chunk(3)
        return sum
    }

    /// Q4_K: one row, block after block. K-quant rows are long (4–8 blocks of 256 here), so one
    /// row per call already amortises the call, and reading rows one after another keeps the whole
    /// matrix a single sequential stream for the hardware prefetcher (four interleaved rows of
    /// 1–2 KB each ran at half the speed).
    static func q4_K(_ w: UnsafeRawPointer, _ x: DecodeInput, _ xsums: UnsafePointer<Float>, _ n: Int) -> Float {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 8) { scales in
            var acc = SIMD8<Float>()
            for b in 0..<(n / 256) {
                acc += q4_KBlock(w + 144 * b, x.codes + 256 * b, x.scales + 8 * b, load8(xsums + 8 * b), scales.baseAddress!)
            }
            return horizontalSum(acc)
        }
    }

    /// Sums of each 16-element group of x (Q6_K's scale granularity).
    static func groupSums16(_ x: UnsafePointer<Float>, _ n: Int, into sums: UnsafeMutablePointer<Float>) {
        for g in 0..<(n / 16) { sums[g] = horizontalSum(load8(x + 16 * g) + load8(x + 16 * g + 8)) }
    }

    /// One Q6_K block times its 256 input codes (their scales at `inputScales`, the 16-element
    /// sums of x at `xsums16`): Σ_groups d·sc·(s·Σ q·code − 32·Σx). The 6-bit codes are assembled
    /// 16 at a time (4 low bits from ql, 2 high bits from qh, moved into place with masks and
    /// shifts that LLVM applies to the bytes before widening them); the −32 goes through the group
    /// sums, all 16 groups in two vector products. The combined scales d·sc_g·s go through `scales`
    /// (16 floats of scratch) for the reason given at `q4_KBlock`.
    @inline(__always)
    static func q6_KBlock(_ blk: UnsafeRawPointer, _ c: UnsafePointer<Int16>, _ inputScales: UnsafePointer<Float>,
                          _ xsums16: UnsafePointer<Float>, _ scales: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
        let d = SIMD8<Float>(repeating: Dequantize.loadHalf(blk, 208))
        let scales0 = float(signedBytes(blk + 192)) * d, scales1 = float(signedBytes(blk + 200)) * d
        // Group g (16 elements) lies in input block g / 2.
        let s = inputScales
        store8(scales, scales0 * SIMD8(s[0], s[0], s[1], s[1], s[2], s[2], s[3], s[3]))
        store8(scales + 8, scales1 * SIMD8(s[4], s[4], s[5], s[5], s[6], s[6], s[7], s[7]))
        var sum = SIMD8<Float>(repeating: -32) * (scales0 * load8(xsums16) + scales1 * load8(xsums16 + 8))
        let low4 = SIMD16<Int16>(repeating: 0x0F)
        let bits01 = SIMD16<Int16>(repeating: 0x03), bits23 = SIMD16<Int16>(repeating: 0x0C)
        let bits45 = SIMD16<Int16>(repeating: 0x30), bits67 = SIMD16<Int16>(repeating: 0xC0)
        // Half h covers 128 values; part u of it the elements l = 16u ..< 16u + 16 of each quarter,
        // which are groups 8h + u + {0, 2, 4, 6}. Written out four times so that every offset is a
        // constant.
        @inline(__always)
        func part(_ h: Int, _ u: Int) {
            let ql = blk + 64 * h + 16 * u, qh = blk + 128 + 32 * h + 16 * u
            let ch = c + 128 * h + 16 * u
            let a = unsignedBytes16(ql), cc = unsignedBytes16(ql + 32), hb = unsignedBytes16(qh)
            let q1 = (a & low4) | ((hb & bits01) &<< 4), q2 = (cc & low4) | ((hb & bits23) &<< 2)
            let q3 = (a &>> 4) | (hb & bits45), q4 = (cc &>> 4) | ((hb & bits67) &>> 2)
            let g = scales + 8 * h + u
            sum.addProduct(floats(multiplyAddPairs(q1, codes16(ch))), SIMD8(repeating: g[0]))
            sum.addProduct(floats(multiplyAddPairs(q2, codes16(ch + 32))), SIMD8(repeating: g[2]))
            sum.addProduct(floats(multiplyAddPairs(q3, codes16(ch + 64))), SIMD8(repeating: g[4]))
            sum.addProduct(floats(multiplyAddPairs(q4, codes16(ch + 96))), SIMD8(repeating: g[6]))
        }
        part(0, 0); part(0, 1); part(1, 0); part(1, 1)
        return sum
    }

    /// Q6_K: one row, block after block (see `q4_K`).
    static func q6_K(_ w: UnsafeRawPointer, _ x: DecodeInput, _ xsums16: UnsafePointer<Float>, _ n: Int) -> Float {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { scales in
            var acc = SIMD8<Float>()
            for b in 0..<(n / 256) {
                acc += q6_KBlock(w + 210 * b, x.codes + 256 * b, x.scales + 8 * b, xsums16 + 16 * b, scales.baseAddress!)
            }
            return horizontalSum(acc)
        }
    }

    /// Int8 weights with one scale per 16 columns (Q6_K re-encoded at load): per 32-element input
    /// block b, Σ_g w_g · s_b · Σ q·code over its two groups g.
    static func int8Groups16(_ w: UnsafeRawPointer, _ groupScales: UnsafePointer<Float>, _ x: DecodeInput, _ n: Int) -> Float {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        for b in 0..<(n / 32) {
            let q = w + 32 * b, c = x.codes + 32 * b, s = x.scales[b]
            let first = multiplyAddPairs(signedBytes16(q), codes16(c)), second = multiplyAddPairs(signedBytes16(q + 16), codes16(c + 16))
            acc0.addProduct(floats(first), SIMD8(repeating: groupScales[2 * b] * s))
            acc1.addProduct(floats(second), SIMD8(repeating: groupScales[2 * b + 1] * s))
        }
        return horizontalSum(acc0 + acc1)
    }
}
