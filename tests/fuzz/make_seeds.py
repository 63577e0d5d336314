#!/usr/bin/env python3
"""Writes the hand-made seed inputs of tests/fuzz/corpus (small, valid or nearly valid
inputs that reach deep into each parser). Run from anywhere; the outputs are committed.
The other seeds are copies of small test files named in corpus/README.md."""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def out(target, name, data):
    path = os.path.join(HERE, "corpus", target, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# --- GGUF (v3, little-endian): header, key/values, tensor infos, aligned data section.
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)


def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def kv(key, vtype, value):
    body = gstr(key) + struct.pack("<I", vtype)
    if vtype == STR:
        return body + gstr(value)
    if vtype == ARR:
        etype, items = value
        body += struct.pack("<IQ", etype, len(items))
        for it in items:
            body += gstr(it) if etype == STR else struct.pack(
                {F32: "<f", I32: "<i", U32: "<I"}[etype], it)
        return body
    fmt = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f",
           BOOL: "<?", U64: "<Q", I64: "<q", F64: "<d"}[vtype]
    return body + struct.pack(fmt, value)


def gguf(kvs, tensors=(), alignment=32):
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)) + b"".join(kvs)
    infos, data = b"", b""
    for name, ggml_type, dims, payload in tensors:
        pad = (-len(data)) % alignment
        data += b"\0" * pad
        infos += gstr(name) + struct.pack("<I", len(dims)) + b"".join(
            struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", ggml_type, len(data))
        data += payload
    body = head + infos
    body += b"\0" * ((-len(body)) % alignment)
    return body + data


byte_chars = ["Ġ", "a", "b", "c", "ab", "Ġa", "Ġab", "<s>", "</s>", "<unk>"]
out("gguf", "bpe_vocab.gguf", gguf([
    kv("general.architecture", STR, "llama"),
    kv("general.alignment", U32, 32),
    kv("llama.context_length", U32, 128),
    kv("tokenizer.ggml.model", STR, "gpt2"),
    kv("tokenizer.ggml.pre", STR, "llama-bpe"),
    kv("tokenizer.ggml.tokens", ARR, (STR, byte_chars)),
    kv("tokenizer.ggml.token_type", ARR, (I32, [1] * 7 + [3, 3, 2])),
    kv("tokenizer.ggml.merges", ARR, (STR, ["a b", "Ġ a", "Ġa b"])),
    kv("tokenizer.ggml.bos_token_id", U32, 7),
    kv("tokenizer.ggml.eos_token_id", U32, 8),
    kv("tokenizer.ggml.add_bos_token", BOOL, True),
], [("tok_embd.weight", 0, [4, 2], struct.pack("<8f", *range(8))),
    ("norm.weight", 1, [4], struct.pack("<4e", 1, 1, 1, 1))]))
spm_tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)] + ["▁", "▁a", "b", "▁ab"]
out("gguf", "spm_vocab.gguf", gguf([
    kv("general.architecture", STR, "llama"),
    kv("tokenizer.ggml.model", STR, "llama"),
    kv("tokenizer.ggml.tokens", ARR, (STR, spm_tokens)),
    kv("tokenizer.ggml.scores", ARR, (F32, [0.0] * 259 + [-1.0, -2.0, -3.0, -0.5])),
    kv("tokenizer.ggml.token_type", ARR, (I32, [2, 3, 3] + [6] * 256 + [1] * 4)),
    kv("tokenizer.ggml.add_space_prefix", BOOL, True),
]))
wp_tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "▁hello", "▁world", "ab", "▁a"]
out("gguf", "wpm_vocab.gguf", gguf([
    kv("general.architecture", STR, "bert"),
    kv("tokenizer.ggml.model", STR, "bert"),
    kv("tokenizer.ggml.tokens", ARR, (STR, wp_tokens)),
    kv("tokenizer.ggml.token_type", ARR, (I32, [3, 2, 3, 3, 3, 1, 1, 1, 1])),
    kv("tokenizer.ggml.cls_token_id", U32, 2),
    kv("tokenizer.ggml.seperator_token_id", U32, 3),
    kv("tokenizer.ggml.unknown_token_id", U32, 1),
    kv("tokenizer.ggml.padding_token_id", U32, 0),
]))
out("gguf", "tensors.gguf", gguf([kv("general.alignment", U32, 64), kv("x", F64, 1.5),
                                  kv("y", I64, -3), kv("z", ARR, (F32, [1.0, 2.0]))],
                                 [("q4", 2, [32, 2], bytes(36)), ("q8", 8, [32], bytes(34)),
                                  ("f32", 0, [3, 1, 1, 1], bytes(12))], alignment=64))

# --- tokenizer.json, one per model kind.
bpe = {"version": "1.0",
       "added_tokens": [{"id": 5, "content": "<|endoftext|>", "single_word": False, "lstrip": False,
                         "rstrip": False, "normalized": False, "special": True}],
       "normalizer": None,
       "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                         "use_regex": True},
       "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                          "use_regex": True},
       "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                   "use_regex": True},
       "model": {"type": "BPE", "dropout": None, "unk_token": None,
                 "continuing_subword_prefix": "", "end_of_word_suffix": "",
                 "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                 "vocab": {"a": 0, "b": 1, "Ġ": 2, "ab": 3, "Ġab": 4, "<|endoftext|>": 5},
                 "merges": ["a b", "Ġ ab"]}}
out("tokenizer_json", "bpe.json", json.dumps(bpe, indent=1))
wp = {"version": "1.0", "added_tokens": [
    {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
     "normalized": False, "special": True} for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]"])],
      "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                     "strip_accents": None, "lowercase": True},
      "pre_tokenizer": {"type": "BertPreTokenizer"},
      "post_processor": {"type": "TemplateProcessing",
                         "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                                    {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                         "pair": [], "special_tokens": {
                             "[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                             "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
      "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
      "truncation": {"direction": "Right", "max_length": 8, "strategy": "LongestFirst", "stride": 0},
      "padding": None,
      "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                "max_input_chars_per_word": 100,
                "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "hello": 4, "##lo": 5,
                          "hel": 6, ",": 7}}}
out("tokenizer_json", "wordpiece.json", json.dumps(wp, indent=1))
uni = {"version": "1.0", "added_tokens": [
    {"id": 0, "content": "<unk>", "single_word": False, "lstrip": False, "rstrip": False,
     "normalized": False, "special": True}],
       "normalizer": {"type": "Sequence", "normalizers": [
           {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "},
                                                  "content": "▁"}, {"type": "NFKC"}]},
       "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always",
                         "split": True},
       "post_processor": None,
       "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
       "model": {"type": "Unigram", "unk_id": 0, "byte_fallback": True,
                 "vocab": [["<unk>", 0.0], ["▁", -1.0], ["a", -2.0], ["b", -2.5], ["▁ab", -1.5],
                           ["<0x00>", -10.0], ["<0x41>", -10.0]]}}
out("tokenizer_json", "unigram.json", json.dumps(uni, indent=1))

# --- texts for the fixed vocabularies (first byte: vocabulary and options).
for i, text in enumerate(["Hello, world! It's 2024.", "  naïve café\t\n日本語 🙂 <|endoftext|>",
                          "[CLS] don't  STOP   ab ab", "\xff\xfe invalid \xc3 utf8"]):
    out("tokenize", f"text{i}", bytes([i * 0x31 % 256]) + text.encode("utf-8", "surrogateescape")
        if isinstance(text, str) else text)
out("tokenize", "invalid_utf8", bytes([0x22]) + b"ab\xff\xc3(\xe2\x82 \xf0\x9f\x99")

# --- chat templates exercising most of the interpreter.
out("chat_template", "features.jinja", """{%- set ns = namespace(n=0, sys='') -%}
{%- macro show(m, sep=': ') -%}{{ m.role | upper }}{{ sep }}{{ m.content | trim }}{%- endmacro -%}
{{ bos_token }}{% for m in messages if m.role != 'tool' %}
{% if loop.first and m.role == 'system' %}{% set ns.sys = m.content %}{% continue %}{% endif %}
{{ show(m) }}{% if m.tool_calls %}{% for c in m.tool_calls %}{{ c.function.name }}({{ c.function.arguments | tojson }}){% endfor %}{% endif %}
{% set ns.n = ns.n + 1 %}{% endfor %}
{%- if tools %}{% for t in tools %}{{ t | tojson(indent=2) }}{% endfor %}{% endif %}
{{ ns.n }} {{ messages | length }} {{ (messages | map(attribute='role') | list)[-1] }}
{{ "%s-%d" % ("x", 3) }} {{ [1, 2, 3] | join(",") }} {{ {'a': 1}.items() | list }}
{{ range(3) | sum }} {{ "abc"[1:] }} {{ 'x' in 'xyz' }} {{ none is none }} {{ 7 // 2 }} {{ 2 ** 3 }}
{% if add_generation_prompt %}<|assistant|>{% endif %}{{ eos_token if false else '' }}
{{ strftime_now('%Y-%m-%d') }}{% raw %}{{ raw }}{% endraw %}
{%- if messages[0].content is string and not enable_thinking is defined %}{{ raise_exception('x') }}{% endif %}
""")
out("chat_template", "chatml.jinja", """{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}""")

# --- request fields: raw bytes for FuzzedDataProvider.
import random
rng = random.Random(12)
for i in range(4):
    out("request", f"random{i}", bytes(rng.randrange(256) for _ in range(64 + 96 * i)))
out("request", "json_kwargs", bytes(40) + b'{"enable_thinking": true, "x": [1, {"y": null}]}')
