/// Block dequantizers for every supported ggml type (layouts in engine-spec §2). They are the one
/// definition of what a quantized block means: the GEMM packs weights through them and the fused
/// mat-vec kernels are tested against them.
public enum Dequantize {
    /// Converts `count` elements (a multiple of `type.blockElements`) starting at `src` into floats.
    public static func row(_ type: GGMLType, _ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        let blocks = count / type.blockElements
        switch type {
        case .f32: dst.update(from: src.assumingMemoryBound(to: Float.self), count: count)
        case .f16: for i in 0..<count { dst[i] = loadHalf(src, i * 2) }
        case .bf16: for i in 0..<count { dst[i] = Float(bitPattern: UInt32(src.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) << 16) }
        case .q8_0: forEachBlock(blocks, src, dst, type, q8_0)
        case .q4_0: forEachBlock(blocks, src, dst, type, q4_0)
        case .q4_1: forEachBlock(blocks, src, dst, type, q4_1)
        case .q5_0: forEachBlock(blocks, src, dst, type, q5_0)
        case .q5_1: forEachBlock(blocks, src, dst, type, q5_1)
        case .q4_K: forEachBlock(blocks, src, dst, type, q4_K)
        case .q5_K: forEachBlock(blocks, src, dst, type, q5_K)
        case .q6_K: forEachBlock(blocks, src, dst, type, q6_K)
        case .q8_K: forEachBlock(blocks, src, dst, type, q8_K)
        case .q8_1, .q2_K, .q3_K, .i8, .i16, .i32, .i64, .f64:
            preconditionFailure("Dequantize.row called with unsupported type \(type); check GGMLType.isSupported first")
        }
    }

    @inline(__always)
    private static func forEachBlock(_ blocks: Int, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ type: GGMLType,
                                     _ body: (UnsafeRawPointer, UnsafeMutablePointer<Float>) -> Void) {
        for b in 0..<blocks { body(src + b * type.blockBytes, dst + b * type.blockElements) }
    }

    /// IEEE half at an unaligned byte offset. (The small block helpers are inlinable so that the
    /// kernels in other modules inline them into their inner loops.)
    @inlinable @inline(__always)
    public static func loadHalf(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        halfToFloat(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    /// Half → single precision in general-purpose registers: sign and exponent+mantissa move to their
    /// f32 places and a multiplication by 2^112 rebiases the exponent (exact for normal and
    /// subnormal halves). The F16C path, `Float(Float16(bitPattern:))`, compiles to an insert into a
    /// vector register whose other lanes belong to a live accumulator: a false dependency that
    /// serialised the mat-vec loops.
    @inlinable @inline(__always)
    public static func halfToFloat(_ h: UInt16) -> Float {
        if h & 0x7C00 == 0x7C00 { return Float(Float16(bitPattern: h)) }  // infinity or NaN
        let bits = (UInt32(h & 0x8000) << 16) | (UInt32(h & 0x7FFF) << 13)
        return Float(bitPattern: bits) * 0x1p112
    }

    // MARK: 32-element blocks

    /// Q8_0: d:f16, qs:i8[32]; y = d·q.
    @inline(__always)
    static func q8_0(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = loadHalf(b, 0)
        let qs = (b + 2).assumingMemoryBound(to: Int8.self)
        for k in 0..<32 { y[k] = d * Float(qs[k]) }
    }

    /// Q4_0: d:f16, qs:u8[16]; low nibbles are elements 0–15, high nibbles 16–31; y = d·(q − 8).
    @inline(__always)
    static func q4_0(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = loadHalf(b, 0)
        let qs = (b + 2).assumingMemoryBound(to: UInt8.self)
        for k in 0..<16 {
            y[k] = d * Float(Int32(qs[k] & 15) - 8)
            y[k + 16] = d * Float(Int32(qs[k] >> 4) - 8)
        }
    }

    /// Q4_1: d:f16, m:f16, qs:u8[16]; y = d·q + m.
    @inline(__always)
    static func q4_1(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = loadHalf(b, 0), m = loadHalf(b, 2)
        let qs = (b + 4).assumingMemoryBound(to: UInt8.self)
        for k in 0..<16 {
            y[k] = d * Float(qs[k] & 15) + m
            y[k + 16] = d * Float(qs[k] >> 4) + m
        }
    }

    /// Q5_0: d:f16, qh:u32, qs:u8[16]; bit k of qh is the fifth bit of element k; y = d·(q − 16).
    @inline(__always)
    static func q5_0(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = loadHalf(b, 0)
        let qh = UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
        let qs = (b + 6).assumingMemoryBound(to: UInt8.self)
        for k in 0..<16 {
            let lo = UInt32(qs[k] & 15) | ((qh >> UInt32(k)) & 1) << 4
            let hi = UInt32(qs[k] >> 4) | ((qh >> UInt32(k + 16)) & 1) << 4
            y[k] = d * Float(Int32(lo) - 16)
            y[k + 16] = d * Float(Int32(hi) - 16)
        }
    }

    /// Q5_1: d:f16, m:f16, qh:u32, qs:u8[16]; y = d·q + m.
    @inline(__always)
    static func q5_1(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = loadHalf(b, 0), m = loadHalf(b, 2)
        let qh = UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        let qs = (b + 8).assumingMemoryBound(to: UInt8.self)
        for k in 0..<16 {
            let lo = UInt32(qs[k] & 15) | ((qh >> UInt32(k)) & 1) << 4
            let hi = UInt32(qs[k] >> 4) | ((qh >> UInt32(k + 16)) & 1) << 4
            y[k] = d * Float(lo) + m
            y[k + 16] = d * Float(hi) + m
        }
    }

    // MARK: 256-element K-quant blocks

    /// The 6-bit scale and min of sub-block `j` (0..7) of a Q4_K/Q5_K block (engine-spec §2.2).
    @inlinable @inline(__always)
    public static func kQuantScaleMin(_ s: UnsafePointer<UInt8>, _ j: Int) -> (scale: UInt8, min: UInt8) {
        if j < 4 { return (s[j] & 63, s[j + 4] & 63) }
        return ((s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4), (s[j + 4] >> 4) | ((s[j] >> 6) << 4))
    }

    /// Scale and offset of the two sub-blocks of 64-element chunk c of a Q4_K/Q5_K block whose
    /// header (d, dmin, 12 scale bytes) starts at b: values are scale·q − offset.
    @inlinable @inline(__always)
    public static func kQuantChunk(_ b: UnsafeRawPointer, _ c: Int) -> (scale1: Float, offset1: Float, scale2: Float, offset2: Float) {
        let d = loadHalf(b, 0), dmin = loadHalf(b, 2)
        let scales = (b + 4).assumingMemoryBound(to: UInt8.self)
        let (sc1, m1) = kQuantScaleMin(scales, 2 * c)
        let (sc2, m2) = kQuantScaleMin(scales, 2 * c + 1)
        return (d * Float(sc1), dmin * Float(m1), d * Float(sc2), dmin * Float(m2))
    }

    /// Q4_K: d:f16, dmin:f16, scales:u8[12], qs:u8[128]. Chunk c of 64 reads qs[32c..<32c+32]: low
    /// nibbles with sub-block 2c, then high nibbles with sub-block 2c+1; y = d·sc·q − dmin·m.
    @inline(__always)
    static func q4_K(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let qs = (b + 16).assumingMemoryBound(to: UInt8.self)
        for c in 0..<4 {
            let (d1, o1, d2, o2) = kQuantChunk(b, c)
            let q = qs + 32 * c, out = y + 64 * c
            for l in 0..<32 {
                out[l] = d1 * Float(q[l] & 15) - o1
                out[l + 32] = d2 * Float(q[l] >> 4) - o2
            }
        }
    }

    /// Q5_K: d:f16, dmin:f16, scales:u8[12], qh:u8[32], qs:u8[128]. Like Q4_K, with the fifth bit of
    /// element 64c+l in bit 2c of qh[l] and of element 64c+32+l in bit 2c+1.
    @inline(__always)
    static func q5_K(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let qh = (b + 16).assumingMemoryBound(to: UInt8.self)
        let qs = (b + 48).assumingMemoryBound(to: UInt8.self)
        for c in 0..<4 {
            let (d1, o1, d2, o2) = kQuantChunk(b, c)
            let q = qs + 32 * c, out = y + 64 * c
            let shift = UInt8(2 * c)
            for l in 0..<32 {
                let lo = (q[l] & 15) | ((qh[l] >> shift) & 1) << 4
                let hi = (q[l] >> 4) | ((qh[l] >> (shift + 1)) & 1) << 4
                out[l] = d1 * Float(lo) - o1
                out[l + 32] = d2 * Float(hi) - o2
            }
        }
    }

    /// Q6_K: ql:u8[128], qh:u8[64], scales:i8[16], d:f16 (last). Half h covers outputs 128h..<128h+128;
    /// y[i] = d · scales[i/16] · (q − 32) with q = 4 low bits from ql and 2 high bits from qh.
    @inline(__always)
    static func q6_K(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = loadHalf(b, 208)
        let scales = (b + 192).assumingMemoryBound(to: Int8.self)
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: 256) { codes in
            q6_KCodes(b, into: codes.baseAddress!)
            for i in 0..<256 { y[i] = d * Float(scales[i / 16]) * Float(codes[i]) }
        }
    }

    /// The 256 codes q − 32 (−32…31) of a Q6_K block: 4 low bits from ql, 2 high bits from qh.
    /// Element l + 32k of half h takes ql[l] (k even) or ql[l + 32] (k odd), low nibble for k < 2,
    /// and bits 2k, 2k + 1 of qh[l]; element i's scale is scales[i / 16].
    public static func q6_KCodes(_ b: UnsafeRawPointer, into codes: UnsafeMutablePointer<Int8>) {
        for h in 0..<2 {
            let ql = (b + 64 * h).assumingMemoryBound(to: UInt8.self)
            let qh = (b + 128 + 32 * h).assumingMemoryBound(to: UInt8.self)
            let out = codes + 128 * h
            for l in 0..<32 {
                out[l] = Int8((ql[l] & 15) | (qh[l] & 3) << 4) - 32
                out[l + 32] = Int8((ql[l + 32] & 15) | ((qh[l] >> 2) & 3) << 4) - 32
                out[l + 64] = Int8((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32
                out[l + 96] = Int8((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32
            }
        }
    }

    /// Q8_K: d:f32, qs:i8[256], bsums:i16[16]; y = d·q.
    @inline(__always)
    static func q8_K(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 0, as: UInt32.self)))
        let qs = (b + 4).assumingMemoryBound(to: Int8.self)
        for k in 0..<256 { y[k] = d * Float(qs[k]) }
    }
}
