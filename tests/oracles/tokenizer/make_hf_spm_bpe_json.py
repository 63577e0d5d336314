#!/usr/bin/env python3
"""Trains a small SentencePiece-style BPE tokenizer.json (Metaspace pre-tokenizer, BPE on
"▁"-joined words, byte fallback) with HuggingFace tokenizers on the corpus itself, so the
non-byte-level BPE path of tokenizer.json is checked against HF. Deterministic for a
given tokenizers version.

    python3 make_hf_spm_bpe_json.py OUT/tokenizer.json
"""
import json
import os
import sys

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "..", "data", "tokenizer", "corpus.hex")


def main():
    texts = [bytes.fromhex(l.strip()).decode("utf-8", errors="replace") for l in open(CORPUS)]
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                     decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    specials = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    trainer = trainers.BpeTrainer(vocab_size=1500, special_tokens=specials, min_frequency=2,
                                  show_progress=False)
    tok.train_from_iterator(texts * 3, trainer=trainer)
    # Byte tokens are ordinary vocabulary entries (as in SentencePiece), not added tokens.
    spec = json.loads(tok.to_str())
    spec["added_tokens"] = [t for t in spec["added_tokens"] if not t["content"].startswith("<0x")]
    tok = Tokenizer.from_str(json.dumps(spec))
    tok.save(sys.argv[1], pretty=False)


if __name__ == "__main__":
    main()
