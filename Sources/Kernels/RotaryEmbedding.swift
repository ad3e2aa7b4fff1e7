import Foundation

/// Rotary position embedding in the NEOX layout (llama.cpp's name for rotating the pairs
/// (v[k], v[k + d/2])), which Gemma, Qwen2 and Phi-3 GGUFs use. Angles are computed in Double
/// (position · base^(−2k/d) · scale) because long-context runs reach positions where a float product
/// loses the low bits.
public struct RotaryEmbedding: Sendable, Equatable {
    /// Rotated dimensions (the leading `dimensions` of each head vector; llama.cpp's n_rot).
    public let dimensions: Int
    public let base: Double
    /// Linear position scaling (llama.cpp's freq_scale = 1 / rope.scaling.factor).
    public let scale: Double
    private let inverseFrequencies: [Double]

    public static func == (a: RotaryEmbedding, b: RotaryEmbedding) -> Bool {
        a.dimensions == b.dimensions && a.base == b.base && a.scale == b.scale
    }

    public init(dimensions: Int, base: Double, scale: Double = 1) {
        precondition(dimensions % 2 == 0, "rotary dimensions must be even")
        self.dimensions = dimensions
        self.base = base
        self.scale = scale
        inverseFrequencies = (0..<(dimensions / 2)).map { k in Foundation.pow(base, -2 * Double(k) / Double(dimensions)) }
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
        }
    }
}
