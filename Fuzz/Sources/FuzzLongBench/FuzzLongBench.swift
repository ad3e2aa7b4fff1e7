import Bench
import FuzzSupport
import Inference

// JSONL task data as `lmbench run TASK --data FILE` reads it, through the LongBench loader and the
// generic JSONL one (LongBench v2's and an InfiniteBench multiple-choice file's field mappings):
// every record is checked when the file loads; each one that loads is planned, templated, tokenized
// and scored against its answers.
let scratch = ScratchFile(suffix: ".jsonl")
let catalog = try! TaskCatalog(folder: packageRoot.appendingPathComponent("tasks").path)
let tokenizer = seedModel("gemma3").tokenizer

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: FuzzerArguments) -> CInt {
    _ = (scratch, catalog, tokenizer)
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLongBench(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // Foundation's FileManager.contents(atPath:) leaks 4 KiB on each read of an empty file (Swift
    // 6.3.1), which LeakSanitizer reports; an empty file's only path is "no records".
    guard size > 0 else { return 0 }
    let request = TaskRequest(lengths: [], depths: nil, samplesPerCell: 1, seed: 1, limit: nil, dataPath: scratch.write(data, size),
                              haystackPath: nil)
    for name in ["longbench", "longbench_v2", "infinitebench_longbook_choice_eng"] {
        do {
            let task = try catalog.make(name, request: request, tokenizer: tokenizer)
            for planned in try task.plan() {
                require(planned.length >= 0, "\(name): negative length \(planned.length)")
                let sample = try task.makeSample(planned)
                let score = sample.score(sample.answers[0]).score
                require(score.isFinite && (0...1).contains(score), "\(name): score \(score) for the answer itself")
            }
        } catch {
            requireOneLine(error)
        }
    }
    return 0
}
