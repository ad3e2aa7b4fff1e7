import Foundation
import FuzzSupport
import GGUF
import Inference

// Arbitrary text through every tokenizer kind: the synthetic vocabularies of the seed models, and
// the real Gemma 3 (SentencePiece) and SmolLM2 (byte-level BPE) vocabularies when `models/` has
// them. The first byte picks the tokenizer and the special-token flags; the rest is the text, and
// read again as token ids, what decoding gets.
let tokenizers: [Tokenizer] = ["gemma3", "llama", "qwen2"].map { seedModel($0).tokenizer }
    + ["gemma-3-270m-q4_k_m.gguf", "smollm2-135m-instruct-q4_1.gguf"].compactMap { name in
        let path = packageRoot.appendingPathComponent("models/" + name).path
        return FileManager.default.fileExists(atPath: path) ? try! TokenizerFactory.make(from: GGUFFile(path: path)) : nil
    }

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: FuzzerArguments) -> CInt {
    _ = tokenizers
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizers(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let flags = Int(data[0])
    let tokenizer = tokenizers[(flags >> 2) % tokenizers.count]
    let bytes = UnsafeBufferPointer(start: data + 1, count: size - 1)
    let ids = tokenizer.encode(String(decoding: bytes, as: UTF8.self), addSpecial: flags & 1 != 0, parseSpecial: flags & 2 != 0)
    require(ids.allSatisfy { $0 >= 0 && Int($0) < tokenizer.vocabularySize }, "token id outside the vocabulary: \(ids)")
    _ = tokenizer.decode(ids, renderSpecial: flags & 2 != 0)
    let arbitrary = stride(from: 0, to: bytes.count - 3, by: 4).map { i in
        Int32(bitPattern: UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
    }
    _ = tokenizer.decodeBytes(arbitrary, renderSpecial: true)
    return 0
}
