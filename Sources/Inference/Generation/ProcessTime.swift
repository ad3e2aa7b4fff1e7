import Foundation

/// What this process got of the machine over a stretch of wall time: its CPU time, how often the
/// scheduler took a core from it, and the machine's load. A timing is only the engine's own when
/// the process had the cores it asked for; on a shared machine it may not have.
public struct ProcessTime: Sendable, Equatable {
    public var wallSeconds: Double
    /// User plus system time of all the process's threads.
    public var cpuSeconds: Double
    /// Times a thread of the process was preempted (`ru_nivcsw`): another runnable thread took its core.
    public var involuntarySwitches: Int
    /// The machine's one-minute load average at the end, or nil where /proc is unavailable.
    public var loadAverage: Double?

    /// Below this share of its threads' worth of CPU time per wall second, a process was kept from
    /// the cores it asked for. Threads that wait spin, so a process that had its cores gets nearly
    /// all of it; one that another process crowded out gets about half or less.
    public static let contendedShare = 0.75
    /// Shorter stretches are not judged: a few scheduler ticks would decide them.
    public static let minimumJudgedSeconds = 0.2

    public init(wallSeconds: Double, cpuSeconds: Double, involuntarySwitches: Int, loadAverage: Double?) {
        self.wallSeconds = wallSeconds
        self.cpuSeconds = cpuSeconds
        self.involuntarySwitches = involuntarySwitches
        self.loadAverage = loadAverage
    }

    /// CPU time per wall second (2.0: two cores' worth).
    public var cpuShare: Double { wallSeconds > 0 ? cpuSeconds / wallSeconds : 0 }

    /// Whether a stretch run on `threads` threads got well below their worth of CPU time.
    public func isContended(threads: Int) -> Bool {
        wallSeconds >= Self.minimumJudgedSeconds && cpuShare < Self.contendedShare * Double(threads)
    }

    /// Runs `body` and measures it.
    public static func measure<T>(_ body: () throws -> T) rethrows -> (T, ProcessTime) {
        let before = Reading.now()
        let result = try body()
        let after = Reading.now()
        return (result, ProcessTime(wallSeconds: after.wall - before.wall, cpuSeconds: after.cpu - before.cpu,
                                    involuntarySwitches: after.involuntarySwitches - before.involuntarySwitches,
                                    loadAverage: loadAverage))
    }

    /// The one-minute load average (/proc/loadavg).
    public static var loadAverage: Double? {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return nil }
        return text.split(separator: " ").first.flatMap { Double($0) }
    }

    private struct Reading {
        var wall: Double, cpu: Double, involuntarySwitches: Int

        static func now() -> Reading {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
            return Reading(wall: Double(DispatchTime.now().uptimeNanoseconds) / 1e9,
                           cpu: seconds(usage.ru_utime) + seconds(usage.ru_stime), involuntarySwitches: usage.ru_nivcsw)
        }
    }
}

/// Processes that each keep a core busy (a shell loop) until stopped: another user of the machine,
/// for measuring the engine on a shared one (`lmbench bench --hog`, the contention tests).
public final class CPUHog {
    private let processes: [Process]

    public init(processes count: Int) throws {
        processes = try (0..<count).map { _ in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", "while :; do :; done"]
            try p.run()
            return p
        }
    }

    public func stop() {
        for p in processes where p.isRunning { p.terminate() }
        for p in processes { p.waitUntilExit() }
    }
}
