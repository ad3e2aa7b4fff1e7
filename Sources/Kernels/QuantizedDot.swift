import GGUF

/// Dot products of one quantized weight row with a float vector, reading each block once and
/// never materialising the dequantized row. These carry decoding (one token at a time) and the tied
/// output head, which are bound by memory bandwidth. Block layouts are in engine-spec §2;
/// `Dequantize` is the reference they are tested against.
///
/// Code-generation note: the inner loops widen bytes straight from memory into 32-bit lanes and
/// then use only `&` and float arithmetic. A bit field is isolated with a mask and scaled in float
/// (the high nibble of v is `(v & 0xF0) · 1/16`, exactly), because integer shifts and compares on
/// narrow SIMD types are per-lane generic code that LLVM scalarizes here. Constants are locals:
/// a static `let` costs a `swift_once` check inside the loop.
enum QuantizedDot {
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

    /// Q8_0: Σ_b d_b · Σ q·x. Two blocks per step feed four accumulators, so the loop-carried FMA
    /// latency does not cap throughput (this kernel carries the 262k-row tied output head).
    static func q8_0(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
        var blk = w, xp = x
        let blocks = n / 32
        for _ in 0..<(blocks / 2) {
            let d0 = SIMD8<Float>(repeating: Dequantize.loadHalf(blk, 0))
            let d1 = SIMD8<Float>(repeating: Dequantize.loadHalf(blk, 34))
            let q0 = blk + 2, q1 = blk + 36
            var s0 = float(signedBytes(q0)) * load8(xp)
            var s1 = float(signedBytes(q0 + 8)) * load8(xp + 8)
            var s2 = float(signedBytes(q1)) * load8(xp + 32)
            var s3 = float(signedBytes(q1 + 8)) * load8(xp + 40)
            s0.addProduct(float(signedBytes(q0 + 16)), load8(xp + 16))
            s1.addProduct(float(signedBytes(q0 + 24)), load8(xp + 24))
            s2.addProduct(float(signedBytes(q1 + 16)), load8(xp + 48))
            s3.addProduct(float(signedBytes(q1 + 24)), load8(xp + 56))
            acc0.addProduct(s0, d0)
            acc1.addProduct(s1, d0)
            acc2.addProduct(s2, d1)
            acc3.addProduct(s3, d1)
            blk += 68; xp += 64
        }
        if blocks % 2 == 1 {
            let d = SIMD8<Float>(repeating: Dequantize.loadHalf(blk, 0))
            let q = blk + 2
            var s0 = float(signedBytes(q)) * load8(xp)
            s0.addProduct(float(signedBytes(q + 8)), load8(xp + 8))
            s0.addProduct(float(signedBytes(q + 16)), load8(xp + 16))
            s0.addProduct(float(signedBytes(q + 24)), load8(xp + 24))
            acc0.addProduct(s0, d)
        }
        return horizontalSum((acc0 + acc1) + (acc2 + acc3))
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
    /// the byte b, it gives their codes minus Q5_0's offset of 16 (an 8 KB table, resident in L1
    /// while a matrix is streamed).
    static let fifthBitTable: UnsafeMutablePointer<SIMD8<Float>> = {
        let table = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: 256)
        for b in 0..<256 {
            var lanes = SIMD8<Float>(repeating: -16)
            for i in 0..<8 where b & (1 << i) != 0 { lanes[i] = 0 }
            table[b] = lanes
        }
        return table
    }()

    /// One Q5_0 block times x: Σ (q − 16)·x over its 32 elements, q = nibble + 16·fifth bit.
    /// Element j < 16 is the low nibble of byte j, element j + 16 its high nibble.
    @inline(__always)
    static func q5_0Block(_ blk: UnsafeRawPointer, _ x0: SIMD8<Float>, _ x1: SIMD8<Float>, _ x2: SIMD8<Float>, _ x3: SIMD8<Float>,
                          _ table: UnsafeMutablePointer<SIMD8<Float>>) -> SIMD8<Float> {
        let lowNibble = SIMD8<Int32>(repeating: 0x0F)
        let va = unsignedBytes(blk + 6), vb = unsignedBytes(blk + 14)
        var s = (float(va & lowNibble) + table[Int(blk.load(fromByteOffset: 2, as: UInt8.self))]) * x0
        s.addProduct(float(vb & lowNibble) + table[Int(blk.load(fromByteOffset: 3, as: UInt8.self))], x1)
        s.addProduct(float(va &>> 4) + table[Int(blk.load(fromByteOffset: 4, as: UInt8.self))], x2)
        s.addProduct(float(vb &>> 4) + table[Int(blk.load(fromByteOffset: 5, as: UInt8.self))], x3)
        return s
    }

    /// Q5_0: Σ_b d_b · Σ (q − 16)·x. The engine re-encodes Q5_0 as Q8_0 at load (`ReencodedWeights`),
    /// so this serves matrices used as stored.
    static func q5_0(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        let table = fifthBitTable
        var acc = SIMD8<Float>()
        var blk = w, xp = x
        for _ in 0..<(n / 32) {
            let s = q5_0Block(blk, load8(xp), load8(xp + 8), load8(xp + 16), load8(xp + 24), table)
            acc.addProduct(s, SIMD8(repeating: Dequantize.loadHalf(blk, 0)))
            blk += 22; xp += 32
        }
        return horizontalSum(acc)
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

    /// One Q4_K block times x (256 values at xb, their 32-element sums in xsums): per sub-block j,
    /// d·sc_j·Σ q·x − dmin·m_j·Σx, summed into lanes.
    @inline(__always)
    static func q4_KBlock(_ blk: UnsafeRawPointer, _ xb: UnsafePointer<Float>, _ xsums: SIMD8<Float>) -> SIMD8<Float> {
        let lowNibble = SIMD8<Int32>(repeating: 0x0F)
        let d = Dequantize.loadHalf(blk, 0), dmin = Dequantize.loadHalf(blk, 2)
        let (sc, m) = kQuantScalesAndMins(blk + 4)
        let scales = float(sc) * SIMD8(repeating: d)
        var sum = -(float(m) * SIMD8(repeating: dmin)) * xsums
        // Chunk c: 32 bytes; low nibbles are sub-block 2c, high nibbles 2c + 1. Written out four
        // times so that every lane index is a constant (a variable one goes through the stack).
        @inline(__always)
        func chunk(_ c: Int) {
            let q = blk + 16 + 32 * c
            let xl = xb + 64 * c, xh = xl + 32
            var lo = SIMD8<Float>(), hi = SIMD8<Float>()
            for g in 0..<4 {
                let v = unsignedBytes(q + 8 * g)
                lo.addProduct(float(v & lowNibble), load8(xl + 8 * g))
                hi.addProduct(float(v &>> 4), load8(xh + 8 * g))
            }
            sum.addProduct(lo, SIMD8(repeating: scales[2 * c]))
            sum.addProduct(hi, SIMD8(repeating: scales[2 * c + 1]))
        }
        chunk(0); chunk(1); chunk(2); chunk(3)
        return sum
    }

    /// Q4_K: one row, block after block. K-quant rows are long (4–8 blocks of 256 here), so one
    /// row per call already amortises the call, and reading rows one after another keeps the whole
    /// matrix a single sequential stream for the hardware prefetcher (four interleaved rows of
    /// 1–2 KB each ran at half the speed).
    static func q4_K(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ xsums: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>()
        for b in 0..<(n / 256) { acc += q4_KBlock(w + 144 * b, x + 256 * b, load8(xsums + 8 * b)) }
        return horizontalSum(acc)
    }

    /// Sums of each 16-element group of x (Q6_K's scale granularity).
    static func groupSums16(_ x: UnsafePointer<Float>, _ n: Int, into sums: UnsafeMutablePointer<Float>) {
        for g in 0..<(n / 16) { sums[g] = horizontalSum(load8(x + 16 * g) + load8(x + 16 * g + 8)) }
    }

    /// One Q6_K block times x (256 values at xb, their 16-element sums at xsums16):
    /// Σ_groups d·scale·(Σ q·x − 32·Σx). The 6-bit codes are assembled in integer lanes (4 low bits
    /// from ql, 2 high bits from qh, moved into place with constant shifts) and converted once; the
    /// −32 goes through the group sums, all 16 groups in two vector products.
    @inline(__always)
    static func q6_KBlock(_ blk: UnsafeRawPointer, _ xb: UnsafePointer<Float>, _ xsums16: UnsafePointer<Float>) -> SIMD8<Float> {
        let d = Dequantize.loadHalf(blk, 208)
        let low4 = SIMD8<Int32>(repeating: 0x0F)
        let bits01 = SIMD8<Int32>(repeating: 0x03), bits23 = SIMD8<Int32>(repeating: 0x0C)
        let bits45 = SIMD8<Int32>(repeating: 0x30), bits67 = SIMD8<Int32>(repeating: 0xC0)
        let scales0 = float(signedBytes(blk + 192)) * SIMD8(repeating: d)
        let scales1 = float(signedBytes(blk + 200)) * SIMD8(repeating: d)
        var sum = SIMD8<Float>(repeating: -32) * (scales0 * load8(xsums16) + scales1 * load8(xsums16 + 8))
        // Half h covers 128 values; step `half` two 16-element groups per quarter, with scales
        // 8h + half + {0, 2, 4, 6}. Written out four times so that every lane index is a constant.
        @inline(__always)
        func groups(_ h: Int, _ half: Int, _ scales: SIMD8<Float>) {
            let ql = blk + 64 * h, qh = blk + 128 + 32 * h
            let xh = xb + 128 * h
            let l = 16 * half
            var s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>(), s4 = SIMD8<Float>()
            for g in 0..<2 {
                let o = l + 8 * g
                let a = unsignedBytes(ql + o), c = unsignedBytes(ql + o + 32), hb = unsignedBytes(qh + o)
                s1.addProduct(float((a & low4) | ((hb & bits01) &<< 4)), load8(xh + o))
                s2.addProduct(float((c & low4) | ((hb & bits23) &<< 2)), load8(xh + o + 32))
                s3.addProduct(float((a &>> 4) | (hb & bits45)), load8(xh + o + 64))
                s4.addProduct(float((c &>> 4) | ((hb & bits67) &>> 2)), load8(xh + o + 96))
            }
            sum.addProduct(s1, SIMD8(repeating: scales[half]))
            sum.addProduct(s2, SIMD8(repeating: scales[half + 2]))
            sum.addProduct(s3, SIMD8(repeating: scales[half + 4]))
            sum.addProduct(s4, SIMD8(repeating: scales[half + 6]))
        }
        groups(0, 0, scales0); groups(0, 1, scales0); groups(1, 0, scales1); groups(1, 1, scales1)
        return sum
    }

    /// Q6_K: one row, block after block (see `q4_K`).
    static func q6_K(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ xsums16: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>()
        for b in 0..<(n / 256) { acc += q6_KBlock(w + 210 * b, x + 256 * b, xsums16 + 16 * b) }
        return horizontalSum(acc)
    }
}
