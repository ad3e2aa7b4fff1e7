import Foundation
import Inference

/// `lmbench generate`: greedy continuation of a prompt, with the top next-token logits.
enum GenerateCommand {
    static let usage = "lmbench generate [--model PATH] (--prompt TEXT | --prompt-file PATH) [--chat-template auto|none|NAME] [--special] [--max-new-tokens N] [--top-logits K] [--json]"
    static let summary = """
        Runs the prompt through the model with full attention and decodes greedily until a stop token
        (<eos>, <end_of_turn>, the chat template's end of turn) or the token budget. Prints the text, or
        with --json the generated ids, text, the top-K logits after the prompt, timings and memory.
        The prompt is a raw completion unless --chat-template makes it a user turn (auto: the model's
        own template). To check a prompt rendered elsewhere (llama.cpp), pass it with --special.
        """
    static let options: [CommandLineOptions.Option] = [
        ModelLocation.modelOption,
        .init(name: "prompt", valueName: "TEXT", help: "The prompt (BOS is added)."),
        .init(name: "prompt-file", valueName: "PATH", help: "Read the prompt from a file."),
        .init(name: "special", valueName: nil, help: "Parse control tokens written in the prompt (e.g. <start_of_turn>)."),
        .init(name: "chat-template", valueName: "auto|none|NAME",
              help: "Send the prompt as a user turn of a chat template (default none; auto: the model's own; names: \(ChatTemplates.names.joined(separator: ", ")))."),
        .init(name: "max-new-tokens", valueName: "N", help: "Most tokens to generate (default 32)."),
        .init(name: "top-logits", valueName: "K", help: "Report the K largest next-token logits after the prompt (default 0; 10 with --json)."),
        .init(name: "chunk-size", valueName: "N", help: "Prompt tokens per forward pass (default 512)."),
        ModelLocation.threadsOption,
        .init(name: "json", valueName: nil, help: "Print one JSON object."),
    ]

    struct Output: Encodable {
        struct Timings: Encodable {
            let prefill_seconds: Double
            let time_to_first_token_seconds: Double
            let decode_seconds: Double
            let prefill_tokens_per_second: Double
            let decode_tokens_per_second: Double?
        }
        let model: String
        let chat_template: String
        let prompt_tokens: Int
        /// The prompt's ids, to compare with another tokenizer's (llama.cpp's).
        let prompt_ids: [Int32]
        let ids: [Int32]
        let text: String
        let stop_reason: String
        let top_logits: [[Double]]
        let timings: Timings
        let attention_state_bytes: Int
        let peak_rss_bytes: Int?
    }

    static func run(_ arguments: [String]) throws {
        let o = try CommandLineOptions(command: "generate", options: options, arguments: arguments)
        if o.wantsHelp { print(o.help(usage: usage, summary: summary)); return }
        guard o.positional.isEmpty else { throw UsageError("lmbench generate: unexpected argument '\(o.positional[0])' (use --prompt)") }
        let prompt: String
        switch (o.string("prompt"), o.string("prompt-file")) {
        case let (text?, nil): prompt = text
        case let (nil, path?):
            guard let data = FileManager.default.contents(atPath: path) else { throw CommandError("\(path): cannot read prompt file") }
            prompt = String(decoding: data, as: UTF8.self)
        default: throw UsageError("lmbench generate: give exactly one of --prompt or --prompt-file")
        }
        let json = o.flag("json")
        let maxNew = try o.int("max-new-tokens", default: 32, in: 0...1_000_000)
        let topK = try o.int("top-logits", default: json ? 10 : 0, in: 0...1000)
        let chunk = try o.int("chunk-size", default: 512, in: 1...65536)
        let choice: ChatTemplateChoice
        do { choice = try ChatTemplateChoice.parse(o.string("chat-template") ?? "none") } catch let error as ChatTemplateError {
            throw UsageError(error.description)
        }
        let loaded = try ModelLocation.load(o)
        let template: ChatTemplate?
        do { template = try choice.resolve(modelTemplate: loaded.file.metadata["tokenizer.chat_template"]?.stringValue) }
        catch let error as ChatTemplateError { throw UsageError(error.description) }
        let tokenizer = loaded.tokenizer
        let special = o.flag("special")
        let tokens: [Int32]
        let stops: Set<Int32>?
        if let template {
            // The template's text with its control tokens parsed; the prompt's only with --special.
            tokens = tokenizer.encode(template.beforeMessage(), addSpecial: true, parseSpecial: true)
                + tokenizer.encode(template.message(prompt), addSpecial: false, parseSpecial: special)
                + tokenizer.encode(template.generationPrompt, addSpecial: false, parseSpecial: true)
            stops = template.stopTokens(in: tokenizer)
        } else {
            tokens = tokenizer.encode(prompt, addSpecial: true, parseSpecial: special)
            stops = nil
        }
        let result = try Generator(loaded, chunkSize: chunk).generate(
            GenerationRequest(promptTokens: tokens, maxNewTokens: maxNew, stopTokens: stops, topLogits: topK))
        if json {
            let t = result.timings
            let output = Output(model: loaded.path, chat_template: template?.name ?? "none", prompt_tokens: result.promptTokenCount,
                                prompt_ids: tokens, ids: result.tokens, text: result.text,
                                stop_reason: result.stopReason.rawValue,
                                top_logits: result.topLogits.map { [Double($0.token), Double($0.logit)] },
                                timings: .init(prefill_seconds: t.prefill, time_to_first_token_seconds: t.timeToFirstToken,
                                               decode_seconds: t.decode, prefill_tokens_per_second: t.prefillTokensPerSecond,
                                               decode_tokens_per_second: t.decodeTokensPerSecond),
                                attention_state_bytes: result.attentionStateBytes, peak_rss_bytes: result.peakResidentBytes)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(output), as: UTF8.self))
        } else {
            print(result.text)
            for (token, logit) in result.topLogits {
                let piece = loaded.tokenizer.decode([token], renderSpecial: true)
                print("\(token)\t\(String(format: "%.4f", logit))\t\(piece.debugDescription)")
            }
        }
    }
}
