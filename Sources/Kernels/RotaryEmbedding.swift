import Foundation

/// Rotary position embedding. Angles are computed in Double (position · base^(−2k/d) · scale / f_k)
/// because long-context runs reach positions where a float product loses the low bits.
///
/// Which elements form a rotated pair is the architecture's choice, and a wrong one still produces
/// plausible text (llama-family-spec §3.6), so it is named explicitly:
/// - `.halves` (llama.cpp's NEOX mode) rotates (v[k], v[k + d/2]): Gemma, Qwen2, Phi-3.
/// - `.adjacentPairs` (llama.cpp's NORM mode) rotates (v[2k], v[2k + 1]): `llama` GGUFs, whose
///   converter permuted the Q/K rows so that HF's rotate-half pairs became adjacent.
public struct RotaryEmbedding: Sendable, Equatable {
    public enum Pairing: String, Sendable { case halves, adjacentPairs }

    /// Rotated dimensions (the leading `dimensions` of each head vector; llama.cpp's n_rot).
    public let dimensions: Int
    public let base: Double
    /// Linear position scaling (llama.cpp's freq_scale = 1 / rope.scaling.factor).
    public let scale: Double
    public let pairing: Pairing
    /// Per-pair divisors of the frequency (`rope_freqs.weight`, Llama 3.1's long-context scaling);
    /// empty when the model has none.
    public let frequencyFactors: [Double]
    private let inverseFrequencies: [Double]

    public static func == (a: RotaryEmbedding, b: RotaryEmbedding) -> Bool {
        a.dimensions == b.dimensions && a.base == b.base && a.scale == b.scale && a.pairing == b.pairing
            && a.frequencyFactors == b.frequencyFactors
    }

    public init(dimensions: Int, base: Double, scale: Double = 1, pairing: Pairing = .halves, frequencyFactors: [Double] = []) {
        precondition(dimensions % 2 == 0, "rotary dimensions must be even")
        precondition(frequencyFactors.isEmpty || frequencyFactors.count == dimensions / 2, "one frequency factor per rotated pair")
        self.dimensions = dimensions
        self.base = base
        self.scale = scale
        self.pairing = pairing
        self.frequencyFactors = frequencyFactors
        inverseFrequencies = (0..<(dimensions / 2)).map { k in
            Foundation.pow(base, -2 * Double(k) / Double(dimensions)) / (frequencyFactors.isEmpty ? 1 : frequencyFactors[k])
        }
    }

    /// Cosines and sines for `positions`: `table` must hold `positions.count · dimensions` floats; row
    /// i is [cos θ_0 … cos θ_(d/2−1), sin θ_0 … sin θ_(d/2−1)] for position i.
    public func fillTable(positions: UnsafeBufferPointer<Int>, into table: UnsafeMutablePointer<Float>) {
        let half = dimensions / 2
        for (i, p) in positions.enumerated() {
            let row = table + i * dimensions
            let position = Double(p) * scale
            for k in 0..<half {
                let angle = position * inverseFrequencies[k]
                row[k] = Float(Foundation.cos(angle))
                row[half + k] = Float(Foundation.sin(angle))
            }
        }
    }

    /// Rotates `vectorsPerPosition` head vectors (each `headStride` floats apart) for each of
    /// `positionCount` positions (each `positionStride` floats apart), using a table from `fillTable`.
    public func apply(_ x: UnsafeMutablePointer<Float>, positionCount: Int, positionStride: Int,
                      vectorsPerPosition: Int, headStride: Int, table: UnsafePointer<Float>) {
        let half = dimensions / 2
        for t in 0..<positionCount {
            let cosines = table + t * dimensions, sines = cosines + half
            for h in 0..<vectorsPerPosition {
                let v = x + t * positionStride + h * headStride
                switch pairing {
                case .halves: Self.rotateHalves(v, half: half, cosines, sines)
                case .adjacentPairs: Self.rotateAdjacentPairs(v, half: half, cosines, sines)
                }
            }
        }
    }

    @inline(__always)
    private static func rotateHalves(_ v: UnsafeMutablePointer<Float>, half: Int, _ cosines: UnsafePointer<Float>, _ sines: UnsafePointer<Float>) {
        var k = 0
        while k + 8 <= half {
            let a = load8(v + k), b = load8(v + half + k)
            let c = load8(cosines + k), s = load8(sines + k)
            store8(v + k, a * c - b * s)
            store8(v + half + k, a * s + b * c)
            k += 8
        }
        while k < half {
            let a = v[k], b = v[half + k]
            v[k] = a * cosines[k] - b * sines[k]
            v[half + k] = a * sines[k] + b * cosines[k]
            k += 1
        }
    }

    @inline(__always)
    private static func rotateAdjacentPairs(_ v: UnsafeMutablePointer<Float>, half: Int, _ cosines: UnsafePointer<Float>, _ sines: UnsafePointer<Float>) {
        var k = 0
        while k + 8 <= half {
            // 8 pairs: split into even (a) and odd (b) lanes, rotate, interleave back.
            let lo = load8(v + 2 * k), hi = load8(v + 2 * k + 8)
            let a = SIMD8<Float>(lo[0], lo[2], lo[4], lo[6], hi[0], hi[2], hi[4], hi[6])
            let b = SIMD8<Float>(lo[1], lo[3], lo[5], lo[7], hi[1], hi[3], hi[5], hi[7])
            let c = load8(cosines + k), s = load8(sines + k)
            let ra = a * c - b * s, rb = a * s + b * c
            store8(v + 2 * k, SIMD8(ra[0], rb[0], ra[1], rb[1], ra[2], rb[2], ra[3], rb[3]))
            store8(v + 2 * k + 8, SIMD8(ra[4], rb[4], ra[5], rb[5], ra[6], rb[6], ra[7], rb[7]))
            k += 8
        }
        while k < half {
            let a = v[2 * k], b = v[2 * k + 1]
            v[2 * k] = a * cosines[k] - b * sines[k]
            v[2 * k + 1] = a * sines[k] + b * cosines[k]
            k += 1
        }
    }
}
