import Foundation
import GGUF
import Inference
import Kernels

/// The checkout the fuzz targets were built from: its `tasks/`, `models/` and the seed corpus.
public let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

/// One of the synthetic models of the seed corpus (`SyntheticModel` in the tests writes them):
/// `gemma3` (SentencePiece), `llama` and `qwen2` (byte-level BPE).
public func seedModel(_ name: String) -> LoadedModel {
    let path = packageRoot.appendingPathComponent("Fuzz/corpus/modelfile/\(name).gguf").path
    do {
        return try LoadedModel(path: path, parallelism: Parallelism(threads: 1))
    } catch {
        fatalError("seed model \(path) does not load: \(error)")
    }
}

/// A file of this process that each input is written to, for the readers that take a path. It is
/// left in `$TMPDIR` (libFuzzer exits without running deinitializers); `scripts/fuzz` points that
/// at a folder it removes.
public struct ScratchFile {
    public let path: String

    public init(suffix: String) {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("lmbench-fuzz-\(getpid())\(suffix)").path
    }

    /// A new file each time, written with stdio: Foundation's writers fsync every file, and
    /// truncating a file written a moment ago makes ext4 flush it first (milliseconds each).
    public func write(_ data: UnsafePointer<UInt8>, _ size: Int) -> String {
        unlink(path)
        guard let file = fopen(path, "wb") else { fatalError("cannot write \(path)") }
        let written = fwrite(data, 1, size, file)
        guard fclose(file) == 0, written == size else { fatalError("cannot write \(path)") }
        return path
    }
}

/// The arguments of `LLVMFuzzerInitialize`, which each target defines to build its fixed state
/// (vocabularies, task catalog, models) before the first input: built during an input, that state
/// would count against the input's `-timeout`, and look to libFuzzer like memory the input leaked.
public typealias FuzzerArguments = UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>

/// An invariant of lmbench's contract; a violation is a crash for libFuzzer to report.
public func require(_ condition: Bool, _ what: @autoclosure () -> String) {
    if !condition { fatalError(what()) }
}

/// Errors reach the user as one line of readable length (names read from input are quoted and cut).
public func requireOneLine(_ error: Error) {
    let message = "\(error)"
    require(!message.contains(where: { $0.isNewline || $0 == "\0" }) && message.count < 2_000,
            "error message breaks the one-line contract: \(message.prefix(300).debugDescription)")
}
