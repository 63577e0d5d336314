#!/usr/bin/env python3
"""Writes HF `tokenizers` references for text-pair templates (tokenizer.json's post_processor)
and pair truncation into tests/data/tokenizer/pair_template_refs.json.

Cases:
  - committed tokenizer.json files as they are (TemplateProcessing of BERT/MiniLM, Llama's
    "<s> $A" / "$A $B" template, RobertaProcessing);
  - gpt-2's tokenizer.json with its post_processor replaced (BertProcessing,
    RobertaProcessing, Sequence[ByteLevel, TemplateProcessing with multi-id special tokens and
    type ids]); the replacement is stored in the case, and the C++ test patches it in.
Each case records encode(a) and encode(a, b) with special tokens: ids and type ids.

Truncation (tiny_bert's tokenizer, the model limit 40): encode(a, b) and encode(a) with
enable_truncation(40, strategy="longest_first", direction="right" / "left") — what
TextEncoder's Truncation::kEnd / kStart must give (engine/encoder/text_encoder_test.cc).

  /work/cache/enc-venv/bin/python tests/oracles/tokenizer/make_pair_refs.py
"""
import json
import os
import sys

import tokenizers
from tokenizers import Tokenizer, processors

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../..")

PAIRS = [
    ("Hello world", "How are you?"),
    ("The cat sat on the mat.", "A kitten sleeps."),
    ("", "only the second"),
    ("x", ""),
]

FILES = [
    "tests/data/encoder/tiny_bert/tokenizer.json",
    "tests/data/tokenizer/hf/all-minilm-l6-v2/tokenizer.json",
    "tests/data/tokenizer/hf/unigram-metaspace-llama/tokenizer.json",
    "tests/data/tokenizer/hf/roberta-style-gpt-2/tokenizer.json",
]

GPT2 = "tests/data/tokenizer/hf/gpt-2/tokenizer.json"
REPLACED = {
    "bert-processing": processors.BertProcessing(("\"", 1), ("!", 0)),
    "roberta-processing": processors.RobertaProcessing(("#", 2), ("$", 3)),
    "sequence-template": processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(
            single="<|endoftext|> $A",
            pair="<|endoftext|> $A:0 !:0 $B:1 <|endoftext|>:1 !:1",
            special_tokens=[("<|endoftext|>", 50256), ("!", 0)]),
    ]),
    "template-multi-id": processors.TemplateProcessing(
        single="[X] $A:0",
        pair="$A:1 [X]:1 $B:0 [X]:0",
        special_tokens=[{"id": "[X]", "ids": [4, 5], "tokens": ["%", "&"]}]),
}


def encode_case(tok, name, post=None):
    # The template alone: no padding or truncation from the file (tested elsewhere).
    tok.no_padding()
    tok.no_truncation()
    case = {"name": name, "pairs": []}
    if post is not None:
        case["post_processor"] = post
    for a, b in PAIRS:
        s = tok.encode(a)
        p = tok.encode(a, b)
        case["pairs"].append({"a": a, "b": b, "single": s.ids, "single_types": s.type_ids,
                              "pair": p.ids, "pair_types": p.type_ids})
    return case


def main():
    cases = []
    for f in FILES:
        cases.append(encode_case(Tokenizer.from_file(os.path.join(ROOT, f)), f))
    for name, proc in REPLACED.items():
        tok = Tokenizer.from_file(os.path.join(ROOT, GPT2))
        tok.post_processor = proc
        post = json.loads(tok.to_str())["post_processor"]
        cases.append(encode_case(tok, GPT2 + "#" + name, post))

    tiny = os.path.join(ROOT, "tests/data/encoder/tiny_bert/tokenizer.json")
    words = "the cats play a good game about sports and music in the rain".split()
    trunc = []
    for na, nb in [(30, 30), (20, 30), (30, 20), (50, 3), (3, 50), (37, 0), (60, 0), (19, 19)]:
        a = " ".join(words[i % len(words)] for i in range(na))
        b = " ".join(words[(i + 5) % len(words)] for i in range(nb)) if nb else None
        for direction in ("right", "left"):
            tok = Tokenizer.from_file(tiny)
            tok.enable_truncation(40, strategy="longest_first", direction=direction)
            e = tok.encode(a, b) if b is not None else tok.encode(a)
            trunc.append({"a": a, "b": b, "direction": direction, "ids": e.ids,
                          "types": e.type_ids})
    out = {"tokenizers": tokenizers.__version__, "cases": cases, "truncation_max_length": 40,
           "truncation": trunc}
    path = os.path.join(ROOT, "tests/data/tokenizer/pair_template_refs.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"), ensure_ascii=False)
        f.write("\n")
    print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    sys.exit(main())
