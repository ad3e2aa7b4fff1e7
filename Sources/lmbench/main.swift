import Bench
import Kernels
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// lmbench: a benchmark harness for long-context language-model strategies.
let commands: [(name: String, summary: String, run: ([String]) throws -> Void)] = [
    ("run", "Run a task (passkey, needle, longbench, a LongBench dataset) through engines into the store.", RunCommand.run),
    ("report", "Markdown report of stored runs: accuracy, latency and memory by length × engine.", ReportCommand.run),
    ("runs", "List the runs in the results store.", RunsCommand.run),
    ("leaderboard", "Engines ranked per task, with intervals and effective lengths.", LeaderboardCommand.run),
    ("compare", "Two runs side by side, with deltas and regression flags.", CompareCommand.run),
    ("nightly", "Run a suite, update the leaderboard, report regressions (exit 3).", NightlyCommand.run),
    ("export", "Dump stored samples as CSV or JSON lines.", ExportCommand.run),
    ("merge", "Merge results databases (the shards of a sweep) into a new one.", MergeCommand.run),
    ("tasks", "List the tasks defined in tasks/.", TasksCommand.run),
    ("serve", "OpenAI-compatible HTTP server over the native engine with one strategy.", ServeCommand.run),
    ("generate", "Greedy generation from a prompt, with top logits and timings.", GenerateCommand.run),
    ("bench", "Prefill and decode speed and memory at several prompt lengths.", BenchCommand.run),
    ("tokenize", "Token ids of a text.", TokenizeCommand.run),
    ("model", "Known models: `lmbench model list`, `lmbench model fetch NAME` downloads one.", ModelCommand.run),
]

func printHelp() {
    print("""
        usage: lmbench <command> [options]

        commands:
        \(commands.map { "  " + $0.name.padding(toLength: 12, withPad: " ", startingAt: 0) + $0.summary }.joined(separator: "\n"))

        `lmbench <command> --help` describes each command.
        """)
}

/// Prints the one error line and exits. A message that names its command already ("lmbench run:
/// which task?") keeps that as its only prefix.
func fail(_ message: String, status: Int32) -> Never {
    let line = message.hasPrefix("lmbench ") ? message : "lmbench: " + message
    FileHandle.standardError.write(Data((line + "\n").utf8))
    exit(status)
}

setvbuf(stdout, nil, _IOLBF, 0)
let arguments = Array(CommandLine.arguments.dropFirst())
guard let name = arguments.first, !["--help", "-h", "help"].contains(name) else {
    printHelp()
    exit(arguments.isEmpty ? 2 : 0)
}
guard let command = commands.first(where: { $0.name == name }) else {
    fail("unknown command '\(name)' (commands: \(commands.map(\.name).joined(separator: ", ")))", status: 2)
}
// The kernels are compiled for AVX2 + FMA + F16C at least; check before calling into them.
let missing = KernelPath.avx2.missingFlags
if !missing.isEmpty && name != "model" {
    fail("this CPU lacks \(missing.joined(separator: ", ")), which lmbench's kernels are compiled for", status: 1)
}
if let kernels = ProcessInfo.processInfo.environment["LMBENCH_KERNELS"], !kernels.isEmpty {
    do { _ = try KernelPath.named(kernels) } catch { fail("LMBENCH_KERNELS: \(error)", status: 2) }
}
do {
    try command.run(Array(arguments.dropFirst()))
} catch let error as UsageError {
    fail(error.description, status: 2)
} catch let error as SpecError {
    fail(error.description, status: 2)
} catch {
    fail("\(error)", status: 1)
}
