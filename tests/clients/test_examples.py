"""The examples (examples/) run against the real gateway: Python seed labs, the C++ client,
the reflection shell script and the API speed comparison."""
import json
import os
import re
import subprocess
import sys

from conftest import BINARY_DIR, SOURCE_DIR

EXAMPLES = os.path.join(SOURCE_DIR, "examples")


def run(args, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, timeout=120,
                            env=dict(os.environ), **kwargs)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def cosines(client):
    cat, kitten, markets = client.embed(
        "emb", ["a cat sits on the mat", "a kitten rests on a rug", "stock markets fell today"])
    cos = lambda a, b: sum(x * y for x, y in zip(a, b))  # noqa: E731
    return f"cos(cat, kitten)={cos(cat, kitten):.3f} cos(cat, markets)={cos(cat, markets):.3f}"


def test_python_seed_labs(stack, client):
    out = run([sys.executable, os.path.join(EXAMPLES, "python", "seed_labs.py"),
               "--target", stack.grpc_address, "--http", stack.http_url,
               "--generator", "mistral", "--embedder", "emb", "--classifier", "nli"])
    greedy = client.generate_text("mistral", "Jetson devices are", max_tokens=30, temperature=0)
    assert f"[generate] Jetson devices are{greedy.text}\n" in out
    assert cosines(client) in out
    labels = re.search(r"\[classify\] \[\{'label': '(\w+)'", out)
    assert labels and labels.group(1) in ("positive", "negative")
    assert "[ollama]" in out


def test_cpp_example(stack, client):
    binary = os.path.join(BINARY_DIR, "examples", "jetserve-example-cpp")
    out = run([binary, "--target", stack.grpc_address, "--generator", "mistral",
               "--embedder", "emb", "--classifier", "nli"])
    greedy = client.generate_text("mistral", "Jetson devices are", max_tokens=30, temperature=0)
    assert f"[generate] Jetson devices are{greedy.text}\n" in out
    assert f"[generate] {len(greedy.token_ids)} tokens" in out
    assert cosines(client) in out
    assert re.search(r"\[classify\] (positive|negative)=", out)


def test_reflection_shell_example(stack):
    out = run(["bash", os.path.join(EXAMPLES, "shell", "reflection.sh"), stack.grpc_address,
               "mistral", "emb"])
    assert "jetserve.v1.Jetserve" in out
    assert "rpc Generate(jetserve.v1.GenerateRequest) returns (stream " \
           "jetserve.v1.GenerateResponse)" in out or "rpc Generate" in out
    generated = [json.loads(line) for line in out.splitlines() if line.startswith('{"text"')
                 or line.startswith('{"tokenIds"')]
    assert generated, out
    assert '"embeddings"' in out
    assert '"status": "SERVING"' in out or '"SERVING"' in out


def test_speed_comparison(stack):
    out = run([sys.executable, os.path.join(EXAMPLES, "python", "speed_compare.py"),
               "--target", stack.grpc_address, "--http", stack.http_url, "--model", "mistral",
               "--tokens", "8", "--rounds", "1"])
    assert "same text through every API: yes" in out
    for api in ("gRPC", "Ollama HTTP", "OpenAI HTTP"):
        assert re.search(rf"^{api} +[\d.]+ +[\d.]+ +8 ", out, re.M), out
