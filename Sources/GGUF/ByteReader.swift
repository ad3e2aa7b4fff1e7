/// A cursor over the mapped file that checks every read against the end of the buffer, so a truncated
/// or corrupt file becomes a `GGUFError` instead of a crash.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let path: String
    private(set) var offset: Int = 0

    init(bytes: UnsafeRawBufferPointer, path: String) {
        self.bytes = bytes
        self.path = path
    }

    private func need(_ count: Int, _ what: @autoclosure () -> String) throws {
        if count < 0 || offset > bytes.count - count {
            throw GGUFError.truncated(path: path, offset: bytes.count, needed: what())
        }
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        try need(MemoryLayout<T>.size, what())
        let value = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: value)
    }

    mutating func readFloat(_ what: @autoclosure () -> String) throws -> Float {
        Float(bitPattern: try read(UInt32.self, what()))
    }

    mutating func readDouble(_ what: @autoclosure () -> String) throws -> Double {
        Double(bitPattern: try read(UInt64.self, what()))
    }

    /// Reads a u64 count and checks that at least `count * minimumElementBytes` bytes remain, which
    /// rejects absurd counts in corrupt files before anything is allocated for them.
    mutating func readCount(_ what: @autoclosure () -> String, minimumElementBytes: Int) throws -> Int {
        let start = offset
        let raw = try read(UInt64.self, what())
        let remaining = bytes.count - offset
        guard raw <= UInt64(Int.max), minimumElementBytes == 0 || Int(raw) <= remaining / minimumElementBytes else {
            throw GGUFError.malformed(path: path, offset: start, reason: "\(what()) count \(raw) does not fit in the file")
        }
        return Int(raw)
    }

    mutating func readString(_ what: @autoclosure () -> String) throws -> String {
        let length = try readCount("length of \(what())", minimumElementBytes: 1)
        try need(length, what())
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)])
        offset += length
        return String(decoding: slice, as: UTF8.self)
    }

    mutating func skip(to newOffset: Int, _ what: @autoclosure () -> String) throws {
        guard newOffset <= bytes.count else {
            throw GGUFError.truncated(path: path, offset: bytes.count, needed: what())
        }
        offset = newOffset
    }
}
