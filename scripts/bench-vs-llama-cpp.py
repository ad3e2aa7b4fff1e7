#!/usr/bin/env python3
"""lmbench bench side by side with llama.cpp: same GGUF file, same threads, same prompt lengths, same run.

Rounds alternate between the two engines (lmbench first), so that a noisy neighbour slows both alike; each
figure is the median over rounds. Prompts are the bench filler ("The grass is green. ...") cut to exactly the
stated number of tokens in each engine's own tokenization; decode runs greedily for --decode-tokens tokens right
after the prompt, ignoring stop tokens. llama.cpp runs through llama-cpp-python (pip install llama-cpp-python,
built natively), n_batch = n_ubatch = 512, flash attention off (its default), decoding through its eval loop.

--kernels avx512,avx2 runs lmbench once per kernel path in each round (on a CPU that has both), so both paths
and llama.cpp are measured side by side; the header names the CPU and the instruction sets llama.cpp was built
with (its own system info).

A benchmark peer only: lmbench itself never runs Python.

    scripts/bench-vs-llama-cpp.py --model models/smollm2-135m-instruct-q4_1.gguf --lengths 1k,4k,8k --threads 2
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

FILLER = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "


def parse_length(text):
    text = text.strip()
    if text.endswith("k"):
        return int(text[:-1]) * 1024
    if text.endswith("M"):
        return int(text[:-1]) * 1024 * 1024
    return int(text)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def lmbench_round(binary, model, length, threads, decode, kernels):
    command = [binary, "bench", "--model", model, "--lengths", str(length), "--threads", str(threads),
               "--decode-tokens", str(decode), "--json"] + (["--kernels", kernels] if kernels else [])
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    row = json.loads(out)["rows"][0]
    return row["prefill_tokens_per_second"], row["decode_tokens_per_second"]


class LlamaCpp:
    def __init__(self, model, threads, context):
        from llama_cpp import Llama
        self.llm = Llama(model_path=model, n_ctx=context, n_batch=512, n_ubatch=512, n_threads=threads,
                         n_threads_batch=threads, verbose=False)
        unit = self.llm.tokenize(FILLER.encode(), add_bos=False, special=False)
        self.unit = unit

    def prompt(self, length):
        tokens = self.llm.tokenize(b"", add_bos=True, special=False)
        while len(tokens) < length:
            tokens += self.unit
        return tokens[:length]

    def greedy_pick(self):
        # llama-cpp-python 0.3.x keeps no scores without logits_all (which would make llama.cpp compute the output
        # head for every prompt row), so the last row's logits are read from the context itself.
        import numpy
        logits = numpy.ctypeslib.as_array(self.llm._ctx.get_logits_ith(-1), shape=(self.llm.n_vocab(),))
        return int(logits.argmax())

    def round(self, length, decode):
        tokens = self.prompt(length)
        self.llm.reset()
        start = time.perf_counter()
        self.llm.eval(tokens)
        prefill = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(decode):
            self.llm.eval([self.greedy_pick()])
        elapsed = time.perf_counter() - start
        return length / prefill, (decode / elapsed if decode else None)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="GGUF file (a path; both engines read the same file)")
    parser.add_argument("--lengths", default="1k,4k", help="prompt lengths in tokens, comma-separated (512, 4k, ...)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--decode-tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lmbench", default=".build/release/lmbench", help="the lmbench binary")
    parser.add_argument("--kernels", default="", help="lmbench kernel paths to run, comma-separated (avx512,avx2; default: its own choice)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    paths = [k for k in args.kernels.split(",") if k] or [""]
    lengths = [parse_length(x) for x in args.lengths.split(",")]
    for binary in [args.lmbench]:
        if not os.access(binary, os.X_OK):
            sys.exit(f"bench-vs-llama-cpp: {binary}: not an executable (run scripts/setup)")
    llama = LlamaCpp(args.model, args.threads, max(lengths) + args.decode_tokens + 16)
    import llama_cpp
    rows = []
    median = lambda xs: statistics.median([x for x in xs if x is not None]) if any(x is not None for x in xs) else None
    for length in lengths:
        ours, theirs = {path: [] for path in paths}, []
        for _ in range(args.rounds):
            for path in paths:
                ours[path].append(lmbench_round(args.lmbench, args.model, length, args.threads, args.decode_tokens, path))
            theirs.append(llama.round(length, args.decode_tokens))
        for path in paths:
            rows.append({"length": length, "kernels": path or "default",
                         "lmbench_prefill": median([p for p, _ in ours[path]]), "llama_cpp_prefill": median([p for p, _ in theirs]),
                         "lmbench_decode": median([d for _, d in ours[path]]), "llama_cpp_decode": median([d for _, d in theirs])})
    facts = {"model": args.model, "threads": args.threads, "rounds": args.rounds, "decode_tokens": args.decode_tokens,
             "cpu": cpu_name(), "llama_cpp_python": llama_cpp.__version__,
             "llama_cpp_system_info": llama_cpp.llama_print_system_info().decode().strip()}
    if args.json:
        print(json.dumps({**facts, "rows": rows}, indent=1))
        return
    print(f"{facts['model']}, {args.threads} threads, {facts['cpu']}, llama-cpp-python {facts['llama_cpp_python']}, "
          f"median of {args.rounds} alternating rounds, {args.decode_tokens} decode tokens")
    print(f"llama.cpp: {facts['llama_cpp_system_info']}")
    print("| prompt tokens | lmbench kernels | prefill tok/s lmbench | llama.cpp | ratio | decode tok/s lmbench | llama.cpp | ratio |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        ratio = lambda a, b: f"{a / b:.2f}×" if a and b else "-"
        fmt = lambda v: f"{v:.1f}" if v else "-"
        print(f"| {r['length']} | {r['kernels']} | {fmt(r['lmbench_prefill'])} | {fmt(r['llama_cpp_prefill'])} | "
              f"{ratio(r['lmbench_prefill'], r['llama_cpp_prefill'])} | {fmt(r['lmbench_decode'])} | "
              f"{fmt(r['llama_cpp_decode'])} | {ratio(r['lmbench_decode'], r['llama_cpp_decode'])} |")


if __name__ == "__main__":
    main()
