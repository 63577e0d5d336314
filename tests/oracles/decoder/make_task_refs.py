#!/usr/bin/env python3
"""Writes llama.cpp references for decoder models serving Embed and zero-shot Classify
into tests/data/decoder/<model>.tasks.json (compared by engine/encoder/decoder_text_test.cc).

Embed: llama.cpp's own embedding mode (llama-cpp-python Llama(embedding=True,
pooling_type=LAST / MEAN)), one text per decode call: the pooled final hidden state (after
the output norm, before the output projection), not normalized.

Zero-shot by label log-likelihood: for a text, a hypothesis template "... {} ..." and each
candidate label, the context is `text + "\\n" + template[:at]` with its trailing spaces moved
to the continuation, the continuation is `spaces + label` (at = position of "{}"). Context
tokens: llama.cpp's tokenizer with the model's BOS, special text not parsed; continuation
tokens: tokenized alone, no BOS. The reference records each continuation token's log-softmax
under llama.cpp's logits (float64), evaluated one token per decode call (llama.cpp's plain
ggml CPU path, as tests/oracles/decoder/make_refs.py), weight repacking off, F32 KV.

  /work/cache/llama-venv/bin/python tests/oracles/decoder/make_task_refs.py \
      --models /work/cache/models
"""
import argparse
import json
import os
import sys

import numpy as np
import llama_cpp

MODEL = "SmolLM2-135M-Instruct.Q4_1.gguf"

EMBED_TEXTS = [
    "The cat sat on the mat.",
    "A kitten is sleeping on the rug.",
    "Stock markets fell sharply on Monday after the central bank raised interest rates.",
    "def add(a, b):\n    return a + b",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "Hi",
]

ZERO_SHOT = [
    {"text": "The team scored in the last minute and won the championship.",
     "template": "This example is about {}.",
     "labels": ["sports", "finance", "cooking", "politics"]},
    {"text": "Preheat the oven and whisk the eggs with sugar until fluffy.",
     "template": "This example is about {}.",
     "labels": ["sports", "finance", "cooking", "politics"]},
    {"text": "I absolutely loved this movie, the acting was wonderful!",
     "template": "The sentiment of this review is {}",
     "labels": ["positive", "negative", "very mixed"]},
]


def _no_repack():
    import llama_cpp.llama_cpp as low
    orig = low.llama_model_default_params

    def params():
        p = orig()
        p.use_extra_bufts = False
        return p

    low.llama_model_default_params = params


def log_softmax(x):
    x = x.astype(np.float64)
    m = x.max()
    return x - m - np.log(np.exp(x - m).sum())


def split_template(text, template):
    at = template.index("{}")
    head = text + "\n" + template[:at]
    stripped = head.rstrip(" ")
    return stripped, head[len(stripped):]


def embeddings(path):
    out = {}
    for name, ptype in (("last", llama_cpp.LLAMA_POOLING_TYPE_LAST),
                        ("mean", llama_cpp.LLAMA_POOLING_TYPE_MEAN)):
        llm = llama_cpp.Llama(model_path=path, embedding=True, pooling_type=ptype, n_ctx=512,
                              n_batch=512, n_ubatch=512, type_k=0, type_v=0, flash_attn=False,
                              n_threads=2, seed=0, verbose=False)
        rows = []
        for t in EMBED_TEXTS:
            toks = llm.tokenize(t.encode("utf-8"), add_bos=True, special=False)
            v = llm.embed(t, normalize=False)
            rows.append({"tokens": toks, "values": [round(float(x), 6) for x in v]})
        out[name] = rows
        del llm
    return out


def zero_shot(path):
    llm = llama_cpp.Llama(model_path=path, n_ctx=512, n_batch=512, n_ubatch=512,
                          logits_all=True, type_k=0, type_v=0, flash_attn=False, n_threads=2,
                          seed=0, verbose=False)
    cases = []
    for case in ZERO_SHOT:
        context, spaces = split_template(case["text"], case["template"])
        ctx_toks = llm.tokenize(context.encode("utf-8"), add_bos=True, special=False)
        labels = []
        for label in case["labels"]:
            cont = llm.tokenize((spaces + label).encode("utf-8"), add_bos=False, special=False)
            llm.reset()
            rows = []
            for t in ctx_toks + cont:
                llm.eval([t])
                rows.append(np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32))
            lps = []
            for j, t in enumerate(cont):
                lp = log_softmax(rows[len(ctx_toks) - 1 + j])
                lps.append(round(float(lp[t]), 6))
            labels.append({"label": label, "tokens": cont, "logprobs": lps})
        cases.append({"text": case["text"], "template": case["template"],
                      "context_tokens": ctx_toks, "labels": labels})
    del llm
    return cases


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="/work/cache/models")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "../../data/decoder"))
    args = ap.parse_args()
    _no_repack()
    path = os.path.join(args.models, MODEL)
    data = {"model": MODEL, "file_size": os.path.getsize(path),
            "llama_cpp_python": llama_cpp.__version__, "kv_type": "f32",
            "texts": EMBED_TEXTS, "embed": embeddings(path), "zero_shot": zero_shot(path)}
    out = os.path.join(args.out, MODEL.replace(".gguf", ".tasks.json"))
    with open(out, "w") as f:
        json.dump(data, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", out, os.path.getsize(out), "bytes")


if __name__ == "__main__":
    sys.exit(main())
