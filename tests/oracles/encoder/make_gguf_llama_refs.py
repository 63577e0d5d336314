#!/usr/bin/env python3
"""GGUF `bert` embeddings computed by llama.cpp (llama-cpp-python) as references.

Copies tests/data/encoder/tiny_bert.gguf (the tiny_bert ONNX weights in llama.cpp's bert
layout, written by make_refs.py; classification head dropped) into tiny_bert_vocab.gguf with the WordPiece vocabulary of
tiny_bert/tokenizer.json as tokenizer.ggml.* metadata, so llama.cpp can load it; then runs
llama.cpp in embedding mode (mean pooling) on sentences and writes its token ids and L2-
normalized embeddings to tiny_bert_vocab.llama.json.

Usage: /work/cache/llama-venv/bin/python tests/oracles/encoder/make_gguf_llama_refs.py
"""
import json
import os

import gguf
import llama_cpp
import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
D = os.path.join(ROOT, "tests", "data", "encoder")
SRC = os.path.join(D, "tiny_bert.gguf")
DST = os.path.join(D, "tiny_bert_vocab.gguf")
TEXTS = ["this game is good", "cats eat cheese", "the team wins the game",
         "rain in the city", "dogs play music fast", "a slow river", "bread and cheese",
         "the party votes on the law", "sunny weather is good for sports", "xyzzy unknown"]


def main():
    r = gguf.GGUFReader(SRC)
    tok = json.load(open(os.path.join(D, "tiny_bert", "tokenizer.json")))
    vocab = sorted(tok["model"]["vocab"].items(), key=lambda kv: kv[1])
    tokens = [t for t, _ in vocab]
    n_vocab = int([t for t in r.tensors if t.name == "token_embd.weight"][0].shape[1])
    tokens += [f"[unused{i}]" for i in range(n_vocab - len(tokens))]  # the table has spare rows
    ids = {t: i for t, i in vocab}
    special = {"[CLS]", "[SEP]", "[UNK]", "[PAD]", "[MASK]"}
    w = gguf.GGUFWriter(DST, "bert")
    for f in r.fields.values():
        if f.name.startswith("GGUF.") or f.name == "general.architecture":
            continue
        val = f.contents()
        vtype = f.types[0]
        if vtype == gguf.GGUFValueType.ARRAY:
            w.add_array(f.name, val)
        else:
            w.add_key_value(f.name, val, vtype)
    w.add_tokenizer_model("bert")
    w.add_token_type_count(int([t for t in r.tensors if t.name == "token_types.weight"][0].shape[1]))
    # llama.cpp's WordPiece marks word starts with U+2581 and continuations bare (as its
    # convert_hf_to_gguf.py writes HF "##x" / "x"); specials stay as they are.
    def gg(t):
        if t in special or t.startswith("[unused"):
            return t
        return t[2:] if t.startswith("##") else "\u2581" + t
    w.add_token_list([gg(t) for t in tokens])
    w.add_token_types([gguf.TokenType.CONTROL if t in special else
                       gguf.TokenType.UNUSED if t.startswith("[unused") else gguf.TokenType.NORMAL
                       for t in tokens])
    w.add_bos_token_id(ids["[CLS]"])
    w.add_eos_token_id(ids["[SEP]"])
    w.add_sep_token_id(ids["[SEP]"])
    w.add_unk_token_id(ids["[UNK]"])
    w.add_pad_token_id(ids["[PAD]"])
    w.add_add_bos_token(True)
    w.add_add_eos_token(True)
    for t in r.tensors:
        if t.name.startswith("cls."):
            continue  # an embedding model: llama.cpp reads cls.* as a 1-label reranker head
        a = np.array(t.data)
        shape = [int(x) for x in reversed(t.shape)]
        w.add_tensor(t.name, a.reshape(shape) if a.ndim else a)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    # flash_attn off: llama.cpp's CPU flash attention rounds K and V to F16.
    m = llama_cpp.Llama(model_path=DST, embedding=True, verbose=False, n_ctx=64, flash_attn=False,
                        pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN)
    cases = []
    for s in TEXTS:
        toks = m.tokenize(s.encode(), add_bos=True, special=False)
        e = m.embed(s, normalize=True)
        cases.append({"text": s, "ids": toks, "embedding": [float(x) for x in e]})
    with open(os.path.join(D, "tiny_bert_vocab.llama.json"), "w") as f:
        json.dump({"source": f"llama-cpp-python {llama_cpp.__version__}, mean pooling",
                   "cases": cases}, f, indent=0)
    print(len(cases), "cases;", cases[0]["ids"], cases[0]["embedding"][:3])


if __name__ == "__main__":
    main()
