/// SIMD helpers for the kernels.
///
/// Swift lowers `+ − * /`, `&`, `|`, `~` and shifts by a constant on SIMD8 to single instructions. Float comparisons, `replacing(with:where:)`, `pointwiseMin/Max`,
/// `min()/max()`, float→int conversion and integer ops on narrow lanes (UInt8/Int16) become generic
/// per-lane code or calls, and int→float conversion (`SIMD8<Float>(SIMD8<Int32>)`) stays an out-of-line
/// call in SwiftPM's release build (see `floats`); `addingProduct`/`addProduct` are per-lane `fma` that LLVM re-vectorizes
/// in simple loops (the GEMM and dot kernels, checked) but splits into scalars inside longer
/// dependency chains. Lane-by-lane widenings (bytes → 16-bit, 16-bit → 32-bit lanes) do become single
/// `vpmovsxbw`/`vpmovzxbw`, the widen–multiply–pair-add shape of `multiplyAddPairs` one `vpmaddwd`,
/// and masks and shifts on 16-bit lanes just widened from bytes are done on the bytes; 32-lane
/// vectors (`SIMD32`) of any type stay generic code. All of this was checked in the release
/// assembly; kernels use the safe subset and the helpers below build the rest from it.

/// Unaligned SIMD loads and stores on raw float pointers (activations, packed panels and caches are
/// not guaranteed to be 32-byte aligned).
@inline(__always)
func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
func load8(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
func store8(_ p: UnsafeMutablePointer<Float>, _ v: SIMD8<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}

/// Sum of `n` floats (n a multiple of 8 is fastest; any n works).
@inline(__always)
func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
    var i = 0
    while i + 16 <= n {
        acc0.addProduct(load8(a + i), load8(b + i))
        acc1.addProduct(load8(a + i + 8), load8(b + i + 8))
        i += 16
    }
    if i + 8 <= n { acc0.addProduct(load8(a + i), load8(b + i)); i += 8 }
    var sum = horizontalSum(acc0 + acc1)
    while i < n { sum += a[i] * b[i]; i += 1 }
    return sum
}

/// Sum of the 8 lanes as a tree (`SIMD.sum()` adds the lanes one after another).
@inline(__always)
func horizontalSum(_ v: SIMD8<Float>) -> Float {
    let four = v.lowHalf + v.highHalf
    let two = four.lowHalf + four.highHalf
    return two[0] + two[1]
}

/// The lanes of v as floats. Written lane by lane because LLVM's SLP vectorizer turns this into one
/// `vcvtdq2ps`, while `SIMD8<Float>(v)` stays an out-of-line call to the generic stdlib conversion in
/// SwiftPM's release build (found with perf in the decode kernels; `KernelCodeTests` guards it).
@inline(__always)
func floats(_ v: SIMD8<Int32>) -> SIMD8<Float> {
    SIMD8<Float>(Float(v[0]), Float(v[1]), Float(v[2]), Float(v[3]), Float(v[4]), Float(v[5]), Float(v[6]), Float(v[7]))
}

/// 16 signed bytes at p, widened to 16-bit lanes (`vpmovsxbw`). Written lane by lane for the
/// reason given at `floats`.
@inline(__always)
func signedBytes16(_ p: UnsafeRawPointer) -> SIMD16<Int16> {
    let v = p.loadUnaligned(as: SIMD16<Int8>.self)
    return SIMD16<Int16>(Int16(v[0]), Int16(v[1]), Int16(v[2]), Int16(v[3]), Int16(v[4]), Int16(v[5]), Int16(v[6]), Int16(v[7]),
                         Int16(v[8]), Int16(v[9]), Int16(v[10]), Int16(v[11]), Int16(v[12]), Int16(v[13]), Int16(v[14]), Int16(v[15]))
}

/// 16 unsigned bytes at p, widened to 16-bit lanes (`vpmovzxbw`). Masks and shifts applied to the
/// result are done by LLVM on the bytes before widening, with 16-bit shifts.
@inline(__always)
func unsignedBytes16(_ p: UnsafeRawPointer) -> SIMD16<Int16> {
    let b = p.loadUnaligned(as: SIMD16<UInt8>.self)
    return SIMD16<Int16>(Int16(b[0]), Int16(b[1]), Int16(b[2]), Int16(b[3]), Int16(b[4]), Int16(b[5]), Int16(b[6]), Int16(b[7]),
                         Int16(b[8]), Int16(b[9]), Int16(b[10]), Int16(b[11]), Int16(b[12]), Int16(b[13]), Int16(b[14]), Int16(b[15]))
}

/// Lane i of the result is a[2i]·b[2i] + a[2i+1]·b[2i+1], exact in 32 bits: LLVM matches this
/// widen–multiply–pair-add shape to one `vpmaddwd`, the 16-bit integer dot-product step.
@inline(__always)
func multiplyAddPairs(_ a: SIMD16<Int16>, _ b: SIMD16<Int16>) -> SIMD8<Int32> {
    @inline(__always)
    func widened(_ v: SIMD16<Int16>) -> SIMD16<Int32> {
        SIMD16<Int32>(Int32(v[0]), Int32(v[1]), Int32(v[2]), Int32(v[3]), Int32(v[4]), Int32(v[5]), Int32(v[6]), Int32(v[7]),
                      Int32(v[8]), Int32(v[9]), Int32(v[10]), Int32(v[11]), Int32(v[12]), Int32(v[13]), Int32(v[14]), Int32(v[15]))
    }
    let products = widened(a) &* widened(b)
    return products.evenHalf &+ products.oddHalf
}

/// Lane-wise max(x, a), exact: the sign of x − a, spread over the lane by an arithmetic shift,
/// selects a (LLVM emits a single blend).
@inline(__always)
func lanewiseMax(_ x: SIMD8<Float>, _ a: SIMD8<Float>) -> SIMD8<Float> {
    let below = unsafeBitCast(x - a, to: SIMD8<Int32>.self) &>> 31
    let xb = unsafeBitCast(x, to: SIMD8<Int32>.self), ab = unsafeBitCast(a, to: SIMD8<Int32>.self)
    return unsafeBitCast((xb & ~below) | (ab & below), to: SIMD8<Float>.self)
}

/// Lane-wise min(x, b), exact (see `lanewiseMax`).
@inline(__always)
func lanewiseMin(_ x: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
    let below = unsafeBitCast(x - b, to: SIMD8<Int32>.self) &>> 31
    let xb = unsafeBitCast(x, to: SIMD8<Int32>.self), bb = unsafeBitCast(b, to: SIMD8<Int32>.self)
    return unsafeBitCast((bb & ~below) | (xb & below), to: SIMD8<Float>.self)
}

/// The largest lane.
@inline(__always)
func horizontalMax(_ v: SIMD8<Float>) -> Float {
    var m = v[0]
    for i in 1..<8 where v[i] > m { m = v[i] }
    return m
}

/// Element types a GEMM B operand can be stored in: f32 (weight panels) or f16 (the KV cache).
public protocol PanelScalar {
    /// Eight consecutive elements at p, as floats.
    static func load8(_ p: UnsafePointer<Self>) -> SIMD8<Float>
}

extension Float: PanelScalar {
    @inline(__always)
    public static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> { Kernels.load8(p) }
}

extension Float16: PanelScalar {
    @inline(__always)
    public static func load8(_ p: UnsafePointer<Float16>) -> SIMD8<Float> {
        // Lane by lane for the reason given at `floats`: `SIMD8<Float>(SIMD8<Float16>)` became an
        // out-of-line generic call in an out-of-line kernel; this becomes one `vcvtph2ps`.
        let h = UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float16>.self)
        return SIMD8<Float>(Float(h[0]), Float(h[1]), Float(h[2]), Float(h[3]), Float(h[4]), Float(h[5]), Float(h[6]), Float(h[7]))
    }
}

