import XCTest
import Foundation

/// Guards the release build's machine code against a cliff found with perf: a Swift SIMD operation
/// that compiles to a call into generic standard-library code (such as `SIMD8<Float>(SIMD8<Int32>)`)
/// inside a kernel's inner loop halved decoding speed. No function of the Kernels module may call
/// into the standard library's generic SIMD implementations, nor may one of the AVX-512 module
/// (`KernelsAVX512`). The micro-kernels are also checked for spills: with accumulators moved to the
/// stack in the inner loop, attention ran at a third of the GEMM's rate.
final class KernelCodeTests: XCTestCase {
    /// The release binary's disassembly as (function, instruction) pairs of the Kernels and
    /// KernelsAVX512 modules.
    private func kernelInstructions() throws -> [(function: String, line: Substring)] {
        let binary = Bundle.main.bundleURL.appendingPathComponent("lmbench")
        guard let objdump = ["/usr/bin/objdump", "/bin/objdump"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            XCTFail("objdump not found (Debian: apt-get install binutils)")
            return []
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: objdump)
        process.arguments = ["-d", "--no-show-raw-insn", binary.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        var function = ""
        var instructions: [(function: String, line: Substring)] = []
        for line in text.split(separator: "\n") {
            if line.hasSuffix(">:"), let open = line.firstIndex(of: "<") {
                function = String(line[line.index(after: open)...].dropLast(2))
                continue
            }
            if function.hasPrefix("$s7Kernels") || function.hasPrefix("$s13KernelsAVX512") { instructions.append((function, line)) }
        }
        return instructions
    }

    func testAttentionTilesKeepTheirAccumulatorsInRegisters() throws {
        let tiles = try kernelInstructions().filter { $0.function.contains("13AttentionTile") }
        for name in ["AttentionTileO4wide", "AttentionTileO6narrow"] {
            XCTAssertTrue(tiles.contains { $0.function.contains(name) }, "\(name) should be an out-of-line function")
        }
        let spills = tiles.filter { $0.line.contains("%ymm") && ($0.line.contains("(%rsp") || $0.line.contains("(%rbp")) }
        XCTAssertEqual(spills.map { String($0.line) }, [], "vector registers spilled to the stack in an attention tile")
    }

    /// The AVX-512 tiles: out of line, computing in zmm registers, none spilled to the stack.
    func testAVX512TilesUseZmmRegistersWithoutSpills() throws {
        let instructions = try kernelInstructions().filter { $0.function.hasPrefix("$s13KernelsAVX512") }
        for name in ["8gemmTile", "13attentionWide", "15attentionNarrow"] {
            let tile = instructions.filter { $0.function.contains(name) }
            XCTAssertTrue(tile.contains { $0.line.contains("vfmadd") && $0.line.contains("%zmm") }, "\(name) should run 16-wide FMAs")
            let spills = tile.filter { $0.line.contains("%zmm") && ($0.line.contains("(%rsp") || $0.line.contains("(%rbp")) }
            XCTAssertEqual(spills.map { String($0.line) }, [], "zmm registers spilled to the stack in \(name)")
        }
        // The decoding dot products multiply-add 32 16-bit lanes at a time.
        let q8 = instructions.filter { $0.function.contains("4q8_0") }
        XCTAssertTrue(q8.contains { $0.line.contains("vpmaddwd") && $0.line.contains("%zmm") }, "q8_0 should use zmm vpmaddwd")
    }

    func testKernelsDoNotCallGenericSIMDCode() throws {
        let instructions = try kernelInstructions()
        let kernelFunctions = Set(instructions.map(\.function)).count
        var offenders: [String] = []
        for (function, line) in instructions {
            guard line.contains("call") else { continue }
            // Standard-library SIMD generics: $ss5SIMD8V…, $ss6SIMD16V…, $ss4SIMDP…, pointwiseMin/Max and friends.
            if line.contains("<$ss5SIMD") || line.contains("<$ss6SIMD") || line.contains("<$ss4SIMD") || line.contains("<$ss12pointwise") {
                offenders.append("\(function) → \(line.split(separator: "<").last ?? "")")
            }
        }
        XCTAssertGreaterThan(kernelFunctions, 20, "the disassembly should contain the Kernels module")
        XCTAssertTrue(instructions.contains { $0.function.hasPrefix("$s13KernelsAVX512") }, "the disassembly should contain the KernelsAVX512 module")
        XCTAssertEqual(offenders, [], "kernel code calls generic SIMD code")
    }
}
