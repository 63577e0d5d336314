#!/usr/bin/env python3
"""Canonical text dump of a GGUF file using the gguf package's GGUFReader.

Matches `jetserve-model-tool dump` line for line (engine/tools/dump_model.cc), so comparing the
two checks our reader against an independent one: version, alignment, every key/value, and
every tensor's name, type, dims, absolute offset, size and checksum.
"""
import sys

import numpy as np
import gguf
from gguf import GGUFValueType as V

MASK = (1 << 64) - 1


def fmt_scalar(vtype, value) -> str:
    if vtype == V.BOOL:
        return "true" if bool(value) else "false"
    if vtype == V.FLOAT32:
        return "%.9g" % float(np.float32(value))
    if vtype == V.FLOAT64:
        return "%.17g" % float(value)
    return str(int(value))


def hexs(b: bytes) -> str:
    return b.hex() if b else "-"


def checksum(raw: np.ndarray) -> int:
    b = np.ascontiguousarray(raw).view(np.uint8).reshape(-1)
    n = b.size
    pad = (-n) % 8
    if pad:
        b = np.concatenate([b, np.zeros(pad, dtype=np.uint8)])
    words = b.view("<u8")
    weights = (2 * np.arange(words.size, dtype=np.uint64) + 1)
    with np.errstate(over="ignore"):
        total = int(np.sum(words * weights, dtype=np.uint64))
    return (total + n) & MASK


def dump(path: str, out) -> None:
    r = gguf.GGUFReader(path)
    version = int(r.fields["GGUF.version"].parts[-1][0])
    out.write(f"version {version}\n")
    out.write(f"alignment {r.alignment}\n")
    for name, f in r.fields.items():
        if name.startswith("GGUF."):
            continue
        t = f.types[0]
        if t == V.STRING:
            out.write(f"kv {name} STRING {hexs(bytes(f.parts[-1]))}\n")
        elif t == V.ARRAY:
            et = f.types[-1] if len(f.types) > 1 else V.UINT8
            items = [f.parts[i] for i in f.data]
            line = f"kv {name} ARRAY[{et.name}] n={len(items)}"
            if et == V.STRING:
                vals = [hexs(bytes(p)) for p in items]
            else:
                vals = [fmt_scalar(et, p[0]) for p in items]
            out.write(line + "".join(" " + v for v in vals) + "\n")
        else:
            out.write(f"kv {name} {t.name} {fmt_scalar(t, f.parts[-1][0])}\n")
    for t in r.tensors:
        dims = ",".join(str(int(d)) for d in t.shape)
        raw = np.asarray(t.data)
        nbytes = raw.nbytes
        out.write(f"tensor {t.name} {t.tensor_type.name} {dims} offset={t.data_offset} "
                  f"bytes={nbytes} sum={checksum(raw):016x}\n")


if __name__ == "__main__":
    dump(sys.argv[1], sys.stdout)
