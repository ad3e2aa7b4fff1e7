import XCTest
import GGUF
import GGUFTestSupport

/// Each test picks integer codes and scales, encodes them with the test's own block encoder, and checks
/// that `Dequantize.row` returns the value the format defines for those codes (engine-spec §2).
final class DequantizeTests: XCTestCase {
    var rng = SeededGenerator(seed: 42)

    func half() -> Float16 { Float16(Float.random(in: -0.05...0.05, using: &rng)) }
    func codes(_ n: Int, _ range: ClosedRange<UInt8>) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: range, using: &rng) } }

    func decode(_ type: GGMLType, _ bytes: [UInt8], count: Int) -> [Float] {
        XCTAssertEqual(bytes.count, type.rowBytes(count), "encoder produced the wrong block size for \(type)")
        var out = [Float](repeating: .nan, count: count)
        bytes.withUnsafeBytes { Dequantize.row(type, $0.baseAddress!, count: count, into: &out) }
        return out
    }

    func assertClose(_ got: [Float], _ want: [Float], _ type: GGMLType, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, file: file, line: line)
        for i in 0..<min(got.count, want.count) where abs(got[i] - want[i]) > 1e-6 * max(1, abs(want[i])) {
            XCTFail("\(type) element \(i): got \(got[i]), want \(want[i])", file: file, line: line)
            return
        }
    }

    func testQ8_0() {
        var bytes: [UInt8] = [], want: [Float] = []
        for _ in 0..<3 {
            let d = half(), q = (0..<32).map { _ in Int8.random(in: -128...127, using: &rng) }
            bytes += BlockEncoder.q8_0(d: d, q: q)
            want += q.map { Float(d) * Float($0) }
        }
        assertClose(decode(.q8_0, bytes, count: 96), want, .q8_0)
    }

    func testQ4_0() {
        var bytes: [UInt8] = [], want: [Float] = []
        for _ in 0..<3 {
            let d = half(), q = codes(32, 0...15)
            bytes += BlockEncoder.q4_0(d: d, q: q)
            want += q.map { Float(d) * Float(Int($0) - 8) }
        }
        assertClose(decode(.q4_0, bytes, count: 96), want, .q4_0)
    }

    func testQ4_1() {
        var bytes: [UInt8] = [], want: [Float] = []
        for _ in 0..<3 {
            let d = half(), m = half(), q = codes(32, 0...15)
            bytes += BlockEncoder.q4_1(d: d, m: m, q: q)
            want += q.map { Float(d) * Float($0) + Float(m) }
        }
        assertClose(decode(.q4_1, bytes, count: 96), want, .q4_1)
    }

    func testQ5_0() {
        var bytes: [UInt8] = [], want: [Float] = []
        for _ in 0..<3 {
            let d = half(), q = codes(32, 0...31)
            bytes += BlockEncoder.q5_0(d: d, q: q)
            want += q.map { Float(d) * Float(Int($0) - 16) }
        }
        assertClose(decode(.q5_0, bytes, count: 96), want, .q5_0)
    }

    /// Re-encoding Q5_0 as Q8_0 keeps every value bit for bit, codes 0 and 31 included.
    func testQ5_0ReencodedAsQ8_0KeepsEveryValue() {
        var bytes: [UInt8] = []
        for block in 0..<4 {
            var q = codes(32, 0...31)
            if block == 0 { q[0] = 0; q[17] = 31; q[31] = 16 }
            bytes += BlockEncoder.q5_0(d: half(), q: q)
        }
        var reencoded = [UInt8](repeating: 0, count: GGMLType.q8_0.rowBytes(128))
        bytes.withUnsafeBytes { src in
            reencoded.withUnsafeMutableBytes { Reencode.q5_0ToQ8_0(src.baseAddress!, blocks: 4, into: $0.baseAddress!) }
        }
        let before = decode(.q5_0, bytes, count: 128), after = decode(.q8_0, reencoded, count: 128)
        XCTAssertEqual(before.map(\.bitPattern), after.map(\.bitPattern))
    }

    /// Re-encoding Q6_K as int8 codes with one scale per 16 elements keeps every value bit for bit,
    /// across the whole code range (0 and 63 included) and signed scales.
    func testQ6_KReencodedAsInt8HoldsTheSameValues() {
        var bytes: [UInt8] = []
        for block in 0..<3 {
            var q = codes(256, 0...63)
            if block == 0 { q[0] = 0; q[129] = 63; q[255] = 32 }
            let scales = (0..<16).map { g in Int8(truncatingIfNeeded: (g * 37 + block * 11) % 256 - 128) }
            bytes += BlockEncoder.q6_K(d: half(), scales: scales, q: q)
        }
        var codes8 = [Int8](repeating: 0, count: 768), scales = [Float](repeating: 0, count: 48)
        bytes.withUnsafeBytes { src in
            codes8.withUnsafeMutableBufferPointer { c in
                scales.withUnsafeMutableBufferPointer { Reencode.q6_KToInt8(src.baseAddress!, blocks: 3, codes: c.baseAddress!, scales: $0.baseAddress!) }
            }
        }
        let before = decode(.q6_K, bytes, count: 768)
        let after = (0..<768).map { scales[$0 / 16] * Float(codes8[$0]) }
        XCTAssertEqual(before.map(\.bitPattern), after.map(\.bitPattern))
        XCTAssertEqual(codes8.min(), -32)
        XCTAssertEqual(codes8.max(), 31)
    }

    func testQ5_1() {
        var bytes: [UInt8] = [], want: [Float] = []
        for _ in 0..<3 {
            let d = half(), m = half(), q = codes(32, 0...31)
            bytes += BlockEncoder.q5_1(d: d, m: m, q: q)
            want += q.map { Float(d) * Float($0) + Float(m) }
        }
        assertClose(decode(.q5_1, bytes, count: 96), want, .q5_1)
    }

    func testQ4_K() {
        var bytes: [UInt8] = [], want: [Float] = []
        for _ in 0..<2 {
            let d = half(), dmin = half(), sc = codes(8, 0...63), m = codes(8, 0...63), q = codes(256, 0...15)
            bytes += BlockEncoder.q4_K(d: d, dmin: dmin, sc: sc, m: m, q: q)
            want += (0..<256).map { i in Float(d) * Float(sc[i / 32]) * Float(q[i]) - Float(dmin) * Float(m[i / 32]) }
        }
        assertClose(decode(.q4_K, bytes, count: 512), want, .q4_K)
    }

    /// The high bits of sub-blocks 4–7 must come from the right bytes (engine-spec pitfall 5): a min
    /// whose top bits are set while the matching scale's are clear catches the `s[j−4]` bug.
    func testQ4_KHighScaleBitsComeFromTheRightBytes() {
        let sc: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8], m: [UInt8] = [0, 0, 0, 0, 63, 48, 32, 16]
        let q = [UInt8](repeating: 1, count: 256)
        let got = decode(.q4_K, BlockEncoder.q4_K(d: 1, dmin: 1, sc: sc, m: m, q: q), count: 256)
        for j in 0..<8 { XCTAssertEqual(got[32 * j], Float(sc[j]) - Float(m[j]), "sub-block \(j)") }
    }

    func testQ5_K() {
        var bytes: [UInt8] = [], want: [Float] = []
        for _ in 0..<2 {
            let d = half(), dmin = half(), sc = codes(8, 0...63), m = codes(8, 0...63), q = codes(256, 0...31)
            bytes += BlockEncoder.q5_K(d: d, dmin: dmin, sc: sc, m: m, q: q)
            want += (0..<256).map { i in Float(d) * Float(sc[i / 32]) * Float(q[i]) - Float(dmin) * Float(m[i / 32]) }
        }
        assertClose(decode(.q5_K, bytes, count: 512), want, .q5_K)
    }

    func testQ6_K() {
        var bytes: [UInt8] = [], want: [Float] = []
        for _ in 0..<2 {
            let d = half(), scales = (0..<16).map { _ in Int8.random(in: -128...127, using: &rng) }, q = codes(256, 0...63)
            bytes += BlockEncoder.q6_K(d: d, scales: scales, q: q)
            want += (0..<256).map { i in Float(d) * Float(scales[i / 16]) * Float(Int(q[i]) - 32) }
        }
        assertClose(decode(.q6_K, bytes, count: 512), want, .q6_K)
    }

    func testQ8_K() {
        let d: Float = 0.0123, q = (0..<256).map { _ in Int8.random(in: -127...127, using: &rng) }
        assertClose(decode(.q8_K, BlockEncoder.q8_K(d: d, q: q), count: 256), q.map { d * Float($0) }, .q8_K)
    }

    func testF16IncludingSubnormalsAndExtremes() {
        let values: [Float16] = [0, -0, 1, -2.5, 65504, -65504, Float16(bitPattern: 0x0001), Float16(bitPattern: 0x03FF), .infinity]
        let bytes = values.flatMap { le($0.bitPattern) }
        let got = decode(.f16, bytes, count: values.count)
        XCTAssertEqual(got[6], Float(sign: .plus, exponent: -24, significand: 1), "smallest subnormal is 2^-24")
        XCTAssertEqual(got[7], 1023 * Float(sign: .plus, exponent: -24, significand: 1))
        XCTAssertEqual(got[4], 65504)
        XCTAssertEqual(got[8], .infinity)
        XCTAssertEqual(Array(got[0..<4]), [0, 0, 1, -2.5])
    }

    func testBF16IsTheTopHalfOfAnF32() {
        let floats: [Float] = [1, -3.140625, Float(bitPattern: 0x7149_0000), 0]
        let bytes = floats.flatMap { le(UInt16($0.bitPattern >> 16)) }
        XCTAssertEqual(decode(.bf16, bytes, count: 4), floats)
    }

    func testF32IsCopied() {
        let floats: [Float] = [1, -2, .pi]
        XCTAssertEqual(decode(.f32, floats.flatMap { le($0.bitPattern) }, count: 3), floats)
    }

    func testTypeTable() {
        XCTAssertEqual(GGMLType.q4_K.rowBytes(1024), 4 * 144)
        XCTAssertEqual(GGMLType.q5_0.rowBytes(640), 20 * 22)
        XCTAssertEqual(GGMLType.q6_K.blockBytes, 210)
        XCTAssertEqual(GGMLType(rawValue: 30), .bf16)
        XCTAssertNil(GGMLType(rawValue: 4), "ids 4 and 5 are retired")
        XCTAssertEqual("\(GGMLType.q4_K)", "Q4_K")
        XCTAssertFalse(GGMLType.q2_K.isSupported)
    }
}
