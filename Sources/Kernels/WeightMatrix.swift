import GGUF

/// A 2-D weight tensor used as y = W·x: `rows` outputs, each a dot product over `cols` inputs.
/// The data stays quantized in the mapped file, or in the layout it was re-encoded into at load.
public struct WeightMatrix: @unchecked Sendable {
    public let name: String
    public let type: GGMLType
    public let rows: Int
    public let cols: Int
    public let rowBytes: Int
    public let data: UnsafeRawPointer
    /// For `.i8` matrices (only made by `ReencodedWeights`): one scale per 16 columns, row after
    /// row; element (r, c) is groupScales[r·cols/16 + c/16] · data[r·cols + c].
    public let groupScales: UnsafePointer<Float>?

    public init(name: String, type: GGMLType, rows: Int, cols: Int, data: UnsafeRawPointer, groupScales: UnsafePointer<Float>? = nil) {
        precondition((type == .i8) == (groupScales != nil), "int8 matrices carry one scale per 16 columns")
        self.name = name
        self.type = type
        self.rows = rows
        self.cols = cols
        self.rowBytes = type.rowBytes(cols)
        self.data = data
        self.groupScales = groupScales
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

    /// The scales of row `i` of an `.i8` matrix.
    @inline(__always)
    public func rowScales(_ i: Int) -> UnsafePointer<Float> { groupScales! + i * (cols / 16) }

    /// Dequantizes row `i` into `out` (`cols` floats).
    public func dequantizeRow(_ i: Int, into out: UnsafeMutablePointer<Float>) {
        guard type == .i8 else { return Dequantize.row(type, row(i), count: cols, into: out) }
        let codes = row(i).assumingMemoryBound(to: Int8.self), scales = rowScales(i)
        for c in 0..<cols { out[c] = scales[c / 16] * Float(codes[c]) }
    }

    /// Bytes a pass over the matrix reads: the rows, and the group scales of an `.i8` matrix.
    public var byteCount: Int { rows * rowBytes + (groupScales == nil ? 0 : rows * cols / 16 * MemoryLayout<Float>.size) }

    /// Rows `range` as a matrix of their own, sharing this one's data (the output head projects
    /// the vocabulary a slice at a time).
    public func rows(_ range: Range<Int>) -> WeightMatrix {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "rows \(range) of a \(rows)-row matrix")
        return WeightMatrix(name: name, type: type, rows: range.count, cols: cols, data: row(range.lowerBound),
                            groupScales: groupScales.map { $0 + range.lowerBound * (cols / 16) })
    }
}

/// Weight matrices re-encoded at load into the format the kernels read fastest, and the memory
/// that holds them (freed with this object). Both re-encodings are exact. Measured on 2 cores with
/// Gemma 3 270M (`lmbench bench --matvec`):
///
/// - Q5_0 becomes Q8_0 (`Reencode.q5_0ToQ8_0`): Q5_0's mat-vec is bound by instruction throughput
///   (spreading the fifth bits over the lanes costs about half an instruction per weight), Q8_0's by
///   memory bandwidth. The 81 Q5_0 matrices take 3.4 ms a token as stored (42 MB at 12.7 GB/s) and
///   2.7 ms re-encoded (64 MB at 24.5 GB/s), so reading 55% more bytes is faster.
/// - Q6_K becomes int8 with one f32 scale per 16 columns (`Reencode.q6_KToInt8`), for the same
///   reason: assembling 6-bit codes from two bit fields kept Q6_K at 10.6 GB/s.
///
/// Other formats are kept as stored.
public final class ReencodedWeights: @unchecked Sendable {
    private var allocations: [UnsafeMutableRawPointer] = []
    private let parallelism: Parallelism

    public init(parallelism: Parallelism) { self.parallelism = parallelism }

    deinit { for a in allocations { a.deallocate() } }

    /// `w` re-encoded for the kernels, or nil when it is used as stored.
    public func reencoded(_ w: WeightMatrix) -> WeightMatrix? {
        switch w.type {
        case .q5_0:
            let blocksPerRow = w.cols / GGMLType.q5_0.blockElements
            let target = WeightMatrix(name: w.name, type: .q8_0, rows: w.rows, cols: w.cols,
                                      data: UnsafeRawPointer(allocate(GGMLType.q8_0.rowBytes(w.cols) * w.rows)))
            forEachRowRange(w.rows) { first, rows in
                Reencode.q5_0ToQ8_0(w.row(first), blocks: rows * blocksPerRow, into: UnsafeMutableRawPointer(mutating: target.row(first)))
            }
            return target
        case .q6_K:
            let blocksPerRow = w.cols / GGMLType.q6_K.blockElements
            let codes = allocate(w.rows * w.cols).assumingMemoryBound(to: Int8.self)
            let scales = allocate(w.rows * w.cols / 16 * MemoryLayout<Float>.size).assumingMemoryBound(to: Float.self)
            forEachRowRange(w.rows) { first, rows in
                Reencode.q6_KToInt8(w.row(first), blocks: rows * blocksPerRow, codes: codes + first * w.cols, scales: scales + first * w.cols / 16)
            }
            return WeightMatrix(name: w.name, type: .i8, rows: w.rows, cols: w.cols, data: UnsafeRawPointer(codes), groupScales: scales)
        default:
            return nil
        }
    }

    /// Runs `body(firstRow, rowCount)` over runs of 64 rows, in parallel.
    private func forEachRowRange(_ rows: Int, _ body: (Int, Int) -> Void) {
        let rowsPerItem = 64
        parallelism.forEach((rows + rowsPerItem - 1) / rowsPerItem) { item, _ in
            let first = item * rowsPerItem
            body(first, min(rowsPerItem, rows - first))
        }
    }

    private func allocate(_ bytes: Int) -> UnsafeMutableRawPointer {
        let p = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        allocations.append(p)
        return p
    }
}
