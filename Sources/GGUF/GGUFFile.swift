#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One tensor of a GGUF file: its directory entry plus a view of its bytes in the mapped file.
public struct GGUFTensor: @unchecked Sendable {
    public let name: String
    /// `shape[0]` is the contiguous row length (ggml's ne[0]); PyTorch order is reversed.
    public let shape: [Int]
    public let type: GGMLType
    /// Offset from the start of the data section, as stored.
    public let relativeOffset: Int
    /// The tensor's bytes inside the mapping.
    public let data: UnsafeRawBufferPointer

    public var elementCount: Int { shape.reduce(1, *) }
    public var rowLength: Int { shape[0] }
    public var rowCount: Int { elementCount / shape[0] }
    public var rowBytes: Int { type.rowBytes(shape[0]) }
}

/// A GGUF (v2/v3) file mapped read-only into memory. Tensor data is never copied: `GGUFTensor.data`
/// points into the mapping, which lives as long as this object.
public final class GGUFFile: @unchecked Sendable {
    public static let defaultAlignment = 32

    public let path: String
    public let version: UInt32
    public let metadata: GGUFMetadata
    public let tensors: [GGUFTensor]
    public let alignment: Int
    public let dataStart: Int
    public let fileSize: Int
    private let tensorIndex: [String: Int]
    private let mapping: UnsafeMutableRawPointer?

    public init(path: String) throws {
        self.path = path
        // O_NONBLOCK: opening a FIFO (or a device) must not wait for a writer; such files are then
        // refused as not regular.
        let fd = open(path, O_RDONLY | O_NONBLOCK)
        guard fd >= 0 else { throw GGUFError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw GGUFError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw GGUFError.cannotOpen(path: path, reason: "not a regular file") }
        let size = Int(info.st_size)
        fileSize = size
        var base: UnsafeMutableRawPointer? = nil
        if size > 0 {
            let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
            guard let mapped, mapped != MAP_FAILED else {
                throw GGUFError.cannotOpen(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
            }
            base = mapped
        }
        mapping = base
        let bytes = UnsafeRawBufferPointer(start: base, count: size)
        do {
            let parsed = try GGUFFile.parse(bytes, path: path)
            version = parsed.version
            metadata = parsed.metadata
            tensors = parsed.tensors
            alignment = parsed.alignment
            dataStart = parsed.dataStart
            var index: [String: Int] = [:]
            for (i, t) in tensors.enumerated() { index[t.name] = i }
            tensorIndex = index
        } catch {
            if let base { munmap(base, size) }
            throw error
        }
    }

    deinit {
        if let mapping { munmap(mapping, fileSize) }
    }

    /// Lets the kernel drop the resident pages of `tensor`'s data (those wholly inside it) once
    /// its contents have been copied elsewhere; a later read maps them in again from the file.
    public func releaseResidentPages(of tensor: GGUFTensor) {
        guard let mapping, let start = tensor.data.baseAddress else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let offset = start - UnsafeRawPointer(mapping)
        let first = (offset + page - 1) / page * page, end = (offset + tensor.data.count) / page * page
        if end > first { madvise(mapping + first, end - first, MADV_DONTNEED) }
    }

    public func tensor(_ name: String) -> GGUFTensor? {
        tensorIndex[name].map { tensors[$0] }
    }

    public func requireTensor(_ name: String) throws -> GGUFTensor {
        guard let t = tensor(name) else { throw GGUFError.missingTensor(path: path, name: name) }
        return t
    }

    /// `general.architecture`, the key models are dispatched on.
    public var architecture: String {
        get throws { try metadata.string("general.architecture") }
    }

    // MARK: - Parsing

    private struct Parsed {
        var version: UInt32
        var metadata: GGUFMetadata
        var tensors: [GGUFTensor]
        var alignment: Int
        var dataStart: Int
    }

    private static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws -> Parsed {
        var reader = ByteReader(bytes: bytes, path: path)
        if bytes.count >= 4 {
            let magic = Array(bytes[0..<4])
            if magic != Array("GGUF".utf8) {
                let shown = magic.allSatisfy({ $0 >= 0x20 && $0 < 0x7f })
                    ? "\"\(String(decoding: magic, as: UTF8.self))\""
                    : magic.map { String($0, radix: 16, uppercase: true) }.map { $0.count == 1 ? "0" + $0 : $0 }.joined(separator: " ")
                throw GGUFError.badMagic(path: path, found: shown)
            }
        }
        _ = try reader.read(UInt32.self, "the magic number")
        let version = try reader.read(UInt32.self, "the version")
        guard version == 2 || version == 3 else { throw GGUFError.unsupportedVersion(path: path, version: version) }
        // Each tensor info takes at least 8+4+8+4+8 bytes, each kv at least 8+4+1.
        let tensorCount = try reader.readCount("tensor", minimumElementBytes: 32)
        let kvCount = try reader.readCount("metadata", minimumElementBytes: 13)

        var metadata = GGUFMetadata(path: path)
        for i in 0..<kvCount {
            let key = try reader.readString("metadata key #\(i)")
            let typeOffset = reader.offset
            let rawType = try reader.read(UInt32.self, "type of \(GGUFError.quoted(key))")
            guard let type = GGUFValueType(rawValue: rawType) else {
                throw GGUFError.malformed(path: path, offset: typeOffset, reason: "metadata key \(GGUFError.quoted(key)) has unknown value type \(rawType)")
            }
            metadata.insert(key, try readValue(type, &reader, key: key, depth: 0))
        }

        var alignment = defaultAlignment
        if let value = metadata["general.alignment"] {
            guard let a = value.intValue, a > 0, a & (a - 1) == 0 else {
                throw GGUFError.malformed(path: path, offset: 0, reason: "general.alignment must be a power of two")
            }
            alignment = a
        }

        struct Info { var name: String; var shape: [Int]; var type: GGMLType; var offset: Int }
        var infos: [Info] = []
        infos.reserveCapacity(tensorCount)
        for i in 0..<tensorCount {
            let name = try reader.readString("name of tensor #\(i)")
            let dimsOffset = reader.offset
            let dims = try reader.read(UInt32.self, "dimension count of \(GGUFError.quoted(name))")
            guard (1...4).contains(dims) else {
                throw GGUFError.malformed(path: path, offset: dimsOffset, reason: "tensor \(GGUFError.quoted(name)) has \(dims) dimensions (1...4 allowed)")
            }
            var shape: [Int] = []
            var elements = 1
            for d in 0..<Int(dims) {
                let n = try reader.read(UInt64.self, "dimension \(d) of \(GGUFError.quoted(name))")
                guard n > 0, n < (1 << 40) else {
                    throw GGUFError.badTensorShape(path: path, tensor: name, reason: "dimension \(d) is \(n)")
                }
                shape.append(Int(n))
                // The element count must not wrap: every size computed from the shape multiplies it.
                let (product, overflow) = elements.multipliedReportingOverflow(by: Int(n))
                guard !overflow, product < (1 << 48) else {
                    throw GGUFError.badTensorShape(path: path, tensor: name, reason: "\(shape) holds more elements than any file can")
                }
                elements = product
            }
            let rawType = try reader.read(UInt32.self, "type of \(GGUFError.quoted(name))")
            guard let type = GGMLType(rawValue: rawType) else {
                throw GGUFError.unknownTensorType(path: path, tensor: name, typeID: rawType)
            }
            let offsetPosition = reader.offset
            let offset = try reader.read(UInt64.self, "data offset of \(GGUFError.quoted(name))")
            guard offset < UInt64(Int.max / 2) else {
                throw GGUFError.truncated(path: path, offset: bytes.count, needed: "data of tensor \(GGUFError.quoted(name)) (at offset \(offset))")
            }
            guard Int(offset) % alignment == 0 else {
                throw GGUFError.malformed(path: path, offset: offsetPosition,
                                          reason: "tensor \(GGUFError.quoted(name)) has data offset \(offset), which is not aligned to \(alignment)")
            }
            guard shape[0] % type.blockElements == 0 else {
                throw GGUFError.badTensorShape(path: path, tensor: name,
                                               reason: "row length \(shape[0]) is not a multiple of the \(type) block size \(type.blockElements)")
            }
            infos.append(Info(name: name, shape: shape, type: type, offset: Int(offset)))
        }

        let dataStart = (reader.offset + alignment - 1) / alignment * alignment
        var tensors: [GGUFTensor] = []
        tensors.reserveCapacity(infos.count)
        for info in infos {
            let rows = info.shape.dropFirst().reduce(1, *)
            let (byteCount, overflow) = info.type.rowBytes(info.shape[0]).multipliedReportingOverflow(by: rows)
            let start = dataStart + info.offset
            guard !overflow, start <= bytes.count, byteCount <= bytes.count - start else {
                throw GGUFError.truncated(path: path, offset: bytes.count,
                                          needed: "data of tensor \(GGUFError.quoted(info.name)) (\(byteCount) bytes at byte \(start))")
            }
            let data = UnsafeRawBufferPointer(rebasing: bytes[start..<(start + byteCount)])
            tensors.append(GGUFTensor(name: info.name, shape: info.shape, type: info.type, relativeOffset: info.offset, data: data))
        }
        return Parsed(version: version, metadata: metadata, tensors: tensors, alignment: alignment, dataStart: dataStart)
    }

    private static func readValue(_ type: GGUFValueType, _ reader: inout ByteReader, key: String, depth: Int) throws -> GGUFValue {
        // Built only for an error message (token arrays have hundreds of thousands of values).
        func what() -> String { "value of \(GGUFError.quoted(key))" }
        switch type {
        case .uint8: return .uint8(try reader.read(UInt8.self, what()))
        case .int8: return .int8(try reader.read(Int8.self, what()))
        case .uint16: return .uint16(try reader.read(UInt16.self, what()))
        case .int16: return .int16(try reader.read(Int16.self, what()))
        case .uint32: return .uint32(try reader.read(UInt32.self, what()))
        case .int32: return .int32(try reader.read(Int32.self, what()))
        case .uint64: return .uint64(try reader.read(UInt64.self, what()))
        case .int64: return .int64(try reader.read(Int64.self, what()))
        case .float32: return .float32(try reader.readFloat(what()))
        case .float64: return .float64(try reader.readDouble(what()))
        case .bool:
            let at = reader.offset
            let b = try reader.read(UInt8.self, what())
            guard b <= 1 else { throw GGUFError.malformed(path: reader.path, offset: at, reason: "bool \(GGUFError.quoted(key)) has value \(b)") }
            return .bool(b == 1)
        case .string: return .string(try reader.readString(what()))
        case .array:
            let at = reader.offset
            let rawElement = try reader.read(UInt32.self, "element type of \(GGUFError.quoted(key))")
            guard let element = GGUFValueType(rawValue: rawElement) else {
                throw GGUFError.malformed(path: reader.path, offset: at, reason: "array \(GGUFError.quoted(key)) has unknown element type \(rawElement)")
            }
            guard depth < 8 else { throw GGUFError.malformed(path: reader.path, offset: at, reason: "array \(GGUFError.quoted(key)) nests too deeply") }
            let count = try reader.readCount("elements of \(GGUFError.quoted(key))", minimumElementBytes: element.minimumEncodedBytes)
            var values: [GGUFValue] = []
            values.reserveCapacity(count)
            for _ in 0..<count { values.append(try readValue(element, &reader, key: key, depth: depth + 1)) }
            return .array(element, values)
        }
    }
}

extension GGUFValueType {
    /// The fewest bytes one encoded value of this type can take (used to reject impossible counts).
    var minimumEncodedBytes: Int {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64, .string: return 8
        case .array: return 12
        }
    }
}
