import XCTest
import Foundation

/// Guards the release build's machine code against a cliff found with perf: a Swift SIMD operation
/// that compiles to a call into generic standard-library code (such as `SIMD8<Float>(SIMD8<Int32>)`)
/// inside a kernel's inner loop halved decoding speed. No function of the Kernels module may call
/// into the standard library's generic SIMD implementations.
/// The attention micro-kernels are also checked for spills: with accumulators moved to the stack in the
/// inner loop, attention ran at a third of the GEMM's rate.
final class KernelCodeTests: XCTestCase {
    /// The release binary's disassembly as (function, instruction) pairs of the Kernels module.
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
            if function.hasPrefix("$s7Kernels") { instructions.append((function, line)) }
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
        XCTAssertEqual(offenders, [], "kernel code calls generic SIMD code")
    }
}
