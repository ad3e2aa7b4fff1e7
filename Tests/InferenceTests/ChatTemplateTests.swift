import XCTest
import GGUF
import Inference
import ModelTestSupport

/// Chat templates as llama.cpp's built-in renderer writes them (llama-family-spec §6.2), detection
/// from a GGUF's `tokenizer.chat_template` by llama.cpp's substring rules in their order (§6.1),
/// and what `--chat-template` accepts.
final class ChatTemplateTests: XCTestCase {
    let question = "What is the capital of France?"

    func template(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> ChatTemplate {
        try XCTUnwrap(ChatTemplates.named(name), "no template '\(name)'", file: file, line: line)
    }

    func testEveryTemplateRendersTheSpecTexts() throws {
        let expected: [String: String] = [
            "chatml": "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
            "llama3": "<|start_header_id|>user<|end_header_id|>\n\nWhat is the capital of France?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
            "gemma": "<start_of_turn>user\nWhat is the capital of France?<end_of_turn>\n<start_of_turn>model\n",
            "mistral-v7": "[INST] What is the capital of France?[/INST]",
            "mistral-v7-tekken": "[INST]What is the capital of France?[/INST]",
            "mistral-v1": " [INST] What is the capital of France? [/INST]",
            "mistral-v3": "[INST] What is the capital of France?[/INST]",
            "mistral-v3-tekken": "[INST]What is the capital of France?[/INST]",
            "llama2": "[INST] What is the capital of France? [/INST]",
            "llama2-sys": "[INST] What is the capital of France? [/INST]",
            "llama2-sys-bos": "[INST] What is the capital of France? [/INST]",
            "llama2-sys-strip": "[INST] What is the capital of France? [/INST]",
            "phi3": "<|user|>\nWhat is the capital of France?<|end|>\n<|assistant|>\n",
            "phi4": "<|im_start|>user<|im_sep|>What is the capital of France?<|im_end|><|im_start|>assistant<|im_sep|>",
            "smolvlm": "<|im_start|>User: What is the capital of France?<end_of_utterance>\nAssistant:",
            "zephyr": "<|user|>\nWhat is the capital of France?<|endoftext|>\n<|assistant|>\n",
        ]
        XCTAssertEqual(Set(expected.keys), Set(ChatTemplates.names), "every registered template is checked")
        XCTAssertEqual(ChatTemplates.names.count, Set(ChatTemplates.names).count, "names are unique")
        for (name, text) in expected {
            XCTAssertEqual(try template(name).render(user: question), text, name)
            XCTAssertEqual(ChatTemplates.detect(name), name, "a template name is itself detected, as llama.cpp accepts names")
            XCTAssertFalse(try template(name).stopTexts.isEmpty, name)
        }
    }

    func testSystemMessages() throws {
        let withSystem: [String: String] = [
            "llama2-sys": "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nWhat is the capital of France? [/INST]",
            "llama2": "[INST] Be brief.\nWhat is the capital of France? [/INST]",
            "chatml": "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
            "gemma": "<start_of_turn>user\nBe brief.\n\nWhat is the capital of France?<end_of_turn>\n<start_of_turn>model\n",
            "mistral-v7": "[SYSTEM_PROMPT] Be brief.[/SYSTEM_PROMPT][INST] What is the capital of France?[/INST]",
            "mistral-v1": " [INST] Be brief.\n\nWhat is the capital of France? [/INST]",
            "mistral-v3": "[INST] Be brief.\n\nWhat is the capital of France?[/INST]",
            "llama3": "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                + "What is the capital of France?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
            "phi3": "<|system|>\nBe brief.<|end|>\n<|user|>\nWhat is the capital of France?<|end|>\n<|assistant|>\n",
            "zephyr": "<|system|>\nBe brief.<|endoftext|>\n<|user|>\nWhat is the capital of France?<|endoftext|>\n<|assistant|>\n",
        ]
        for (name, text) in withSystem { XCTAssertEqual(try template(name).render(user: question, system: "Be brief."), text, name) }
        // Gemma, Llama 3 and llama2-sys-strip trim the message as llama.cpp does; the others keep it as given.
        XCTAssertEqual(try template("gemma").render(user: " \n" + question + "\n ", system: "  "),
                       "<start_of_turn>user\nWhat is the capital of France?<end_of_turn>\n<start_of_turn>model\n")
        XCTAssertEqual(try template("llama3").message("\t" + question + " "), question)
        XCTAssertEqual(try template("llama2-sys-strip").render(user: " x ", system: " s "), "[INST] <<SYS>>\ns\n<</SYS>>\n\nx [/INST]")
        XCTAssertEqual(try template("chatml").message(" x "), " x ")
    }

    func testStopTexts() throws {
        XCTAssertEqual(try template("chatml").stopTexts, ["<|im_end|>"])
        XCTAssertEqual(try template("llama3").stopTexts, ["<|eot_id|>", "<|end_of_text|>", "<|eom_id|>"])
        XCTAssertEqual(try template("gemma").stopTexts, ["<end_of_turn>", "<eos>"])
        XCTAssertEqual(try template("phi3").stopTexts, ["<|end|>", "<|endoftext|>"])
        XCTAssertEqual(try template("zephyr").stopTexts, ["<|endoftext|>"])
        for name in ["mistral-v7", "mistral-v1", "mistral-v3", "llama2", "llama2-sys"] { XCTAssertEqual(try template(name).stopTexts, ["</s>"], name) }
    }

    /// The stop texts that are single tokens of the vocabulary become stop ids; others are left out.
    func testStopTokensOnTheGemmaVocabulary() throws {
        let tokenizer = try TestModel.require().tokenizer
        let endOfTurn = tokenizer.encode("<end_of_turn>", addSpecial: false, parseSpecial: true)
        XCTAssertEqual(endOfTurn.count, 1)
        let stops = try template("gemma").stopTokens(in: tokenizer)
        XCTAssertTrue(stops.isSuperset(of: [endOfTurn[0], try XCTUnwrap(tokenizer.eosID)]), "\(stops)")
        XCTAssertEqual(stops, tokenizer.stopTokens.union([endOfTurn[0]]))
        XCTAssertEqual(try template("llama3").stopTokens(in: tokenizer), tokenizer.stopTokens, "Gemma's vocabulary has no <|eot_id|> token")
    }

    func testDetectionFollowsLlamaCppRulesInOrder() {
        let cases: [(String, String?)] = [
            ("{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n'}}{% endfor %}", "chatml"),
            ("{{'<|im_start|>' + m['role'] + '<|im_sep|>' + m['content'] + '<|im_end|>'}}", "phi4"),
            ("<|im_start|>{% for m in messages %}User: {{ m['content'] }}<end_of_utterance>{% endfor %}", "smolvlm"),
            // ChatML is tested first: a template with both markers is ChatML.
            ("<|im_start|> <start_of_turn> <|start_header_id|><|end_header_id|>", "chatml"),
            // Starting with "mistral" is the Mistral branch even without [INST]; no variant's marker: Llama 2.
            ("mistral {{ messages }}", "llama2"),
            ("{{ bos_token }}{% for m in messages %}[INST] {{ m['content'] }} [/INST]{% endfor %}", "llama2"),
            ("[SYSTEM_PROMPT]{{ system }}[/SYSTEM_PROMPT][INST]{{ m }}[/INST]", "mistral-v7"),
            ("{{ ' [INST] ' + system_message + m['content'] + ' [/INST]' }}", "mistral-v1"),
            ("[AVAILABLE_TOOLS]{{ tools }}[/AVAILABLE_TOOLS]{{ \"[INST]\" + m['content'] + \"[/INST]\" }}", "mistral-v3-tekken"),
            ("[AVAILABLE_TOOLS]{{ tools }}[/AVAILABLE_TOOLS]{{ '[INST]' + m['content'] + '[/INST]' }}", "mistral-v3"),
            ("{% set content = m['content'] %}{{ '[INST] <<SYS>>\\n' + system + '\\n<</SYS>>\\n\\n' + content.strip() + ' [/INST]' }}", "llama2-sys-strip"),
            ("{{ bos_token + '[INST] ' + '<<SYS>>' + m['content'] + ' [/INST]' }}", "llama2-sys-bos"),
            ("{{ '[INST] <<SYS>>\\n' + system + '\\n<</SYS>>\\n\\n' + m['content'] + ' [/INST]' }}", "llama2-sys"),
            ("{{'<|' + m['role'] + '|>\\n' + m['content'] + '<|end|>\\n'}}{{ '<|assistant|>\\n' }}", "phi3"),
            // <|assistant|> with <|user|> is Falcon 3 or GLM-Edge before it can be Zephyr.
            ("{{ '<|user|>\\n' + m['content'] + '</s>' }}{{ '<|assistant|>\\n' }}", "falcon3"),
            ("{{ '<|user|>\\n' + m['content'] + eos_token }}{{ '<|assistant|>' }}<|endoftext|>", "glmedge"),
            ("{{ '<|user|>\\n' + m['content'] + '<|endoftext|>\\n' }}{{ '<|' + 'assistant' + '|>\\n' }}", "zephyr"),
            ("{{ bos_token + message['role'] + '\\n' + message['content'] + eos_token }}<start_of_turn>", "monarch"),
            ("{{ bos_token }}{% for message in messages %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}"
                + "{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}", "gemma"),
            // Gemma is tested before Llama 3.
            ("<start_of_turn> <|start_header_id|><|end_header_id|>", "gemma"),
            ("{{ '<|START_OF_TURN_TOKEN|><|USER_TOKEN|>' + m['content'] }}<|start_header_id|><|end_header_id|>", "command-r"),
            ("{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] "
                + "+ '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{{ content }}{% endfor %}", "llama3"),
            ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\\n{% endfor %}", nil),
        ]
        for (source, name) in cases { XCTAssertEqual(ChatTemplates.detect(source), name, source) }
    }

    /// SmolLM2's own template (its GGUF's Jinja) is ChatML, rendered as llama.cpp's built-in
    /// ChatML: without the default system turn the Jinja inserts (spec §6.3).
    func testSmolLM2sTemplateIsDetectedAsChatMLWithoutTheDefaultSystemTurn() throws {
        let source = try GGUFFile(path: try TestModel.requireSmolLM2Path()).metadata.string("tokenizer.chat_template")
        XCTAssertTrue(source.contains("You are a helpful AI assistant named SmolLM"), "the Jinja inserts a default system turn")
        let template = try XCTUnwrap(try ChatTemplateChoice.auto.resolve(modelTemplate: source))
        XCTAssertEqual(template.name, "chatml")
        XCTAssertEqual(template.render(user: question), "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n")
    }

    /// The Gemma 3 270M file in use is the base model: no chat template in its GGUF, so `auto`
    /// means raw prompts and existing runs keep their prompts.
    func testTheBaseGemmaModelHasNoTemplateSoAutoMeansNone() throws {
        let model = try TestModel.require()
        XCTAssertNil(model.file.metadata["tokenizer.chat_template"])
        XCTAssertNil(try ChatTemplateChoice.auto.resolve(modelTemplate: model.file.metadata["tokenizer.chat_template"]?.stringValue))
    }

    func testChoices() throws {
        XCTAssertEqual(try ChatTemplateChoice.parse("auto"), .auto)
        XCTAssertEqual(try ChatTemplateChoice.parse("none"), .none)
        XCTAssertEqual(try ChatTemplateChoice.parse("llama3"), .named("llama3"))
        XCTAssertNil(try ChatTemplateChoice.none.resolve(modelTemplate: "<|im_start|>"))
        XCTAssertEqual(try ChatTemplateChoice.named("gemma").resolve(modelTemplate: "<|im_start|>")?.name, "gemma", "a name overrides the model's")
        XCTAssertNil(try ChatTemplateChoice.auto.resolve(modelTemplate: ""), "an empty template is no template")
        XCTAssertThrowsError(try ChatTemplateChoice.parse("nonsense")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("unknown template 'nonsense'") && text.contains("none") && text.contains("chatml, "), text)
            XCTAssertFalse(text.contains("\n"))
        }
        XCTAssertThrowsError(try ChatTemplateChoice.auto.resolve(modelTemplate: "{{ messages }}")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("not one lmbench recognises") && text.contains("--chat-template none") && text.contains("gemma"), text)
        }
        XCTAssertThrowsError(try ChatTemplateChoice.auto.resolve(modelTemplate: "{{ '<|START_OF_TURN_TOKEN|><|USER_TOKEN|>' }}")) { error in
            XCTAssertTrue("\(error)".contains("llama.cpp's 'command-r', which lmbench does not render"), "\(error)")
        }
    }

    func testTrimIsLlamaCppsASCIIWhitespace() {
        XCTAssertEqual(ChatTemplate.trim(" \t\n\r\u{0B}\u{0C}x y\n"), "x y")
        XCTAssertEqual(ChatTemplate.trim("\u{A0}x"), "\u{A0}x", "no-break space is not C isspace")
        XCTAssertEqual(ChatTemplate.trim("   "), "")
    }
}
