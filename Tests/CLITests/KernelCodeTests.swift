import XCTest
import Foundation

/// Guards the release build's machine code against a cliff found with perf: a Swift SIMD operation
/// that compiles to a call into generic standard-library code (such as `SIMD8<Float>(SIMD8<Int32>)`)
/// inside a kernel's inner loop halved decoding speed. No function of the Kernels module may call
/// into the standard library's generic SIMD implementations.
final class KernelCodeTests: XCTestCase {
    func testKernelsDoNotCallGenericSIMDCode() throws {
        let binary = Bundle.main.bundleURL.appendingPathComponent("lmbench")
        guard let objdump = ["/usr/bin/objdump", "/bin/objdump"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            XCTFail("objdump not found (Debian: apt-get install binutils)")
            return
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

        var function = "", kernelFunctions = 0
        var offenders: [String] = []
        for line in text.split(separator: "\n") {
            if line.hasSuffix(">:"), let open = line.firstIndex(of: "<") {
                function = String(line[line.index(after: open)...].dropLast(2))
                if function.hasPrefix("$s7Kernels") { kernelFunctions += 1 }
                continue
            }
            guard function.hasPrefix("$s7Kernels"), line.contains("call") else { continue }
            // Standard-library SIMD generics: $ss5SIMD8V…, $ss6SIMD16V…, $ss4SIMDP…, pointwiseMin/Max and friends.
            if line.contains("<$ss5SIMD") || line.contains("<$ss6SIMD") || line.contains("<$ss4SIMD") || line.contains("<$ss12pointwise") {
                offenders.append("\(function) → \(line.split(separator: "<").last ?? "")")
            }
        }
        XCTAssertGreaterThan(kernelFunctions, 20, "the disassembly should contain the Kernels module")
        XCTAssertEqual(offenders, [], "kernel code calls generic SIMD code")
    }
}
