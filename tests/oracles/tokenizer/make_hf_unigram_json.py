#!/usr/bin/env python3
"""Builds Unigram tokenizer.json files (the HF layout of SentencePiece unigram models) from
the pieces and scores of a SentencePiece GGUF vocabulary, with HuggingFace tokenizers
itself, so the Unigram/Metaspace/normalizer paths are checked against HF:

    python3 make_hf_unigram_json.py metaspace ggml-vocab-llama-spm.gguf OUT/tokenizer.json
    python3 make_hf_unigram_json.py normalizers ggml-vocab-llama-spm.gguf OUT/tokenizer.json

metaspace:   Metaspace(prepend_scheme="always", split=True), byte fallback, "<s> $A" template.
normalizers: NFKC + Prepend("▁") + Replace(" ", "▁"), no pre-tokenizer, byte fallback.
Both decode like HF's Llama tokenizer.json (Replace "▁" -> " ", ByteFallback, Fuse, Strip).
Control tokens of the GGUF become special added tokens.
"""
import sys

import gguf
from tokenizers import (AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers,
                        processors)


def main():
    flavor, src, dst = sys.argv[1], sys.argv[2], sys.argv[3]
    f = gguf.GGUFReader(src).fields
    tokens = [bytes(f["tokenizer.ggml.tokens"].parts[i]).decode() for i in f["tokenizer.ggml.tokens"].data]
    scores = f["tokenizer.ggml.scores"].contents()
    types = f["tokenizer.ggml.token_type"].contents()
    tok = Tokenizer(models.Unigram(list(zip(tokens, scores)), unk_id=0, byte_fallback=True))
    if flavor == "metaspace":
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always",
                                                     split=True)
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    else:
        tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Prepend("\u2581"),
                                               normalizers.Replace(" ", "\u2581")])
    # The decoder of HF's Llama tokenizer.json.
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                     decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                            for t, ty in zip(tokens, types) if ty == 3])
    tok.save(dst, pretty=False)


if __name__ == "__main__":
    main()
