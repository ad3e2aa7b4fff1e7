import Foundation
import GGUF
import Inference
import Results

/// Facts about this machine and this build, for run rows.
public enum Provenance {
    public static func machine() -> MachineFacts {
        var cpu = "unknown"
        if let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           let line = info.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
           let colon = line.firstIndex(of: ":") {
            cpu = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var os = ProcessInfo.processInfo.operatingSystemVersionString
        if let release = try? String(contentsOfFile: "/etc/os-release", encoding: .utf8),
           let line = release.split(separator: "\n").first(where: { $0.hasPrefix("PRETTY_NAME=") }) {
            os = line.dropFirst("PRETTY_NAME=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        if let kernel = try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8) {
            os += ", Linux " + kernel.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return MachineFacts(cpu: cpu, cores: ProcessInfo.processInfo.activeProcessorCount,
                            memoryBytes: Int(ProcessInfo.processInfo.physicalMemory), os: os)
    }

    /// `LMBENCH_VERSION` if set, else the git revision of the checkout this binary was built from
    /// (with `-dirty` for uncommitted changes), else "unknown".
    public static func version() -> String {
        if let v = ProcessInfo.processInfo.environment["LMBENCH_VERSION"], !v.isEmpty { return v }
        let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", checkout.path, "describe", "--always", "--dirty", "--abbrev=12"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return "unknown" }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return process.terminationStatus == 0 && !text.isEmpty ? text : "unknown"
    }

    /// sha256 of a file, read in 4 MiB pieces.
    public static func sha256(ofFile path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw TaskError("\(path): cannot read the file") }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let piece = try handle.read(upToCount: 4 << 20), !piece.isEmpty {
            piece.withUnsafeBytes { hasher.update($0) }
        }
        return hasher.finalizeHex()
    }

    /// A stable digest of a configuration (sorted-key JSON), used as a run's key.
    public static func digest<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data()
        return data.withUnsafeBytes { SHA256.hex($0) }
    }
}

/// Progress of a run on stderr: one rewritten line with counts and an ETA, only when stderr is a
/// terminal. The ETA weighs samples by prompt length, since a 64k prompt costs far more than a 1k one.
public final class ProgressLine {
    let enabled: Bool
    let totalWeight: Double
    var doneWeight = 0.0
    var measuredWeight = 0.0
    var measuredSeconds = 0.0
    var lastLength = 0

    public init(totalWeight: Double, enabled: Bool = isatty(2) == 1) {
        self.totalWeight = max(totalWeight, 1)
        self.enabled = enabled
    }

    public func show(done: Int, total: Int, what: String) {
        guard enabled else { return }
        var eta = "ETA --"
        if measuredWeight > 0 {
            let seconds = Int((totalWeight - doneWeight) * measuredSeconds / measuredWeight)
            eta = seconds >= 3600 ? "ETA \(seconds / 3600)h\(seconds % 3600 / 60)m" : "ETA \(seconds / 60)m\(String(format: "%02d", seconds % 60))s"
        }
        let line = String(format: "[%d/%d %3.0f%%] ", done, total, 100 * doneWeight / totalWeight) + what + "  " + eta
        FileHandle.standardError.write(Data(("\r" + line.padding(toLength: max(line.count, lastLength), withPad: " ", startingAt: 0)).utf8))
        lastLength = line.count
    }

    /// Records a finished sample of `weight` that took `seconds` (nil: it was not run).
    public func finished(weight: Double, seconds: Double?) {
        doneWeight += weight
        if let seconds { measuredWeight += weight; measuredSeconds += seconds }
    }

    public func end() {
        guard enabled, lastLength > 0 else { return }
        FileHandle.standardError.write(Data("\n".utf8))
    }
}

/// Runs a task's samples through engines into the store: one transaction per finished sample, and
/// samples already stored for the run are skipped, so a killed run resumes where it stopped.
public final class Runner {
    public struct Summary: Sendable {
        public var runID: Int64
        public var resumed: Bool
        public var alreadyDone: Int
        public var ran: Int
        public var counts: [SampleStatus: Int]
        public var meanScore: [String: (score: Double, n: Int)]
    }

    let store: ResultsStore
    let task: BenchmarkTask
    let engines: [Engine]
    let timeLimit: Double?

    public init(store: ResultsStore, task: BenchmarkTask, engines: [Engine], timeLimit: Double?) {
        self.store = store
        self.task = task
        self.engines = engines
        self.timeLimit = timeLimit
    }

    /// Runs (or resumes) `run`: `template` describes it; an unfinished run with the same key is
    /// continued unless `fresh`; `requireExisting` makes a missing one an error (`--resume`).
    public func run(_ template: RunRecord, fresh: Bool, requireExisting: Bool, planned: [PlannedSample]) throws -> Summary {
        var run: RunRecord
        var resumed = false
        if !fresh, let existing = try store.unfinishedRun(key: template.key) {
            run = existing
            resumed = true
        } else if requireExisting {
            throw TaskError("\(store.path): no unfinished run of this configuration to resume")
        } else {
            run = try store.insertRun(template)
        }
        let done = try store.completedKeys(runID: run.id)
        let todo = planned.flatMap { p in engines.map { (p, $0) } }.filter {
            !done.contains(ResultsStore.completionKey(engine: $0.1.record.label, sampleKey: $0.0.key))
        }
        let progress = ProgressLine(totalWeight: todo.reduce(0) { $0 + Double($1.0.lengthTokens + 256) })
        var summary = Summary(runID: run.id, resumed: resumed, alreadyDone: done.count, ran: 0, counts: [:], meanScore: [:])
        var sample: Sample?
        for (i, (planned, engine)) in todo.enumerated() {
            let depth = planned.depth.map { String(format: " depth %g%%", $0) } ?? ""
            progress.show(done: i, total: todo.count, what: "\(task.name) \(LengthGrid.label(planned.lengthTokens))\(depth) \(engine.record.label)")
            let started = Date()
            let record: SampleRecord
            if planned.lengthTokens > 0, let reason = engine.refusal(promptTokens: planned.lengthTokens, maxNewTokens: 0) {
                record = refused(planned, engine: engine, runID: run.id, reason: reason)
            } else {
                if sample?.key != planned.key { sample = try task.makeSample(planned) }
                record = runOne(sample!, engine: engine, runID: run.id)
            }
            try store.record(record)
            progress.finished(weight: Double(planned.lengthTokens + 256), seconds: record.status == .ok ? Date().timeIntervalSince(started) : nil)
            summary.ran += 1
            summary.counts[record.status, default: 0] += 1
        }
        progress.end()
        try store.markFinished(runID: run.id)
        for s in try store.samples(runIDs: [run.id]) where s.status == .ok {
            let previous = summary.meanScore[s.engine] ?? (0, 0)
            summary.meanScore[s.engine] = (previous.score + (s.score ?? 0), previous.n + 1)
        }
        for (engine, total) in summary.meanScore { summary.meanScore[engine] = (total.score / Double(total.n), total.n) }
        return summary
    }

    /// A sample the engine refused before its prompt was built.
    func refused(_ planned: PlannedSample, engine: Engine, runID: Int64, reason: String) -> SampleRecord {
        SampleRecord(runID: runID, engine: engine.record.label, sampleKey: planned.key, task: task.name, dataset: task.name,
                     sampleID: planned.key, lengthTokens: planned.lengthTokens, depth: planned.depth, lengthWords: nil, expected: [],
                     output: "", score: nil, metric: "", promptTokens: planned.lengthTokens, truncated: false, prefillMs: nil,
                     timeToFirstTokenMs: nil, decodeMs: nil, decodeTokens: 0, decodeTokensPerSecond: nil, peakRSSBytes: nil,
                     attentionStateBytes: nil, status: .skipped, error: reason)
    }

    /// One sample through one engine, as a row: failures become statuses, never lost runs.
    func runOne(_ sample: Sample, engine: Engine, runID: Int64) -> SampleRecord {
        var record = SampleRecord(runID: runID, engine: engine.record.label, sampleKey: sample.key, task: task.name,
                                  dataset: sample.dataset, sampleID: sample.id, lengthTokens: sample.lengthTokens, depth: sample.depth,
                                  lengthWords: sample.lengthWords, expected: sample.answers, output: "", score: nil,
                                  metric: sample.metric.rawValue, promptTokens: sample.promptTokens?.count ?? 0, truncated: false,
                                  prefillMs: nil, timeToFirstTokenMs: nil, decodeMs: nil, decodeTokens: 0, decodeTokensPerSecond: nil,
                                  peakRSSBytes: nil, attentionStateBytes: nil, status: .ok, error: nil)
        do {
            let out = try engine.run(sample, timeLimit: timeLimit)
            record.output = out.text
            record.score = sample.score(out.text)
            record.promptTokens = out.promptTokens
            record.truncated = out.truncated
            record.prefillMs = out.prefillSeconds * 1000
            record.timeToFirstTokenMs = out.timeToFirstTokenSeconds * 1000
            record.decodeMs = out.decodeSeconds * 1000
            record.decodeTokens = out.decodeTokens
            record.decodeTokensPerSecond = out.decodeTokensPerSecond
            record.peakRSSBytes = out.peakRSSBytes
            record.attentionStateBytes = out.attentionStateBytes
        } catch let skip as EngineSkip {
            record.status = .skipped
            record.error = skip.description
        } catch let error as GenerationError {
            record.status = .timedOut
            record.error = error.description
            record.peakRSSBytes = ProcessMemory.peakResidentBytes
        } catch {
            record.status = .error
            record.error = "\(error)"
        }
        return record
    }
}
