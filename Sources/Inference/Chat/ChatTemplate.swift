/// A chat template as llama.cpp's built-in renderer (`llm_chat_apply_template`) writes it, for one
/// user turn (with an optional system message) and the generation prompt: the text before the
/// user's message, the message itself (trimmed where llama.cpp trims it) and the text after it,
/// which ends with the assistant's header. The template also names the texts of the tokens that end
/// its turns (llama-family-spec §6.2), which generation adds to the tokenizer's stop tokens.
///
/// These are llama.cpp's built-in renderings, not the GGUF's Jinja: where the two differ,
/// lmbench follows llama.cpp (spec §6.3: SmolLM2's Jinja inserts a default system turn, "You are
/// a helpful AI assistant named SmolLM, …", when the first message is not a system message;
/// llama.cpp's ChatML, and so lmbench's, omits it).
public struct ChatTemplate: Sendable, CustomStringConvertible {
    /// llama.cpp's name for it (`chatml`, `llama3`, …): what `--chat-template` takes and runs record.
    public let name: String
    /// The text before the user's message, given the system message (nil: none).
    private let head: @Sendable (_ system: String?) -> String
    /// The text after the user's message: the end of its turn and the assistant's header.
    public let generationPrompt: String
    /// Whether the user's message is trimmed of surrounding whitespace (gemma, llama3, llama2-sys-strip).
    public let trimsMessage: Bool
    /// Texts of the tokens that end the assistant's turn (the tokenizer's end-of-sequence stops too).
    public let stopTexts: [String]

    public init(name: String, head: @escaping @Sendable (_ system: String?) -> String, generationPrompt: String,
                trimsMessage: Bool = false, stopTexts: [String]) {
        self.name = name
        self.head = head
        self.generationPrompt = generationPrompt
        self.trimsMessage = trimsMessage
        self.stopTexts = stopTexts
    }

    public var description: String { name }

    /// The text before the user's message: the system turn, if any, and the user's header.
    public func beforeMessage(system: String? = nil) -> String { head(system) }

    /// The user's message as the template writes it (trimmed where llama.cpp trims it).
    public func message(_ text: String) -> String { trimsMessage ? ChatTemplate.trim(text) : text }

    /// One user turn and the generation prompt, exactly as llama.cpp renders it with
    /// `add_ass = true` (BOS not included: the tokenizer adds it).
    public func render(user: String, system: String? = nil) -> String {
        beforeMessage(system: system) + message(user) + generationPrompt
    }

    /// The tokens that end generation under this template: the tokenizer's own stop tokens and
    /// each stop text that is a single token of its vocabulary (parsed as a special token); a text
    /// the vocabulary lacks adds nothing.
    public func stopTokens(in tokenizer: Tokenizer) -> Set<Int32> {
        tokenizer.stopTokens.union(stopTexts.compactMap { text in
            let ids = tokenizer.encode(text, addSpecial: false, parseSpecial: true)
            return ids.count == 1 ? ids[0] : nil
        })
    }

    /// llama.cpp's `trim`: ASCII whitespace (`isspace` in the C locale) off both ends.
    public static func trim(_ text: String) -> String {
        let bytes = Array(text.utf8)
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (0x09...0x0D).contains(b) }
        var start = 0, end = bytes.count
        while start < end && isSpace(bytes[start]) { start += 1 }
        while end > start && isSpace(bytes[end - 1]) { end -= 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }
}

/// Why a `--chat-template` choice cannot be used: an unknown name, or a model whose template
/// lmbench does not recognise.
public struct ChatTemplateError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// What `--chat-template` asks for: detect from the model (`auto`), raw prompts (`none`), or a
/// template by name.
public enum ChatTemplateChoice: Sendable, Equatable {
    case auto
    case none
    case named(String)

    public static func parse(_ text: String) throws -> ChatTemplateChoice {
        switch text {
        case "auto": return .auto
        case "none": return .none
        default:
            guard ChatTemplates.named(text) != nil else {
                throw ChatTemplateError("--chat-template: unknown template '\(text)' (auto, none, \(ChatTemplates.names.joined(separator: ", ")))")
            }
            return .named(text)
        }
    }

    /// The template to use for a model whose GGUF holds `modelTemplate` (`tokenizer.chat_template`),
    /// or nil for raw prompts. `auto` on a model without a template means raw prompts.
    public func resolve(modelTemplate: String?) throws -> ChatTemplate? {
        switch self {
        case .none: return nil
        case let .named(name): return ChatTemplates.named(name)
        case .auto:
            guard let source = modelTemplate, !source.isEmpty else { return nil }
            guard let detected = ChatTemplates.detect(source) else {
                throw ChatTemplateError("--chat-template auto: the model's chat template is not one lmbench recognises; "
                                        + "pass --chat-template none for raw prompts, or a name: \(ChatTemplates.names.joined(separator: ", "))")
            }
            guard let template = ChatTemplates.named(detected) else {
                throw ChatTemplateError("--chat-template auto: the model's chat template is llama.cpp's '\(detected)', which lmbench does not "
                                        + "render; pass --chat-template none for raw prompts, or a name: \(ChatTemplates.names.joined(separator: ", "))")
            }
            return template
        }
    }
}

/// The chat templates lmbench renders, by llama.cpp's names. A new template is one entry in `all`
/// (and, if llama.cpp detects it, its rule in `detect`).
public enum ChatTemplates {
    public static let all: [ChatTemplate] = [
        ChatTemplate(name: "chatml", head: { system in
            (system.map { "<|im_start|>system\n\($0)<|im_end|>\n" } ?? "") + "<|im_start|>user\n"
        }, generationPrompt: "<|im_end|>\n<|im_start|>assistant\n", stopTexts: ["<|im_end|>"]),
        ChatTemplate(name: "phi4", head: { system in
            (system.map { "<|im_start|>system<|im_sep|>\($0)<|im_end|>" } ?? "") + "<|im_start|>user<|im_sep|>"
        }, generationPrompt: "<|im_end|><|im_start|>assistant<|im_sep|>", stopTexts: ["<|im_end|>"]),
        ChatTemplate(name: "smolvlm", head: { system in
            "<|im_start|>" + (system.map { "\($0)\n\n" } ?? "") + "User: "
        }, generationPrompt: "<end_of_utterance>\nAssistant:", stopTexts: ["<end_of_utterance>"]),
        // Mistral v7: "[SYSTEM_PROMPT] …[/SYSTEM_PROMPT][INST] …[/INST]"; tekken drops the spaces.
        mistralV7(name: "mistral-v7", space: " "),
        mistralV7(name: "mistral-v7-tekken", space: ""),
        // Mistral v1/v3/v3-tekken: one [INST] turn holding the system text, a blank line, the message.
        mistral(name: "mistral-v1", leading: " ", trailing: " "),
        mistral(name: "mistral-v3", leading: "", trailing: " "),
        mistral(name: "mistral-v3-tekken", leading: "", trailing: ""),
        // Llama 2 and its variants; no assistant header, and BOS comes from the tokenizer.
        llama2(name: "llama2", systemMessages: false, strip: false),
        llama2(name: "llama2-sys", systemMessages: true, strip: false),
        llama2(name: "llama2-sys-bos", systemMessages: true, strip: false),
        llama2(name: "llama2-sys-strip", systemMessages: true, strip: true),
        ChatTemplate(name: "phi3", head: { system in
            (system.map { "<|system|>\n\($0)<|end|>\n" } ?? "") + "<|user|>\n"
        }, generationPrompt: "<|end|>\n<|assistant|>\n", stopTexts: ["<|end|>", "<|endoftext|>"]),
        ChatTemplate(name: "zephyr", head: { system in
            (system.map { "<|system|>\n\($0)<|endoftext|>\n" } ?? "") + "<|user|>\n"
        }, generationPrompt: "<|endoftext|>\n<|assistant|>\n", stopTexts: ["<|endoftext|>"]),
        // Gemma has no system turn: llama.cpp puts the trimmed system text first in the user turn.
        ChatTemplate(name: "gemma", head: { system in
            let text = system.map(ChatTemplate.trim) ?? ""
            return "<start_of_turn>user\n" + (text.isEmpty ? "" : text + "\n\n")
        }, generationPrompt: "<end_of_turn>\n<start_of_turn>model\n", trimsMessage: true, stopTexts: ["<end_of_turn>", "<eos>"]),
        ChatTemplate(name: "llama3", head: { system in
            (system.map { "<|start_header_id|>system<|end_header_id|>\n\n\(ChatTemplate.trim($0))<|eot_id|>" } ?? "")
                + "<|start_header_id|>user<|end_header_id|>\n\n"
        }, generationPrompt: "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", trimsMessage: true,
           stopTexts: ["<|eot_id|>", "<|end_of_text|>", "<|eom_id|>"]),
    ]

    public static var names: [String] { all.map(\.name) }

    public static func named(_ name: String) -> ChatTemplate? { all.first { $0.name == name } }

    private static func mistralV7(name: String, space: String) -> ChatTemplate {
        ChatTemplate(name: name, head: { system in
            (system.map { "[SYSTEM_PROMPT]\(space)\($0)[/SYSTEM_PROMPT]" } ?? "") + "[INST]\(space)"
        }, generationPrompt: "[/INST]", stopTexts: ["</s>"])
    }

    private static func mistral(name: String, leading: String, trailing: String) -> ChatTemplate {
        ChatTemplate(name: name, head: { system in
            leading + "[INST]" + trailing + (system.map { "\($0)\n\n" } ?? "")
        }, generationPrompt: leading + "[/INST]", stopTexts: ["</s>"])
    }

    private static func llama2(name: String, systemMessages: Bool, strip: Bool) -> ChatTemplate {
        ChatTemplate(name: name, head: { system in
            guard let system else { return "[INST] " }
            let text = strip ? ChatTemplate.trim(system) : system
            return "[INST] " + (systemMessages ? "<<SYS>>\n\(text)\n<</SYS>>\n\n" : "\(text)\n")
        }, generationPrompt: " [/INST]", trimsMessage: strip, stopTexts: ["</s>"])
    }

    /// llama.cpp's name for a GGUF's `tokenizer.chat_template` (`llm_chat_detect_template`): the
    /// text itself when it is a template name, else the first of its substring rules that
    /// matches, in llama.cpp's order (llama-family-spec §6.1). The rules run up to Llama 3; nil
    /// when none matches. A name outside `all` (falcon3, command-r, …) is llama.cpp's, not rendered here.
    public static func detect(_ template: String) -> String? {
        let llamaCppNames: Set<String> = [
            "chatml", "llama2", "llama2-sys", "llama2-sys-bos", "llama2-sys-strip", "mistral-v1", "mistral-v3", "mistral-v3-tekken",
            "mistral-v7", "mistral-v7-tekken", "phi3", "phi4", "falcon3", "zephyr", "monarch", "gemma", "orion", "openchat", "vicuna",
            "vicuna-orca", "deepseek", "deepseek2", "deepseek3", "command-r", "llama3", "chatglm3", "chatglm4", "glmedge", "minicpm",
            "exaone3", "exaone4", "rwkv-world", "granite", "gigachat", "megrez", "yandex", "bailing", "llama4", "smolvlm",
            "hunyuan-moe", "hunyuan-dense", "kimi-k2",
        ]
        if llamaCppNames.contains(template) { return template }
        // Byte substrings, as std::string::find sees them (not Swift's grapheme-aware matching).
        let bytes = Array(template.utf8)
        func has(_ s: String) -> Bool {
            let needle = Array(s.utf8)
            guard !needle.isEmpty, needle.count <= bytes.count else { return needle.isEmpty }
            return (0...(bytes.count - needle.count)).contains { i in bytes[i] == needle[0] && bytes[i..<(i + needle.count)].elementsEqual(needle) }
        }
        if has("<|im_start|>") {
            return has("<|im_sep|>") ? "phi4" : has("<end_of_utterance>") ? "smolvlm" : "chatml"
        }
        if bytes.starts(with: "mistral".utf8) || has("[INST]") {
            if has("[SYSTEM_PROMPT]") { return "mistral-v7" }
            if has("' [INST] ' + system_message") || has("[AVAILABLE_TOOLS]") {
                if has(" [INST]") { return "mistral-v1" }
                if has("\"[INST]\"") { return "mistral-v3-tekken" }
                return "mistral-v3"
            }
            if has("content.strip()") { return "llama2-sys-strip" }
            if has("bos_token + '[INST]") { return "llama2-sys-bos" }
            if has("<<SYS>>") { return "llama2-sys" }
            return "llama2"
        }
        if has("<|assistant|>") && has("<|end|>") { return "phi3" }
        if has("[gMASK]<sop>") { return "chatglm4" }
        if has("<|assistant|>") && has("<|user|>") { return has("</s>") ? "falcon3" : "glmedge" }
        if has("<|{{ item['role'] }}|>") && has("<|begin_of_image|>") { return "glmedge" }
        if has("<|user|>") && has("<|endoftext|>") { return "zephyr" }
        if has("bos_token + message['role']") { return "monarch" }
        if has("<start_of_turn>") { return "gemma" }
        if has("'\\n\\nAssistant: ' + eos_token") { return "orion" }
        if has("GPT4 Correct ") { return "openchat" }
        if has("USER: ") && has("ASSISTANT: ") { return has("SYSTEM: ") ? "vicuna-orca" : "vicuna" }
        if has("### Instruction:") && has("<|EOT|>") { return "deepseek" }
        if has("<|START_OF_TURN_TOKEN|>") && has("<|USER_TOKEN|>") { return "command-r" }
        if has("<|start_header_id|>") && has("<|end_header_id|>") { return "llama3" }
        return nil
    }
}
