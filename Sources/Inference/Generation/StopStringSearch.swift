/// Finds the first of several stop strings in generated text as it grows at the end. Text is kept
/// as the tokens' bytes (a byte token may end in the middle of a character), and each step looks
/// only at the bytes where an occurrence not seen before can lie: those that end in the new bytes.
struct StopStringSearch {
    private let stopStrings: [[UInt8]]

    /// Empty strings are left out: they would end generation before any text.
    init(_ stopStrings: [String]) { self.stopStrings = stopStrings.filter { !$0.isEmpty }.map { Array($0.utf8) } }

    /// The byte offset of the earliest stop string in `text` that starts at `minimumStart` or later,
    /// given that none lies wholly within its first `searchedCount` bytes; nil when there is none.
    func firstOccurrence(in text: [UInt8], searchedCount: Int, minimumStart: Int = 0) -> Int? {
        var first: Int?
        for stop in stopStrings where stop.count <= text.count {
            let lastStart = min(text.count - stop.count, (first ?? .max) - 1)
            var start = max(minimumStart, searchedCount - stop.count + 1)
            while start <= lastStart {
                if text[start..<(start + stop.count)].elementsEqual(stop) {
                    first = start
                    break
                }
                start += 1
            }
        }
        return first
    }
}
