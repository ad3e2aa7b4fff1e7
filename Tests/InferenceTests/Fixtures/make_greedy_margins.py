"""One-off reference tool (not run by lmbench or its tests): records, for each prompt of logits.json,
llama.cpp's margin between its top two next-token logits at every step of the greedy continuation.

    pip install llama-cpp-python==0.3.36 numpy
    python make_greedy_margins.py MODEL.gguf > greedy_margins.json

Same settings as logits.json: default context parameters (no flash attention), n_batch 512, 2 threads.
"""
import json, sys
import numpy as np
import llama_cpp
from llama_cpp import Llama

fixture = json.load(open(__file__.replace("make_greedy_margins.py", "logits.json")))
llm = Llama(model_path=sys.argv[1], n_ctx=4096, n_batch=512, n_threads=2, n_threads_batch=2, verbose=False)
margins = {}
for name, p in fixture["prompts"].items():
    llm.reset()
    llm.eval(llm.tokenize(p["prompt"].encode(), add_bos=True, special=False))
    steps = []
    for expected in p["greedy16"]:
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(llm.n_vocab(),))
        first, second = np.sort(logits)[-2:][::-1]
        assert int(np.argmax(logits)) == expected
        steps.append(round(float(first - second), 4))
        llm.eval([expected])
    margins[name] = steps
print(json.dumps({"reference": "llama.cpp (llama-cpp-python 0.3.36), n_batch 512, 2 threads, default (non-flash) attention",
                  "meaning": "top-1 minus top-2 logit at each step of greedy16", "margins": margins}, indent=1))
