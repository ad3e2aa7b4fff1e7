import Foundation
import GGUF
import Inference
import Results

/// An engine that sends each sample to an OpenAI-compatible server (llama.cpp's server, vLLM,
/// `lmbench serve`): `openai:url=http://HOST:PORT/v1:model=NAME[:api=completions|chat]...`.
///
/// Prompts are sized in the served model's tokens, through the server's `/tokenize` (llama.cpp,
/// vLLM, lmbench serve) or a local GGUF's tokenizer (`tokenizer=PATH`, for servers without one,
/// such as llama-cpp-python's). `completions` sends the prompt as token ids, so the server reads
/// exactly the tokens the task sized; `chat` sends the sample's user message as one user turn and
/// its answer prefix as the start of the assistant's reply (the server applies its own template).
/// Decoding is greedy (temperature 0) and streamed, so time to first token and the decode rate are
/// measured from the stream as the client sees it (network included: `prefill` is that TTFT).
public final class OpenAIEngine: Engine, EngineKind {
    public static let kind = "openai"
    public static var engineNames: [String] { ["openai"] }

    public enum API: String, CaseIterable { case completions, chat }

    public let record: EngineRecord
    public let tokenizer: Tokenizer
    public let modelName: String
    public var modelPath: String? { nil }
    public let modelChatTemplate: String?
    let client: OpenAIClient
    let api: API
    let truncation: PromptTruncation?
    /// `prompt=text`: completions get the prompt as text, for servers that take no token ids
    /// (llama-cpp-python); the server tokenizes it again, so the length it reads may differ.
    let sendsText: Bool
    /// `concurrency`: the runner sends this many samples at once, each request on its own thread.
    public let maxInFlight: Int

    public static func make(_ spec: EngineSpec, context: EngineContext) throws -> Engine { try OpenAIEngine(spec) }

    /// Parameters that take text, read before the numeric ones (which `StrategyParameters` checks).
    static let textParameters = ["url", "model", "tokenizer", "key_env"]

    public init(_ spec: EngineSpec, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        func fail(_ why: String) -> SpecError { SpecError("--engines: \(spec.label): \(why)") }
        guard let urlText = spec.parameters["url"], let base = URL(string: urlText), let scheme = base.scheme, ["http", "https"].contains(scheme),
              base.host != nil else {
            throw fail("url=http://HOST:PORT/v1 is required (the API's base URL)")
        }
        guard base.user == nil, base.password == nil, base.query == nil else {
            throw fail("the url must not carry credentials or a query: give the API key in $OPENAI_API_KEY or key_env=NAME")
        }
        var numbers = StrategyParameters(spec.parameters.filter { !Self.textParameters.contains($0.key) }, strategy: "openai")
        let api = API(rawValue: try numbers.choice("api", default: "completions", API.allCases.map(\.rawValue)))!
        let concurrency = try numbers.int("concurrency", default: 1, minimum: 1)
        let timeout = try numbers.int("timeout", default: 600, minimum: 1)
        let retries = try numbers.int("retries", default: 3, minimum: 0)
        let promptForm = try numbers.choice("prompt", default: "tokens", ["tokens", "text"])
        let rule = try numbers.choice("truncation", default: "none", ["none"] + PromptTruncation.Rule.allCases.map(\.rawValue))
        let budget = try numbers.int("budget", default: 0, minimum: 0)
        let head = try numbers.int("head", default: 128, minimum: 0)
        try numbers.finish()

        let keyVariable = spec.parameters["key_env"] ?? "OPENAI_API_KEY"
        let apiKey = environment[keyVariable].flatMap { $0.isEmpty ? nil : $0 }
        if spec.parameters["key_env"] != nil && apiKey == nil { throw fail("key_env=\(keyVariable) names an unset environment variable") }
        client = OpenAIClient(base: base, apiKey: apiKey, timeout: Double(timeout), retries: retries)
        self.api = api
        sendsText = promptForm == "text"
        maxInFlight = concurrency

        // The served model: the one named, checked against /v1/models, or the only one served.
        let models = try client.json(base.appendingPathComponent("models"))
        let entries = ((models.json as? [String: Any])?["data"] as? [[String: Any]]) ?? []
        let ids = entries.compactMap { $0["id"] as? String }
        let entry: [String: Any]
        if let wanted = spec.parameters["model"] {
            // llama.cpp's server answers to any model name; others serve only the ones they list.
            entry = entries.first { $0["id"] as? String == wanted } ?? ["id": wanted]
            if !ids.isEmpty && !ids.contains(wanted) && models.headers["server"]?.contains("llama.cpp") != true {
                throw fail("the server does not serve \(quoted(wanted)) (it serves \(ids.joined(separator: ", ")))")
            }
        } else {
            guard ids.count == 1, let only = entries.first else {
                throw fail("model=NAME is required: the server serves \(ids.isEmpty ? "no listed model" : ids.joined(separator: ", "))")
            }
            entry = only
        }
        modelName = entry["id"] as! String

        var localContext: Int?
        if let path = spec.parameters["tokenizer"] {
            let file = try GGUFFile(path: path)
            tokenizer = try TokenizerFactory.make(from: file)
            modelChatTemplate = file.metadata["tokenizer.chat_template"]?.stringValue
            if let architecture = file.metadata["general.architecture"]?.stringValue {
                localContext = file.metadata["\(architecture).context_length"]?.intValue
            }
        } else {
            tokenizer = try RemoteTokenizer(client: client, model: modelName)
            modelChatTemplate = nil
        }

        if rule == "none" {
            truncation = nil
        } else {
            // The default budget, as the truncation engine's: the served context minus the generation budget.
            let served = Self.servedContext(entry) ?? localContext
            guard budget > 0 || served != nil else {
                throw fail("truncation needs budget=N: the server reports no context length and there is no tokenizer=PATH")
            }
            truncation = PromptTruncation(rule: PromptTruncation.Rule(rawValue: rule)!, budget: budget == 0 ? nil : budget, head: head,
                                          trainedContext: served ?? 0)
        }

        var parameters = truncation?.parameters ?? [:]
        parameters["url"] = client.describe(base)
        parameters["api"] = api.rawValue
        parameters["model"] = modelName
        parameters["concurrency"] = String(concurrency)
        parameters["timeout_seconds"] = String(timeout)
        parameters["retries"] = String(retries)
        parameters["tokenizer"] = spec.parameters["tokenizer"] ?? "server"
        parameters["truncation"] = rule
        parameters["prompt"] = promptForm
        // What the server says about itself: its Server header and its model entry (less the
        // start time, which would make every restart another configuration).
        parameters["server"] = models.headers["server"] ?? "unknown"
        let described = entry.filter { $0.key != "created" }
        if let data = try? JSONSerialization.data(withJSONObject: described, options: [.sortedKeys]) {
            parameters["served_model"] = String(decoding: data, as: UTF8.self)
        }
        record = EngineRecord(label: spec.label, kind: Self.kind, strategy: "openai", parameters: parameters)
    }

    /// The context length a server's model entry reports: vLLM's `max_model_len`, llama.cpp's `meta.n_ctx_train`.
    static func servedContext(_ entry: [String: Any]) -> Int? {
        (entry["max_model_len"] as? Int) ?? ((entry["meta"] as? [String: Any])?["n_ctx_train"] as? Int)
    }

    public func refusal(promptTokens: Int, maxNewTokens: Int) -> String? { nil }

    public func run(_ sample: Sample, timeLimit: Double?) throws -> EngineOutput {
        let whole = sample.promptTokens ?? tokenizer.encode(sample.prompt, addSpecial: true, parseSpecial: false)
        var body: [String: Any] = ["model": modelName, "max_tokens": sample.maxNewTokens, "temperature": 0, "stream": true,
                                   "stream_options": ["include_usage": true]]
        if !sample.stopStrings.isEmpty { body["stop"] = sample.stopStrings }
        let endpoint: URL
        let sent: Int
        let truncated: Bool
        switch api {
        case .completions:
            let (tokens, cut) = truncation?.apply(whole, maxNewTokens: sample.maxNewTokens) ?? (whole, false)
            if !sendsText {
                body["prompt"] = tokens.map(Int.init)
            } else if !cut {
                body["prompt"] = sample.prompt
            } else {
                // The server adds BOS to a text prompt itself.
                let text = tokens.first == tokenizer.bosID && tokenizer.bosID != nil ? Array(tokens.dropFirst()) : tokens
                body["prompt"] = tokenizer.decode(text, renderSpecial: true)
            }
            endpoint = client.base.appendingPathComponent("completions")
            (sent, truncated) = (tokens.count, cut)
        case .chat:
            let turn = try chatTurn(sample, wholeCount: whole.count)
            var messages: [[String: Any]] = [["role": "user", "content": turn.message]]
            if !turn.answerPrefix.isEmpty {
                // The reply starts with the answer prefix: llama.cpp continues a final assistant
                // message; vLLM needs to be told to.
                messages.append(["role": "assistant", "content": turn.answerPrefix])
                body["continue_final_message"] = true
                body["add_generation_prompt"] = false
            }
            body["messages"] = messages
            endpoint = client.base.appendingPathComponent("chat/completions")
            (sent, truncated) = (turn.promptTokens, turn.truncated)
        }

        let start = DispatchTime.now().uptimeNanoseconds
        func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        var text = "", firstToken: Double?, lastToken = 0.0, pieces = 0, completionTokens: Int?
        do {
            try client.stream(endpoint, body: body, timeLimit: timeLimit) { payload in
                guard let event = (try? JSONSerialization.jsonObject(with: Data(payload.utf8))) as? [String: Any] else {
                    throw OpenAIError("POST \(self.client.describe(endpoint)): a stream event is not JSON: \(payload.prefix(80))")
                }
                if let error = event["error"] {
                    let message = ((error as? [String: Any])?["message"] as? String) ?? "\(error)"
                    throw OpenAIError("POST \(self.client.describe(endpoint)): the server failed mid-stream: \(message)")
                }
                if let usage = event["usage"] as? [String: Any], let n = usage["completion_tokens"] as? Int { completionTokens = n }
                guard let choice = (event["choices"] as? [[String: Any]])?.first else { return }
                let piece = (choice["text"] as? String) ?? ((choice["delta"] as? [String: Any])?["content"] as? String) ?? ""
                guard !piece.isEmpty else { return }
                let t = now()
                if firstToken == nil { firstToken = t }
                lastToken = t
                pieces += 1
                text += piece
            }
        } catch let error as OpenAIError {
            if let timeLimit, now() >= timeLimit {
                throw GenerationError.timedOut(limit: timeLimit, promptTokensDone: 0, newTokens: pieces)
            }
            throw error
        }
        let ttft = firstToken ?? now()
        // Tokens after the first, as the server counts them (else one per streamed piece).
        let decodeTokens = max(0, (completionTokens ?? pieces) - 1)
        let decodeSeconds = max(0, lastToken - ttft)
        return EngineOutput(text: text, promptTokens: sent, truncated: truncated,
                            prefillSeconds: ttft, timeToFirstTokenSeconds: ttft, decodeSeconds: decodeSeconds, decodeTokens: decodeTokens,
                            decodeTokensPerSecond: decodeTokens > 0 && decodeSeconds > 0 ? Double(decodeTokens) / decodeSeconds : nil,
                            peakRSSBytes: nil, attentionStateBytes: nil)
    }

    /// A sample as one chat turn: its user message (the prompt less the chat template's text and
    /// the answer prefix), cut on tokens when the whole prompt is over the truncation budget.
    func chatTurn(_ sample: Sample, wholeCount: Int) throws -> (message: String, answerPrefix: String, promptTokens: Int, truncated: Bool) {
        var message = Substring(sample.prompt)
        if message.hasSuffix(sample.answerPrefix) { message = message.dropLast(sample.answerPrefix.count) }
        if let template = sample.chatTemplate {
            let before = template.beforeMessage(), after = template.generationPrompt
            guard message.hasPrefix(before), message.hasSuffix(after) else {
                throw OpenAIError("sample \(sample.key): its prompt is not written in the \(template.name) template it names")
            }
            message = message.dropFirst(before.count).dropLast(after.count)
        }
        guard let truncation, truncation.keptTokens(wholeCount, maxNewTokens: sample.maxNewTokens) < wholeCount else {
            return (String(message), sample.answerPrefix, wholeCount, false)
        }
        let messageTokens = tokenizer.encode(String(message), addSpecial: false, parseSpecial: false)
        let around = wholeCount - messageTokens.count
        let kept = truncation.keptTokens(wholeCount, maxNewTokens: sample.maxNewTokens)
        var cut = truncation
        cut.budget = max(1, kept - around)
        let (tokens, _) = cut.apply(messageTokens, maxNewTokens: sample.maxNewTokens)
        return (tokenizer.decode(tokens, renderSpecial: false), sample.answerPrefix, tokens.count + around, true)
    }
}

/// The served model's tokenizer behind the server's `/tokenize` and `/detokenize` (llama.cpp's
/// `{"content"}` → `{"tokens"}`; vLLM's `{"prompt"}`: one body carries both spellings). Pieces a task
/// encodes again and again (filler sentences, single tokens) are cached.
final class RemoteTokenizer: Tokenizer, @unchecked Sendable {
    let client: OpenAIClient
    let model: String
    let bosID: Int32?
    var eosID: Int32? { nil }
    /// The server stops at its model's end tokens itself.
    var stopTokens: Set<Int32> { [] }
    var vocabularySize: Int { Int(Int32.max) }
    private let lock = NSLock()
    private var encoded: [String: [Int32]] = [:]
    private var decodedTokens: [Int32: [UInt8]] = [:]
    /// Texts up to this many bytes are cached (a whole prompt is not).
    static let cachedTextBytes = 4096

    init(client: OpenAIClient, model: String) throws {
        self.client = client
        self.model = model
        do {
            bosID = try Self.tokenize("", addSpecial: true, parseSpecial: false, client: client, model: model).first
        } catch let error as OpenAIError {
            throw SpecError("--engines: openai: \(error.description) (the server has no tokenize endpoint: give tokenizer=PATH to a GGUF of the served model)")
        }
    }

    func encode(_ text: String, addSpecial: Bool, parseSpecial: Bool) -> [Int32] {
        let key = "\(addSpecial ? 1 : 0)\(parseSpecial ? 1 : 0)" + text
        let cacheable = text.utf8.count <= Self.cachedTextBytes
        if cacheable, let hit = lock.withLock({ encoded[key] }) { return hit }
        // The protocol cannot throw: a tokenizer that stops answering mid-run stops the run.
        let tokens: [Int32]
        do { tokens = try Self.tokenize(text, addSpecial: addSpecial, parseSpecial: parseSpecial, client: client, model: model) } catch { Self.stop(error) }
        if cacheable { lock.withLock { encoded[key] = tokens } }
        return tokens
    }

    /// The Tokenizer protocol cannot throw: a server that stops tokenizing mid-run ends the process
    /// with its one-line error.
    private static func stop(_ error: Error) -> Never {
        FileHandle.standardError.write(Data("lmbench: openai tokenizer: \(error)\n".utf8))
        exit(1)
    }

    private static func tokenize(_ text: String, addSpecial: Bool, parseSpecial: Bool, client: OpenAIClient, model: String) throws -> [Int32] {
        let reply = try client.json(client.root.appendingPathComponent("tokenize"),
                                    body: ["content": text, "prompt": text, "add_special": addSpecial, "add_special_tokens": addSpecial,
                                           "parse_special": parseSpecial, "model": model])
        guard let tokens = (reply.json as? [String: Any])?["tokens"] as? [Int] else {
            throw OpenAIError("POST \(client.describe(client.root.appendingPathComponent("tokenize"))): the reply has no \"tokens\" list of integers")
        }
        return tokens.map { Int32(truncatingIfNeeded: $0) }
    }

    func decodeBytes(_ ids: [Int32], renderSpecial: Bool) -> [UInt8] {
        if ids.count == 1, let hit = lock.withLock({ decodedTokens[ids[0]] }) { return hit }
        let url = client.root.appendingPathComponent("detokenize")
        let bytes: [UInt8]
        do {
            let reply = try client.json(url, body: ["tokens": ids.map(Int.init), "model": model])
            let object = reply.json as? [String: Any]
            guard let text = (object?["content"] as? String) ?? (object?["prompt"] as? String) else {
                throw OpenAIError("POST \(client.describe(url)): the reply has no \"content\" text")
            }
            bytes = Array(text.utf8)
        } catch {
            Self.stop(error)
        }
        if ids.count == 1 { lock.withLock { decodedTokens[ids[0]] = bytes } }
        return bytes
    }
}
