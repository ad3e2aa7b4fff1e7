/// Encoders for ggml quant blocks, written from the layout tables in engine-spec §2 (the inverse of
/// the decoder under test). Tests choose integer codes and scales, encode them, and compare the
/// library's dequantized output with the value the format defines for those codes.
public enum BlockEncoder {
    static func half(_ x: Float16) -> [UInt8] { le(x.bitPattern) }

    /// Q8_0: d, 32 signed codes.
    public static func q8_0(d: Float16, q: [Int8]) -> [UInt8] {
        precondition(q.count == 32)
        return half(d) + q.map { UInt8(bitPattern: $0) }
    }

    /// Q4_0: d, 32 codes in 0...15 (value d·(q−8)); element k<16 in the low nibble of byte k.
    public static func q4_0(d: Float16, q: [UInt8]) -> [UInt8] {
        precondition(q.count == 32)
        return half(d) + (0..<16).map { q[$0] | (q[$0 + 16] << 4) }
    }

    /// Q4_1: d, m, 32 codes in 0...15 (value d·q + m).
    public static func q4_1(d: Float16, m: Float16, q: [UInt8]) -> [UInt8] {
        precondition(q.count == 32)
        return half(d) + half(m) + (0..<16).map { q[$0] | (q[$0 + 16] << 4) }
    }

    /// Q5_0: d, 32 codes in 0...31 (value d·(q−16)); bit 4 of code k goes to bit k of qh.
    public static func q5_0(d: Float16, q: [UInt8]) -> [UInt8] {
        precondition(q.count == 32)
        var qh: UInt32 = 0
        for k in 0..<32 where q[k] & 16 != 0 { qh |= 1 << UInt32(k) }
        return half(d) + le(qh) + (0..<16).map { (q[$0] & 15) | ((q[$0 + 16] & 15) << 4) }
    }

    /// Q5_1: d, m, 32 codes in 0...31 (value d·q + m).
    public static func q5_1(d: Float16, m: Float16, q: [UInt8]) -> [UInt8] {
        precondition(q.count == 32)
        var qh: UInt32 = 0
        for k in 0..<32 where q[k] & 16 != 0 { qh |= 1 << UInt32(k) }
        return half(d) + half(m) + le(qh) + (0..<16).map { (q[$0] & 15) | ((q[$0 + 16] & 15) << 4) }
    }

    /// The 12-byte scale/min field shared by Q4_K and Q5_K: eight 6-bit scales and eight 6-bit mins.
    static func kScales(_ sc: [UInt8], _ m: [UInt8]) -> [UInt8] {
        var s = [UInt8](repeating: 0, count: 12)
        for j in 0..<4 {
            s[j] = (sc[j] & 63) | ((sc[j + 4] >> 4) << 6)
            s[j + 4] = (m[j] & 63) | ((m[j + 4] >> 4) << 6)
            s[j + 8] = (sc[j + 4] & 15) | ((m[j + 4] & 15) << 4)
        }
        return s
    }

    /// Q4_K: d, dmin, sub-block scales and mins (0...63), 256 codes in 0...15.
    /// Element i has value d·sc[i/32]·q[i] − dmin·m[i/32].
    public static func q4_K(d: Float16, dmin: Float16, sc: [UInt8], m: [UInt8], q: [UInt8]) -> [UInt8] {
        precondition(sc.count == 8 && m.count == 8 && q.count == 256)
        var qs = [UInt8](repeating: 0, count: 128)
        for c in 0..<4 {
            for l in 0..<32 { qs[32 * c + l] = q[64 * c + l] | (q[64 * c + 32 + l] << 4) }
        }
        return half(d) + half(dmin) + kScales(sc, m) + qs
    }

    /// Q5_K: like Q4_K with codes in 0...31; bit 4 of element 64c+l goes to bit 2c of qh[l], of
    /// element 64c+32+l to bit 2c+1.
    public static func q5_K(d: Float16, dmin: Float16, sc: [UInt8], m: [UInt8], q: [UInt8]) -> [UInt8] {
        precondition(sc.count == 8 && m.count == 8 && q.count == 256)
        var qs = [UInt8](repeating: 0, count: 128)
        var qh = [UInt8](repeating: 0, count: 32)
        for c in 0..<4 {
            for l in 0..<32 {
                let a = q[64 * c + l], b = q[64 * c + 32 + l]
                qs[32 * c + l] = (a & 15) | ((b & 15) << 4)
                if a & 16 != 0 { qh[l] |= 1 << UInt8(2 * c) }
                if b & 16 != 0 { qh[l] |= 1 << UInt8(2 * c + 1) }
            }
        }
        return half(d) + half(dmin) + kScales(sc, m) + qh + qs
    }

    /// Q6_K: 16 signed sub-block scales, 256 codes in 0...63; element i = d·scales[i/16]·(q[i]−32).
    /// Layout per engine-spec §2.3: ql (4 low bits, two outputs 64 apart per byte), qh (2 high bits,
    /// four outputs 32 apart per byte), scales, then d last.
    public static func q6_K(d: Float16, scales: [Int8], q: [UInt8]) -> [UInt8] {
        precondition(scales.count == 16 && q.count == 256)
        var ql = [UInt8](repeating: 0, count: 128)
        var qh = [UInt8](repeating: 0, count: 64)
        for h in 0..<2 {
            for l in 0..<32 {
                let base = 128 * h + l
                let q1 = q[base], q2 = q[base + 32], q3 = q[base + 64], q4 = q[base + 96]
                ql[64 * h + l] = (q1 & 15) | ((q3 & 15) << 4)
                ql[64 * h + l + 32] = (q2 & 15) | ((q4 & 15) << 4)
                qh[32 * h + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6)
            }
        }
        return ql + qh + scales.map { UInt8(bitPattern: $0) } + half(d)
    }

    /// Q8_K: f32 d, 256 signed codes, and the 16 sums of 16 codes.
    public static func q8_K(d: Float, q: [Int8]) -> [UInt8] {
        precondition(q.count == 256)
        let bsums = (0..<16).map { j in Int16(q[(16 * j)..<(16 * j + 16)].reduce(0) { $0 + Int($1) }) }
        return le(d.bitPattern) + q.map { UInt8(bitPattern: $0) } + bsums.flatMap { le(UInt16(bitPattern: $0)) }
    }
}

/// SplitMix64: a small deterministic generator so every test sees the same "random" data.
public struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
}
