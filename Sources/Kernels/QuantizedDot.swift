import GGUF

/// Dot products of one quantized weight row with a vector, reading each block once and never
/// materialising the dequantized row. These carry decoding (one token at a time) and the tied
/// output head, which are bound by memory bandwidth. Block layouts are in engine-spec §2;
/// `Dequantize` is the reference they are tested against.
///
/// The quantized formats (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K, and Q6_K re-encoded as
/// int8) multiply in 16-bit integers: the vector is rounded once per mat-vec to 16-bit codes with
/// one scale per 32 elements (`DecodeInput`), so that one `vpmaddwd` does 16 weight × input
/// products, and each block's integer sum is scaled in float. In f32 the same products cost a
/// widening, a conversion and an FMA per 8 weights, which kept Q4_K and Q6_K bound by instructions
/// at under half the memory bandwidth. The rounding error is at most 2⁻¹⁶ of the largest |x| in its
/// block, 256 times finer than llama.cpp's 8-bit rounding of the same vectors and far below the
/// weights' own quantization error. Per-block offsets (Q4_1's and Q5_1's m, Q4_0's −8·d, the
/// K-quants' mins, Q6_K's −32) are not multiplied per element: offset · Σx is added once per block
/// from exact f32 sums of x (`blockSums`, `groupSums16`), so an output's error is at most
/// Σ |d·q|·step/2 over its elements, q the code the integers multiply. F16 and BF16 weights are
/// widened and multiplied in f32, input unrounded.
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

    @inline(__always)
    static func float(_ v: SIMD8<Int32>) -> SIMD8<Float> { floats(v) }

    // MARK: 32-element blocks

    /// The two f16 halves of each 32-bit word as floats (low half, high half): integer masks and
    /// shifts move sign and exponent+mantissa to their f32 places and one multiplication by 2¹¹²
    /// rebiases the exponent, as `Dequantize.halfToFloat` does one at a time (exact for normal and
    /// subnormal halves; infinities and NaNs, which no quantizer writes into a block's scales, come
    /// out as large finite values).
    @inline(__always)
    static func halves(_ w: SIMD8<UInt32>) -> (low: SIMD8<Float>, high: SIMD8<Float>) {
        let low = ((w & SIMD8(repeating: 0x8000)) &<< 16) | ((w & SIMD8(repeating: 0x7FFF)) &<< 13)
        let high = (w & SIMD8(repeating: 0x8000_0000)) | ((w &>> 3) & SIMD8(repeating: 0x0FFF_E000))
        let rebias = SIMD8<Float>(repeating: 0x1p112)
        return (unsafeBitCast(low, to: SIMD8<Float>.self) * rebias, unsafeBitCast(high, to: SIMD8<Float>.self) * rebias)
    }

    /// The first 32-bit word of each of 8 consecutive blocks of `stride` bytes: the f16 scale d in
    /// its low half and, in the offset formats, the f16 offset m in its high half.
    @inline(__always)
    static func headerWords(_ p: UnsafeRawPointer, _ stride: Int) -> SIMD8<UInt32> {
        @inline(__always)
        func word(_ i: Int) -> UInt32 { p.loadUnaligned(fromByteOffset: stride * i, as: UInt32.self) }
        return SIMD8(word(0), word(1), word(2), word(3), word(4), word(5), word(6), word(7))
    }

    /// The loop shared by the 32-element formats, whose blocks (`stride` bytes) start with the f16
    /// scale d and, if `hasMin`, the f16 offset m. `block` gives 8 lanes of exact integer sums of
    /// c·code over a block's 32 weight codes c; the block's value is d·(c + bias) + m, so that
    ///
    ///     Σ w·x ≈ Σ_b d_b · s_b · Σ c·code + (m_b + bias·d_b) · Σx_b,
    ///
    /// the offset term going through the block sums of x (`xsums`; unused when the format has
    /// neither m nor bias). Eight blocks per step: their header words are converted in one vector,
    /// the eight combined scales d·s go through `scales` (8 floats of scratch) so that each is one
    /// broadcast load (see `q4_KBlock`), and the eight offsets take one vector product. Two
    /// accumulators take alternate blocks, so that the loop-carried FMA latency does not cap
    /// throughput. Blocks past the last multiple of 8 take the scalar path, two at a time.
    ///
    /// Measured (2-core Intel Xeon KVM guest, 2 threads, best of several runs, Q4_1 at SmolLM2's
    /// 576×576, 1536×576 and 576×1536, the matrix in L2): the row buffer this replaced ran at
    /// 5.4–6.3 GB/s, this loop with each block's halves converted in scalar code at 7–9 GB/s, and
    /// as written at 12.7–15.6 GB/s. Q8_0, already fused before, is unchanged within noise.
    /// The format entry points below are inlined into the mat-vec's row loop, which hoists their
    /// per-row setup out of it: these rows are short (18 blocks in SmolLM2), and called per row
    /// Q8_0 ran about 5% slower at 576 columns.
    @inline(__always)
    static func blocks32(_ w: UnsafeRawPointer, stride: Int, hasMin: Bool, bias: Float, _ x: DecodeInput, _ xsums: UnsafePointer<Float>,
                         _ n: Int, _ block: (_ blk: UnsafeRawPointer, _ codes: UnsafePointer<Int16>) -> SIMD8<Int32>) -> Float {
        let offsets = hasMin || bias != 0
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: 8) { buffer in
            let scales = buffer.baseAddress!
            var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), offsetSums = SIMD8<Float>()
            let blocks = n / 32
            var b = 0
            while b + 8 <= blocks {
                let blk = w + stride * b, c = x.codes + 32 * b
                let (d, m) = halves(headerWords(blk, stride))
                store8(scales, d * load8(x.scales + b))
                if offsets {
                    let offset = hasMin ? (bias != 0 ? m + SIMD8(repeating: bias) * d : m) : SIMD8(repeating: bias) * d
                    offsetSums.addProduct(offset, load8(xsums + b))
                }
                @inline(__always)
                func pair(_ i: Int) {
                    let s0 = block(blk + stride * i, c + 32 * i), s1 = block(blk + stride * (i + 1), c + 32 * (i + 1))
                    acc0.addProduct(floats(s0), SIMD8(repeating: scales[i]))
                    acc1.addProduct(floats(s1), SIMD8(repeating: scales[i + 1]))
                }
                pair(0); pair(2); pair(4); pair(6)
                b += 8
            }
            var offsetSum0: Float = 0, offsetSum1: Float = 0
            @inline(__always)
            func single(_ b: Int, _ acc: inout SIMD8<Float>, _ offsetSum: inout Float) {
                let blk = w + stride * b
                let d = Dequantize.loadHalf(blk, 0)
                acc.addProduct(floats(block(blk, x.codes + 32 * b)), SIMD8(repeating: d * x.scales[b]))
                if offsets {
                    let offset = hasMin ? (bias != 0 ? Dequantize.loadHalf(blk, 2) + bias * d : Dequantize.loadHalf(blk, 2)) : bias * d
                    offsetSum += offset * xsums[b]
                }
            }
            while b + 2 <= blocks {
                single(b, &acc0, &offsetSum0)
                single(b + 1, &acc1, &offsetSum1)
                b += 2
            }
            if b < blocks { single(b, &acc0, &offsetSum0) }
            return horizontalSum(acc0 + acc1 + offsetSums) + (offsetSum0 + offsetSum1)
        }
    }

    /// 32 nibble codes at p times their input codes: element j < 16 is the low nibble of byte j,
    /// element j + 16 its high nibble (Q4_0, Q4_1).
    @inline(__always)
    static func nibbleBlock(_ p: UnsafeRawPointer, _ c: UnsafePointer<Int16>) -> SIMD8<Int32> {
        let nibbles = unsignedBytes16(p)
        return multiplyAddPairs(nibbles & SIMD16(repeating: 0x0F), codes16(c)) &+ multiplyAddPairs(nibbles &>> 4, codes16(c + 16))
    }

    /// Q8_0 (d, 32 signed bytes): Σ_b d_b · s_b · Σ q·code. This kernel also carries the tied output
    /// heads (262k rows in Gemma 3, 49k in SmolLM2).
    @inline(__always)
    static func q8_0(_ w: UnsafeRawPointer, _ x: DecodeInput, _ n: Int) -> Float {
        blocks32(w, stride: 34, hasMin: false, bias: 0, x, x.scales, n) { blk, c in
            multiplyAddPairs(signedBytes16(blk + 2), codes16(c)) &+ multiplyAddPairs(signedBytes16(blk + 18), codes16(c + 16))
        }
    }

    /// Q4_0 (d, 16 bytes of nibbles q, value d·(q − 8)): Σ_b d_b · s_b · Σ q·code − 8·d_b · Σx_b.
    @inline(__always)
    static func q4_0(_ w: UnsafeRawPointer, _ x: DecodeInput, _ xsums: UnsafePointer<Float>, _ n: Int) -> Float {
        blocks32(w, stride: 18, hasMin: false, bias: -8, x, xsums, n) { blk, c in nibbleBlock(blk + 2, c) }
    }

    /// Q4_1 (d, m, 16 bytes of nibbles q, value d·q + m): Σ_b d_b · s_b · Σ q·code + m_b · Σx_b.
    @inline(__always)
    static func q4_1(_ w: UnsafeRawPointer, _ x: DecodeInput, _ xsums: UnsafePointer<Float>, _ n: Int) -> Float {
        blocks32(w, stride: 20, hasMin: true, bias: 0, x, xsums, n) { blk, c in nibbleBlock(blk + 4, c) }
    }

    /// Entry b holds 16·(bit i of b) − 16 in lane i: added to 8 Q5 low nibbles whose fifth bits form
    /// the byte b, it gives their codes minus 16 (a 4 KB table, resident in L1 while a matrix is
    /// streamed).
    static let fifthBitTable: UnsafeMutablePointer<SIMD8<Int16>> = {
        let table = UnsafeMutablePointer<SIMD8<Int16>>.allocate(capacity: 256)
        for b in 0..<256 {
            var lanes = SIMD8<Int16>(repeating: -16)
            for i in 0..<8 where b & (1 << i) != 0 { lanes[i] = 0 }
            table[b] = lanes
        }
        return table
    }()

    /// A Q5 block's 32 codes minus 16 times their input codes, as 8 lanes of exact integer sums of
    /// (q − 16)·code, q = nibble + 16·fifth bit. Element j < 16 is the low nibble of byte j of `qs`,
    /// element j + 16 its high nibble; their fifth bits are bits j and j + 16 of the 32-bit field `qh`.
    @inline(__always)
    static func q5Block(qh: UnsafeRawPointer, qs: UnsafeRawPointer, _ c: UnsafePointer<Int16>, _ table: UnsafeMutablePointer<SIMD8<Int16>>) -> SIMD8<Int32> {
        @inline(__always)
        func fifthBits(_ offset: Int) -> SIMD16<Int16> {
            SIMD16(lowHalf: table[Int(qh.load(fromByteOffset: offset, as: UInt8.self))],
                   highHalf: table[Int(qh.load(fromByteOffset: offset + 1, as: UInt8.self))])
        }
        let nibbles = unsignedBytes16(qs)
        let low = (nibbles & SIMD16(repeating: 0x0F)) &+ fifthBits(0), high = (nibbles &>> 4) &+ fifthBits(2)
        return multiplyAddPairs(low, codes16(c)) &+ multiplyAddPairs(high, codes16(c + 16))
    }

    /// Q5_0 (d, qh, qs; value d·(q − 16)): Σ_b d_b · s_b · Σ (q − 16)·code. (Decoding reads Q5_0
    /// re-encoded as Q8_0; see `ReencodedWeights`.)
    @inline(__always)
    static func q5_0(_ w: UnsafeRawPointer, _ x: DecodeInput, _ n: Int) -> Float {
        let table = fifthBitTable
        return blocks32(w, stride: 22, hasMin: false, bias: 0, x, x.scales, n) { blk, c in q5Block(qh: blk + 2, qs: blk + 6, c, table) }
    }

    /// Q5_1 (d, m, qh, qs; value d·q + m = d·(q − 16) + (m + 16·d)):
    /// Σ_b d_b · s_b · Σ (q − 16)·code + (m_b + 16·d_b) · Σx_b, sharing Q5_0's table.
    @inline(__always)
    static func q5_1(_ w: UnsafeRawPointer, _ x: DecodeInput, _ xsums: UnsafePointer<Float>, _ n: Int) -> Float {
        let table = fifthBitTable
        return blocks32(w, stride: 24, hasMin: true, bias: 16, x, xsums, n) { blk, c in q5Block(qh: blk + 4, qs: blk + 8, c, table) }
    }

    // MARK: 256-element K-quant blocks

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

    /// One Q5_K block (d, dmin, 12 scale bytes, qh[32], qs[128]) times its 256 input codes, as
    /// `q4_KBlock` with a fifth bit per code: element 64k + l of chunk k takes bit 2k of qh[l], element
    /// 64k + 32 + l bit 2k + 1, each moved to bit 4 with a constant shift and a mask.
    @inline(__always)
    static func q5_KBlock(_ blk: UnsafeRawPointer, _ c: UnsafePointer<Int16>, _ inputScales: UnsafePointer<Float>,
                          _ xsums: SIMD8<Float>, _ scales: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
        let lowNibble = SIMD16<Int16>(repeating: 0x0F), bit4 = SIMD16<Int16>(repeating: 0x10)
        let d = Dequantize.loadHalf(blk, 0), dmin = Dequantize.loadHalf(blk, 2)
        let (sc, m) = kQuantScalesAndMins(blk + 4)
        store8(scales, float(sc) * SIMD8(repeating: d) * load8(inputScales))
        var sum = -(float(m) * SIMD8(repeating: dmin)) * xsums
        let h0 = unsignedBytes16(blk + 16), h1 = unsignedBytes16(blk + 32)
        @inline(__always)
        func fifth(_ h: SIMD16<Int16>, _ bit: Int) -> SIMD16<Int16> {
            (bit <= 4 ? h &<< Int16(4 - bit) : h &>> Int16(bit - 4)) & bit4
        }
        // Chunk k: 32 bytes; low nibbles are sub-block 2k, high nibbles 2k + 1.
        @inline(__always)
        func chunk(_ k: Int) {
            let q = blk + 48 + 32 * k, ck = c + 64 * k
            let v0 = unsignedBytes16(q), v1 = unsignedBytes16(q + 16)
            let low = multiplyAddPairs((v0 & lowNibble) | fifth(h0, 2 * k), codes16(ck))
                &+ multiplyAddPairs((v1 & lowNibble) | fifth(h1, 2 * k), codes16(ck + 16))
            let high = multiplyAddPairs((v0 &>> 4) | fifth(h0, 2 * k + 1), codes16(ck + 32))
                &+ multiplyAddPairs((v1 &>> 4) | fifth(h1, 2 * k + 1), codes16(ck + 48))
            sum.addProduct(floats(low), SIMD8(repeating: scales[2 * k]))
            sum.addProduct(floats(high), SIMD8(repeating: scales[2 * k + 1]))
        }
        chunk(0); chunk(1); chunk(2); chunk(3)
        return sum
    }

    /// Q5_K: one row, block after block (see `q4_K`).
    static func q5_K(_ w: UnsafeRawPointer, _ x: DecodeInput, _ xsums: UnsafePointer<Float>, _ n: Int) -> Float {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 8) { scales in
            var acc = SIMD8<Float>()
            for b in 0..<(n / 256) {
                acc += q5_KBlock(w + 176 * b, x.codes + 256 * b, x.scales + 8 * b, load8(xsums + 8 * b), scales.baseAddress!)
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

    // MARK: 16-bit floats

    /// F16 weights times x in f32 (the input is not rounded: at 2 bytes a weight the conversion,
    /// one `vcvtph2ps` per 8 weights, is cheaper than the memory it reads). Any n.
    static func f16(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        @inline(__always)
        func weights(_ i: Int) -> SIMD8<Float> { SIMD8<Float>(w.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<Float16>.self)) }
        return dot16(n, weights, x) { Float(Float16(bitPattern: w.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) }
    }

    /// BF16 weights (the top halves of f32s) times x in f32. Any n.
    static func bf16(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
        @inline(__always)
        func weights(_ i: Int) -> SIMD8<Float> {
            let h = w.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<UInt16>.self)
            let bits = SIMD8<UInt32>(UInt32(h[0]), UInt32(h[1]), UInt32(h[2]), UInt32(h[3]), UInt32(h[4]), UInt32(h[5]), UInt32(h[6]), UInt32(h[7]))
            return unsafeBitCast(bits &<< 16, to: SIMD8<Float>.self)
        }
        return dot16(n, weights, x) { Float(bitPattern: UInt32(w.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)) << 16) }
    }

    /// Σ weights(i)·x[i] over n elements, 8 at a time (`weights(i)` gives elements i..<i+8) with four
    /// accumulators, then one at a time (`weight(i)`).
    @inline(__always)
    static func dot16(_ n: Int, _ weights: (Int) -> SIMD8<Float>, _ x: UnsafePointer<Float>, _ weight: (Int) -> Float) -> Float {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
        var i = 0
        while i + 32 <= n {
            acc0.addProduct(weights(i), load8(x + i))
            acc1.addProduct(weights(i + 8), load8(x + i + 8))
            acc2.addProduct(weights(i + 16), load8(x + i + 16))
            acc3.addProduct(weights(i + 24), load8(x + i + 24))
            i += 32
        }
        while i + 8 <= n { acc0.addProduct(weights(i), load8(x + i)); i += 8 }
        var sum = horizontalSum((acc0 + acc1) + (acc2 + acc3))
        while i < n { sum += weight(i) * x[i]; i += 1 }
        return sum
    }
}
