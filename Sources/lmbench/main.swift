import GGUF
import Foundation
let f = try GGUFFile(path: CommandLine.arguments[1])
print(f.version, f.tensors.count, f.metadata.keys.count, f.dataStart)
let t0 = Date()
print(SHA256.hex(UnsafeRawBufferPointer(start: f.tensors[0].data.baseAddress! - f.dataStart, count: f.fileSize)), Date().timeIntervalSince(t0))
