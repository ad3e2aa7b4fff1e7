import Foundation

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
