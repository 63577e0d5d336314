#!/usr/bin/env python3
"""Builds byte-level BPE tokenizer.json files (the HF layout of GPT-2 and SmolLM2) from
the vocabulary and merges of a GGUF file, with HuggingFace tokenizers itself, so the
tokenizer.json path of the BPE model is checked against HF on real vocabularies:

    python3 make_hf_bpe_json.py gpt2 ggml-vocab-gpt-2.gguf OUT/tokenizer.json
    python3 make_hf_bpe_json.py smollm smollm2-135m.vocab.gguf OUT/tokenizer.json

gpt2: pre-tokenizer ByteLevel(add_prefix_space=False) (GPT-2's own tokenizer.json).
smollm: Sequence[Digits(individual_digits=True), ByteLevel] (SmolLM2's / StarCoder's).
roberta: ByteLevel(add_prefix_space=True) + RobertaProcessing, with "<mask>" added as a
  special token with lstrip (RoBERTa's layout, on GPT-2's vocabulary).
Control tokens of the GGUF become special added tokens.
"""
import sys

import gguf
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors


def main():
    flavor, src, dst = sys.argv[1], sys.argv[2], sys.argv[3]
    reader = gguf.GGUFReader(src)
    f = reader.fields
    tokens = [bytes(f["tokenizer.ggml.tokens"].parts[i]).decode() for i in f["tokenizer.ggml.tokens"].data]
    types = f["tokenizer.ggml.token_type"].contents()
    merges = [bytes(f["tokenizer.ggml.merges"].parts[i]).decode() for i in f["tokenizer.ggml.merges"].data]
    vocab = {t: i for i, t in enumerate(tokens)}
    pairs = [tuple(m.split(" ", 1)) for m in merges]
    tok = Tokenizer(models.BPE(vocab, pairs, fuse_unk=False))
    if flavor == "gpt2":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    elif flavor == "roberta":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    else:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False),
        ])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    specials = [AddedToken(t, special=True, normalized=False) for t, ty in zip(tokens, types) if ty == 3]
    if flavor == "roberta":
        eot = "<|endoftext|>"
        specials = [AddedToken(eot, special=True, normalized=False),
                    AddedToken("<mask>", special=True, normalized=False, lstrip=True)]
        tok.post_processor = processors.RobertaProcessing((eot, vocab[eot]), (eot, vocab[eot]),
                                                          add_prefix_space=True)
    tok.add_special_tokens(specials)
    tok.save(dst, pretty=False)


if __name__ == "__main__":
    main()
