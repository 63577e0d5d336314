#!/usr/bin/env python3
"""Side-by-side speed of one greedy generation through each of the gateway's APIs:
gRPC (the Python client, streamed), Ollama's HTTP API (/api/generate, NDJSON stream, raw
prompt) and OpenAI's (/v1/completions, server-sent events). All three run the same
request on the same worker: same prompt tokens, same greedy output (checked), so the
differences are the API paths (translation, framing, client libraries).

Rounds alternate between the APIs and each API's best round is reported (a shared machine
slows them alike), with ratios to gRPC.

    python3 examples/python/speed_compare.py --target localhost:50051 \\
        --http http://localhost:11434 --model smollm2 --tokens 64 --rounds 5
"""
import argparse
import json
import sys
import time

import requests

import jetserve

PROMPT = "Explain transformers in 3 sentences."


def via_grpc(client, model, tokens):
    start = time.perf_counter()
    first = None
    text = ""
    stream = client.generate(model, PROMPT, max_tokens=tokens, temperature=0)
    for piece in stream:
        if first is None:
            first = time.perf_counter()
        text += piece
    return text, first - start, time.perf_counter() - start, stream.usage.completion_tokens


def via_ollama(http, model, tokens):
    start = time.perf_counter()
    first = None
    text = ""
    count = 0
    body = {"model": model, "prompt": PROMPT, "raw": True,
            "options": {"temperature": 0, "repeat_penalty": 1, "num_predict": tokens}}
    with requests.post(f"{http}/api/generate", json=body, stream=True) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if not line:
                continue
            m = json.loads(line)
            if "error" in m:
                raise RuntimeError(m["error"])
            if m.get("response") and first is None:
                first = time.perf_counter()
            text += m.get("response", "")
            if m.get("done"):
                count = m["eval_count"]
    return text, first - start, time.perf_counter() - start, count


def via_openai(http, model, tokens):
    start = time.perf_counter()
    first = None
    text = ""
    count = 0
    body = {"model": model, "prompt": PROMPT, "max_tokens": tokens, "temperature": 0,
            "stream": True, "stream_options": {"include_usage": True}}
    with requests.post(f"{http}/v1/completions", json=body, stream=True) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if not line.startswith(b"data: ") or line == b"data: [DONE]":
                continue
            m = json.loads(line[6:])
            if "error" in m:
                raise RuntimeError(m["error"]["message"])
            if m.get("usage"):
                count = m["usage"]["completion_tokens"]
            for choice in m.get("choices", []):
                if choice["text"] and first is None:
                    first = time.perf_counter()
                text += choice["text"]
    return text, first - start, time.perf_counter() - start, count


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--target", default="localhost:50051")
    p.add_argument("--http", default="http://localhost:11434")
    p.add_argument("--model", required=True)
    p.add_argument("--tokens", type=int, default=64)
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args()
    with jetserve.Client(a.target, timeout=600) as client:
        apis = {
            "gRPC": lambda: via_grpc(client, a.model, a.tokens),
            "Ollama HTTP": lambda: via_ollama(a.http, a.model, a.tokens),
            "OpenAI HTTP": lambda: via_openai(a.http, a.model, a.tokens),
        }
        for run in apis.values():  # warm up connections and the worker
            run()
        best = {}
        texts = {}
        for _ in range(a.rounds):
            for name, run in apis.items():
                text, ttft, total, count = run()
                texts.setdefault(name, text)
                if name not in best or total < best[name][1]:
                    best[name] = (ttft, total, count)
    same = len(set(texts.values())) == 1
    base = best["gRPC"][1]
    print(f"{a.model}: {a.tokens} greedy tokens, best of {a.rounds} alternating rounds")
    print(f"{'API':<12} {'first token ms':>15} {'total ms':>10} {'tokens':>7} {'tokens/s':>9} "
          f"{'time vs gRPC':>13}")
    for name, (ttft, total, count) in best.items():
        print(f"{name:<12} {ttft * 1e3:>15.1f} {total * 1e3:>10.1f} {count:>7} "
              f"{count / total:>9.1f} {total / base:>12.3f}x")
    print("same text through every API:", "yes" if same else "NO")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
