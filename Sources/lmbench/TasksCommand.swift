import Bench
import Foundation

/// `lmbench tasks`: the task definitions a run can use.
enum TasksCommand {
    static let usage = "lmbench tasks [--tasks DIR]"
    static let summary = "Lists the tasks in the task folder: generated ones (passkey, needle) and LongBench datasets."
    static let options: [CommandLineOptions.Option] = [StoreLocation.tasksOption]

    static func run(_ arguments: [String]) throws {
        let o = try CommandLineOptions(command: "tasks", options: options, arguments: arguments)
        if o.wantsHelp { print(o.help(usage: usage, summary: summary)); return }
        let catalog = try StoreLocation.catalog(o)
        for (name, d) in catalog.tasks.sorted(by: { $0.key < $1.key }) {
            print("\(name.padding(toLength: 22, withPad: " ", startingAt: 0)) \(d.generator.padding(toLength: 9, withPad: " ", startingAt: 0)) \(d.description ?? "")")
        }
        for (name, d) in catalog.longBenchDatasets.sorted(by: { $0.key < $1.key }) {
            print("\(name.padding(toLength: 22, withPad: " ", startingAt: 0)) longbench metric \(d.metric.rawValue), max \(d.maxNewTokens) new tokens (--data FILE)")
        }
    }
}
