#!/usr/bin/env python3
"""CI check: GGUF files written by our writer and tools, and files written by the gguf
package, read identically by our reader (`jetserve-model-tool dump`) and by gguf.GGUFReader.

Also checks that `quantize` keeps metadata and picks the mix's types, and that files we write
with gen-model are valid for gguf's reader with the expected tensor types.
"""
import argparse
import io
import os
import subprocess
import sys

import numpy as np
import gguf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_dump  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--emulator", default="")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--shared", default="")
    args = ap.parse_args()
    prefix = [a for a in args.emulator.split(";") if a]
    os.makedirs(args.workdir, exist_ok=True)
    failures = []
    checked = 0

    def tool(*argv) -> str:
        res = subprocess.run(prefix + [args.tool, *argv], capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {res.stderr}")
        return res.stdout

    def compare(path: str) -> None:
        nonlocal checked
        ours = tool("dump", path)
        ref = io.StringIO()
        gguf_dump.dump(path, ref)
        if ours != ref.getvalue():
            a, b = ours.splitlines(), ref.getvalue().splitlines()
            for i, (x, y) in enumerate(zip(a, b)):
                if x != y:
                    failures.append(f"{path}: line {i}: ours {x[:200]!r} gguf {y[:200]!r}")
                    break
            else:
                failures.append(f"{path}: {len(a)} lines vs gguf {len(b)}")
        checked += 1

    w = args.workdir
    vocab = os.path.join(args.shared, "ggml-vocab-llama-spm.gguf") if args.shared else ""
    vocab_args = [f"--vocab-from={vocab}"] if vocab and os.path.exists(vocab) else ["--vocab=300"]

    # Files we write.
    f32 = os.path.join(w, "gen_f32.gguf")
    tool("gen-model", f32, "--layers=3", "--embd=256", "--ff=512", "--heads=4", "--heads-kv=2",
         "--vocab=300", "--seed=7")
    compare(f32)
    for t in ["Q4_K_M", "Q6_K", "Q8_0", "Q4_0", "Q5_1", "F16", "BF16", "Q2_K", "Q3_K_M"]:
        out = os.path.join(w, f"quant_{t}.gguf")
        tool("quantize", f32, out, t)
        compare(out)
        r = gguf.GGUFReader(out)
        types = {x.name: x.tensor_type.name for x in r.tensors}
        if t == "Q4_K_M":
            expect = {"blk.0.attn_q.weight": "Q4_K", "output.weight": "Q6_K",
                      "blk.0.attn_norm.weight": "F32"}
            for k, v in expect.items():
                if types[k] != v:
                    failures.append(f"Q4_K_M: {k} is {types[k]}, expected {v}")
        ft = int(r.fields["general.file_type"].parts[-1][0])
        want_ft = {"Q4_K_M": 15, "Q6_K": 18, "Q8_0": 7, "Q4_0": 2, "Q5_1": 9, "F16": 1,
                   "BF16": 32, "Q2_K": 10, "Q3_K_M": 12}[t]
        if ft != want_ft:
            failures.append(f"{t}: general.file_type {ft}, expected {want_ft}")
        # Tensor values survive: dequantize with gguf and compare to the F32 source.
        src = {x.name: x for x in gguf.GGUFReader(f32).tensors}
        for x in r.tensors:
            if x.name != "blk.1.ffn_up.weight":
                continue
            ref = np.asarray(src[x.name].data, dtype=np.float32).reshape(-1)
            got = gguf.quants.dequantize(np.asarray(x.data), x.tensor_type).reshape(-1)
            rel = float(np.sqrt(np.mean((got - ref) ** 2)) / np.sqrt(np.mean(ref ** 2)))
            if rel > 0.6:
                failures.append(f"{t}: {x.name} relative RMSE {rel:.3f}")
    vocab_model = os.path.join(w, "gen_vocab_q4km.gguf")
    tool("gen-model", vocab_model, "--layers=2", "--embd=64", "--ff=128", "--heads=2",
         "--type=Q4_K_M", "--tie-embeddings", *vocab_args)
    compare(vocab_model)

    # Files written by the gguf package's writer: every value type and tensor type.
    gw_path = os.path.join(w, "gguf_written.gguf")
    gw = gguf.GGUFWriter(gw_path, arch="llama")
    gw.add_uint8("t.u8", 250)
    gw.add_int8("t.i8", -100)
    gw.add_uint16("t.u16", 65000)
    gw.add_int16("t.i16", -32000)
    gw.add_uint32("t.u32", 4000000000)
    gw.add_int32("t.i32", -2000000000)
    gw.add_uint64("t.u64", 2**64 - 1)
    gw.add_int64("t.i64", -2**63)
    gw.add_float32("t.f32", 3.14159)
    gw.add_float64("t.f64", 2.718281828459045)
    gw.add_bool("t.bool", True)
    gw.add_string("t.str", "héllo ✓")
    gw.add_array("t.arr_i32", [1, -2, 3])
    gw.add_array("t.arr_str", ["a", "", "ccc"])
    gw.add_array("t.arr_f32", [0.5, -1.25])
    rng = np.random.default_rng(3)
    gw.add_tensor("f32", rng.standard_normal((3, 64)).astype(np.float32))
    gw.add_tensor("f16", rng.standard_normal((64,)).astype(np.float16))
    for qt in [gguf.GGMLQuantizationType.Q8_0, gguf.GGMLQuantizationType.Q4_1]:
        x = rng.standard_normal((2, 64)).astype(np.float32)
        gw.add_tensor(f"q_{qt.name}", gguf.quants.quantize(x, qt), raw_dtype=qt)
    gw.write_header_to_file()
    gw.write_kv_data_to_file()
    gw.write_tensors_to_file()
    gw.close()
    compare(gw_path)

    # Real files from shared/testdata (vocab-only GGUFs written by llama.cpp's converter).
    if args.shared and os.path.isdir(args.shared):
        for name in sorted(os.listdir(args.shared)):
            if name.endswith(".gguf"):
                compare(os.path.join(args.shared, name))

    for f in failures:
        print("FAIL", f)
    print(f"check_gguf_files: {checked} files compared, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
