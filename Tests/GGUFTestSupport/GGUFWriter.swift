import Foundation

/// Writes GGUF v3 files for tests, independently of the reader under test: values are encoded by
/// hand from the format description (engine-spec §1), so a reader bug cannot hide behind a writer
/// that shares its code.
public struct GGUFWriter {
    public enum Value {
        case u8(UInt8), i8(Int8), u16(UInt16), i16(Int16), u32(UInt32), i32(Int32), u64(UInt64), i64(Int64)
        case f32(Float), f64(Double), bool(Bool), string(String)
        /// Element type id and elements (which must all have that type).
        case array(UInt32, [Value])

        var typeID: UInt32 {
            switch self {
            case .u8: return 0
            case .i8: return 1
            case .u16: return 2
            case .i16: return 3
            case .u32: return 4
            case .i32: return 5
            case .f32: return 6
            case .bool: return 7
            case .string: return 8
            case .array: return 9
            case .u64: return 10
            case .i64: return 11
            case .f64: return 12
            }
        }
    }

    public struct Tensor {
        public var name: String
        public var shape: [Int]
        public var typeID: UInt32
        public var data: [UInt8]
        public init(name: String, shape: [Int], typeID: UInt32, data: [UInt8]) {
            self.name = name; self.shape = shape; self.typeID = typeID; self.data = data
        }
    }

    public var version: UInt32 = 3
    public var magic: [UInt8] = Array("GGUF".utf8)
    public var metadata: [(String, Value)] = []
    public var tensors: [Tensor] = []
    public var alignment = 32

    public init() {}

    public mutating func add(_ key: String, _ value: Value) { metadata.append((key, value)) }

    public mutating func addTensor(_ name: String, shape: [Int], typeID: UInt32, data: [UInt8]) {
        tensors.append(Tensor(name: name, shape: shape, typeID: typeID, data: data))
    }

    public mutating func addF32Tensor(_ name: String, shape: [Int], values: [Float]) {
        addTensor(name, shape: shape, typeID: 0, data: values.flatMap { le($0.bitPattern) })
    }

    public func bytes() -> [UInt8] {
        var out = magic
        out += le(version)
        out += le(UInt64(tensors.count))
        out += le(UInt64(metadata.count))
        for (key, value) in metadata {
            out += string(key)
            out += le(value.typeID)
            out += encode(value)
        }
        var offset = 0
        var offsets: [Int] = []
        for t in tensors {
            offsets.append(offset)
            offset = (offset + t.data.count + alignment - 1) / alignment * alignment
        }
        for (t, off) in zip(tensors, offsets) {
            out += string(t.name)
            out += le(UInt32(t.shape.count))
            // Bit patterns, so that a test can write the negative sizes a corrupt file holds.
            for n in t.shape { out += le(UInt64(bitPattern: Int64(n))) }
            out += le(t.typeID)
            out += le(UInt64(off))
        }
        while out.count % alignment != 0 { out.append(0) }
        let dataStart = out.count
        for (t, off) in zip(tensors, offsets) {
            while out.count < dataStart + off { out.append(0) }
            out += t.data
        }
        return out
    }

    @discardableResult
    public func write(to url: URL) throws -> URL {
        try Data(bytes()).write(to: url)
        return url
    }

    private func encode(_ value: Value) -> [UInt8] {
        switch value {
        case let .u8(v): return [v]
        case let .i8(v): return [UInt8(bitPattern: v)]
        case let .u16(v): return le(v)
        case let .i16(v): return le(UInt16(bitPattern: v))
        case let .u32(v): return le(v)
        case let .i32(v): return le(UInt32(bitPattern: v))
        case let .u64(v): return le(v)
        case let .i64(v): return le(UInt64(bitPattern: v))
        case let .f32(v): return le(v.bitPattern)
        case let .f64(v): return le(v.bitPattern)
        case let .bool(v): return [v ? 1 : 0]
        case let .string(s): return string(s)
        case let .array(type, values): return le(type) + le(UInt64(values.count)) + values.flatMap(encode)
        }
    }

    private func string(_ s: String) -> [UInt8] { le(UInt64(s.utf8.count)) + Array(s.utf8) }
}

/// Little-endian bytes of an integer.
public func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
    (0..<(T.bitWidth / 8)).map { UInt8(truncatingIfNeeded: v >> ($0 * 8)) }
}

/// A fresh temporary directory for one test.
public func makeTemporaryDirectory(_ name: String = "lmbench-test") throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
