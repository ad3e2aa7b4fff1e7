import Foundation
import Bench
import Inference
import GGUF
import Kernels

/// `lmbench bench`: prefill and decode speed of the engine at several prompt lengths, with memory.
enum BenchCommand {
    static let usage = "lmbench bench [--model PATH] [--lengths 512,4k] [--decode-tokens N] [--threads N] [--kernels PATH] [--hog N] [--json] | --matvec | --gemm"
    static let summary = """
        For each length, runs a prompt of exactly that many tokens (English filler text) through the
        model with full attention, then decodes --decode-tokens tokens after it (ignoring stop tokens).
        Prints prefill tokens/s, decode tokens/s, time to first token, the bytes held by the attention
        state and the peak resident set size. A short warm-up run first maps the weights in.
        Each length also gets the CPU share the process got (CPU time per wall second; one core's
        worth is 1.0): well below the thread count, another process took cores and the figures are
        not the engine's own, which bench says. --hog N starts N processes that keep a core busy
        each for the whole benchmark, to measure how the engine copes with a shared machine.
        --matvec instead times the decoding mat-vec kernels: for each weight type, every matrix of
        that type in the model times one vector, as GB/s of weights read (the roofline is the
        machine's memory bandwidth). --gemm times the prefill GEMM the same way, every matrix but
        the token embedding times a --chunk-size-row input, as GFLOP/s beside this machine's f32 FMA
        peak, measured first (twelve independent FMA chains per thread on every thread, as wide as the
        kernel path's vectors). Every mode prints the kernel path it ran: the CPU's best (AVX-512 where
        the CPU has AVX-512 F/CD/BW/DQ/VL and VNNI, else AVX2) unless --kernels picks another.
        """
    static let options: [CommandLineOptions.Option] = [
        ModelLocation.modelOption,
        .init(name: "lengths", valueName: "LIST", help: "Prompt lengths in tokens: 512,4k or 1k..8k (default 512,4k)."),
        .init(name: "decode-tokens", valueName: "N", help: "Tokens to decode after each prompt (default 64)."),
        .init(name: "chunk-size", valueName: "N", help: "Prompt tokens per forward pass (default 512)."),
        .init(name: "repeat", valueName: "N", help: "Runs per length; each figure is the median over them (default 1)."),
        ModelLocation.threadsOption,
        .init(name: "kernels", valueName: "PATH", help: "Kernel path: avx512 or avx2 (default: $LMBENCH_KERNELS, else the best this CPU runs)."),
        .init(name: "hog", valueName: "N", help: "Keep N cores busy with other processes while benchmarking (default 0)."),
        .init(name: "matvec", valueName: nil, help: "Time the decoding mat-vec kernels per weight type instead."),
        .init(name: "gemm", valueName: nil, help: "Time the prefill GEMM per weight type against the measured FMA peak instead."),
        .init(name: "json", valueName: nil, help: "Print one JSON object."),
    ]

    struct Row: Encodable {
        let length: Int
        let prefill_tokens_per_second: Double
        let time_to_first_token_seconds: Double
        let decode_tokens_per_second: Double?
        let decode_tokens: Int
        let attention_state_bytes: Int
        let peak_rss_bytes: Int?
        /// CPU time per wall second over the length's runs.
        let cpu_share: Double
        let involuntary_switches: Int
        let contended: Bool
        /// Parallel loops that ran on one thread because the helpers lagged.
        let loops_run_solo: Int
    }

    struct Report: Encodable {
        let model: String
        let threads: Int
        let hog_processes: Int
        let attention: String
        let kernels: String
        let kernel_path: String
        let rows: [Row]
    }

    /// Filler for benchmark prompts (the passkey haystack sentence, which tokenizes like ordinary
    /// English).
    static let filler = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "

    static func run(_ arguments: [String]) throws {
        let o = try CommandLineOptions(command: "bench", options: options, arguments: arguments)
        if o.wantsHelp { print(o.help(usage: usage, summary: summary)); return }
        guard o.positional.isEmpty else { throw UsageError("lmbench bench: unexpected argument '\(o.positional[0])'") }
        let lengths = try LengthGrid.parse(o.string("lengths") ?? "512,4k")
        let decodeTokens = try o.int("decode-tokens", default: 64, in: 0...100_000)
        let chunk = try o.int("chunk-size", default: 512, in: 1...65536)
        let repeats = try o.int("repeat", default: 1, in: 1...100)
        let hogs = try o.int("hog", default: 0, in: 0...256)
        let path: KernelPath
        do { path = try o.string("kernels").map(KernelPath.named) ?? KernelPath.selected } catch {
            throw UsageError("lmbench bench: --kernels: \(error)")
        }
        let loaded = try ModelLocation.load(o)
        loaded.context.path = path
        if o.flag("matvec") { return try matvec(loaded, repeats: repeats, json: o.flag("json")) }
        if o.flag("gemm") { return try gemm(loaded, rows: chunk, repeats: repeats, json: o.flag("json")) }
        let generator = Generator(loaded, chunkSize: chunk)
        let json = o.flag("json")
        // Refuse lengths that cannot fit before spending time on any of them.
        for length in lengths { try generator.requireMemory(forPositions: length + decodeTokens) }

        func prompt(_ length: Int) -> [Int32] {
            let unit = loaded.tokenizer.encode(filler, addSpecial: false, parseSpecial: false)
            var tokens = loaded.tokenizer.encode("", addSpecial: true, parseSpecial: false)
            while tokens.count < length { tokens += unit }
            return Array(tokens.prefix(length))
        }
        func run(_ length: Int, decode: Int) throws -> GenerationResult {
            try generator.generate(GenerationRequest(promptTokens: prompt(length), maxNewTokens: decode, stopTokens: []))
        }

        _ = try run(min(64, lengths.min() ?? 64), decode: 4)
        let threads = loaded.context.parallelism.threads
        let hog = try CPUHog(processes: hogs)
        defer { hog.stop() }
        if !json {
            print("model \(loaded.path) (\(loaded.model.description.name)), \(threads) threads, attention: full"
                  + (hogs > 0 ? ", \(hogs) other processes keeping a core busy each" : ""))
            print("kernels: \(loaded.context.path.summary)")
            print("length  prefill tok/s  TTFT s  decode tok/s  attention state  peak RSS  CPU share")
        }
        var rows: [Row] = []
        for length in lengths {
            let soloBefore = Parallelism.loopsRunSolo
            let (runs, time) = try ProcessTime.measure { try (0..<repeats).map { _ in try run(length, decode: decodeTokens) } }
            let last = runs[runs.count - 1]
            let row = Row(length: length,
                          prefill_tokens_per_second: median(runs.map(\.timings.prefillTokensPerSecond)),
                          time_to_first_token_seconds: median(runs.map(\.timings.timeToFirstToken)),
                          decode_tokens_per_second: decodeTokens > 1 ? median(runs.compactMap(\.timings.decodeTokensPerSecond)) : nil,
                          decode_tokens: last.timings.decodedTokens,
                          attention_state_bytes: last.attentionStateBytes, peak_rss_bytes: ProcessMemory.peakResidentBytes,
                          cpu_share: time.cpuShare, involuntary_switches: time.involuntarySwitches,
                          contended: time.isContended(threads: threads), loops_run_solo: Parallelism.loopsRunSolo - soloBefore)
            rows.append(row)
            if !json {
                let decode = row.decode_tokens_per_second.map { String(format: "%12.1f", $0) } ?? String(repeating: " ", count: 11) + "-"
                print(String(format: "%6d  %13.1f  %6.2f", length, row.prefill_tokens_per_second, row.time_to_first_token_seconds)
                      + "  " + decode + "  " + mebibytes(row.attention_state_bytes).leftPadded(15)
                      + "  " + (row.peak_rss_bytes.map(mebibytes) ?? "-").leftPadded(8)
                      + String(format: "  %9.2f", row.cpu_share))
            }
        }
        let contended = rows.filter(\.contended)
        if !contended.isEmpty {
            let lengthsText = contended.map { LengthGrid.label($0.length) }.joined(separator: ", ")
            let solo = contended.reduce(0) { $0 + $1.loops_run_solo }
            FileHandle.standardError.write(Data(("lmbench bench: warning: at \(lengthsText) the process got "
                + contended.map { String(format: "%.2f", $0.cpu_share) }.joined(separator: ", ")
                + " cores' worth of CPU time per second for \(threads) threads: another process took cores, so these figures are "
                + "not the engine's own" + (solo > 0 ? " (\(solo) parallel loops ran on one thread while helpers lagged)" : "") + "\n").utf8))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let report = Report(model: loaded.path, threads: threads, hog_processes: hogs, attention: "full",
                                kernels: loaded.context.path.summary, kernel_path: loaded.context.path.rawValue, rows: rows)
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        }
    }

    struct MatvecRow: Encodable {
        let type: String
        let matrices: Int
        let bytes: Int
        let gigabytes_per_second: Double
        let microseconds_per_pass: Double
    }

    /// Decode mat-vec throughput per weight type: all of the model's matrices of one type, each
    /// times one vector, as one pass (the order a forward pass reads them in); the figure is the
    /// median over passes.
    static func matvec(_ loaded: LoadedModel, repeats: Int, json: Bool) throws {
        let reencoded = ReencodedWeights(parallelism: loaded.context.parallelism)
        let matrices = try weightMatrices(loaded, reencoded)
        let widest = matrices.map { max($0.matrix.rows, $0.matrix.cols) }.max() ?? 0
        let x = UnsafeMutablePointer<Float>.allocate(capacity: widest), y = UnsafeMutablePointer<Float>.allocate(capacity: widest)
        defer { x.deallocate(); y.deallocate() }
        var seed: UInt32 = 1
        for i in 0..<widest { seed = seed &* 1_664_525 &+ 1_013_904_223; x[i] = Float(Int32(bitPattern: seed) >> 8) / Float(1 << 23) }
        let types = Dictionary(grouping: matrices, by: \.type).mapValues { $0.map(\.matrix) }
        var rows: [MatvecRow] = []
        for (type, group) in types.sorted(by: { $0.key < $1.key }) {
            let bytes = group.reduce(0) { $0 + $1.byteCount }
            // Enough passes for about 2 GB of reads, at least 5.
            let passes = max(5, repeats, 2_000_000_000 / max(1, bytes))
            var seconds: [Double] = []
            for _ in 0..<passes {
                let start = DispatchTime.now().uptimeNanoseconds
                for w in group { loaded.context.matmul(x, rows: 1, w, y) }
                seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            let t = median(seconds)
            rows.append(MatvecRow(type: type, matrices: group.count, bytes: bytes,
                                  gigabytes_per_second: Double(bytes) / t / 1e9, microseconds_per_pass: t * 1e6))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(rows), as: UTF8.self))
            return
        }
        print("model \(loaded.path), \(loaded.context.parallelism.threads) threads: decoding mat-vec, weights read once per pass")
        print("kernels: \(loaded.context.path.summary)")
        print("type        matrices     MiB   µs/pass    GB/s")
        for r in rows {
            print(r.type.padding(toLength: 10, withPad: " ", startingAt: 0)
                  + String(format: "  %8d  %6.1f  %8.0f  %6.1f", r.matrices, Double(r.bytes) / 1_048_576, r.microseconds_per_pass, r.gigabytes_per_second))
        }
    }

    /// The model's matrices as the engine reads them (re-encoded where it re-encodes at load), each
    /// labelled with its type.
    static func weightMatrices(_ loaded: LoadedModel, _ reencoded: ReencodedWeights,
                               including: (GGUFTensor) -> Bool = { _ in true }) throws -> [(type: String, matrix: WeightMatrix)] {
        try loaded.file.tensors.filter { $0.shape.count == 2 && including($0) }.map { tensor in
            let stored = try WeightMatrix(tensor, in: loaded.file)
            guard let copy = reencoded.reencoded(stored) else { return ("\(stored.type)", stored) }
            return ("\(stored.type)→\(copy.type)", copy)
        }
    }

    struct GemmRow: Encodable {
        let type: String
        let matrices: Int
        let gigaflops: Double
        let share_of_peak: Double
        let milliseconds_per_pass: Double
    }

    struct GemmReport: Encodable {
        let model: String
        let threads: Int
        let input_rows: Int
        let peak_gigaflops: Double
        let peak_method: String
        let kernels: String
        let kernel_path: String
        let rows: [GemmRow]
    }

    /// Prefill GEMM throughput per weight type: every matrix of one type (the token embedding aside:
    /// prefill applies the output head to one row) times a `rows`-row input, as one pass; the figure
    /// is the median over passes, beside the measured FMA peak.
    static func gemm(_ loaded: LoadedModel, rows inputRows: Int, repeats: Int, json: Bool) throws {
        let threads = loaded.context.parallelism.threads
        let peak = PeakThroughput.fmaGigaflops(threads: threads, path: loaded.context.path)
        let reencoded = ReencodedWeights(parallelism: loaded.context.parallelism)
        let matrices = try weightMatrices(loaded, reencoded) { $0.name != "token_embd.weight" }
        let widest = matrices.map { max($0.matrix.rows, $0.matrix.cols) }.max() ?? 0
        let x = UnsafeMutablePointer<Float>.allocate(capacity: inputRows * widest), y = UnsafeMutablePointer<Float>.allocate(capacity: inputRows * widest)
        defer { x.deallocate(); y.deallocate() }
        var seed: UInt32 = 1
        for i in 0..<(inputRows * widest) { seed = seed &* 1_664_525 &+ 1_013_904_223; x[i] = Float(Int32(bitPattern: seed) >> 8) / Float(1 << 23) }
        var rows: [GemmRow] = []
        for (type, group) in Dictionary(grouping: matrices, by: \.type).mapValues({ $0.map(\.matrix) }).sorted(by: { $0.key < $1.key }) {
            let flops = group.reduce(0.0) { $0 + 2 * Double(inputRows) * Double($1.rows) * Double($1.cols) }
            // Enough passes for about 2 seconds at the peak, at least 3.
            let passes = max(3, repeats, Int(2 * peak * 1e9 / max(1, flops)))
            var seconds: [Double] = []
            for _ in 0..<passes {
                let start = DispatchTime.now().uptimeNanoseconds
                for w in group { loaded.context.matmul(x, rows: inputRows, w, y) }
                seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            let t = median(seconds)
            rows.append(GemmRow(type: type, matrices: group.count, gigaflops: flops / t / 1e9, share_of_peak: flops / t / 1e9 / peak,
                                milliseconds_per_pass: t * 1e3))
        }
        let method = "best of 3 runs of 12 independent \(PeakThroughput.lanes(loaded.context.path))-wide FMA chains on each of \(threads) threads"
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let report = GemmReport(model: loaded.path, threads: threads, input_rows: inputRows, peak_gigaflops: peak, peak_method: method,
                                    kernels: loaded.context.path.summary, kernel_path: loaded.context.path.rawValue, rows: rows)
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        print("model \(loaded.path), \(threads) threads: prefill GEMM, \(inputRows) input rows, f32 activations")
        print(String(format: "f32 FMA peak %.1f GFLOP/s (measured: %@)", peak, method))
        print("kernels: \(loaded.context.path.summary)")
        print("type        matrices  ms/pass   GFLOP/s  of peak")
        for r in rows {
            print(r.type.padding(toLength: 10, withPad: " ", startingAt: 0)
                  + String(format: "  %8d  %7.1f  %8.1f  %6.0f%%", r.matrices, r.milliseconds_per_pass, r.gigaflops, r.share_of_peak * 100))
        }
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    static func mebibytes(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
