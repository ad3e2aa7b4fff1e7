/// Everything that can go wrong while reading a GGUF file. Each case renders as one line that names
/// the file and the problem, so the CLI can print it as is.
public enum GGUFError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(path: String, reason: String)
    case badMagic(path: String, found: String)
    case unsupportedVersion(path: String, version: UInt32)
    case truncated(path: String, offset: Int, needed: String)
    case malformed(path: String, offset: Int, reason: String)
    case unknownTensorType(path: String, tensor: String, typeID: UInt32)
    case unsupportedTensorType(path: String, tensor: String, type: String)
    case missingTensor(path: String, name: String)
    case missingMetadata(path: String, key: String)
    case wrongMetadataType(path: String, key: String, expected: String)
    case badTensorShape(path: String, tensor: String, reason: String)
    case unsupportedArchitecture(path: String, architecture: String, supported: [String])

    public var description: String {
        let q = GGUFError.quoted
        switch self {
        case let .cannotOpen(path, reason):
            return "\(path): cannot open GGUF file: \(reason)"
        case let .badMagic(path, found):
            return "\(path): not a GGUF file (magic is \(found), expected \"GGUF\")"
        case let .unsupportedVersion(path, version):
            return "\(path): unsupported GGUF version \(version) (lmbench reads versions 2 and 3)"
        case let .truncated(path, offset, needed):
            return "\(path): file is truncated at byte \(offset) (while reading \(needed))"
        case let .malformed(path, offset, reason):
            return "\(path): malformed GGUF at byte \(offset): \(reason)"
        case let .unknownTensorType(path, tensor, typeID):
            return "\(path): tensor \(q(tensor)) has unknown ggml type id \(typeID)"
        case let .unsupportedTensorType(path, tensor, type):
            return "\(path): tensor \(q(tensor)) has type \(type), which lmbench cannot compute with"
        case let .missingTensor(path, name):
            return "\(path): required tensor \(q(name)) is missing"
        case let .missingMetadata(path, key):
            return "\(path): required metadata key \(q(key)) is missing"
        case let .wrongMetadataType(path, key, expected):
            return "\(path): metadata key \(q(key)) is not \(expected)"
        case let .badTensorShape(path, tensor, reason):
            return "\(path): tensor \(q(tensor)) has a bad shape: \(reason)"
        case let .unsupportedArchitecture(path, architecture, supported):
            return "\(path): unsupported model architecture \(q(architecture)) (supported: \(supported.joined(separator: ", ")))"
        }
    }

    /// A name read from a file, as an error message shows it: in quotes, control and non-ASCII
    /// characters escaped, at most 80 characters (a corrupt file's "name" may be megabytes of
    /// binary).
    public static func quoted(_ name: String) -> String {
        var out = ""
        for scalar in name.unicodeScalars {
            if out.count >= 80 { return "'" + out + "…' (\(name.utf8.count) bytes)" }
            out += scalar.isASCII && scalar.value >= 0x20 && scalar.value < 0x7f ? String(scalar) : scalar.escaped(asASCII: true)
        }
        return "'" + out + "'"
    }
}
