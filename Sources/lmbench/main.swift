import GGUF
import Kernels
import Foundation
let f = try GGUFFile(path: CommandLine.arguments[1])
let threads = Int(CommandLine.arguments[2]) ?? 2
let ctx = ComputeContext(parallelism: Parallelism(threads: threads))
func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
let T = 512
let x = UnsafeMutablePointer<Float>.allocate(capacity: T * 2048); for i in 0..<(T*2048) { x[i] = Float(i % 13) * 0.01 - 0.06 }
let y = UnsafeMutablePointer<Float>.allocate(capacity: T * 262144 / 64)
for name in ["blk.0.attn_q.weight", "blk.0.ffn_gate.weight", "blk.0.ffn_down.weight", "blk.2.ffn_down.weight", "blk.0.attn_output.weight"] {
    let w = try WeightMatrix(f.requireTensor(name), in: f)
    ctx.matmul(x, rows: T, w, y)
    let t0 = now(); let reps = 5
    for _ in 0..<reps { ctx.matmul(x, rows: T, w, y) }
    let dt = (now() - t0) / Double(reps)
    print(name, w.type, "gemm T=\(T):", String(format: "%.1f GFLOP/s  %.2f ms", Double(2 * T * w.rows * w.cols) / dt / 1e9, dt * 1e3))
    let t1 = now(); let r2 = 200
    for _ in 0..<r2 { ctx.matmul(x, rows: 1, w, y) }
    let dt2 = (now() - t1) / Double(r2)
    print("   matvec:", String(format: "%.1f GB/s  %.3f ms", Double(w.byteCount) / dt2 / 1e9, dt2 * 1e3))
}
let head = try WeightMatrix(f.requireTensor("token_embd.weight"), in: f)
let logits = UnsafeMutablePointer<Float>.allocate(capacity: 262144)
ctx.matmul(x, rows: 1, head, logits)
let t0 = now()
for _ in 0..<20 { ctx.matmul(x, rows: 1, head, logits) }
let dt = (now() - t0) / 20
print("head matvec:", String(format: "%.1f GB/s  %.2f ms", Double(head.byteCount) / dt / 1e9, dt * 1e3))
do {
    let small = WeightMatrix(name: "s", type: .q8_0, rows: 256, cols: 640, data: head.data)
    ctx.matmul(x, rows: 1, small, logits)
    let t0 = now()
    for _ in 0..<20000 { ctx.matmul(x, rows: 1, small, logits) }
    let dt = (now() - t0) / 20000
    print("L2-resident q8_0 matvec:", String(format: "%.1f GB/s  %.4f ms", Double(small.byteCount) / dt / 1e9, dt * 1e3))
}
