/// Every metric, by the name task files give in `metric`. A new metric is a file with a `Metric`
/// and one line here.
public enum MetricRegistry {
    public static let all: [Metric] = [
        .firstInteger,
        .containsAll,
        .qaF1,
        .rougeL,
        .classification,
        .retrieval,
        .count,
        .codeSimilarity,
        .kvWords,
        .stringMatchAll,
        .stringMatchPart,
        .longBenchV2Choice,
        .infiniteBenchChoice,
        .infiniteBenchCodeDebug,
        .uppercaseWords,
        .lastInteger,
        .firstNumber,
        .numberPrefix,
        .rougeLsum,
    ]

    public static var names: [String] { all.map(\.name) }

    /// The metric `name`; `file` names the task file in the error.
    public static func named(_ name: String, in file: String) throws -> Metric {
        guard let metric = all.first(where: { $0.name == name }) else {
            throw TaskError("\(file): unknown metric '\(name)' (metrics: \(names.joined(separator: ", ")))")
        }
        return metric
    }
}
