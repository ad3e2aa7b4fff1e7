import Bench
import Foundation

/// `lmbench tasks`: the task definitions a run can use.
enum TasksCommand {
    static let usage = "lmbench tasks [--tasks DIR]"
    static let summary = "Lists the tasks in the task folder (name, generator, description), then the suites in its suites/ folder."
    static let options: [CommandLineOptions.Option] = [StoreLocation.tasksOption]

    static func run(_ arguments: [String]) throws {
        let o = try CommandLineOptions(command: "tasks", options: options, arguments: arguments)
        if o.wantsHelp { print(o.help(usage: usage, summary: summary)); return }
        let catalog = try StoreLocation.catalog(o)
        for file in catalog.names.compactMap({ catalog.files[$0] }) {
            print("\(file.name.padding(toLength: 22, withPad: " ", startingAt: 0)) \(file.generator.padding(toLength: 10, withPad: " ", startingAt: 0)) \(file.description ?? "")")
        }
        let suites = ((try? FileManager.default.contentsOfDirectory(atPath: catalog.suitesFolder)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        if !suites.isEmpty { print("\nsuites (lmbench nightly --suite FILE): " + suites.map { catalog.suitesFolder + "/" + $0 }.joined(separator: ", ")) }
    }
}
