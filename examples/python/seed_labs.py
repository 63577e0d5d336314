#!/usr/bin/env python3
"""The seed's labs (shared/seed: HuggingFace pipelines, Ollama's REST API) done through
jetserve with the Python client:

  Task 1, sentiment classification   -> Classify (zero-shot labels on an embedding/NLI model,
                                        or a sentiment classifier's own labels)
  Task 2, text generation            -> Generate, streamed as it is produced
  embeddings                         -> Embed, cosine similarities
  Ollama REST lab                    -> the lab's requests.post(...) snippet, unchanged but
                                        for the address, against the gateway's HTTP API

    python3 examples/python/seed_labs.py --target localhost:50051 --generator smollm2 \\
        --embedder minilm --classifier minilm --http http://localhost:11434

Needs `pip install ./clients/python requests`. Models left out are skipped.
"""
import argparse
import sys

import jetserve


def sentiment(client, model, labels):
    # Seed: pipeline("sentiment-analysis")("Jetson Nano is an awesome edge AI device!")
    text = "Jetson Nano is an awesome edge AI device!"
    kwargs = {"candidate_labels": labels} if labels else {}
    [scores] = client.classify(model, [text], **kwargs)
    label, score = scores[0]
    # The pipeline's output shape: [{'label': ..., 'score': ...}]
    print("[classify]", [{"label": label, "score": round(score, 4)}])


def generation(client, model):
    # Seed: tiny-gpt2 model.generate(input_ids, max_length=30) after "Jetson devices are".
    print("[generate] Jetson devices are", end="", flush=True)
    stream = client.generate(model, "Jetson devices are", max_tokens=30, temperature=0)
    for piece in stream:
        print(piece, end="", flush=True)
    print(f"\n[generate] {len(stream.token_ids)} tokens, finish: {stream.finish_reason}, "
          f"{stream.usage.completion_tokens_per_second:.1f} tokens/s")


def embeddings(client, model):
    texts = ["a cat sits on the mat", "a kitten rests on a rug", "stock markets fell today"]
    cat, kitten, markets = client.embed(model, texts)  # L2-normalized

    def cos(a, b):
        return sum(x * y for x, y in zip(a, b))

    print(f"[embed] {len(texts)} vectors of {len(cat)}; cos(cat, kitten)={cos(cat, kitten):.3f} "
          f"cos(cat, markets)={cos(cat, markets):.3f}")


def ollama_lab(http, model):
    import requests
    # The seed's snippet, verbatim but for the address and the model name.
    response = requests.post(f"{http}/api/generate", json={
        "model": model,
        "prompt": "What is edge AI?",
        "stream": False
    })
    print("[ollama]", response.json()["response"])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--target", default="localhost:50051", help="gateway gRPC address")
    p.add_argument("--http", default="", help="gateway HTTP API, e.g. http://localhost:11434")
    p.add_argument("--generator", default="")
    p.add_argument("--embedder", default="")
    p.add_argument("--classifier", default="")
    p.add_argument("--labels", default="positive,negative",
                   help='zero-shot labels; "" for a sentiment classifier\'s own labels')
    p.add_argument("--api-key", default=None)
    a = p.parse_args()
    labels = [l for l in a.labels.split(",") if l]
    try:
        with jetserve.Client(a.target, api_key=a.api_key, timeout=300) as client:
            if a.classifier:
                sentiment(client, a.classifier, labels)
            if a.generator:
                generation(client, a.generator)
            if a.embedder:
                embeddings(client, a.embedder)
        if a.http and a.generator:
            ollama_lab(a.http, a.generator)
    except jetserve.JetserveError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
