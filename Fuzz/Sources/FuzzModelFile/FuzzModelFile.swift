import FuzzSupport
import GGUF
import Inference
import Kernels

// Model files: the GGUF reader, the tokenizer and the architecture built from it, as `LoadedModel`
// does for `--model`, then a short generation on whatever loads. Seeds: the synthetic models.
let scratch = ScratchFile(suffix: ".gguf")

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: FuzzerArguments) -> CInt {
    _ = scratch
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModelFile(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    do {
        let loaded = try LoadedModel(path: scratch.write(data, size), parallelism: Parallelism(threads: 1))
        let tokenizer = loaded.tokenizer
        let ids = tokenizer.encode("hello world\n<start_of_turn>", addSpecial: true, parseSpecial: true)
        require(ids.allSatisfy { $0 >= 0 && Int($0) < tokenizer.vocabularySize }, "token id outside the vocabulary: \(ids)")
        _ = tokenizer.decode(ids, renderSpecial: true)
        guard !ids.isEmpty else { return 0 }
        let result = try Generator(loaded, chunkSize: 4).generate(GenerationRequest(promptTokens: ids, maxNewTokens: 2))
        require(result.tokens.allSatisfy { $0 >= 0 && Int($0) < tokenizer.vocabularySize }, "generated id outside the vocabulary")
    } catch {
        requireOneLine(error)
    }
    return 0
}
