/// Lossless re-encodings between block formats, for kernels that read one format faster than
/// another.
public enum Reencode {
    /// Q5_0 blocks as Q8_0 blocks holding the same values: the same f16 scale d, and each 5-bit
    /// code q as the signed byte q − 16 (−16…15), so d·(q − 16) is unchanged. 22 bytes become 34.
    public static func q5_0ToQ8_0(_ src: UnsafeRawPointer, blocks: Int, into dst: UnsafeMutableRawPointer) {
        for b in 0..<blocks {
            let from = src + GGMLType.q5_0.blockBytes * b, to = dst + GGMLType.q8_0.blockBytes * b
            to.copyMemory(from: from, byteCount: 2)
            let qh = UInt32(littleEndian: from.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
            for k in 0..<16 {
                let byte = from.load(fromByteOffset: 6 + k, as: UInt8.self)
                let lo = Int8(byte & 15) | Int8((qh >> UInt32(k)) & 1) << 4
                let hi = Int8(byte >> 4) | Int8((qh >> UInt32(k + 16)) & 1) << 4
                to.storeBytes(of: lo - 16, toByteOffset: 2 + k, as: Int8.self)
                to.storeBytes(of: hi - 16, toByteOffset: 18 + k, as: Int8.self)
            }
        }
    }

    /// Q6_K blocks as signed bytes q − 32 (−32…31), one per element, and one f32 scale d·sc per 16
    /// elements: d·sc·(q − 32) is computed exactly as `Dequantize` does ((d·sc) is exact in f32: an
    /// 11-bit mantissa times a byte). 210 bytes become 256 + 64.
    public static func q6_KToInt8(_ src: UnsafeRawPointer, blocks: Int, codes: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>) {
        for b in 0..<blocks {
            let from = src + GGMLType.q6_K.blockBytes * b
            let d = Dequantize.loadHalf(from, 208)
            for g in 0..<16 { scales[16 * b + g] = d * Float(from.load(fromByteOffset: 192 + g, as: Int8.self)) }
            Dequantize.q6_KCodes(from, into: codes + 256 * b)
        }
    }
}
