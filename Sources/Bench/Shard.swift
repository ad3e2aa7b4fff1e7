import Foundation
import Results

/// One of N parts of a sweep (`--shard I/N`, I from 1): the planned (sample, engine) pairs are
/// split so that every pair falls in exactly one shard, the same one in every process that plans
/// the same run, and the shards' estimated costs are close. The shard is stored as the run's
/// `shard` tag, so each shard resumes its own run, and `lmbench merge` joins the shards' runs into
/// the one run an unsharded command would have made.
public struct Shard: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// 1-based.
    public let index: Int
    public let count: Int

    /// The run tag a shard is stored in (`shard=2/4`).
    public static let tag = "shard"

    public var description: String { "\(index)/\(count)" }

    public init(index: Int, count: Int) throws {
        guard count >= 1, (1...count).contains(index) else {
            throw SpecError("--shard \(index)/\(count): I must be in 1...\(count)")
        }
        self.index = index
        self.count = count
    }

    /// `I/N`, as `--shard` and the tag write it.
    public static func parse(_ text: String) throws -> Shard {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]) else {
            throw SpecError("--shard takes I/N (shard I of N, e.g. 2/4), not '\(text)'")
        }
        guard count >= 1, count <= 100_000 else { throw SpecError("--shard \(text): N must be in 1...100000") }
        return try Shard(index: index, count: count)
    }

    /// The shard of a stored run, from its tags (nil: an unsharded run).
    public static func of(_ run: RunRecord) -> Shard? { run.tags[tag].flatMap { try? parse($0) } }

    /// The positions in `items` that fall in this shard. Greedy by estimated cost: the costliest
    /// item first, each to the least-loaded shard (the lowest index on a tie), items of equal cost
    /// in order of `identity`. Whatever order the plan lists its items in, the split is the same.
    public func select<Item>(_ items: [Item], cost: (Item) -> Double, identity: (Item) -> String) -> [Int] {
        let order = items.indices.sorted { a, b in
            let (ca, cb) = (cost(items[a]), cost(items[b]))
            return ca != cb ? ca > cb : identity(items[a]) < identity(items[b])
        }
        var load = [Double](repeating: 0, count: count)
        var mine: [Int] = []
        for i in order {
            // The first minimum: the lowest index among the least loaded.
            let target = load.indices.min { load[$0] < load[$1] }!
            load[target] += cost(items[i])
            if target == index - 1 { mine.append(i) }
        }
        return mine.sorted()
    }
}

extension PlannedSample {
    /// A sample's relative cost: its prompt and generation tokens plus a fixed overhead. It weighs
    /// the progress line's ETA and balances shards.
    public var estimatedCost: Double { Double(estimatedTokens + maxNewTokens + 256) }
}

extension RunPlan {
    /// This plan restricted to one shard: the same task and engines, the run row tagged with the shard.
    public func sharded(_ shard: Shard) -> RunPlan {
        var run = record
        run.tags[Shard.tag] = shard.description
        run.key = Self.key(RunConfiguration(run), version: run.lmbenchVersion)
        let plan = RunPlan(task: task, engines: engines, record: run, timeLimit: timeLimit)
        plan.shard = shard
        return plan
    }
}
