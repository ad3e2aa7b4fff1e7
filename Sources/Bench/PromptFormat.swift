import Inference

/// How a task's words reach the model. A task gives a user message and an answer prefix (the
/// words the answer should continue: passkey's "The pass key is"). Without a chat template the
/// prompt is a raw completion, the message and the prefix as one text, exactly as tasks always
/// wrote it. With one, the message is the user's turn and the prefix follows the assistant's
/// header (RULER's convention). Template text is tokenized with special tokens parsed; task text
/// never is, so a `<start_of_turn>` written in a haystack stays text.
///
/// Generated tasks build prompts in pieces: `head` (BOS, the template's text before the message and
/// the task's words before its generated content), the content (ids the task makes) and `tail`
/// (the task's words after the content, the template's generation prompt and the answer prefix).
/// A prompt sized in tokens counts every piece, template included: RULER sizes the whole templated
/// prompt, so a `4k` prompt is at most 4096 tokens whatever the template. Where the template trims
/// the message (gemma, llama3), the head's text is trimmed at its start and the tail's at its end.
public struct PromptFormat {
    public let template: ChatTemplate?
    let tokenizer: Tokenizer

    public init(_ template: ChatTemplate?, tokenizer: Tokenizer) {
        self.template = template
        self.tokenizer = tokenizer
    }

    /// The name runs record: the template's, or `none`.
    public var name: String { template?.name ?? "none" }

    private func plain(_ text: String) -> [Int32] { tokenizer.encode(text, addSpecial: false, parseSpecial: false) }
    private func special(_ text: String, bos: Bool) -> [Int32] { tokenizer.encode(text, addSpecial: bos, parseSpecial: true) }

    private func trimmedStart(_ text: String) -> String {
        guard template?.trimsMessage == true else { return text }
        return String(text.drop { $0.isASCII && $0.isWhitespace })
    }

    private func trimmedEnd(_ text: String) -> String {
        guard template?.trimsMessage == true else { return text }
        var t = Substring(text)
        while let last = t.last, last.isASCII, last.isWhitespace { t = t.dropLast() }
        return String(t)
    }

    /// BOS, the template's text before the user's message, and `text`, the start of the message.
    public func headTokens(_ text: String) -> [Int32] {
        guard let template else { return tokenizer.encode(text, addSpecial: true, parseSpecial: false) }
        return special(template.beforeMessage(), bos: true) + plain(trimmedStart(text))
    }

    /// `text`, the end of the message, then the template's generation prompt and the answer prefix.
    public func tailTokens(_ text: String, answerPrefix: String) -> [Int32] {
        guard let template else { return plain(text + answerPrefix) }
        return plain(trimmedEnd(text)) + special(template.generationPrompt, bos: false) + plain(answerPrefix)
    }

    public func headText(_ text: String) -> String {
        template.map { $0.beforeMessage() + trimmedStart(text) } ?? text
    }

    public func tailText(_ text: String, answerPrefix: String) -> String {
        template.map { trimmedEnd(text) + $0.generationPrompt + answerPrefix } ?? text + answerPrefix
    }

    /// A whole message (no generated content between head and tail) and its answer prefix.
    public func tokens(message: String, answerPrefix: String) -> [Int32] {
        guard let template else { return tokenizer.encode(message + answerPrefix, addSpecial: true, parseSpecial: false) }
        return special(template.beforeMessage(), bos: true) + plain(template.message(message))
            + special(template.generationPrompt, bos: false) + plain(answerPrefix)
    }

    public func text(message: String, answerPrefix: String) -> String {
        (template?.render(user: message) ?? message) + answerPrefix
    }
}
