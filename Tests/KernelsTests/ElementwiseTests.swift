import XCTest
import Foundation
import GGUFTestSupport
import Kernels

final class ElementwiseTests: XCTestCase {
    func testExpAcrossTheFloatRange() {
        var worst = 0.0
        var x: Float = -87
        while x < 88 {
            let v = SIMD8<Float>((0..<8).map { x + Float($0) * 0.0013 })
            let e = Elementwise.exp(v)
            for i in 0..<8 {
                let want = Foundation.exp(Double(v[i]))
                worst = max(worst, abs(Double(e[i]) - want) / want)
            }
            x += 0.0371
        }
        XCTAssertLessThan(worst, 5e-7)
        let extremes = Elementwise.exp(SIMD8<Float>(-1000, 1000, -.infinity, 0, 1, -1, 88, -87))
        XCTAssertGreaterThan(extremes[0], 0)
        XCTAssertTrue(extremes[1].isFinite)
        XCTAssertEqual(extremes[2], extremes[0])
        XCTAssertEqual(extremes[3], 1)
        XCTAssertEqual(extremes[4], Float(M_E), accuracy: 1e-6)
    }

    func testGELUGateMatchesTheTanhFormula() {
        var rng = SeededGenerator(seed: 5)
        let n = 37
        let gate = (0..<n).map { _ in Float.random(in: -12...12, using: &rng) }
        let up = (0..<n).map { _ in Float.random(in: -2...2, using: &rng) }
        var out = gate
        out.withUnsafeMutableBufferPointer { Elementwise.geluGate($0.baseAddress!, up: up, count: n) }
        for i in 0..<n {
            let x = Double(gate[i])
            let want = 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))) * Double(up[i])
            XCTAssertEqual(Double(out[i]), want, accuracy: 1e-5 * max(1, abs(want)), "x = \(x)")
        }
    }

    func testRMSNorm() {
        let x: [Float] = (0..<20).map { Float($0) - 7.5 }
        let w: [Float] = (0..<20).map { 1 + Float($0) * 0.1 }
        var out = [Float](repeating: 0, count: 40)
        let twoRows = x + x.map { $0 * 3 }
        twoRows.withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer {
            Elementwise.rmsNorm(xp.baseAddress!, rows: 2, n: 20, weight: w, eps: 1e-6, into: $0.baseAddress!)
        } }
        let rms = (x.reduce(0.0) { $0 + Double($1 * $1) } / 20 + 1e-6).squareRoot()
        for i in 0..<20 {
            XCTAssertEqual(Double(out[i]), Double(x[i]) / rms * Double(w[i]), accuracy: 1e-5)
            XCTAssertEqual(out[20 + i], out[i], accuracy: 1e-5, "RMSNorm is scale invariant")
        }
    }

    func testNeoxRotationRotatesHalfSplitPairs() {
        let rope = RotaryEmbedding(dimensions: 32, base: 10_000)
        let positions = [0, 5, 1_000_003]
        var table = [Float](repeating: 0, count: positions.count * 32)
        positions.withUnsafeBufferPointer { p in table.withUnsafeMutableBufferPointer { rope.fillTable(positions: p, into: $0.baseAddress!) } }
        var rng = SeededGenerator(seed: 9)
        let original = (0..<(3 * 2 * 32)).map { _ in Float.random(in: -1...1, using: &rng) }
        var x = original
        x.withUnsafeMutableBufferPointer {
            rope.apply($0.baseAddress!, positionCount: 3, positionStride: 64, vectorsPerPosition: 2, headStride: 32, table: table)
        }
        for (t, p) in positions.enumerated() { for h in 0..<2 { for k in 0..<16 {
            let angle = Double(p) * pow(10_000, -2 * Double(k) / 32)
            let a = Double(original[t * 64 + h * 32 + k]), b = Double(original[t * 64 + h * 32 + 16 + k])
            XCTAssertEqual(Double(x[t * 64 + h * 32 + k]), a * cos(angle) - b * sin(angle), accuracy: 1e-5)
            XCTAssertEqual(Double(x[t * 64 + h * 32 + 16 + k]), a * sin(angle) + b * cos(angle), accuracy: 1e-5)
        } } }
    }

    func testAdjacentPairRotationWithFrequencyFactors() {
        let factors = (0..<16).map { 1 + Double($0) / 4 }
        let rope = RotaryEmbedding(dimensions: 32, base: 10_000, pairing: .adjacentPairs, frequencyFactors: factors)
        let positions = [0, 7, 500_001]
        var table = [Float](repeating: 0, count: positions.count * 32)
        positions.withUnsafeBufferPointer { p in table.withUnsafeMutableBufferPointer { rope.fillTable(positions: p, into: $0.baseAddress!) } }
        var rng = SeededGenerator(seed: 10)
        // Heads of 40 values, 32 of them rotated: the last 8 must stay as they are.
        let original = (0..<(3 * 2 * 40)).map { _ in Float.random(in: -1...1, using: &rng) }
        var x = original
        x.withUnsafeMutableBufferPointer {
            rope.apply($0.baseAddress!, positionCount: 3, positionStride: 80, vectorsPerPosition: 2, headStride: 40, table: table)
        }
        for (t, p) in positions.enumerated() { for h in 0..<2 {
            let base = t * 80 + h * 40
            for k in 0..<16 {
                let angle = Double(p) * pow(10_000, -2 * Double(k) / 32) / factors[k]
                let a = Double(original[base + 2 * k]), b = Double(original[base + 2 * k + 1])
                XCTAssertEqual(Double(x[base + 2 * k]), a * cos(angle) - b * sin(angle), accuracy: 1e-5)
                XCTAssertEqual(Double(x[base + 2 * k + 1]), a * sin(angle) + b * cos(angle), accuracy: 1e-5)
            }
            for k in 32..<40 { XCTAssertEqual(x[base + k], original[base + k]) }
        } }
    }

    func testSiLUGateAndBias() {
        var rng = SeededGenerator(seed: 11)
        let gate = (0..<37).map { _ in Float.random(in: -30...30, using: &rng) }
        let up = (0..<37).map { _ in Float.random(in: -2...2, using: &rng) }
        var out = gate
        out.withUnsafeMutableBufferPointer { g in up.withUnsafeBufferPointer { Elementwise.siluGate(g.baseAddress!, up: $0.baseAddress!, count: 37) } }
        for i in 0..<37 {
            let x = Double(gate[i])
            XCTAssertEqual(Double(out[i]), x / (1 + exp(-x)) * Double(up[i]), accuracy: 1e-5 * max(1, abs(x)))
        }
        var rows = [Float](repeating: 1, count: 3 * 10)
        let bias = (0..<10).map(Float.init)
        rows.withUnsafeMutableBufferPointer { r in bias.withUnsafeBufferPointer { Elementwise.addBias($0.baseAddress!, rows: 3, n: 10, into: r.baseAddress!) } }
        XCTAssertEqual(rows, (0..<30).map { Float(1 + $0 % 10) })
    }
}
