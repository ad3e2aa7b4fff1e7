/// 512-bit helpers, the 16-lane counterparts of Kernels' SIMDSupport.swift. This module is built for
/// `cascadelake` (AVX-512 F, CD, BW, DQ, VL and VNNI; Package.swift), so a `SIMD16<Float>` is one zmm
/// register and a `SIMD32<Int16>` another; conversions are written lane by lane for the reason given
/// there (LLVM's SLP vectorizer makes each one instruction, the stdlib's generic initialisers stay calls).
/// They are separate from Kernels' 8-lane helpers because each module compiles its own for its own
/// instruction set; neither may call into the other's inner loops.

@inline(__always)
func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always)
func load16(_ p: UnsafeMutablePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always)
func store16(_ p: UnsafeMutablePointer<Float>, _ v: SIMD16<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

/// 16 halves at p as floats (one `vcvtph2ps` to a zmm register).
@inline(__always)
func halves16(_ p: UnsafePointer<Float16>) -> SIMD16<Float> {
    let h = UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float16>.self)
    return SIMD16<Float>(Float(h[0]), Float(h[1]), Float(h[2]), Float(h[3]), Float(h[4]), Float(h[5]), Float(h[6]), Float(h[7]),
                         Float(h[8]), Float(h[9]), Float(h[10]), Float(h[11]), Float(h[12]), Float(h[13]), Float(h[14]), Float(h[15]))
}

/// The lanes of v as floats (one `vcvtdq2ps`).
@inline(__always)
func floats16(_ v: SIMD16<Int32>) -> SIMD16<Float> {
    SIMD16<Float>(Float(v[0]), Float(v[1]), Float(v[2]), Float(v[3]), Float(v[4]), Float(v[5]), Float(v[6]), Float(v[7]),
                  Float(v[8]), Float(v[9]), Float(v[10]), Float(v[11]), Float(v[12]), Float(v[13]), Float(v[14]), Float(v[15]))
}

/// 32 unsigned bytes at p, widened to 16-bit lanes (`vpmovzxbw`).
@inline(__always)
func unsignedBytes32(_ p: UnsafeRawPointer) -> SIMD32<Int16> {
    let b = p.loadUnaligned(as: SIMD32<UInt8>.self)
    return SIMD32<Int16>(Int16(b[0]), Int16(b[1]), Int16(b[2]), Int16(b[3]), Int16(b[4]), Int16(b[5]), Int16(b[6]), Int16(b[7]), Int16(b[8]), Int16(b[9]), Int16(b[10]), Int16(b[11]), Int16(b[12]), Int16(b[13]), Int16(b[14]), Int16(b[15]), Int16(b[16]), Int16(b[17]), Int16(b[18]), Int16(b[19]), Int16(b[20]), Int16(b[21]), Int16(b[22]), Int16(b[23]), Int16(b[24]), Int16(b[25]), Int16(b[26]), Int16(b[27]), Int16(b[28]), Int16(b[29]), Int16(b[30]), Int16(b[31]))
}

/// 32 signed bytes at p, widened to 16-bit lanes (`vpmovsxbw`).
@inline(__always)
func signedBytes32(_ p: UnsafeRawPointer) -> SIMD32<Int16> {
    let b = p.loadUnaligned(as: SIMD32<Int8>.self)
    return SIMD32<Int16>(Int16(b[0]), Int16(b[1]), Int16(b[2]), Int16(b[3]), Int16(b[4]), Int16(b[5]), Int16(b[6]), Int16(b[7]), Int16(b[8]), Int16(b[9]), Int16(b[10]), Int16(b[11]), Int16(b[12]), Int16(b[13]), Int16(b[14]), Int16(b[15]), Int16(b[16]), Int16(b[17]), Int16(b[18]), Int16(b[19]), Int16(b[20]), Int16(b[21]), Int16(b[22]), Int16(b[23]), Int16(b[24]), Int16(b[25]), Int16(b[26]), Int16(b[27]), Int16(b[28]), Int16(b[29]), Int16(b[30]), Int16(b[31]))
}

/// 32 16-bit codes at p.
@inline(__always)
func codes32(_ p: UnsafePointer<Int16>) -> SIMD32<Int16> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD32<Int16>.self)
}

/// Lane i is a[2i]·b[2i] + a[2i+1]·b[2i+1], exact in 32 bits: one zmm `vpmaddwd`, and added to an
/// accumulator one `vpdpwssd` (VNNI).
@inline(__always)
func multiplyAddPairs(_ a: SIMD32<Int16>, _ b: SIMD32<Int16>) -> SIMD16<Int32> {
    @inline(__always)
    func widened(_ v: SIMD32<Int16>) -> SIMD32<Int32> {
        SIMD32<Int32>(Int32(v[0]), Int32(v[1]), Int32(v[2]), Int32(v[3]), Int32(v[4]), Int32(v[5]), Int32(v[6]), Int32(v[7]), Int32(v[8]), Int32(v[9]), Int32(v[10]), Int32(v[11]), Int32(v[12]), Int32(v[13]), Int32(v[14]), Int32(v[15]), Int32(v[16]), Int32(v[17]), Int32(v[18]), Int32(v[19]), Int32(v[20]), Int32(v[21]), Int32(v[22]), Int32(v[23]), Int32(v[24]), Int32(v[25]), Int32(v[26]), Int32(v[27]), Int32(v[28]), Int32(v[29]), Int32(v[30]), Int32(v[31]))
    }
    let products = widened(a) &* widened(b)
    return SIMD16<Int32>(products[0] &+ products[1], products[2] &+ products[3], products[4] &+ products[5], products[6] &+ products[7], products[8] &+ products[9], products[10] &+ products[11], products[12] &+ products[13], products[14] &+ products[15], products[16] &+ products[17], products[18] &+ products[19], products[20] &+ products[21], products[22] &+ products[23], products[24] &+ products[25], products[26] &+ products[27], products[28] &+ products[29], products[30] &+ products[31])
}

/// Sum of the 16 lanes as a tree.
@inline(__always)
func horizontalSum(_ v: SIMD16<Float>) -> Float {
    let eight = v.lowHalf + v.highHalf
    let four = eight.lowHalf + eight.highHalf
    let two = four.lowHalf + four.highHalf
    return two[0] + two[1]
}
