#!/usr/bin/env python3
"""The peer side of tests/bench/compare.py: llama.cpp (llama-cpp-python's low-level API) or
ONNX Runtime, answering the same line protocol as `jetserve bench --protocol`:

  pp N     -> "pp N WALL CPU"      one batch of N random prompt tokens on an empty cache
  tg N     -> "tg N WALL CPU"      N single-token decode steps from an empty cache
  enc B L  -> "enc B L WALL CPU"   one batch of B sequences x L random tokens (ORT)
  quit

As llama-bench measures: pp is one llama_decode of N tokens (logits of the last), tg is N
llama_decode calls of one token each; the KV cache is cleared first; seconds are wall time
around the calls (llama_synchronize included), CPU the process's CPU seconds (all threads).

Usage: peer.py llama MODEL.gguf THREADS      (a venv with llama-cpp-python)
       peer.py ort MODEL_DIR THREADS         (a venv with onnxruntime and numpy)
"""
import random
import sys
import time


def llama_peer(path, threads):
    import ctypes

    import llama_cpp as L

    # Quiet: llama.cpp logs to stderr, which compare.py passes through.
    noop = L.llama_log_callback(lambda level, text, user: None)
    L.llama_log_set(noop, ctypes.c_void_p(0))
    L.llama_backend_init()
    mp = L.llama_model_default_params()
    mp.n_gpu_layers = 0
    model = L.llama_model_load_from_file(path.encode(), mp)
    if not model:
        raise SystemExit(f"llama.cpp could not load {path}")
    cp = L.llama_context_default_params()
    cp.n_ctx = 1024
    cp.n_batch = 512
    cp.n_ubatch = 512
    cp.n_threads = threads
    cp.n_threads_batch = threads
    ctx = L.llama_init_from_model(model, cp)
    if not ctx:
        raise SystemExit("llama.cpp could not create a context")
    vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(model))
    mem = L.llama_get_memory(ctx)
    rng = random.Random(1234)

    def run(kind, n):
        L.llama_memory_clear(mem, True)
        ids = [rng.randrange(vocab) for _ in range(n)]
        if kind == "pp":
            arr = (L.llama_token * n)(*ids)
            c0, t0 = time.process_time(), time.perf_counter()
            rc = L.llama_decode(ctx, L.llama_batch_get_one(arr, n))
            L.llama_synchronize(ctx)
            sec, cpu = time.perf_counter() - t0, time.process_time() - c0
        else:
            one = (L.llama_token * 1)()
            c0, t0 = time.process_time(), time.perf_counter()
            rc = 0
            for t in ids:
                one[0] = t
                rc = rc or L.llama_decode(ctx, L.llama_batch_get_one(one, 1))
                L.llama_synchronize(ctx)
            sec, cpu = time.perf_counter() - t0, time.process_time() - c0
        if rc != 0:
            return f"error llama_decode returned {rc}"
        return f"{kind} {n} {sec} {cpu}"

    return {"pp": run, "tg": run}


def ort_peer(path, threads):
    import numpy as np
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(path + "/model.onnx", so, providers=["CPUExecutionProvider"])
    names = {i.name for i in sess.get_inputs()}
    rng = np.random.default_rng(1234)
    # Token ids away from the special ones (0..999 in BERT vocabularies).
    vocab = 30000

    def run(kind, b, length):
        ids = rng.integers(1000, vocab, size=(b, length), dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        if "token_type_ids" in names:
            feed["token_type_ids"] = np.zeros_like(ids)
        c0, t0 = time.process_time(), time.perf_counter()
        sess.run(None, feed)
        sec, cpu = time.perf_counter() - t0, time.process_time() - c0
        return f"enc {b} {length} {sec} {cpu}"

    return {"enc": run}


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("llama", "ort"):
        raise SystemExit(__doc__)
    kind, path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    handlers = llama_peer(path, threads) if kind == "llama" else ort_peer(path, threads)
    print("ready", flush=True)
    for line in sys.stdin:
        w = line.split()
        if not w:
            continue
        if w[0] == "quit":
            break
        fn = handlers.get(w[0])
        try:
            args = [int(x) for x in w[1:]]
            reply = fn(w[0], *args) if fn else f"error bad command {line.strip()!r}"
        except (ValueError, TypeError) as e:
            reply = f"error {e}"
        print(reply, flush=True)


if __name__ == "__main__":
    main()
