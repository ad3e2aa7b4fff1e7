import XCTest
import Bench
import Results

/// LongBench's metrics on cases worked by hand (the arithmetic is in the comments).
final class MetricsTests: XCTestCase {
    func testQAF1NormalisesLikeSQuAD() {
        // "The Cat, sat!" → "cat sat"; "a cat sat down" → "cat sat down": overlap 2, P = 1, R = 2/3, F1 = 0.8.
        XCTAssertEqual(Metrics.qaF1("The Cat, sat!", "a cat sat down"), 0.8, accuracy: 1e-12)
        XCTAssertEqual(Metrics.normalizedWords("An apple-pie, THE end."), ["applepie", "end"])
        // Articles only as whole words: "theory" and "an" inside "band" stay.
        XCTAssertEqual(Metrics.normalizedWords("theory of a band"), ["theory", "of", "band"])
        // Repeated words count as a multiset: pred "yes yes", gold "yes": overlap 1, P = 1/2, R = 1 → 2/3.
        XCTAssertEqual(Metrics.qaF1("yes yes", "yes"), 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(Metrics.qaF1("", "yes"), 0)
        XCTAssertEqual(Metrics.qaF1("no", "yes"), 0)
    }

    func testRougeLSummaryLevel() {
        // pred sentences [the cat sat on the mat] [it was happy]; ref [the cat was on the mat] [the cat was happy].
        // m = |{the cat was on mat happy}| = 6, n = |{the cat sat on mat it was happy}| = 8.
        // ref 1: LCS with pred 1 = {the cat on mat}, with pred 2 = {was} → union 5; ref 2 adds {happy} → 6.
        // R = 1, P = 0.75, F = 2·0.75/(1.75 + 1e-8).
        let f = Metrics.rougeL("the cat sat on the mat. it was happy.", "the cat was on the mat. the cat was happy.")
        XCTAssertEqual(f, 2 * 0.75 / (1.75 + 1e-8), accuracy: 1e-12)
        // Identical texts: P = R = 1, so F = 2/(2 + 1e-8), not 1.
        XCTAssertEqual(Metrics.rougeL("same text here", "same text here"), 2 / (2 + 1e-8), accuracy: 1e-15)
        // Case matters and "." splits sentences: [A quick brown fox] [Jumps over] vs one sentence of 9 words
        // (8 distinct: the quick brown fox jumps over lazy dog). LCS with sentence 1: {quick brown fox},
        // with sentence 2: {over} → 4; n = 6 distinct words. R = 4/8, P = 4/6, F = 2·(1/3)/(7/6 + 1e-8).
        XCTAssertEqual(Metrics.rougeL("A quick brown fox.  Jumps over.", "the quick brown fox jumps over the lazy dog"),
                       2 * (0.5 * 4 / 6) / (0.5 + 4.0 / 6 + 1e-8), accuracy: 1e-12)
        // Nothing but dots: no sentence, which the package rejects and LongBench scores 0.
        XCTAssertEqual(Metrics.rougeL("...", "a summary"), 0)
        XCTAssertEqual(Metrics.rougeL("", "a summary"), 0)
    }

    func testClassificationReproducesTheSkipWhileRemoving() {
        let classes = ["Location", "City", "Cit", "Description", "Number"]
        // Matches in "City": City, Cit. "Cit" is a substring of the gold "City" but not equal → removed: 1/1.
        XCTAssertEqual(Metrics.classification("City", "City", allClasses: classes), 1)
        // Matches City, Cit for gold "Cit": "City" is not in "Cit"; Cit equals gold → both stay: 1/2.
        XCTAssertEqual(Metrics.classification("City", "Cit", allClasses: classes), 0.5)
        // Gold "Citys": matches [City, Cit, ...]; removing "City" skips "Cit", which survives: 1/... gold absent → 0.
        XCTAssertEqual(Metrics.classification("Citys", "Citys", allClasses: ["City", "Cit", "Citys"]), 0.5)
        XCTAssertEqual(Metrics.classification("Number", "City", allClasses: classes), 0)
    }

    func testRetrievalAndCount() {
        // Numbers 3, 12, 3 in the prediction; gold paragraph 3 → 2/3.
        XCTAssertEqual(Metrics.retrieval("Paragraph 3, not 12; yes 3", "Paragraph 3"), 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(Metrics.retrieval("no idea", "Paragraph 3"), 0)
        XCTAssertEqual(Metrics.count("There are 7 unique paragraphs", "7"), 1)
        XCTAssertEqual(Metrics.count("7 or 8", "7"), 0.5)
    }

    func testCodeSimilarityIsFuzzRatioOfTheFirstCodeLine() {
        // "abcd" vs "abce": matching blocks "abc" → 2·3/8 = 0.75.
        XCTAssertEqual(Metrics.fuzzRatio("abcd", "abce"), 75)
        // "return x + y" vs "return x+y": blocks "return x" (8), "+" and "y" → 2·10/22 = 0.909 → 91.
        XCTAssertEqual(Metrics.fuzzRatio("return x + y", "return x+y"), 91)
        XCTAssertEqual(Metrics.fuzzRatio("", ""), 100)
        XCTAssertEqual(Metrics.fuzzRatio("a", ""), 0)
        // Comment and fence lines are skipped; the first plain line is compared.
        XCTAssertEqual(Metrics.codeSimilarity("\n# comment\n```\nabcd\nzzz", "abce"), 0.75)
        XCTAssertEqual(Metrics.codeSimilarity("// only comments", "abc"), 0)
        // Autojunk: b has 250 characters, so characters occurring more than 3 times in b ("a", "b",
        // "c") never seed a match. The empty match at (0, 0) still extends over equal neighbours: 120
        // "a"s. Right of it, 30 "a" + 100 "b" vs 90 "c" + 40 "b" has no seed and unequal first
        // elements: nothing. M = 120 → 240/500 = 0.48 → 48, where a plain LCS would give 2·160/500 → 64.
        let a = String(repeating: "a", count: 150) + String(repeating: "b", count: 100)
        let b = String(repeating: "a", count: 120) + String(repeating: "c", count: 90) + String(repeating: "b", count: 40)
        XCTAssertEqual(Metrics.fuzzRatio(a, b), 48)
        // Round half to even: 2·M/(la+lb) = 0.125 → 12.5 → 12.
        XCTAssertEqual(Metrics.fuzzRatio("abcdefgh", "a" + String(repeating: "x", count: 7)), 12)
    }

    func testSampleScoresTakeTheBestAnswerAndCutTheFirstLine() {
        let best = Metric.qaF1.score("paris", answers: ["london", "paris france"]).score
        XCTAssertEqual(best, 2 * 1 * 0.5 / 1.5, accuracy: 1e-12)
        let needle = Metric.containsAll.score("Sit in DOLORES park", answers: ["dolores park", "sandwich"])
        XCTAssertEqual(needle.score, 0.5)
        XCTAssertEqual(needle.figures, ["answers_found": 1, "answers": 2])
        XCTAssertEqual(Metric.firstInteger.score("is 0123456 and 7", answers: ["123456"]).score, 0)
        XCTAssertEqual(Metric.firstInteger.score(" 8362251. Remember", answers: ["8362251"]).score, 1)
        XCTAssertEqual(Metric.firstInteger.score("1", answers: []).score, 0)
        XCTAssertEqual(Metrics.firstLine("\n\nfirst\nsecond"), "first")
    }

    func testTheRegistryGivesEveryMetricItsKind() throws {
        let kinds = Dictionary(uniqueKeysWithValues: MetricRegistry.all.map { ($0.name, $0.kind) })
        XCTAssertEqual(kinds, ["first_integer": .proportion, "contains_all": .proportion, "classification": .proportion,
                               "retrieval": .proportion, "count": .proportion,
                               "kv_words": .proportion, "qa_f1": .continuous, "rouge_l": .continuous, "code_sim": .continuous,
                               "string_match_all": .continuous, "string_match_part": .proportion,
                               "longbench_v2_choice": .proportion, "infinitebench_choice": .proportion, "infinitebench_code_debug": .proportion,
                               "uppercase_words": .proportion, "last_integer": .proportion, "first_number": .proportion,
                               "number_prefix": .continuous, "rouge_lsum": .continuous])
        // InfiniteBench's kv_retrieval scorer: punctuation becomes spaces, then the label must be a word.
        XCTAssertEqual(Metric.kvWords.score("{\"a1-b2\": x}", answers: ["a1-b2"]).score, 1)
        XCTAssertEqual(Metric.kvWords.score("a1-b2c", answers: ["a1-b2"]).score, 0)
        XCTAssertEqual(try MetricRegistry.named("rouge_l", in: "t.json").name, "rouge_l")
        XCTAssertThrowsError(try MetricRegistry.named("bleu", in: "t.json")) { XCTAssertTrue("\($0)".hasPrefix("t.json: unknown metric 'bleu'")) }
    }
}
