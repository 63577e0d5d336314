#!/usr/bin/env python3
"""Writes the expected token ids of the corpus (tests/data/tokenizer/corpus.hex) for every
vocabulary at hand, from the reference implementations, plus the manifest the C++ test
(engine/tokenizer/tokenizer_vectors_test.cc) reads:

  llama.cpp (llama-cpp-python, vocab_only=True) for GGUF vocabularies:
    plain:   tokenize(bytes, add_bos=False, special=False)
    special: tokenize(bytes, add_bos=True,  special=True)
  decode: llama.cpp detokenize(plain ids) (special=False), HF decode(plain ids,
    skip_special_tokens=True), as hex lines.
  HuggingFace tokenizers for tokenizer.json files (input: the bytes decoded with
  errors="replace", which the test mirrors):
    plain:   encode_special_tokens=True,  encode(text, add_special_tokens=False)
    special: encode_special_tokens=False, encode(text, add_special_tokens=True)

Heavy (llama-cpp-python builds llama.cpp): run offline, commit the outputs.
    python3 -m venv /tmp/llvenv && /tmp/llvenv/bin/pip install llama-cpp-python tokenizers gguf
    /tmp/llvenv/bin/python tests/oracles/tokenizer/make_expected.py

Model locations in the manifest: "shared:" = ../shared/testdata/tokenizer, "data:" =
tests/data/tokenizer (committed), "abs:" = a file outside the repo (test skips if absent).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
DATA = os.path.join(REPO, "tests", "data", "tokenizer")
SHARED = os.path.normpath(os.path.join(REPO, "..", "shared", "testdata", "tokenizer"))

GGUF_MODELS = [
    ("bert-bge", "shared:ggml-vocab-bert-bge.gguf"),
    ("falcon", "shared:ggml-vocab-falcon.gguf"),
    ("gpt-2", "shared:ggml-vocab-gpt-2.gguf"),
    ("llama-spm", "shared:ggml-vocab-llama-spm.gguf"),
    ("starcoder", "shared:ggml-vocab-starcoder.gguf"),
    ("smollm2-135m", "data:vocabs/smollm2-135m.vocab.gguf"),
    # 262k-token vocabulary (> 5 MB): not committed; extract it with extract_vocab_gguf.py.
    ("gemma3-270m", "abs:/tmp/vocabs/gemma3-270m.vocab.gguf"),
]
# GPT-2's vocabulary with each pre-tokenizer family (make_family_vocabs.py writes the files
# to /tmp/vocabs/families; the C++ test rebuilds them in memory from the shared gpt-2 file).
FAMILY_DIR = "/tmp/vocabs/families"
FAMILIES = ["default", "llama3", "llama-bpe", "qwen2", "deepseek-llm", "deepseek-coder",
            "deepseek-v3", "falcon", "mpt", "starcoder", "refact", "smollm", "command-r",
            "stablelm2", "poro-chat", "bloom", "chatglm-bpe", "viking", "tekken", "dbrx", "olmo",
            "phi-2"]

HF_MODELS = [
    ("all-minilm-l6-v2", "data:hf/all-minilm-l6-v2/tokenizer.json"),
    ("gpt-2", "data:hf/gpt-2/tokenizer.json"),
    ("smollm2-135m", "data:hf/smollm2-135m/tokenizer.json"),
    ("roberta-style-gpt-2", "data:hf/roberta-style-gpt-2/tokenizer.json"),
    ("unigram-metaspace-llama", "data:hf/unigram-metaspace-llama/tokenizer.json"),
    ("unigram-normalizers-llama", "data:hf/unigram-normalizers-llama/tokenizer.json"),
    ("spm-bpe-trained", "data:hf/spm-bpe-trained/tokenizer.json"),
]


def resolve(location):
    kind, path = location.split(":", 1)
    return {"shared": lambda p: os.path.join(SHARED, p), "data": lambda p: os.path.join(DATA, p),
            "abs": lambda p: p}[kind](path)


def write_ids(path, rows):
    with open(path, "w") as f:
        for ids in rows:
            f.write(" ".join(str(i) for i in ids) + "\n")


def write_hex(path, rows):
    with open(path, "w") as f:
        for data in rows:
            f.write(data.hex() + "\n")


def main():
    corpus = [bytes.fromhex(line.strip()) for line in open(os.path.join(DATA, "corpus.hex"))]
    os.makedirs(os.path.join(DATA, "expected"), exist_ok=True)
    manifest = []
    import llama_cpp
    for name, location in GGUF_MODELS:
        path = resolve(location)
        if not os.path.exists(path):
            print(f"skip {name}: {path} not found", file=sys.stderr)
            continue
        llm = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
        for mode, add_bos, special in (("plain", False, False), ("special", True, True)):
            rows = [llm.tokenize(s, add_bos=add_bos, special=special) for s in corpus]
            write_ids(os.path.join(DATA, "expected", f"{name}.llama_cpp.{mode}.ids"), rows)
            if mode == "plain":  # detokenization of the plain ids
                write_hex(os.path.join(DATA, "expected", f"{name}.llama_cpp.decode.hex"),
                          [llm.detokenize(ids) for ids in rows])
        manifest.append(f"{name} llama_cpp {location}")
        print(f"{name}: llama.cpp ids written")
    for pre in FAMILIES:
        path = os.path.join(FAMILY_DIR, f"family-{pre}.gguf")
        if not os.path.exists(path):
            print(f"skip family {pre}: {path} not found", file=sys.stderr)
            continue
        llm = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
        for mode, add_bos, special in (("plain", False, False), ("special", True, True)):
            rows = [llm.tokenize(s, add_bos=add_bos, special=special) for s in corpus]
            write_ids(os.path.join(DATA, "expected", f"family-{pre}.llama_cpp.{mode}.ids"), rows)
        manifest.append(f"family-{pre} llama_cpp shared:ggml-vocab-gpt-2.gguf#pre={pre}")
        print(f"family {pre}: llama.cpp ids written")
    import tokenizers
    for name, location in HF_MODELS:
        path = resolve(location)
        if not os.path.exists(path):
            print(f"skip {name}: {path} not found", file=sys.stderr)
            continue
        tok = tokenizers.Tokenizer.from_file(path)
        tok.no_truncation()
        tok.no_padding()
        texts = [s.decode("utf-8", errors="replace") for s in corpus]
        for mode, add_special, encode_special in (("plain", False, True), ("special", True, False)):
            tok.encode_special_tokens = encode_special
            rows = [tok.encode(t, add_special_tokens=add_special).ids for t in texts]
            write_ids(os.path.join(DATA, "expected", f"{name}.hf.{mode}.ids"), rows)
            if mode == "plain":  # detokenization of the plain ids
                write_hex(os.path.join(DATA, "expected", f"{name}.hf.decode.hex"),
                          [tok.decode(ids, skip_special_tokens=True).encode() for ids in rows])
        manifest.append(f"{name} hf {location}")
        print(f"{name}: HF tokenizers ids written")
    with open(os.path.join(DATA, "corpus_manifest.txt"), "w") as f:
        f.write("# name oracle model (see tests/oracles/tokenizer/make_expected.py)\n")
        f.write("\n".join(manifest) + "\n")


if __name__ == "__main__":
    main()
