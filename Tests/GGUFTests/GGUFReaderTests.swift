import XCTest
import Foundation
import GGUF
import GGUFTestSupport

final class GGUFReaderTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try makeTemporaryDirectory("gguf-reader") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func file(_ name: String, _ writer: GGUFWriter) throws -> String {
        try writer.write(to: dir.appendingPathComponent(name)).path
    }

    /// A small but complete file: every metadata value type, nested arrays, three tensors.
    func sampleWriter(alignment: Int? = nil) -> GGUFWriter {
        var w = GGUFWriter()
        w.add("general.architecture", .string("test"))
        w.add("t.u8", .u8(200)); w.add("t.i8", .i8(-100))
        w.add("t.u16", .u16(60000)); w.add("t.i16", .i16(-30000))
        w.add("t.u32", .u32(4_000_000_000)); w.add("t.i32", .i32(-2_000_000_000))
        w.add("t.u64", .u64(1 << 40)); w.add("t.i64", .i64(-(1 << 40)))
        w.add("t.f32", .f32(0.25)); w.add("t.f64", .f64(-1e300))
        w.add("t.bool", .bool(true)); w.add("t.string", .string("héllo ▁ wörld"))
        w.add("t.floats", .array(6, [.f32(1.5), .f32(-2)]))
        w.add("t.strings", .array(8, [.string("a"), .string(""), .string("<0x0A>")]))
        w.add("t.nested", .array(9, [.array(4, [.u32(1), .u32(2)]), .array(4, [])]))
        w.add("t.empty", .array(5, []))
        if let alignment { w.add("general.alignment", .u32(UInt32(alignment))); w.alignment = alignment }
        w.addF32Tensor("a", shape: [3], values: [1, 2, 3])
        w.addF32Tensor("b", shape: [2, 2], values: [4, 5, 6, 7])
        // One Q8_0 row of 64 elements: two blocks.
        let q8 = BlockEncoder.q8_0(d: 0.5, q: (0..<32).map { Int8($0 - 16) })
            + BlockEncoder.q8_0(d: 2, q: (0..<32).map { Int8(100 - $0) })
        w.addTensor("c", shape: [64, 1], typeID: 8, data: q8)
        return w
    }

    func testMetadataOfEveryValueType() throws {
        let f = try GGUFFile(path: file("all.gguf", sampleWriter()))
        XCTAssertEqual(f.version, 3)
        let m = f.metadata
        XCTAssertEqual(m["t.u8"], .uint8(200))
        XCTAssertEqual(m["t.i8"], .int8(-100))
        XCTAssertEqual(m["t.u16"], .uint16(60000))
        XCTAssertEqual(m["t.i16"], .int16(-30000))
        XCTAssertEqual(m["t.u32"], .uint32(4_000_000_000))
        XCTAssertEqual(m["t.i32"], .int32(-2_000_000_000))
        XCTAssertEqual(m["t.u64"], .uint64(1 << 40))
        XCTAssertEqual(m["t.i64"], .int64(-(1 << 40)))
        XCTAssertEqual(m["t.f32"], .float32(0.25))
        XCTAssertEqual(m["t.f64"], .float64(-1e300))
        XCTAssertEqual(m["t.bool"], .bool(true))
        XCTAssertEqual(try m.string("t.string"), "héllo ▁ wörld")
        XCTAssertEqual(try m.floats("t.floats"), [1.5, -2])
        XCTAssertEqual(try m.strings("t.strings"), ["a", "", "<0x0A>"])
        XCTAssertEqual(m["t.nested"], .array(.array, [.array(.uint32, [.uint32(1), .uint32(2)]), .array(.uint32, [])]))
        XCTAssertEqual(m["t.empty"], .array(.int32, []))
        XCTAssertEqual(m.keys.first, "general.architecture")
        XCTAssertEqual(try f.architecture, "test")
    }

    func testIntegerAccessorsWidenAnyIntegerType() throws {
        let m = try GGUFFile(path: file("ints.gguf", sampleWriter())).metadata
        XCTAssertEqual(try m.int("t.u8"), 200)
        XCTAssertEqual(try m.int("t.i16"), -30000)
        XCTAssertEqual(try m.int("t.u32"), 4_000_000_000)
        XCTAssertEqual(try m.int("t.i64"), -(1 << 40))
        XCTAssertEqual(try m.double("t.i32"), -2_000_000_000)
        XCTAssertEqual(try m.int("missing", default: 7), 7)
        XCTAssertThrowsError(try m.int("t.string")) { error in
            XCTAssertEqual(error as? GGUFError, .wrongMetadataType(path: m.path, key: "t.string", expected: "an integer"))
        }
        XCTAssertThrowsError(try m.int("nope")) { error in
            XCTAssertTrue("\(error)".contains("'nope' is missing"), "\(error)")
        }
    }

    func testTensorDirectoryAndDataWithDefaultAlignment() throws {
        let w = sampleWriter()
        let f = try GGUFFile(path: file("t.gguf", w))
        XCTAssertEqual(f.alignment, 32)
        XCTAssertEqual(f.dataStart % 32, 0)
        XCTAssertEqual(f.tensors.map(\.name), ["a", "b", "c"])
        let b = try f.requireTensor("b")
        XCTAssertEqual(b.shape, [2, 2])
        XCTAssertEqual(b.type, .f32)
        XCTAssertEqual(b.rowCount, 2)
        XCTAssertEqual(b.data.count, 16)
        XCTAssertEqual((0..<4).map { b.data.load(fromByteOffset: $0 * 4, as: Float.self) }, [4, 5, 6, 7])
        // The second tensor starts at the next multiple of the alignment after the first one's 12 bytes.
        XCTAssertEqual(b.relativeOffset, 32)
        let c = try f.requireTensor("c")
        XCTAssertEqual(c.type, .q8_0)
        XCTAssertEqual(c.rowBytes, 68)
        XCTAssertEqual(c.data.count, 68)
        XCTAssertNil(f.tensor("zzz"))
        XCTAssertThrowsError(try f.requireTensor("zzz")) { XCTAssertTrue("\($0)".contains("'zzz' is missing")) }
    }

    func testCustomAlignmentMovesDataStartAndOffsets() throws {
        let f = try GGUFFile(path: file("a64.gguf", sampleWriter(alignment: 64)))
        XCTAssertEqual(f.alignment, 64)
        XCTAssertEqual(f.dataStart % 64, 0)
        XCTAssertEqual(try f.requireTensor("b").relativeOffset, 64)
        let c = try f.requireTensor("c")
        var out = [Float](repeating: 0, count: 64)
        Dequantize.row(.q8_0, c.data.baseAddress!, count: 64, into: &out)
        XCTAssertEqual(out[0], -8)
        XCTAssertEqual(out[63], 2 * Float(100 - 31))
    }

    func testEveryTruncationGivesAnErrorNamingTheFile() throws {
        let full = sampleWriter().bytes()
        let url = dir.appendingPathComponent("cut.gguf")
        // Every prefix of a valid file must be rejected with a GGUFError, never a crash.
        for length in 0..<full.count {
            try Data(full[0..<length]).write(to: url)
            do {
                _ = try GGUFFile(path: url.path)
                XCTFail("a file cut to \(length) of \(full.count) bytes was accepted")
            } catch let error as GGUFError {
                let line = "\(error)"
                XCTAssertTrue(line.hasPrefix(url.path + ": "), line)
                XCTAssertFalse(line.contains("\n"))
            }
        }
    }

    func testWrongMagic() throws {
        var w = sampleWriter()
        w.magic = Array("GGML".utf8)
        let path = try file("magic.gguf", w)
        XCTAssertThrowsError(try GGUFFile(path: path)) { error in
            XCTAssertEqual("\(error)", "\(path): not a GGUF file (magic is \"GGML\", expected \"GGUF\")")
        }
        w.magic = [0x7f, 0x45, 0x4c, 0x46]
        let elf = try file("elf.gguf", w)
        XCTAssertThrowsError(try GGUFFile(path: elf)) { XCTAssertTrue("\($0)".contains("magic is 7F 45 4C 46")) }
    }

    func testUnsupportedVersion() throws {
        var w = sampleWriter()
        w.version = 1
        let path = try file("v1.gguf", w)
        XCTAssertThrowsError(try GGUFFile(path: path)) { error in
            XCTAssertEqual(error as? GGUFError, .unsupportedVersion(path: path, version: 1))
        }
        w.version = 2
        XCTAssertNoThrow(try GGUFFile(path: file("v2.gguf", w)))
    }

    func testUnknownTensorType() throws {
        var w = sampleWriter()
        w.addTensor("weird", shape: [4], typeID: 99, data: [0, 0, 0, 0])
        let path = try file("type.gguf", w)
        XCTAssertThrowsError(try GGUFFile(path: path)) { error in
            XCTAssertEqual("\(error)", "\(path): tensor 'weird' has unknown ggml type id 99")
        }
    }

    func testUnknownMetadataValueType() throws {
        var bytes = sampleWriter().bytes()
        // The type of the first kv sits after the 24-byte header and the key "general.architecture".
        let typeOffset = 24 + 8 + "general.architecture".utf8.count
        bytes[typeOffset] = 77
        let url = dir.appendingPathComponent("kvtype.gguf")
        try Data(bytes).write(to: url)
        XCTAssertThrowsError(try GGUFFile(path: url.path)) { error in
            XCTAssertTrue("\(error)".contains("unknown value type 77"), "\(error)")
        }
    }

    func testBadShapes() throws {
        var w = sampleWriter()
        w.addTensor("q", shape: [48], typeID: 8, data: [UInt8](repeating: 0, count: 51))
        XCTAssertThrowsError(try GGUFFile(path: file("rows.gguf", w))) { error in
            XCTAssertTrue("\(error)".contains("row length 48 is not a multiple of the Q8_0 block size 32"), "\(error)")
        }
        var z = sampleWriter()
        z.addTensor("zero", shape: [4, 0], typeID: 0, data: [])
        XCTAssertThrowsError(try GGUFFile(path: file("zero.gguf", z))) { XCTAssertTrue("\($0)".contains("dimension 1 is 0")) }
    }

    func testAbsurdCountsAreRejectedBeforeAllocation() throws {
        var bytes = sampleWriter().bytes()
        // n_tensors = 2^60
        for (i, b) in le(UInt64(1) << 60).enumerated() { bytes[8 + i] = b }
        let url = dir.appendingPathComponent("count.gguf")
        try Data(bytes).write(to: url)
        XCTAssertThrowsError(try GGUFFile(path: url.path)) { XCTAssertTrue("\($0)".contains("does not fit in the file"), "\($0)") }
    }

    func testMissingFileAndDirectory() {
        XCTAssertThrowsError(try GGUFFile(path: dir.appendingPathComponent("none.gguf").path)) {
            XCTAssertTrue("\($0)".contains("none.gguf: cannot open GGUF file: No such file"), "\($0)")
        }
        XCTAssertThrowsError(try GGUFFile(path: dir.path)) { XCTAssertTrue("\($0)".contains("not a regular file")) }
    }

    // MARK: - Hostile files (reliability issue)

    func testAFIFOIsRefusedWithoutWaitingForAWriter() throws {
        let path = dir.appendingPathComponent("fifo.gguf").path
        XCTAssertEqual(mkfifo(path, 0o600), 0)
        XCTAssertThrowsError(try GGUFFile(path: path)) { XCTAssertTrue("\($0)".contains("not a regular file"), "\($0)") }
    }

    func testShapesWhoseElementCountWouldWrapAreRefused() throws {
        var w = GGUFWriter()
        w.add("general.architecture", .string("test"))
        w.addTensor("huge", shape: [640, 262144, 1 << 39, 1 << 39], typeID: 0, data: [0, 0, 0, 0])
        XCTAssertThrowsError(try GGUFFile(path: file("huge.gguf", w))) { error in
            XCTAssertTrue("\(error)".contains("'huge'") && "\(error)".contains("more elements"), "\(error)")
        }
    }

    func testBinaryNamesAreQuotedShortAndOnOneLine() throws {
        var w = GGUFWriter()
        let garbage = String(decoding: (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }, as: UTF8.self)
        w.add("general.architecture", .string("test"))
        w.addTensor(garbage, shape: [3], typeID: 99, data: [0, 0, 0, 0])
        XCTAssertThrowsError(try GGUFFile(path: file("garbage.gguf", w))) { error in
            let message = "\(error)"
            XCTAssertFalse(message.contains("\n") || message.contains("\0"), "one line, no NULs")
            XCTAssertLessThan(message.count, 400, message)
            XCTAssertTrue(message.contains("bytes)"), "says how long the name was: \(message)")
        }
        XCTAssertEqual(GGUFError.quoted("blk.0.attn_q.weight"), "'blk.0.attn_q.weight'")
        XCTAssertEqual(GGUFError.quoted("a\nb"), "'a\\nb'")
    }
}
