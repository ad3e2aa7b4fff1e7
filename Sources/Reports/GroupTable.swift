import Foundation
import Results

/// Accuracy by record group, for tasks whose task file names `groups` (the `jsonl` generator):
/// per task, one row per engine with the overall score and the score of every value of every group,
/// as LongBench v2's `result.py` lays out Overall, Easy, Hard, Short, Medium, Long. A grouped sample's
/// dataset is `TASK;FIELD=VALUE;…` (`JSONLTask.Record.dataset`); the run's task parameter `groups`
/// (`FIELD=V1|V2…;…`) gives the order of the values, and values it does not list follow, sorted.
public struct GroupTable {
    public struct Column: Equatable {
        public var group: String
        public var value: String
        public var label: String { "\(group)=\(value)" }
    }

    struct Task {
        var name: String
        var engines: [String] = []
        var columns: [Column] = []
        /// engine → column label (or "" for overall) → cell.
        var cells: [String: [String: Cell]] = [:]
    }

    private var tasks: [Task] = []

    public init(_ samples: [SampleRecord], runs: [RunRecord]) {
        let declared = Dictionary(runs.map { ($0.id, Self.declaredOrder($0.taskParameters["groups"] ?? "")) }) { a, _ in a }
        var byTask: [String: Task] = [:]
        var order: [String] = []
        for s in samples {
            let groups = Self.groups(ofDataset: s.dataset)
            guard !groups.isEmpty else { continue }
            if byTask[s.task] == nil { order.append(s.task); byTask[s.task] = Task(name: s.task) }
            var task = byTask[s.task]!
            if task.cells[s.engine] == nil { task.engines.append(s.engine); task.cells[s.engine] = [:] }
            task.cells[s.engine]!["", default: Cell()].add(s)
            for column in groups {
                if !task.columns.contains(column) { task.columns.append(column) }
                task.cells[s.engine]![column.label, default: Cell()].add(s)
            }
            byTask[s.task] = task
        }
        tasks = order.map { name in
            var task = byTask[name]!
            let runOrder = samples.first { $0.task == name }.flatMap { declared[$0.runID] } ?? []
            task.columns = Self.ordered(task.columns, declared: runOrder)
            return task
        }
    }

    /// The `FIELD=VALUE` groups of a sample's dataset; none for an ungrouped dataset.
    public static func groups(ofDataset dataset: String) -> [Column] {
        dataset.split(separator: ";").dropFirst().compactMap { part in
            guard let at = part.firstIndex(of: "=") else { return nil }
            return Column(group: String(part[..<at]), value: String(part[part.index(after: at)...]))
        }
    }

    /// The groups a run declares, in order, each with its values in order.
    static func declaredOrder(_ parameter: String) -> [(group: String, values: [String])] {
        parameter.split(separator: ";").compactMap { part in
            guard let at = part.firstIndex(of: "=") else { return nil }
            return (String(part[..<at]), part[part.index(after: at)...].split(separator: "|").map(String.init))
        }
    }

    /// Columns by declared group, then declared value; others after, by group then value.
    static func ordered(_ columns: [Column], declared: [(group: String, values: [String])]) -> [Column] {
        func rank(_ c: Column) -> (Int, Int, String, String) {
            guard let g = declared.firstIndex(where: { $0.group == c.group }) else { return (declared.count, 0, c.group, c.value) }
            return (g, declared[g].values.firstIndex(of: c.value) ?? declared[g].values.count, "", c.value)
        }
        return columns.sorted { rank($0) < rank($1) }
    }

    /// The score of `engine` on `task` in `column` (nil: overall).
    public func cell(task: String, engine: String, column: Column?) -> Cell? {
        tasks.first { $0.name == task }?.cells[engine]?[column?.label ?? ""]
    }

    public func columns(task: String) -> [Column] { tasks.first { $0.name == task }?.columns ?? [] }

    public func document() -> Document {
        var doc = Document()
        for task in tasks {
            doc.heading(2, "\(task.name): accuracy by group × engine (×100)")
            doc.paragraph("Overall with its 95% interval, then each group's value (the fields the task file names in `groups`), with n.")
            doc.table(["engine", "overall"] + task.columns.map(\.label), task.engines.map { engine in
                [engine, task.cells[engine]![""].map { Format.scoreCell($0, scale: 100) } ?? "–"]
                    + task.columns.map { c in task.cells[engine]![c.label].map { Format.scoreCell($0, scale: 100, interval: false) } ?? "–" }
            }, rightAligned: Set(1...task.columns.count + 1))
        }
        return doc
    }
}
