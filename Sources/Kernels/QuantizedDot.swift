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

    /// Entry b holds 16·(bit i of b) in lane i: the fifth-bit contribution of the 8 Q5 elements whose
    /// high bits form the byte b (an 8 KB table, resident in L1 while a matrix is streamed).
    static let fifthBitTable: UnsafeMutablePointer<SIMD8<Float>> = {
        let table = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: 256)
        for b in 0..<256 {
            var lanes = SIMD8<Float>()
            for i in 0..<8 where b & (1 << i) != 0 { lanes[i] = 16 }
            table[b] = lanes
        }
        return table
    }()

    /// Q5_0: Σ_b d_b · (Σ q·x − 16·Σx), q = nibble + 16·fifth bit.
    static func q5_0(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ xsums: UnsafePointer<Float>, _ n: Int) -> Float {
        let lowNibble = SIMD8<Int32>(repeating: 0x0F), highNibble = SIMD8<Int32>(repeating: 0xF0)
        let table = fifthBitTable
        var acc = SIMD8<Float>()
        var offset: Float = 0
        var blk = w, xp = x
        for b in 0..<(n / 32) {
            let d = Dequantize.loadHalf(blk, 0)
            let qh = blk + 2
            let va = unsignedBytes(blk + 6), vb = unsignedBytes(blk + 14)
            let h0 = table[Int(qh.load(fromByteOffset: 0, as: UInt8.self))]
            let h1 = table[Int(qh.load(fromByteOffset: 1, as: UInt8.self))]
            let h2 = table[Int(qh.load(fromByteOffset: 2, as: UInt8.self))]
            let h3 = table[Int(qh.load(fromByteOffset: 3, as: UInt8.self))]
            var s = (float(va & lowNibble) + h0) * load8(xp)
            s.addProduct(float(vb & lowNibble) + h1, load8(xp + 8))
            // High nibbles: (v & 0xF0)/16 + h = ((v & 0xF0) + 16·h)/16.
            var t = (float(va & highNibble) + h2 * 16) * load8(xp + 16)
            t.addProduct(float(vb & highNibble) + h3 * 16, load8(xp + 24))
            s.addProduct(t, SIMD8(repeating: 1.0 / 16))
            acc.addProduct(s, SIMD8(repeating: d))
            offset += d * xsums[b]
            blk += 22; xp += 32
        }
        return horizontalSum(acc) - 16 * offset
    }

    /// Q4_K: per sub-block j, d·sc_j·Σ q·x − dmin·m_j·Σx.
    static func q4_K(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ xsums: UnsafePointer<Float>, _ n: Int) -> Float {
        let lowNibble = SIMD8<Int32>(repeating: 0x0F), highNibble = SIMD8<Int32>(repeating: 0xF0)
        var acc = SIMD8<Float>()
        var offsets: Float = 0
        for b in 0..<(n / 256) {
            let blk = w + 144 * b
            let xb = x + 256 * b
            for c in 0..<4 {
                let (scale1, offset1, scale2, offset2) = Dequantize.kQuantChunk(blk, c)
                let q = blk + 16 + 32 * c
                let xl = xb + 64 * c, xh = xl + 32
                var lo = SIMD8<Float>(), hi = SIMD8<Float>()
                for g in 0..<4 {
                    let v = unsignedBytes(q + 8 * g)
                    lo.addProduct(float(v & lowNibble), load8(xl + 8 * g))
                    hi.addProduct(float(v & highNibble), load8(xh + 8 * g))
                }
                acc.addProduct(lo, SIMD8(repeating: scale1))
                acc.addProduct(hi, SIMD8(repeating: scale2 * (1.0 / 16)))
                offsets += offset1 * xsums[8 * b + 2 * c] + offset2 * xsums[8 * b + 2 * c + 1]
            }
        }
        return horizontalSum(acc) - offsets
    }

    /// Sums of each 16-element group of x (Q6_K's scale granularity).
    static func groupSums16(_ x: UnsafePointer<Float>, _ n: Int, into sums: UnsafeMutablePointer<Float>) {
        for g in 0..<(n / 16) { sums[g] = horizontalSum(load8(x + 16 * g) + load8(x + 16 * g + 8)) }
    }

    /// Q6_K: Σ_i d·scale_(i/16)·(q_i − 32)·x_i = Σ_groups d·scale·(Σ q·x − 32·Σx). The 6-bit codes are
    /// assembled in integer lanes (4 low bits from ql, 2 high bits from qh, moved into place with
    /// constant shifts) and converted once; the −32 goes through the 16-element sums of x.
    static func q6_K(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ xsums16: UnsafePointer<Float>, _ n: Int) -> Float {
        let low4 = SIMD8<Int32>(repeating: 0x0F)
        let bits01 = SIMD8<Int32>(repeating: 0x03), bits23 = SIMD8<Int32>(repeating: 0x0C)
        let bits45 = SIMD8<Int32>(repeating: 0x30), bits67 = SIMD8<Int32>(repeating: 0xC0)
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
        var offsets: Float = 0
        for b in 0..<(n / 256) {
            let blk = w + 210 * b
            let d = Dequantize.loadHalf(blk, 208)
            let scales = (blk + 192).assumingMemoryBound(to: Int8.self)
            for h in 0..<2 {
                let ql = blk + 64 * h, qh = blk + 128 + 32 * h
                let xh = x + 256 * b + 128 * h
                // Two 16-element groups per step: l in 0..<16 and 16..<32 use scales s and s + 1.
                for half in 0..<2 {
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
                    let sc = scales + 8 * h + half
                    let k1 = d * Float(sc[0]), k2 = d * Float(sc[2]), k3 = d * Float(sc[4]), k4 = d * Float(sc[6])
                    acc0.addProduct(s1, SIMD8(repeating: k1))
                    acc1.addProduct(s2, SIMD8(repeating: k2))
                    acc0.addProduct(s3, SIMD8(repeating: k3))
                    acc1.addProduct(s4, SIMD8(repeating: k4))
                    let g16 = (256 * b + 128 * h + l) / 16
                    offsets += k1 * xsums16[g16] + k2 * xsums16[g16 + 2] + k3 * xsums16[g16 + 4] + k4 * xsums16[g16 + 6]
                }
            }
        }
        return horizontalSum(acc0 + acc1) - 32 * offsets
    }
}
