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

/// Weight matrices re-encoded at load into the format the kernels read fastest, and the memory
/// that holds them (freed with this object).
///
/// Q5_0 becomes Q8_0, exactly (`Reencode.q5_0ToQ8_0`): Q5_0's mat-vec is bound by instruction
/// throughput (spreading the fifth bits over the lanes costs about half an instruction per weight),
/// Q8_0's by memory bandwidth. On 2 cores Gemma 3 270M's 81 Q5_0 matrices take 3.4 ms a token as
/// stored (42 MB at 12.7 GB/s) and 2.7 ms re-encoded (64 MB at 24.5 GB/s), so reading 55% more
/// bytes is faster. Other formats are kept as stored.
public final class ReencodedWeights: @unchecked Sendable {
    private var allocations: [UnsafeMutableRawPointer] = []
    private let parallelism: Parallelism

    public init(parallelism: Parallelism) { self.parallelism = parallelism }

    deinit { for a in allocations { a.deallocate() } }

    /// `w` re-encoded for the kernels, or nil when it is used as stored.
    public func reencoded(_ w: WeightMatrix) -> WeightMatrix? {
        guard w.type == .q5_0 else { return nil }
        let blocksPerRow = w.cols / GGMLType.q5_0.blockElements
        let target = WeightMatrix(name: w.name, type: .q8_0, rows: w.rows, cols: w.cols,
                                  data: UnsafeRawPointer(allocate(GGMLType.q8_0.rowBytes(w.cols) * w.rows)))
        let rowsPerItem = 64
        parallelism.forEach((w.rows + rowsPerItem - 1) / rowsPerItem) { item, _ in
            let first = item * rowsPerItem, rows = min(rowsPerItem, w.rows - first)
            Reencode.q5_0ToQ8_0(w.row(first), blocks: rows * blocksPerRow, into: UnsafeMutableRawPointer(mutating: target.row(first)))
        }
        return target
    }

    private func allocate(_ bytes: Int) -> UnsafeMutableRawPointer {
        let p = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        allocations.append(p)
        return p
    }
}
