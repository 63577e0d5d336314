#!/usr/bin/env python3
"""Encoder graphs exported by torch.onnx.export, with ONNX Runtime's logits as references.

HuggingFace transformers models with random initialisation (no trained small ones can be
fetched: nothing is downloaded from a model hub), exported by PyTorch's TorchScript-based
exporter with dynamic batch and sequence axes, as users export their own models:
  torch_distilbert  DistilBertForSequenceClassification, 3 labels, opset 14
  torch_cross_bert  BertForSequenceClassification with one label (a cross-encoder's shape:
                    query/document pairs with token types), opset 17
  torch_roberta     RobertaForSequenceClassification, 2 labels, opset 20 (positions from
                    padding_idx + 1 computed in the graph with CumSum)
Each goes to tests/data/encoder/<name>/ with model.onnx, config.json and refs.json: the 50
sentences of make_refs.py (varied length and script; pairs for the cross-encoder),
tokenized by HF `tokenizers` with all-MiniLM's bert-base-uncased vocabulary (so ids span
the real 30,522-token range), each run alone through onnxruntime; the logits are the
reference. Hidden size is kept tiny so the committed files stay small.

Usage (a venv with torch, transformers, onnx, onnxruntime, tokenizers):
  /work/cache/torch-venv/bin/python tests/oracles/encoder/make_torch_refs.py
"""
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
import transformers
from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_refs import SENTENCES  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
OUT = os.path.join(ROOT, "tests", "data", "encoder")
MODEL_DIR = os.environ.get("JETSERVE_MODEL_DIR", "/work/cache/models")
TOKENIZER = os.path.join(MODEL_DIR, "paraphrase-minilm-l3-onnx", "tokenizer.json")


def export(name, model, opset, with_types, pairs, labels):
    torch.manual_seed(0)
    model.eval()
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.onnx")
    ids = torch.tensor([[101, 7592, 2088, 102]], dtype=torch.long)
    args = [ids, torch.ones_like(ids)]
    names = ["input_ids", "attention_mask"]
    if with_types:
        args.append(torch.zeros_like(ids))
        names.append("token_type_ids")
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["logits"] = {0: "batch"}
    torch.onnx.export(model, tuple(args), path, input_names=names, output_names=["logits"],
                      dynamic_axes=axes, opset_version=opset, dynamo=False)
    onnx.checker.check_model(onnx.load(path))
    cfg = model.config.to_dict()
    keep = {k: cfg[k] for k in ("model_type", "layer_norm_eps", "pad_token_id", "id2label",
                                 "num_attention_heads", "n_heads", "max_position_embeddings",
                                 "problem_type") if k in cfg and cfg[k] is not None}
    keep["id2label"] = {str(i): l for i, l in enumerate(labels)}
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(keep, f, indent=1)

    tok = Tokenizer.from_file(TOKENIZER)
    tok.no_padding()
    tok.no_truncation()
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    cases = []
    for i, s in enumerate(SENTENCES):
        if pairs:
            other = SENTENCES[(i * 7 + 3) % len(SENTENCES)]
            enc = tok.encode(s, other)
        else:
            enc = tok.encode(s)
        feed = {"input_ids": np.array([enc.ids], dtype=np.int64),
                "attention_mask": np.ones((1, len(enc.ids)), dtype=np.int64)}
        if with_types:
            feed["token_type_ids"] = np.array([enc.type_ids], dtype=np.int64)
        (logits,) = sess.run(["logits"], feed)
        case = {"text": s, "ids": enc.ids, "logits": logits[0].astype(float).tolist()}
        if pairs:
            case["text_pair"] = other
        if with_types:
            case["type_ids"] = enc.type_ids
        cases.append(case)
    m = onnx.load(path)
    refs = {"source": f"torch {torch.__version__} transformers {transformers.__version__} "
                      f"torch.onnx.export opset {opset}; onnxruntime {ort.__version__}",
            "operators": sorted({n.op_type for n in m.graph.node}), "cases": cases}
    with open(os.path.join(d, "refs.json"), "w") as f:
        json.dump(refs, f)
    print(name, os.path.getsize(path), "bytes,", len(cases), "cases, ops:", refs["operators"])


def main():
    torch.manual_seed(1234)
    # initializer_range 0.5 (HF default 0.02) gives logits of order 1, so the 1e-3 bar bites.
    small = dict(vocab_size=30522, max_position_embeddings=128, initializer_range=0.5)
    distil = transformers.DistilBertForSequenceClassification(transformers.DistilBertConfig(
        dim=8, n_heads=2, hidden_dim=16, n_layers=2, num_labels=3, **small))
    export("torch_distilbert", distil, 14, False, False, ["neg", "neutral", "pos"])
    cross = transformers.BertForSequenceClassification(transformers.BertConfig(
        hidden_size=8, num_attention_heads=2, intermediate_size=16, num_hidden_layers=2,
        num_labels=1, type_vocab_size=2, **small))
    export("torch_cross_bert", cross, 17, True, True, ["LABEL_0"])
    rob = transformers.RobertaForSequenceClassification(transformers.RobertaConfig(
        hidden_size=8, num_attention_heads=2, intermediate_size=16, num_hidden_layers=2,
        num_labels=2, type_vocab_size=1, pad_token_id=1, vocab_size=30522,
        max_position_embeddings=130, initializer_range=0.5))
    export("torch_roberta", rob, 20, False, False, ["no", "yes"])


if __name__ == "__main__":
    main()
