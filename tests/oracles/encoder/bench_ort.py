#!/usr/bin/env python3
"""ONNX Runtime side of the encoder speed comparison (engine/encoder/encoder_bench.cc):
same model folder (model.onnx + tokenizer.json), texts, batch size and thread count;
batches padded to their longest text, as ORT needs.

Usage: bench_ort.py MODEL_DIR TEXTS.txt [threads=1] [batch=32] [repeats=5]
"""
import sys
import time

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer


def main():
    model, texts_path = sys.argv[1], sys.argv[2]
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 32
    repeats = int(sys.argv[5]) if len(sys.argv) > 5 else 5
    texts = [l.rstrip("\n") for l in open(texts_path, encoding="utf-8") if l.strip()]
    tok = Tokenizer.from_file(model + "/tokenizer.json")
    tok.enable_truncation(512)
    tok.enable_padding()
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(model + "/model.onnx", so, providers=["CPUExecutionProvider"])
    names = {i.name for i in sess.get_inputs()}
    best, tokens = 1e30, 0
    for _ in range(repeats):
        tokens = 0
        t0 = time.perf_counter()
        for i in range(0, len(texts), batch):
            enc = tok.encode_batch(texts[i:i + batch])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in names:
                feed["token_type_ids"] = np.zeros_like(ids)
            sess.run(None, feed)
            tokens += int(mask.sum())
        best = min(best, time.perf_counter() - t0)
    print(f"onnxruntime {ort.__version__}: {len(texts)} texts, {tokens} tokens, batch {batch}, "
          f"{threads} threads: {best * 1e3:.1f} ms (best of {repeats}), {tokens / best:.0f} tokens/s")


if __name__ == "__main__":
    main()
