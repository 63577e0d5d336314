#!/usr/bin/env python3
"""Writes vocab-only GGUFs that pair GPT-2's vocabulary and merges with another
tokenizer.ggml.pre value, so every pre-tokenizer family llama.cpp knows is compared with
llama.cpp on the corpus using a real BPE vocabulary (make_expected.py --families).
The C++ test rebuilds the same files in memory (manifest location "...#pre=NAME").

    python3 make_family_vocabs.py ../shared/testdata/tokenizer/ggml-vocab-gpt-2.gguf OUTDIR
"""
import os
import sys

import gguf

FAMILIES = ["default", "llama3", "llama-bpe", "qwen2", "deepseek-llm", "deepseek-coder",
            "deepseek-v3", "falcon", "mpt", "starcoder", "refact", "smollm", "command-r",
            "stablelm2", "poro-chat", "bloom", "chatglm-bpe", "viking", "tekken", "dbrx", "olmo",
            "phi-2"]


def main():
    src, outdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    reader = gguf.GGUFReader(src)
    arch = reader.fields["general.architecture"].contents()
    for pre in FAMILIES:
        writer = gguf.GGUFWriter(os.path.join(outdir, f"family-{pre}.gguf"), arch)
        for name, field in reader.fields.items():
            if name.startswith("GGUF.") or name == "general.architecture":
                continue
            vtype = field.types[0]
            sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
            value = field.contents()
            if vtype == gguf.GGUFValueType.ARRAY and sub == gguf.GGUFValueType.STRING:
                value = [bytes(field.parts[i]) for i in field.data]
            if name == "tokenizer.ggml.pre":
                value = pre
            writer.add_key_value(name, value, vtype, sub_type=sub)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.close()


if __name__ == "__main__":
    main()
