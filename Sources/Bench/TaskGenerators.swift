/// Every task generator, by the name task files give in `generator`. A new generator is a file
/// with a `TaskGenerator` type and one line here.
public enum TaskGenerators {
    public static let all: [TaskGenerator.Type] = [
        PasskeyTask.self,
        NeedleTask.self,
        LongBenchTask.self,
        KVRetrievalTask.self,
        RulerSuiteTask.self,
        RulerTask<RulerNIAH>.self,
        RulerTask<RulerVariableTracking>.self,
        RulerTask<RulerCommonWords>.self,
        RulerTask<RulerFrequentWords>.self,
        RulerTask<RulerQA>.self,
        JSONLTask.self,
        PerplexityTask.self,
    ]

    public static var names: [String] { all.map { $0.name } }

    static func generator(_ file: TaskFile) throws -> TaskGenerator.Type {
        guard let generator = all.first(where: { $0.name == file.generator }) else {
            throw TaskError("\(file.path): unknown generator '\(file.generator)' (generators: \(names.joined(separator: ", ")))")
        }
        return generator
    }
}
