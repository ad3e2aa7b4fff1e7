/// Row-wise and element-wise operators of a transformer layer, vectorised over 8 lanes.
public enum Elementwise {
    /// `out = x / sqrt(mean(x²) + eps) · weight` for each of `rows` rows of `n` values (in place
    /// when `out == x`). Gemma's GGUF norm weights already include the +1 of its RMSNorm.
    public static func rmsNorm(_ x: UnsafePointer<Float>, rows: Int, n: Int, weight: UnsafePointer<Float>, eps: Float,
                               into out: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let xr = x + r * n, yr = out + r * n
            var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
            var i = 0
            while i + 16 <= n {
                let a = load8(xr + i), b = load8(xr + i + 8)
                acc0.addProduct(a, a); acc1.addProduct(b, b)
                i += 16
            }
            var sum = horizontalSum(acc0 + acc1)
            while i < n { sum += xr[i] * xr[i]; i += 1 }
            let scale = 1 / (sum / Float(n) + eps).squareRoot()
            let s = SIMD8<Float>(repeating: scale)
            i = 0
            while i + 8 <= n { store8(yr + i, load8(xr + i) * s * load8(weight + i)); i += 8 }
            while i < n { yr[i] = xr[i] * scale * weight[i]; i += 1 }
        }
    }

    /// `y += x` over n values.
    public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count n: Int) {
        var i = 0
        while i + 8 <= n { store8(y + i, load8(y + i) + load8(x + i)); i += 8 }
        while i < n { y[i] += x[i]; i += 1 }
    }

    /// `x *= s` over n values.
    public static func scale(_ x: UnsafeMutablePointer<Float>, by s: Float, count n: Int) {
        let v = SIMD8<Float>(repeating: s)
        var i = 0
        while i + 8 <= n { store8(x + i, load8(x + i) * v); i += 8 }
        while i < n { x[i] *= s; i += 1 }
    }

    /// `gate = gelu(gate) · up` over n values, with the tanh-approximated GELU Gemma uses
    /// (`gelu_pytorch_tanh`): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
    public static func geluGate(_ gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count n: Int) {
        let c = SIMD8<Float>(repeating: 0.7978845608028654), k = SIMD8<Float>(repeating: 0.044715)
        let half = SIMD8<Float>(repeating: 0.5), one = SIMD8<Float>(repeating: 1), two = SIMD8<Float>(repeating: 2)
        var i = 0
        while i + 8 <= n {
            let x = load8(gate + i)
            let u = c * (x + k * x * x * x)
            // tanh(u) = 1 − 2 / (e^{2u} + 1); saturates correctly when e^{2u} over- or underflows.
            let t = one - two / (exp(u + u) + one)
            store8(gate + i, half * x * (one + t) * load8(up + i))
            i += 8
        }
        while i < n {
            let x = gate[i]
            gate[i] = 0.5 * x * (1 + tanhf(0.7978845608028654 * (x + 0.044715 * x * x * x))) * up[i]
            i += 1
        }
    }

    /// `gate = silu(gate) · up` over n values, with silu(x) = x / (1 + e^−x) (the Llama family's
    /// SwiGLU feed-forward).
    public static func siluGate(_ gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count n: Int) {
        let one = SIMD8<Float>(repeating: 1)
        var i = 0
        while i + 8 <= n {
            let x = load8(gate + i)
            store8(gate + i, x / (one + exp(-x)) * load8(up + i))
            i += 8
        }
        while i < n {
            let x = gate[i]
            gate[i] = x / (1 + expf(-x)) * up[i]
            i += 1
        }
    }

    /// `y[r] += bias` for each of `rows` rows of `n` values (the projection biases of Qwen2).
    public static func addBias(_ bias: UnsafePointer<Float>, rows: Int, n: Int, into y: UnsafeMutablePointer<Float>) {
        for r in 0..<rows { add(bias, into: y + r * n, count: n) }
    }

    /// e^x for 8 lanes: range reduction x = n·ln2 + r (|r| ≤ ln2/2), a degree-6 Taylor polynomial
    /// for e^r, and 2^n assembled in the exponent bits. Relative error below 3e-7; inputs are clamped
    /// to [−87.3, 88.3] so that 2^n stays a normal float (e^−87.3 ≈ 1.2e−38, e^88.3 ≈ 2.2e38).
    /// The polynomial's Horner steps are `addingProduct`, which the release build makes `vfmadd` here
    /// (checked in the assembly; attention's softmax spent 14% less time in it than with `*` and `+`).
    @inline(__always)
    public static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let clamped = lanewiseMin(lanewiseMax(x, SIMD8(repeating: -87.3)), SIMD8(repeating: 88.3))
        // x·log2(e) + 1.5·2^23: the addition rounds to the integer n, held in the low mantissa bits.
        let t = clamped * SIMD8(repeating: 1.4426950408889634) + SIMD8(repeating: 12_582_912)
        let ni = unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000
        let n = floats(ni)
        // ln 2 in two parts, so that n·ln2_hi is exact.
        let r = clamped - n * SIMD8(repeating: 0.693145751953125) - n * SIMD8(repeating: 1.428606765330187e-06)
        var p = SIMD8<Float>(repeating: 1.0 / 120).addingProduct(r, SIMD8(repeating: 1.0 / 720))
        p = SIMD8<Float>(repeating: 1.0 / 24).addingProduct(p, r)
        p = SIMD8<Float>(repeating: 1.0 / 6).addingProduct(p, r)
        p = SIMD8<Float>(repeating: 0.5).addingProduct(p, r)
        p = SIMD8<Float>(repeating: 1).addingProduct(p, r)
        p = SIMD8<Float>(repeating: 1).addingProduct(p, r)
        return p * unsafeBitCast((ni &+ 127) &<< 23, to: SIMD8<Float>.self)
    }
}

import Foundation
