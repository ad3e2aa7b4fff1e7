/// The value types a GGUF key/value pair can hold (GGUF v3 ids).
public enum GGUFValueType: UInt32, CaseIterable, Sendable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12
}

/// One metadata value. Arrays keep their element type so that an empty array is still typed.
public enum GGUFValue: Equatable, Sendable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case uint64(UInt64), int64(Int64), float32(Float), float64(Double), bool(Bool), string(String)
    case array(GGUFValueType, [GGUFValue])

    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .uint64: return .uint64
        case .int64: return .int64
        case .float32: return .float32
        case .float64: return .float64
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        }
    }

    /// Any integer type, widened: writers disagree on which integer type a hyperparameter uses. A
    /// bool is not an integer (a token id stored as `true` is a corrupt file, not id 1).
    public var intValue: Int? {
        switch self {
        case let .uint8(v): return Int(v)
        case let .int8(v): return Int(v)
        case let .uint16(v): return Int(v)
        case let .int16(v): return Int(v)
        case let .uint32(v): return Int(v)
        case let .int32(v): return Int(v)
        case let .uint64(v): return v <= UInt64(Int.max) ? Int(v) : nil
        case let .int64(v): return Int(v)
        default: return nil
        }
    }

    public var doubleValue: Double? {
        switch self {
        case let .float32(v): return Double(v)
        case let .float64(v): return v
        default: return intValue.map(Double.init)
        }
    }

    public var stringValue: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    public var boolValue: Bool? {
        if case let .bool(b) = self { return b }
        return nil
    }

    public var arrayValue: [GGUFValue]? {
        if case let .array(_, values) = self { return values }
        return nil
    }
}

/// The key/value metadata of one GGUF file, with typed accessors that report the file and key on failure.
public struct GGUFMetadata: Sendable {
    public let path: String
    public private(set) var values: [String: GGUFValue]
    /// Keys in file order, for listings.
    public private(set) var keys: [String]

    init(path: String) {
        self.path = path
        self.values = [:]
        self.keys = []
    }

    mutating func insert(_ key: String, _ value: GGUFValue) {
        if values.updateValue(value, forKey: key) == nil { keys.append(key) }
    }

    public subscript(key: String) -> GGUFValue? { values[key] }

    /// The value at `key` converted by `extract`; a missing key or a value of the wrong type throws.
    private func typed<T>(_ key: String, _ expected: String, _ extract: (GGUFValue) -> T?) throws -> T {
        guard let value = values[key] else { throw GGUFError.missingMetadata(path: path, key: key) }
        guard let typed = extract(value) else { throw GGUFError.wrongMetadataType(path: path, key: key, expected: expected) }
        return typed
    }

    public func int(_ key: String) throws -> Int { try typed(key, "an integer", \.intValue) }

    public func int(_ key: String, default fallback: Int) throws -> Int {
        values[key] == nil ? fallback : try int(key)
    }

    public func double(_ key: String) throws -> Double { try typed(key, "a number", \.doubleValue) }

    public func double(_ key: String, default fallback: Double) throws -> Double {
        values[key] == nil ? fallback : try double(key)
    }

    public func string(_ key: String) throws -> String { try typed(key, "a string", \.stringValue) }

    public func bool(_ key: String, default fallback: Bool) throws -> Bool {
        values[key] == nil ? fallback : try typed(key, "a bool", \.boolValue)
    }

    public func array(_ key: String) throws -> [GGUFValue] { try typed(key, "an array", \.arrayValue) }

    public func strings(_ key: String) throws -> [String] {
        try array(key).map {
            guard let s = $0.stringValue else { throw GGUFError.wrongMetadataType(path: path, key: key, expected: "an array of strings") }
            return s
        }
    }

    public func floats(_ key: String) throws -> [Float] {
        try array(key).map {
            guard let d = $0.doubleValue else { throw GGUFError.wrongMetadataType(path: path, key: key, expected: "an array of numbers") }
            return Float(d)
        }
    }

    public func ints(_ key: String) throws -> [Int] {
        try array(key).map {
            guard let i = $0.intValue else { throw GGUFError.wrongMetadataType(path: path, key: key, expected: "an array of integers") }
            return i
        }
    }
}
