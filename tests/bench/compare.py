#!/usr/bin/env python3
"""jetserve vs llama.cpp and ONNX Runtime on the same files, same thread count, same run.

A benchmark, not a test (CI only runs `--smoke` on a tiny random model, without peers).
For each file it starts `jetserve bench --protocol` and the peer (tests/bench/peer.py in
the peer's venv), warms both up, then alternates them (ABAB..., the order flipped every
repetition, so a busy machine slows both alike) and prints medians and ratios:

  decoders: prompt processing (one batch of --pp tokens) and generation (--tg single-token
            steps) in tokens/s against llama.cpp (llama-cpp-python's low-level API); the
            roofline: bytes of weights read per token / read bandwidth measured by jetserve
            with the same threads in the same run, as tokens/s, and each engine's tg as a
            share of it;
  encoders: sentences/s at --batch x --seq random tokens against onnxruntime with equal
            intra_op_num_threads.

Files (missing ones are reported and skipped): SmolLM2-135M-Instruct Q4_1 and
gemma-3-270m Q4_K_M from --models (default: /work/cache/models, ~/.cache/jetserve/models);
1.1B-shape random llamas in Q4_0, Q4_1, Q8_0, Q4_K_M, Q6_K written on first use by
jetserve-random-decoder into --random-dir (0.6-1.2 GB each); MiniLM ONNX folders
(deploy/fetch-model.sh minilm, or the paraphrase-MiniLM-L3 export).

Peers' venvs (pip builds llama-cpp-python from source, with this CPU's features):
  python3 -m venv /work/cache/llama-venv && /work/cache/llama-venv/bin/pip install llama-cpp-python
  python3 -m venv /work/cache/enc-venv && /work/cache/enc-venv/bin/pip install onnxruntime numpy
On a CPU with AMX (Xeon Sapphire Rapids and later) the native build of llama-cpp-python
0.3.36 enables ggml's AMX backend, whose first batched llama_decode crashed on the VMs here
(SIGSEGV in ggml_backend_amx_mul_mat, every model); build the peer for the same AVX-512
features without AMX (ggml's AVX-512 repacked kernels stay on) and pass --llama-python:
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
    -DGGML_BMI2=ON -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON
    -DGGML_AVX512_BF16=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" \
    /work/cache/llama-venv-noamx/bin/pip install --no-cache-dir llama-cpp-python==0.3.36

On a machine with other load, llama.cpp's threads spin at their barriers (OpenMP build) and
its wall-clock rates collapse with more than one thread (SmolLM2 tg: 2 tok/s instead of
~40); compare at --threads 1, or give the peer OMP_WAIT_POLICY=passive (inherited from this
script's environment; jetserve and onnxruntime do not use OpenMP). The per-CPU-second table
counts spinning as busy time.

Usage:
  tests/bench/compare.py [--build build] [--threads 2] [--reps 5] [--only SUBSTR]
      [--llama-python PY] [--ort-python PY] [--no-peer] [--json OUT.json] [--smoke]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
RANDOM_1B = ["llama1b-Q4_0.gguf", "llama1b-Q4_1.gguf", "llama1b-Q8_0.gguf",
             "llama1b-Q4_K_M.gguf", "llama1b-Q6_K.gguf"]
REAL_DECODERS = ["SmolLM2-135M-Instruct.Q4_1.gguf", "gemma-3-270m-q4_k_m.gguf"]
# Each encoder under the folder names it may have: the test-model names the tests' model dir
# uses, and the folder deploy/fetch-model.sh writes.
ENCODERS = [("paraphrase-minilm-l3-onnx",), ("minilm-l6-int8-onnx", "all-MiniLM-L6-v2-int8")]


class Engine:
    """A process speaking the line protocol (one command, one reply line)."""

    def __init__(self, name, argv, wait_ready):
        self.name = name
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        if wait_ready:
            line = self.proc.stdout.readline()
            if line.strip() != "ready":
                self.close()
                raise RuntimeError(f"{name}: did not start ({line.strip() or 'exited'})")

    def ask(self, command):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name}: exited during {command!r}")
        words = line.split()
        if words[0] == "error":
            raise RuntimeError(f"{self.name}: {line.strip()}")
        return words

    def seconds(self, command):
        """(wall seconds, process CPU seconds) of one command."""
        w = self.ask(command)
        return float(w[-2]), float(w[-1])

    def close(self):
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def alternate(engines, command, reps):
    """Median wall and CPU seconds of `command` per engine, alternating ABAB.. with the
    order flipped every repetition; and the samples."""
    samples = {e.name: [] for e in engines}
    for r in range(reps):
        for e in (engines if r % 2 == 0 else list(reversed(engines))):
            samples[e.name].append(e.seconds(command))
    wall = {k: statistics.median(x[0] for x in v) for k, v in samples.items()}
    cpu = {k: statistics.median(x[1] for x in v) for k, v in samples.items()}
    return wall, cpu, samples


def fmt(x, width=9, digits=1):
    return f"{x:{width}.{digits}f}" if x is not None else " " * (width - 1) + "-"


def ratio(a, b):
    return f"{a / b:6.2f}x" if a and b else "      -"


def find(name, dirs):
    for d in dirs:
        p = os.path.join(os.path.expanduser(d), name)
        if os.path.exists(p):
            return p
    return None


def bench_decoders(args, files, jetserve, results):
    rows = []
    for path in files:
        label = os.path.basename(path)
        engines = [Engine("jetserve", [jetserve, "bench", "-m", path, "--protocol", "-t",
                                       str(args.threads)], wait_ready=False)]
        try:
            info = engines[0].ask("info")
            weight_bytes = int(info[2])
            if not args.no_peer:
                engines.append(Engine("llama.cpp", [args.llama_python, os.path.join(HERE, "peer.py"),
                                                    "llama", path, str(args.threads)],
                                      wait_ready=True))
            for e in engines:  # warm-up: maps the weights in, first-touch allocations
                e.seconds(f"pp {args.pp}")
                e.seconds(f"tg {min(args.tg, 8)}")
            bw = float(engines[0].ask("bw")[1])
            pp, pp_cpu, pp_s = alternate(engines, f"pp {args.pp}", args.reps)
            tg, tg_cpu, tg_s = alternate(engines, f"tg {args.tg}", args.reps)
        except RuntimeError as err:
            print(f"{label}: {err}", file=sys.stderr)
            rows.append((label, None))
            continue
        finally:
            for e in engines:
                e.close()
        roof = bw * 1e9 / weight_bytes
        row = {"file": label, "weight_bytes_per_token": weight_bytes, "bandwidth_gbps": bw,
               "roofline_tok_s": roof, "pp_tok_s": {k: args.pp / v for k, v in pp.items()},
               "tg_tok_s": {k: args.tg / v for k, v in tg.items()},
               "pp_tok_per_cpu_s": {k: args.pp / v for k, v in pp_cpu.items()},
               "tg_tok_per_cpu_s": {k: args.tg / v for k, v in tg_cpu.items()},
               "samples": {"pp": pp_s, "tg": tg_s}}
        results["decoders"].append(row)
        rows.append((label, row))
        print_decoder_row(label, row, args, flush=True)
    return rows


def decoder_header(args):
    return (f"{'file':34} {'MB/tok':>7} {'pp' + str(args.pp) + ' jet':>9} {'llama':>9} {'ratio':>7}"
            f" {'tg' + str(args.tg) + ' jet':>9} {'llama':>9} {'ratio':>7} {'GB/s':>6}"
            f" {'roof':>7} {'jet%':>6} {'llama%':>6}")


def print_decoder_row(label, row, args, flush=False):
    if row is None:
        print(f"{label:34} failed (see above)", flush=flush)
        return
    pj, pl = row["pp_tok_s"]["jetserve"], row["pp_tok_s"].get("llama.cpp")
    tj, tl = row["tg_tok_s"]["jetserve"], row["tg_tok_s"].get("llama.cpp")
    roof = row["roofline_tok_s"]
    print(f"{label:34} {row['weight_bytes_per_token'] / 1e6:7.1f} {fmt(pj)} {fmt(pl)} "
          f"{ratio(pj, pl)} {fmt(tj)} {fmt(tl)} {ratio(tj, tl)} {row['bandwidth_gbps']:6.1f} "
          f"{roof:7.1f} {100 * tj / roof:5.0f}% "
          f"{(f'{100 * tl / roof:5.0f}%') if tl else '     -'}", flush=flush)


def print_cpu_tables(args, results):
    """The same medians per CPU-second (all threads): less sensitive to the machine's other
    load than wall time, but a spinning thread counts as busy."""
    if results["decoders"]:
        print(f"\nper CPU-second (process CPU time, all threads)\n"
              f"{'file':34} {'pp jet':>9} {'llama':>9} {'ratio':>7} {'tg jet':>9} {'llama':>9} {'ratio':>7}")
        for row in results["decoders"]:
            pj, pl = row["pp_tok_per_cpu_s"]["jetserve"], row["pp_tok_per_cpu_s"].get("llama.cpp")
            tj, tl = row["tg_tok_per_cpu_s"]["jetserve"], row["tg_tok_per_cpu_s"].get("llama.cpp")
            print(f"{row['file']:34} {fmt(pj)} {fmt(pl)} {ratio(pj, pl)} {fmt(tj)} {fmt(tl)} "
                  f"{ratio(tj, tl)}")
    if results["encoders"]:
        print(f"\n{'encoder per CPU-second':34} {'jetserve':>9} {'ORT':>9} {'ratio':>7}")
        for row in results["encoders"]:
            j = row["sentences_per_cpu_s"]["jetserve"]
            o = row["sentences_per_cpu_s"].get("onnxruntime")
            print(f"{row['model']:34} {fmt(j)} {fmt(o)} {ratio(j, o)}")


def bench_encoders(args, dirs, jetserve, results):
    rows = []
    cmd = f"enc {args.batch} {args.seq}"
    for path in dirs:
        label = os.path.basename(path.rstrip("/"))
        engines = [Engine("jetserve", [jetserve, "bench", "-m", path, "--protocol", "--encoder",
                                       "-t", str(args.threads)], wait_ready=False)]
        try:
            engines[0].ask("info")
            if not args.no_peer:
                engines.append(Engine("onnxruntime", [args.ort_python, os.path.join(HERE, "peer.py"),
                                                      "ort", path, str(args.threads)],
                                      wait_ready=True))
            for e in engines:
                e.seconds(cmd)
            med, med_cpu, samples = alternate(engines, cmd, args.reps)
        except RuntimeError as err:
            print(f"{label}: {err}", file=sys.stderr)
            rows.append((label, None))
            continue
        finally:
            for e in engines:
                e.close()
        row = {"model": label, "batch": args.batch, "seq": args.seq,
               "sentences_per_s": {k: args.batch / v for k, v in med.items()},
               "sentences_per_cpu_s": {k: args.batch / v for k, v in med_cpu.items()},
               "samples": samples}
        results["encoders"].append(row)
        rows.append((label, row))
        print_encoder_row(label, row, flush=True)
    return rows


def print_encoder_row(label, row, flush=False):
    if row is None:
        print(f"{label:34} failed (see above)", flush=flush)
        return
    j, o = row["sentences_per_s"]["jetserve"], row["sentences_per_s"].get("onnxruntime")
    print(f"{label:34} {fmt(j)} {fmt(o)} {ratio(j, o)}", flush=flush)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(HERE, "..", "..", "build"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--pp", type=int, default=128)
    ap.add_argument("--tg", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--models", action="append",
                    default=None, help="folder with the real models (repeatable)")
    ap.add_argument("--random-dir", default="~/.cache/jetserve/bench")
    ap.add_argument("--only", default="", help="run only files whose name contains this")
    ap.add_argument("--llama-python", default="/work/cache/llama-venv/bin/python")
    ap.add_argument("--ort-python", default="/work/cache/enc-venv/bin/python")
    ap.add_argument("--no-peer", action="store_true", help="jetserve only")
    ap.add_argument("--no-encoders", action="store_true")
    ap.add_argument("--no-decoders", action="store_true")
    ap.add_argument("--json", help="write every sample here")
    ap.add_argument("--smoke", action="store_true",
                    help="a tiny random model, 1 repetition, no peers (CI)")
    args = ap.parse_args()
    bin_dir = os.path.join(args.build, "bin")
    jetserve = os.path.join(bin_dir, "jetserve")
    writer = os.path.join(args.build, "engine", "model", "jetserve-random-decoder")
    for exe in (jetserve, writer):
        if not os.access(exe, os.X_OK):
            raise SystemExit(f"{exe} is not built (cmake --build {args.build} --target "
                             "jetserve jetserve-random-decoder)")
    results = {"threads": args.threads, "reps": args.reps, "pp": args.pp, "tg": args.tg,
               "decoders": [], "encoders": []}
    tmp = None
    if args.smoke:
        tmp = tempfile.mkdtemp()
        subprocess.run([writer, tmp, "llama-Q8_0.gguf"], check=True, stdout=subprocess.DEVNULL)
        args.reps, args.pp, args.tg, args.no_peer, args.no_encoders = 1, 16, 4, True, True
        decoders = [os.path.join(tmp, "llama-Q8_0.gguf")]
        encoders = []
    else:
        model_dirs = args.models or ["/work/cache/models", "~/.cache/jetserve/models"]
        decoders, encoders = [], []
        for name in REAL_DECODERS:
            p = find(name, model_dirs)
            if p is None:
                print(f"{name}: not found in {model_dirs}, skipped", file=sys.stderr)
            elif args.only in name:
                decoders.append(p)
        rdir = os.path.expanduser(args.random_dir)
        os.makedirs(rdir, exist_ok=True)
        for name in RANDOM_1B:
            if args.only not in name or args.no_decoders:
                continue
            p = os.path.join(rdir, name)
            if not os.path.exists(p):
                print(f"writing {p} ...", file=sys.stderr, flush=True)
                subprocess.run([writer, rdir, name], check=True, stdout=subprocess.DEVNULL)
            decoders.append(p)
        for names in ENCODERS:
            p = next((q for q in (find(n, model_dirs) for n in names) if q is not None), None)
            if p is None:
                print(f"{' / '.join(names)}: not found in {model_dirs}, skipped", file=sys.stderr)
            elif any(args.only in n for n in names):
                encoders.append(p)
    try:
        print(f"threads {args.threads}, {args.reps} alternating repetitions, medians; "
              f"pp = one batch of {args.pp} prompt tokens, tg = {args.tg} single-token steps "
              f"(tokens/s); roof = read bandwidth / weight bytes per token (tokens/s)")
        if decoders and not args.no_decoders:
            print(decoder_header(args), flush=True)
            bench_decoders(args, decoders, jetserve, results)
        if encoders and not args.no_encoders:
            print(f"\n{'encoder (sentences/s, batch ' + str(args.batch) + ' x ' + str(args.seq) + ')':34}"
                  f" {'jetserve':>9} {'ORT':>9} {'ratio':>7}", flush=True)
            bench_encoders(args, encoders, jetserve, results)
        print_cpu_tables(args, results)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    failed = len(results["decoders"]) < len(decoders) if not args.no_decoders else False
    failed |= len(results["encoders"]) < len(encoders) if not args.no_encoders else False
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
