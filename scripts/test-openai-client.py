#!/usr/bin/env python3
"""Drives `lmbench serve` with the official `openai` Python client (a test peer, never a runtime
dependency): models, completions, chat (the server must have a chat template), streaming of both,
and an error the client raises as an exception. Exits non-zero with one line on the first failure.

usage: scripts/test-openai-client.py BASE_URL   (e.g. http://127.0.0.1:8080/v1)
"""
import sys

import openai


def check(condition, what):
    if not condition:
        sys.exit(f"test-openai-client: {what}")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: test-openai-client.py BASE_URL")
    client = openai.OpenAI(base_url=sys.argv[1], api_key="unused", max_retries=0, timeout=120)

    models = client.models.list().data
    check(len(models) == 1, f"/v1/models lists {len(models)} models, expected 1")
    model = models[0].id

    whole = client.completions.create(model=model, prompt="The capital of France is", max_tokens=8, temperature=0)
    text = whole.choices[0].text
    check(text.strip() != "", "the completion is empty")
    check(whole.usage.completion_tokens == 8 and whole.choices[0].finish_reason == "length",
          f"completion usage {whole.usage}, finish {whole.choices[0].finish_reason}")

    streamed = "".join(chunk.choices[0].text for chunk in client.completions.create(
        model=model, prompt="The capital of France is", max_tokens=8, temperature=0, stream=True) if chunk.choices)
    check(streamed == text, f"the streamed completion {streamed!r} differs from the whole one {text!r}")

    chat = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Say hello."}], max_tokens=8)
    reply = chat.choices[0].message.content
    check(chat.choices[0].message.role == "assistant" and reply is not None, f"chat reply {chat.choices[0].message}")

    parts = []
    for chunk in client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Say hello."}], max_tokens=8,
                                                stream=True, stream_options={"include_usage": True}):
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
        if chunk.usage is not None:
            check(chunk.usage.completion_tokens >= 1, f"streamed chat usage {chunk.usage}")
    check("".join(parts) == reply, f"the streamed chat {''.join(parts)!r} differs from the whole one {reply!r}")

    try:
        client.completions.create(model=model, prompt="x", max_tokens=-1)
        check(False, "max_tokens -1 was accepted")
    except openai.BadRequestError as error:
        check("max_tokens" in str(error), f"the 400 does not name max_tokens: {error}")

    print(f"test-openai-client: ok (model {model}; completion {text!r}; chat {reply!r})")


if __name__ == "__main__":
    main()
