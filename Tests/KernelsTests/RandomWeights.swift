import GGUF
import GGUFTestSupport
import Kernels

/// Random but valid quantized rows of every supported type, built with the test block encoders.
struct RandomWeights {
    var rng: SeededGenerator

    init(seed: UInt64) { rng = SeededGenerator(seed: seed) }

    mutating func half(_ scale: Float = 0.02) -> Float16 { Float16(Float.random(in: -scale...scale, using: &rng)) }
    mutating func codes(_ n: Int, _ range: ClosedRange<UInt8>) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: range, using: &rng) } }

    mutating func block(_ type: GGMLType) -> [UInt8] {
        switch type {
        case .q8_0: return BlockEncoder.q8_0(d: half(), q: (0..<32).map { _ in Int8.random(in: -128...127, using: &rng) })
        case .q4_0: return BlockEncoder.q4_0(d: half(), q: codes(32, 0...15))
        case .q4_1: return BlockEncoder.q4_1(d: half(), m: half(), q: codes(32, 0...15))
        case .q5_0: return BlockEncoder.q5_0(d: half(), q: codes(32, 0...31))
        case .q5_1: return BlockEncoder.q5_1(d: half(), m: half(), q: codes(32, 0...31))
        case .q4_K: return BlockEncoder.q4_K(d: half(0.002), dmin: half(0.002), sc: codes(8, 0...63), m: codes(8, 0...63), q: codes(256, 0...15))
        case .q5_K: return BlockEncoder.q5_K(d: half(0.002), dmin: half(0.002), sc: codes(8, 0...63), m: codes(8, 0...63), q: codes(256, 0...31))
        case .q6_K: return BlockEncoder.q6_K(d: half(0.002), scales: (0..<16).map { _ in Int8.random(in: -128...127, using: &rng) }, q: codes(256, 0...63))
        case .q8_K: return BlockEncoder.q8_K(d: 0.001, q: (0..<256).map { _ in Int8.random(in: -127...127, using: &rng) })
        case .f32: return le(Float.random(in: -1...1, using: &rng).bitPattern)
        case .f16: return le(Float16(Float.random(in: -1...1, using: &rng)).bitPattern)
        case .bf16: return le(UInt16(Float.random(in: -1...1, using: &rng).bitPattern >> 16))
        default: fatalError("no encoder for \(type)")
        }
    }

    /// A rows × cols matrix as owned bytes (kept alive by the caller).
    mutating func matrix(_ type: GGMLType, rows: Int, cols: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        for _ in 0..<(rows * cols / type.blockElements) { bytes += block(type) }
        return bytes
    }

    mutating func floats(_ n: Int, _ range: ClosedRange<Float> = -1...1) -> [Float] {
        (0..<n).map { _ in Float.random(in: range, using: &rng) }
    }
}

/// Runs `body` with a WeightMatrix over `bytes`.
func withMatrix<R>(_ bytes: [UInt8], _ type: GGMLType, rows: Int, cols: Int, _ body: (WeightMatrix) -> R) -> R {
    bytes.withUnsafeBytes { body(WeightMatrix(name: "w", type: type, rows: rows, cols: cols, data: $0.baseAddress!)) }
}

/// Dequantized rows, the reference every fast path is compared with.
func dequantized(_ w: WeightMatrix) -> [Float] {
    var out = [Float](repeating: 0, count: w.rows * w.cols)
    out.withUnsafeMutableBufferPointer { p in
        for r in 0..<w.rows { w.dequantizeRow(r, into: p.baseAddress! + r * w.cols) }
    }
    return out
}
