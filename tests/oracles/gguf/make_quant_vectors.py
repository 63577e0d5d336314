#!/usr/bin/env python3
"""Writes dequantization and quantization reference vectors computed by the `gguf` package.

Usage: make_quant_vectors.py OUT.gguf

For every tensor type the engine implements, the file (written by gguf's own GGUFWriter, so it
also checks that we read gguf-written files) holds:
  <TYPE>.raw   random blocks (fp16 scale fields kept finite)
  <TYPE>.deq   gguf.quants.dequantize(raw) as F32
and for the types gguf can quantize (BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) plus F16 (numpy):
  <TYPE>.qin   random F32 input (gaussian, with some zero, constant and outlier blocks)
  <TYPE>.qout  gguf.quants.quantize(qin) as raw blocks
The C++ test (engine/quant/quant_test.cc) compares our kernels to these, bit for bit.
"""
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

# Byte offsets of the fp16 fields (scales) inside one block of each type.
HALF_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}
DEQUANT_TYPES = [T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0,
                 T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K]
QUANT_TYPES = [T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0]
N_BLOCKS = 96


def finite_halves(h: np.ndarray) -> np.ndarray:
    """Clears the top exponent bit of fp16 values that are Inf/NaN."""
    inf_nan = ((h >> 10) & 0x1F) == 0x1F
    return np.where(inf_nan, h & np.uint16(0xBFFF), h).astype(np.uint16)


def random_blocks(rng: np.random.Generator, qtype: T) -> np.ndarray:
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(N_BLOCKS, size), dtype=np.uint8)
    if qtype == T.F16:
        return finite_halves(raw.view(np.uint16)).view(np.uint8)
    if qtype == T.BF16:
        b = raw.view(np.uint16)
        b = np.where(((b >> 7) & 0xFF) == 0xFF, b & np.uint16(0xBFFF), b).astype(np.uint16)
        return b.view(np.uint8)
    for off in HALF_FIELDS[qtype]:
        h = raw[:, off:off + 2].copy().view(np.uint16)
        raw[:, off:off + 2] = finite_halves(h).view(np.uint8)
    return raw


def random_input(rng: np.random.Generator, qtype: T) -> np.ndarray:
    block, _ = gguf.GGML_QUANT_SIZES[qtype]
    block = max(block, 32)
    x = rng.standard_normal((N_BLOCKS, block)).astype(np.float32)
    x *= rng.uniform(0.001, 4.0, size=(N_BLOCKS, 1)).astype(np.float32)
    x[0] = 0.0                       # all zero block
    x[1] = 0.75                      # constant block
    x[2, 5] = 100.0                  # an outlier
    x[3] = -np.abs(x[3])             # all negative
    x[4] = np.abs(x[4])              # all positive
    return x.reshape(-1)


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    rng = np.random.default_rng(20261128)
    w = gguf.GGUFWriter(sys.argv[1], arch="quant-vectors")
    for qtype in DEQUANT_TYPES:
        raw = random_blocks(rng, qtype)
        deq = gguf.quants.dequantize(raw, qtype).astype(np.float32).reshape(-1)
        w.add_tensor(f"{qtype.name}.raw", raw.reshape(1, -1), raw_dtype=qtype)
        w.add_tensor(f"{qtype.name}.deq", deq)
    for qtype in QUANT_TYPES:
        x = random_input(rng, qtype)
        if qtype == T.F16:
            q = x.astype(np.float16).view(np.uint8)
        else:
            q = gguf.quants.quantize(x.reshape(1, -1), qtype)
        w.add_tensor(f"{qtype.name}.qin", x)
        w.add_tensor(f"{qtype.name}.qout", q.reshape(1, -1), raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
