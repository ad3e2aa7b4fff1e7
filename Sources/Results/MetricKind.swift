/// What a metric's per-sample scores are, which decides the statistics that fit them: a
/// proportion (each sample right or wrong, or a fraction of parts right: passkey, needle, exact
/// match, classification, retrieval) gets Wilson intervals and McNemar's test; a continuous score
/// (F1, ROUGE-L, code similarity, perplexity) gets bootstrap intervals and a paired bootstrap.
public enum MetricKind: String, Codable, Sendable, CaseIterable {
    case proportion
    case continuous
}
