import Foundation
import Kernels

/// What to generate after a prompt.
public struct GenerationRequest: Sendable {
    public var promptTokens: [Int32]
    public var maxNewTokens: Int
    /// Generation ends after emitting one of these (default: the tokenizer's stop tokens).
    public var stopTokens: Set<Int32>?
    /// Generation ends as soon as the text of the new tokens contains one of these, which may span
    /// several tokens; the text is cut just before it. Empty strings are ignored.
    public var stopStrings: [String]
    /// How many of the largest next-token logits after the prompt to return.
    public var topLogits: Int
    /// Generation stops with `GenerationError.timedOut` once this much wall-clock time has passed
    /// (checked between prompt chunks and between new tokens).
    public var timeLimit: Double?
    /// Called after each new token that is not a stop token with the bytes of the output so far
    /// (a server streams them); returning false ends generation there (its client has gone).
    public var onOutput: (@Sendable (_ outputSoFar: [UInt8]) -> Bool)?

    public init(promptTokens: [Int32], maxNewTokens: Int, stopTokens: Set<Int32>? = nil, stopStrings: [String] = [], topLogits: Int = 0,
                timeLimit: Double? = nil, onOutput: (@Sendable (_ outputSoFar: [UInt8]) -> Bool)? = nil) {
        self.onOutput = onOutput
        self.promptTokens = promptTokens
        self.maxNewTokens = maxNewTokens
        self.stopTokens = stopTokens
        self.stopStrings = stopStrings
        self.topLogits = topLogits
        self.timeLimit = timeLimit
    }
}

public enum GenerationError: Error, CustomStringConvertible, Equatable {
    /// The request's time limit passed after `promptTokensDone` prompt tokens and `newTokens` new tokens.
    case timedOut(limit: Double, promptTokensDone: Int, newTokens: Int)

    public var description: String {
        switch self {
        case let .timedOut(limit, done, new):
            return "stopped at the time limit of \(limit) s (after \(done) prompt tokens and \(new) new tokens)"
        }
    }
}

/// Wall-clock times of one generation, in seconds.
public struct GenerationTimings: Sendable, Equatable {
    /// Running the prompt through the model, up to the next-token logits.
    public var prefill: Double
    /// From the start of prefill until the first new token is chosen.
    public var timeToFirstToken: Double
    /// Producing every token after the first.
    public var decode: Double
    public var decodedTokens: Int

    public var promptTokens: Int

    public var prefillTokensPerSecond: Double { Double(promptTokens) / prefill }
    public var decodeTokensPerSecond: Double? { decodedTokens > 0 && decode > 0 ? Double(decodedTokens) / decode : nil }
}

public enum StopReason: String, Sendable {
    case stopToken = "stop-token"
    case maxTokens = "max-tokens"
    /// The text contained one of the request's stop strings.
    case stopString = "stop-string"
}

public struct GenerationResult: Sendable {
    public var promptTokenCount: Int
    /// New tokens, including the stop token if one ended generation, and every token up to the one
    /// that completed a stop string.
    public var tokens: [Int32]
    /// The new tokens as text (stop tokens and other control tokens render as nothing), up to just
    /// before the stop string that ended generation.
    public var text: String
    public var stopReason: StopReason
    /// The largest next-token logits after the prompt, highest first.
    public var topLogits: [(token: Int32, logit: Float)]
    public var timings: GenerationTimings
    /// Bytes held by the attention state when generation ended.
    public var attentionStateBytes: Int
    /// Peak resident set size of the process after generation (bytes), where the OS reports it.
    public var peakResidentBytes: Int?
}

/// Greedy generation: the prompt runs in chunks of `chunkSize` tokens (matrix–matrix work), then
/// one token at a time until a stop token, a stop string or the token budget.
public final class Generator {
    public let loaded: LoadedModel
    public let chunkSize: Int

    public init(_ loaded: LoadedModel, chunkSize: Int = 512) {
        precondition(chunkSize > 0)
        self.loaded = loaded
        self.chunkSize = chunkSize
    }

    public func generate(_ request: GenerationRequest, attention policy: AttentionPolicy = FullAttention()) throws -> GenerationResult {
        let model = loaded.model
        let prompt = request.promptTokens
        precondition(!prompt.isEmpty, "a prompt needs at least one token")
        let vocabulary = model.description.vocabularySize
        try requireInVocabulary(prompt)
        let positions = prompt.count + request.maxNewTokens
        try requireMemory(forPositions: positions, policy: policy)
        let tokenizer = loaded.tokenizer
        let stops = request.stopTokens ?? tokenizer.stopTokens
        let stopStrings = StopStringSearch(request.stopStrings)
        let logits = UnsafeMutablePointer<Float>.allocate(capacity: vocabulary)
        defer { logits.deallocate() }

        let start = DispatchTime.now().uptimeNanoseconds
        // Made inside the timed prefill: allocating the state is part of answering the prompt.
        let state = SequenceState(model: model, policy: policy, maxChunkTokens: chunkSize, reservedPositions: positions)
        func seconds(since t: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9 }
        func checkTime(promptDone: Int, newTokens: Int) throws {
            if let limit = request.timeLimit, seconds(since: start) > limit {
                throw GenerationError.timedOut(limit: limit, promptTokensDone: promptDone, newTokens: newTokens)
            }
        }
        try prompt.withUnsafeBufferPointer { tokens in
            var offset = 0
            while offset < tokens.count {
                try checkTime(promptDone: offset, newTokens: 0)
                let end = min(tokens.count, offset + chunkSize)
                model.forward(UnsafeBufferPointer(rebasing: tokens[offset..<end]), state: state, logits: end == tokens.count ? logits : nil)
                offset = end
            }
        }
        let prefill = seconds(since: start)
        var generated: [Int32] = []
        let top = Generator.topLogits(logits, vocabulary, request.topLogits)
        var next = Generator.argmax(logits, vocabulary)
        let firstToken = seconds(since: start)
        var stopReason = StopReason.maxTokens
        // The text of the new tokens as bytes, grown token by token so that each step searches only
        // its tail for stop strings.
        var text: [UInt8] = []
        var contentStart: Int?
        let decodeStart = DispatchTime.now().uptimeNanoseconds
        while generated.count < request.maxNewTokens {
            if !generated.isEmpty {
                try checkTime(promptDone: prompt.count, newTokens: generated.count)
                var token = next
                withUnsafePointer(to: &token) { model.forward(UnsafeBufferPointer(start: $0, count: 1), state: state, logits: logits) }
                next = Generator.argmax(logits, vocabulary)
            }
            generated.append(next)
            if stops.contains(next) {
                stopReason = .stopToken
                break
            }
            let searched = text.count
            text += tokenizer.decodeBytes([next], renderSpecial: false)
            // Stop strings count only once the output has begun: a completion that opens with a
            // newline is not over (LongBench's samsum stops at "\n" but never on the first token).
            if contentStart == nil, let first = text.firstIndex(where: { !($0 == 32 || $0 == 9 || $0 == 10 || $0 == 13) }) {
                contentStart = first
            }
            if let contentStart,
               let stopStart = stopStrings.firstOccurrence(in: text, searchedCount: max(searched, contentStart), minimumStart: contentStart) {
                text.removeSubrange(stopStart...)
                stopReason = .stopString
                break
            }
            if let onOutput = request.onOutput, !onOutput(text) { break }
        }
        let decode = request.maxNewTokens > 0 ? seconds(since: decodeStart) : 0
        let timings = GenerationTimings(prefill: prefill, timeToFirstToken: firstToken, decode: decode,
                                        decodedTokens: max(0, generated.count - 1), promptTokens: prompt.count)
        return GenerationResult(promptTokenCount: prompt.count, tokens: generated, text: String(decoding: text, as: UTF8.self),
                                stopReason: stopReason, topLogits: top, timings: timings,
                                attentionStateBytes: state.attentionStateBytes, peakResidentBytes: ProcessMemory.peakResidentBytes)
    }

    /// Fails with `ModelError.tokenOutsideVocabulary` for an id the model has no embedding for.
    func requireInVocabulary(_ tokens: [Int32]) throws {
        let vocabulary = loaded.model.description.vocabularySize
        if let token = tokens.first(where: { $0 < 0 || Int($0) >= vocabulary }) {
            throw ModelError.tokenOutsideVocabulary(token: token, vocabularySize: vocabulary)
        }
    }

    /// Fails with `ModelError.outOfMemory` when the attention state of a sequence made for
    /// `positions` positions (as `generate` and scoring make it), and `promptBytes` for the prompt
    /// itself when it is yet to be built, would not fit in the memory available now, before any work
    /// is done. The state's figure comes from the layer specs alone: no state is allocated to find it.
    public func requireMemory(forPositions positions: Int, policy: AttentionPolicy = FullAttention(), promptBytes: Int = 0) throws {
        guard let available = ProcessMemory.availableBytes else { return }
        let needed = loaded.model.attentionStateBytes(policy: policy, maxChunkTokens: chunkSize, reservedPositions: positions, afterPositions: positions)
            + promptBytes
        // Keep a margin for activations, scratch and the page cache of the weights.
        if needed > available - (256 << 20) {
            let prompt = promptBytes > 0 ? "building the prompt (\(promptBytes >> 20) MiB) and " : ""
            throw ModelError.outOfMemory(path: loaded.path, needed: needed, available: available,
                                         what: prompt + "the attention state for \(positions) positions (\(policy.name) attention)")
        }
    }

    /// Index of the largest logit (the first one on ties, as llama.cpp's greedy sampler).
    static func argmax(_ logits: UnsafePointer<Float>, _ n: Int) -> Int32 {
        var best = 0
        for i in 1..<n where logits[i] > logits[best] { best = i }
        return Int32(best)
    }

    static func topLogits(_ logits: UnsafePointer<Float>, _ n: Int, _ k: Int) -> [(token: Int32, logit: Float)] {
        guard k > 0 else { return [] }
        if k > 64 {
            let order = (0..<n).sorted { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
            return order.prefix(k).map { (token: Int32($0), logit: logits[$0]) }
        }
        // Insertion into a short sorted list: one pass, almost every logit rejected at once.
        var top: [(token: Int32, logit: Float)] = []
        for i in 0..<n where top.count < k || logits[i] > top[top.count - 1].logit {
            let entry = (token: Int32(i), logit: logits[i])
            let at = top.firstIndex { $0.logit < entry.logit } ?? top.count
            top.insert(entry, at: at)
            if top.count > k { top.removeLast() }
        }
        return top
    }
}
