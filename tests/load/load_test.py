#!/usr/bin/env python3
"""Load test for a jetserve gateway (not run in CI; results go in the notes).

Starts jetserve-gateway with a config (default: SmolLM2 for Generate and the int8 MiniLM
ONNX embedder for Embed and zero-shot Classify, from --models-dir (default: the model cache
deploy/fetch-model.sh fills, $JETSERVE_MODELS or ~/.cache/jetserve/models);
--fake: jetserve-fake-worker children instead, which measures the gateway alone), then
runs N concurrent clients for a fixed time. Each client loops over a random mix of
Generate (streamed), Embed and Classify calls; a fraction of the calls is cancelled by the
client (Generate after its first token or at a random moment, unary ones after a random
0-50 ms). Optionally reloads a model every --reload-every seconds through the admin API
(needs --admin-key; the generated config has one).

Prints: calls per method and outcome, unexpected errors by code with a sample message,
p50/p99 latency of completed calls (Generate: also time to first token), and the resident
memory (VmRSS) of the gateway and its workers after warm-up and at the end.

  python3 tests/load/load_test.py --build-dir build --duration 600 --clients 64
  python3 tests/load/load_test.py --build-dir build --fake --duration 60
  # reload stress: 200 reloads under traffic, no failed call
  python3 tests/load/load_test.py --build-dir build --fake --clients 16 --warmup 5 \
      --reload-every 0.01 --reloads 200 --duration 900

Python stubs are generated into a temporary folder with grpcio-tools.
"""
import argparse
import collections
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

import grpc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def generate_stubs(out):
    from grpc_tools import protoc
    os.makedirs(out, exist_ok=True)
    import grpc_tools
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    proto_root = os.path.join(ROOT, "proto")
    protos = [os.path.join("jetserve", "v1", f) for f in
              ("generate.proto", "encode.proto", "models.proto", "service.proto", "admin.proto")]
    protos.append(os.path.join("jetserve", "config", "v1", "gateway_config.proto"))
    args = ["protoc", f"-I{proto_root}", f"-I{well_known}", f"--python_out={out}",
            f"--grpc_python_out={out}"] + protos
    if protoc.main(args) != 0:
        sys.exit("protoc failed")
    sys.path.insert(0, out)


def minilm_dir(models_dir):
    """The int8 MiniLM export: fetch-model.sh's folder name, or the older cache's."""
    for name in ("all-MiniLM-L6-v2-int8", "minilm-l6-int8-onnx"):
        if os.path.isdir(os.path.join(models_dir, name)):
            return os.path.join(models_dir, name)
    sys.exit(f"no MiniLM model in {models_dir} (deploy/fetch-model.sh minilm)")


def die_with_parent():
    import ctypes
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid):
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append(int(entry))
    return out


def memory(gateway_pid):
    workers = children(gateway_pid)
    return rss_kib(gateway_pid), {p: rss_kib(p) for p in workers}


def percentile(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(q * (len(values) - 1)))))
    return values[k]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.outcomes = collections.Counter()  # (method, outcome)
        self.errors = collections.Counter()  # (method, code)
        self.samples = {}
        self.request_ids = collections.defaultdict(list)  # (method, code) -> x-request-id
        self.latency = collections.defaultdict(list)
        self.ttft = []
        self.recording = False

    def record(self, method, outcome, latency=None, ttft=None, error=None, request_id=None):
        with self.lock:
            if not self.recording:
                return
            self.outcomes[(method, outcome)] += 1
            if error is not None:
                self.errors[(method, error[0])] += 1
                self.samples.setdefault((method, error[0]), error[1])
                if request_id is not None and len(self.request_ids[(method, error[0])]) < 5:
                    self.request_ids[(method, error[0])].append(request_id)
            if latency is not None:
                self.latency[method].append(latency)
            if ttft is not None:
                self.ttft.append(ttft)


def client_loop(index, channel, pb, stop, stats, args):
    from jetserve.v1 import service_pb2_grpc
    stub = service_pb2_grpc.JetserveStub(channel)
    rng = random.Random(index)
    texts = ["The weather is lovely today.", "Markets fell sharply after the report.",
             "Stir the sauce until it thickens.", "The team scored in the last minute.",
             "A cat sits on the mat."]
    calls = 0
    while not stop.is_set():
        r = rng.random()
        method = "Generate" if r < args.generate_share else (
            "Embed" if r < args.generate_share + (1 - args.generate_share) / 2 else "Classify")
        cancel = rng.random() < args.cancel_fraction
        calls += 1
        # The gateway and the workers log each call under this id: unexpected errors can be
        # traced in the logs.
        request_id = f"load-{index}-{calls}"
        metadata = args.metadata + [("x-request-id", request_id)]
        start = time.monotonic()
        try:
            if method == "Generate":
                request = pb.generate.GenerateRequest(
                    model=args.generate_model, prompt=rng.choice(texts) + " Continue:")
                request.stop.max_tokens = args.max_tokens
                call = stub.Generate(request, timeout=args.timeout, metadata=metadata)
                first = None
                cancel_at = rng.random() if cancel else None
                for _ in call:
                    if first is None:
                        first = time.monotonic() - start
                        if cancel and cancel_at < 0.5:
                            call.cancel()
                            break
                    if cancel and time.monotonic() - start > cancel_at * 2.0:
                        call.cancel()
                        break
                if cancel:
                    try:
                        call.code()
                    except Exception:
                        pass
                    code = call.code()
                    if code in (grpc.StatusCode.CANCELLED, grpc.StatusCode.OK):
                        stats.record(method, "cancelled")
                    else:
                        stats.record(method, "error", error=(code.name, call.details()),
                                     request_id=request_id)
                    continue
                stats.record(method, "ok", latency=time.monotonic() - start, ttft=first)
            else:
                if method == "Embed":
                    request = pb.encode.EmbedRequest(model=args.embed_model,
                                                     inputs=[rng.choice(texts)])
                    future = stub.Embed.future(request, timeout=args.timeout,
                                               metadata=metadata)
                else:
                    request = pb.encode.ClassifyRequest(
                        model=args.classify_model,
                        inputs=[pb.encode.TextInput(text=rng.choice(texts))],
                        candidate_labels=["sports", "finance", "cooking", "weather"])
                    future = stub.Classify.future(request, timeout=args.timeout,
                                                  metadata=metadata)
                if cancel:
                    time.sleep(rng.random() * 0.05)
                    future.cancel()
                    try:
                        future.result()
                        stats.record(method, "cancelled")  # finished before the cancel
                    except grpc.FutureCancelledError:
                        stats.record(method, "cancelled")
                    except grpc.RpcError as e:
                        if e.code() == grpc.StatusCode.CANCELLED:
                            stats.record(method, "cancelled")
                        else:
                            stats.record(method, "error", error=(e.code().name, e.details()),
                                         request_id=request_id)
                    continue
                future.result()
                stats.record(method, "ok", latency=time.monotonic() - start)
        except grpc.RpcError as e:
            stats.record(method, "error", error=(e.code().name, e.details()), request_id=request_id)


def reload_loop(channel, pb, stop, args, reloads):
    from jetserve.v1 import admin_pb2, admin_pb2_grpc
    stub = admin_pb2_grpc.AdminStub(channel)
    while not stop.wait(args.reload_every):
        if args.reloads and len(reloads) >= args.reloads:
            return
        start = time.monotonic()
        try:
            stub.ReloadModel(admin_pb2.ReloadModelRequest(name=args.reload_model), timeout=600,
                             metadata=[("authorization", "Bearer " + args.admin_key)])
            reloads.append(("ok", time.monotonic() - start))
        except grpc.RpcError as e:
            reloads.append((e.code().name + ": " + (e.details() or ""), time.monotonic() - start))


def default_config(args, work):
    keys = os.path.join(work, "keys.json")
    with open(keys, "w") as f:
        json.dump({"keys": [{"name": "load", "key": args.admin_key, "admin": True},
                            {"name": "clients", "key": args.api_key}]}, f)
    config = {"listen": "127.0.0.1:0", "runtimeDir": os.path.join(work, "run"),
              "auth": {"keysFile": keys},
              "supervision": {"drainGracePeriod": "60s"},
              "limits": {"defaultQueueLimit": 256}}
    if args.fake:
        config["workerBinary"] = os.path.join(args.build_dir, "tests/service/jetserve-fake-worker")
        config["models"] = [
            {"name": "gen", "path": "/fake/gen", "local": {"args": ["--fake-capacity=16"]}},
            {"name": "enc", "path": "/fake/enc", "local": {"args": ["--fake-capacity=16"]}}]
        args.generate_model = "gen"
        args.embed_model = args.classify_model = "enc"
    else:
        config["workerBinary"] = os.path.join(args.build_dir, "bin/jetserve-worker")
        config["models"] = [
            {"name": "smollm2", "path": os.path.join(args.models_dir,
                                                     "SmolLM2-135M-Instruct.Q4_1.gguf"),
             "local": {}},
            {"name": "minilm", "path": minilm_dir(args.models_dir), "local": {}}]
        args.generate_model = "smollm2"
        args.embed_model = args.classify_model = "minilm"
    path = os.path.join(work, "gateway.json")
    with open(path, "w") as f:
        json.dump(config, f, indent=1)
    return path


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    p.add_argument("--models-dir", default=os.environ.get(
        "JETSERVE_MODELS", os.path.expanduser("~/.cache/jetserve/models")))
    p.add_argument("--config", help="gateway config (default: generated)")
    p.add_argument("--fake", action="store_true", help="fake workers (gateway overhead only)")
    p.add_argument("--duration", type=float, default=60, help="seconds of measured load")
    p.add_argument("--warmup", type=float, default=60, help=(
        "seconds of load before measuring, and before the memory baseline (default 60: with "
        "real models the workers' resident memory still rose at 30 s, as the KV pool's "
        "pages are first touched; from 60 s on it grew 3 MiB in 10 min)"))
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--cancel-fraction", type=float, default=0.1)
    p.add_argument("--generate-share", type=float, default=0.4)
    p.add_argument("--max-tokens", type=int, default=8)
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--reload-every", type=float, default=0, help="seconds; 0: no reloads")
    p.add_argument("--reload-model", default="")
    p.add_argument("--reloads", type=int, default=0,
                   help="stop after this many reloads (or --duration, whichever is first)")
    p.add_argument("--admin-key", default="load-test-admin-key-0123456789")
    p.add_argument("--api-key", default="load-test-client-key-0123456789",
                   help="key the clients send (empty: none)")
    p.add_argument("--generate-model", default="smollm2")
    p.add_argument("--embed-model", default="minilm")
    p.add_argument("--classify-model", default="minilm")
    args = p.parse_args()
    args.metadata = [("authorization", "Bearer " + args.api_key)] if args.api_key else []

    work = tempfile.mkdtemp(prefix="jsload-")
    generate_stubs(os.path.join(work, "stubs"))
    from jetserve.v1 import encode_pb2, generate_pb2
    pb = argparse.Namespace(encode=encode_pb2, generate=generate_pb2)

    config = args.config or default_config(args, work)
    log_path = os.path.join(work, "gateway.log")
    log = open(log_path, "w")
    gateway = subprocess.Popen([os.path.join(args.build_dir, "bin/jetserve-gateway"),
                                "--config", config], stdout=log, stderr=subprocess.STDOUT,
                               preexec_fn=die_with_parent)
    port = None
    deadline = time.time() + 60
    while port is None and time.time() < deadline:
        m = re.search(r'"event":"listening".*?"port":(\d+)', open(log_path).read())
        if m:
            port = int(m.group(1))
        elif gateway.poll() is not None:
            sys.exit("gateway exited:\n" + open(log_path).read())
        time.sleep(0.1)
    print(f"gateway on port {port}, log {log_path}; waiting for the models ...", flush=True)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    from jetserve.v1 import models_pb2, service_pb2_grpc
    jetserve = service_pb2_grpc.JetserveStub(channel)
    models = {args.generate_model, args.embed_model, args.classify_model}
    while True:
        if time.time() > deadline + 300 or gateway.poll() is not None:
            gateway.kill()
            sys.exit("models not READY within 6 minutes; log " + log_path)
        try:
            if all(jetserve.GetModel(models_pb2.GetModelRequest(name=m), timeout=2,
                                     metadata=args.metadata).state ==
                   models_pb2.MODEL_STATE_READY for m in models):
                break
        except grpc.RpcError:
            pass
        time.sleep(0.2)

    stats = Stats()
    stop = threading.Event()
    threads = [threading.Thread(target=client_loop, args=(i, channel, pb, stop, stats, args),
                                daemon=True) for i in range(args.clients)]
    for t in threads:
        t.start()
    reloads = []
    if args.reload_every > 0:
        args.reload_model = args.reload_model or args.generate_model
        threading.Thread(target=reload_loop, args=(channel, pb, stop, args, reloads),
                         daemon=True).start()
    print(f"warm-up {args.warmup:.0f} s, {args.clients} clients ...", flush=True)
    time.sleep(args.warmup)
    with stats.lock:
        stats.recording = True
    gw0, workers0 = memory(gateway.pid)
    timeline = [(0, gw0, sum(workers0.values()))]
    t0 = time.monotonic()
    while time.monotonic() - t0 < args.duration:
        if args.reloads and len(reloads) >= args.reloads:
            break
        time.sleep(max(0, min(5 if args.reloads else 30, args.duration - (time.monotonic() - t0))))
        gw, workers = memory(gateway.pid)
        timeline.append((time.monotonic() - t0, gw, sum(workers.values())))
    with stats.lock:
        stats.recording = False
    stop.set()
    for t in threads:
        t.join(timeout=args.timeout + 5)
    gw1, workers1 = memory(gateway.pid)

    measured = time.monotonic() - t0
    print(f"\n== {measured:.0f} s measured after {args.warmup:.0f} s warm-up, "
          f"{args.clients} clients, {args.cancel_fraction:.0%} cancellations, "
          f"{'fake workers' if args.fake else 'real models'}")
    total = sum(stats.outcomes.values())
    print(f"calls: {total} ({total / measured:.1f}/s)")
    for (method, outcome), n in sorted(stats.outcomes.items()):
        print(f"  {method:9s} {outcome:10s} {n}")
    unexpected = sum(stats.errors.values())
    print(f"unexpected errors: {unexpected}")
    for (method, code), n in sorted(stats.errors.items()):
        print(f"  {method} {code}: {n}  e.g. {stats.samples[(method, code)]!r}  "
              f"x-request-id {', '.join(stats.request_ids[(method, code)])}")
    for method, values in sorted(stats.latency.items()):
        print(f"latency {method:9s} p50 {percentile(values, 0.5) * 1e3:8.1f} ms  "
              f"p99 {percentile(values, 0.99) * 1e3:8.1f} ms  (n={len(values)})")
    if stats.ttft:
        print(f"ttft    Generate  p50 {percentile(stats.ttft, 0.5) * 1e3:8.1f} ms  "
              f"p99 {percentile(stats.ttft, 0.99) * 1e3:8.1f} ms")
    if reloads:
        ok = sum(1 for r in reloads if r[0] == "ok")
        print(f"reloads: {ok} ok of {len(reloads)}; "
              f"failures: {[r[0] for r in reloads if r[0] != 'ok'][:3]}")
    print("resident memory (KiB): t, gateway, workers")
    for t, gw, wk in timeline:
        print(f"  {t:6.0f} s  {gw:8d}  {wk:8d}")
    print(f"growth after warm-up: gateway {(gw1 - gw0) / 1024:+.1f} MiB, workers "
          f"{(sum(workers1.values()) - sum(workers0.values())) / 1024:+.1f} MiB, total "
          f"{(gw1 + sum(workers1.values()) - gw0 - sum(workers0.values())) / 1024:+.1f} MiB")
    gateway.send_signal(signal.SIGTERM)
    try:
        gateway.wait(timeout=120)
    except subprocess.TimeoutExpired:
        gateway.kill()
    print(f"gateway exit status {gateway.returncode}; log {log_path}")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
