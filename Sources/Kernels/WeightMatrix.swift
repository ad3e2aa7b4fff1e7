import GGUF

/// A 2-D weight tensor used as y = W·x: `rows` outputs, each a dot product over `cols` inputs.
/// The data stays quantized in the mapped file.
public struct WeightMatrix: @unchecked Sendable {
    public let name: String
    public let type: GGMLType
    public let rows: Int
    public let cols: Int
    public let rowBytes: Int
    public let data: UnsafeRawPointer

    public init(name: String, type: GGMLType, rows: Int, cols: Int, data: UnsafeRawPointer) {
        self.name = name
        self.type = type
        self.rows = rows
        self.cols = cols
        self.rowBytes = type.rowBytes(cols)
        self.data = data
    }

    /// Wraps a GGUF tensor of shape [cols, rows] after checking that lmbench can compute with it.
    public init(_ tensor: GGUFTensor, in file: GGUFFile) throws {
        guard tensor.type.isSupported else {
            throw GGUFError.unsupportedTensorType(path: file.path, tensor: tensor.name, type: "\(tensor.type)")
        }
        guard tensor.shape.count == 2 || (tensor.shape.count > 2 && tensor.shape[2...].allSatisfy { $0 == 1 }) else {
            throw GGUFError.badTensorShape(path: file.path, tensor: tensor.name, reason: "expected a matrix, found \(tensor.shape)")
        }
        self.init(name: tensor.name, type: tensor.type, rows: tensor.shape[1], cols: tensor.shape[0], data: tensor.data.baseAddress!)
    }

    @inline(__always)
    public func row(_ i: Int) -> UnsafeRawPointer { data + i * rowBytes }

    /// Dequantizes row `i` into `out` (`cols` floats).
    public func dequantizeRow(_ i: Int, into out: UnsafeMutablePointer<Float>) {
        Dequantize.row(type, row(i), count: cols, into: out)
    }

    public var byteCount: Int { rows * rowBytes }
}
