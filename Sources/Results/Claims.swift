import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The process that holds a claim, with what it takes to tell later whether it still runs: its
/// pid, counted in a pid namespace of one boot of one host, and its start time, which tells it
/// from a later process given the same pid.
public struct ClaimHolder: Equatable, Sendable, CustomStringConvertible {
    public var host: String
    public var bootID: String
    public var pidNamespace: String
    public var pid: Int
    /// Clock ticks from boot to the process's start (field 22 of `/proc/PID/stat`).
    public var startTicks: Int

    public var description: String { "pid \(pid) on \(host)" }

    /// This process.
    public static let current: ClaimHolder = {
        let pid = Int(getpid())
        var name = [CChar](repeating: 0, count: 256)
        let host = gethostname(&name, name.count) == 0 ? String(cString: name) : "unknown"
        let bootID = (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        let namespace = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid")) ?? ""
        return ClaimHolder(host: host, bootID: bootID, pidNamespace: namespace, pid: pid, startTicks: startTicks(of: pid) ?? 0)
    }()

    /// Whether the holder may still be running. A process that lmbench cannot look at (on another
    /// host, or in another pid namespace) is taken to be alive: its claim stands until it is
    /// released. One of an earlier boot is gone; otherwise `/proc` says.
    var mayBeRunning: Bool {
        let me = Self.current
        guard host == me.host else { return true }
        guard bootID == me.bootID else { return false }
        guard pidNamespace == me.pidNamespace else { return true }
        return Self.startTicks(of: pid) == startTicks
    }

    /// The start time of process `pid`, or nil when there is no such process.
    static func startTicks(of pid: Int) -> Int? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // After the command name (in parentheses, and free to hold spaces) come fields 3, 4, ….
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? Int(fields[19]) : nil
    }
}

/// What claiming a sample found.
public enum ClaimOutcome: Equatable, Sendable {
    /// The sample is the claimer's to run.
    case claimed
    /// Another process stored it meanwhile.
    case stored
    /// A process that may still be running holds it.
    case held(by: ClaimHolder)
}

extension ResultsStore {
    /// Claims of samples being run: one per (run, engine, sample key), by one runner (`claimer`,
    /// unique to one call of a runner, so two runners in one process never share a claim).
    static let claimsSQL = """
        CREATE TABLE claims (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            engine TEXT NOT NULL,
            sample_key TEXT NOT NULL,
            claimer TEXT NOT NULL,
            host TEXT NOT NULL,
            boot_id TEXT NOT NULL,
            pid_namespace TEXT NOT NULL,
            pid INTEGER NOT NULL,
            start_ticks INTEGER NOT NULL,
            claimed_at TEXT NOT NULL,
            PRIMARY KEY (run_id, engine, sample_key)
        );
        """

    /// Claims a sample of a run for `claimer` before it runs it, in one write transaction, so that
    /// of processes sharing the run exactly one runs it. A claim whose process has died (killed, or
    /// stopped by an error) is stale and taken over; `record` drops the claim with the sample.
    public func claim(runID: Int64, engine: String, sampleKey: String, claimer: String) throws -> ClaimOutcome {
        try database.transaction { () -> ClaimOutcome in
            let key: [SQLBindable] = [runID, engine, sampleKey]
            guard try database.query("SELECT 1 FROM samples WHERE run_id = ? AND engine = ? AND sample_key = ?", key).isEmpty else {
                return .stored
            }
            if let row = try database.query("""
                SELECT claimer, host, boot_id, pid_namespace, pid, start_ticks FROM claims
                WHERE run_id = ? AND engine = ? AND sample_key = ?
                """, key).first, row[0].string != claimer {
                let holder = ClaimHolder(host: row[1].string ?? "", bootID: row[2].string ?? "", pidNamespace: row[3].string ?? "",
                                         pid: row[4].int ?? 0, startTicks: row[5].int ?? 0)
                if holder.mayBeRunning { return .held(by: holder) }
            }
            let me = ClaimHolder.current
            try database.query("""
                INSERT OR REPLACE INTO claims (run_id, engine, sample_key, claimer, host, boot_id, pid_namespace, pid, start_ticks, claimed_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, key + [claimer, me.host, me.bootID, me.pidNamespace, me.pid, me.startTicks, Self.now()])
            return .claimed
        }
    }

    /// Drops every claim `claimer` still holds (a runner stopped by an error), so that another
    /// process takes those samples at once.
    public func releaseClaims(claimer: String) throws {
        try database.query("DELETE FROM claims WHERE claimer = ?", [claimer])
    }
}
