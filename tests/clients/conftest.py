"""A real jetserve-gateway with real jetserve-worker children for the client tests.

Models (all small, made or shipped in the repository):
  "mistral": a random 2-layer llama GGUF with SmolLM2's real vocabulary and chat template,
             written by `jetserve gen-model` (named as in the seed's Ollama snippet, so the
             snippet runs unchanged);
  "emb":     tests/data/encoder/tiny_bert_vocab.gguf (BERT GGUF; llama.cpp references in
             tiny_bert_vocab.llama.json);
  "nli":     tests/data/encoder/tiny_bert (ONNX classifier; onnxruntime references in
             text_refs.json);
  "tools":   the "mistral" model with Qwen2.5's chat template (Hermes tool calls).
The gateway serves gRPC and the HTTP API on free ports (read back from its log).
"""
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import pytest

SOURCE_DIR = os.environ.get("JETSERVE_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY_DIR = os.environ.get("JETSERVE_BINARY_DIR") or os.path.join(SOURCE_DIR, "build")
ENCODER_DATA = os.path.join(SOURCE_DIR, "tests", "data", "encoder")


def _binary(name):
    path = os.path.join(BINARY_DIR, "bin", name)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is not built (build jetserve-gateway, jetserve-worker, jetserve)")
    return path


class Stack:
    def __init__(self, workdir):
        self.workdir = workdir
        self.grpc_address = None
        self.http_url = None
        self.metrics_url = None
        self.process = None
        self.log_path = os.path.join(workdir, "gateway.log")

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()


@pytest.fixture(scope="session")
def stack():
    with tempfile.TemporaryDirectory(prefix="jetserve-clients-") as workdir:
        model = os.path.join(workdir, "mistral.gguf")
        vocab = os.path.join(SOURCE_DIR, "tests", "data", "tokenizer", "vocabs",
                             "smollm2-135m.vocab.gguf")
        subprocess.run([_binary("jetserve"), "gen-model", model, "--vocab-from", vocab,
                        "--layers", "2", "--embd", "64", "--ff", "128", "--heads", "4",
                        "--heads-kv", "2", "--ctx", "512", "--tie-embeddings", "--seed", "5"],
                       check=True, capture_output=True)
        # The same random model with Qwen2.5's chat template (its <|im_start|> tokens are in
        # SmolLM2's vocabulary): a Hermes <tool_call> model, for tool_choice.
        tool_vocab = os.path.join(workdir, "qwen-template.vocab.gguf")
        template = os.path.join(SOURCE_DIR, "tests", "data", "chat", "templates",
                                "Qwen-Qwen2.5-7B-Instruct.jinja")
        with open(template) as f:
            subprocess.run([sys.executable, "-m", "gguf.scripts.gguf_new_metadata",
                            "--chat-template", f.read(), vocab, tool_vocab, "--force"],
                           check=True, capture_output=True)
        tool_model = os.path.join(workdir, "tools.gguf")
        subprocess.run([_binary("jetserve"), "gen-model", tool_model, "--vocab-from", tool_vocab,
                        "--layers", "2", "--embd", "64", "--ff", "128", "--heads", "4",
                        "--heads-kv", "2", "--ctx", "512", "--tie-embeddings", "--seed", "5"],
                       check=True, capture_output=True)
        models = [
            {"name": "mistral", "path": model, "local": {}},
            {"name": "tools", "path": tool_model, "local": {}},
            {"name": "emb", "path": os.path.join(ENCODER_DATA, "tiny_bert_vocab.gguf"),
             "local": {}},
            {"name": "nli", "path": os.path.join(ENCODER_DATA, "tiny_bert"), "local": {}},
        ]
        with gateway(workdir, models) as s:
            s.model_path = model
            yield s


@contextlib.contextmanager
def gateway(workdir, models, extra_config=None, env=None):
    """Runs jetserve-gateway serving `models` (local workers) on free gRPC, HTTP and metrics
    ports; yields a Stack once every model has a ready worker."""
    os.makedirs(workdir, exist_ok=True)
    config = {
        "listen": "127.0.0.1:0",
        "http_listen": "127.0.0.1:0",
        "metrics_listen": "127.0.0.1:0",
        "worker_binary": _binary("jetserve-worker"),
        "runtime_dir": os.path.join(workdir, "run"),
        "models": models,
    }
    config.update(extra_config or {})
    config_path = os.path.join(workdir, "gateway.json")
    with open(config_path, "w") as f:
        json.dump(config, f)
    s = Stack(workdir)
    log = open(s.log_path, "w")
    s.process = subprocess.Popen([_binary("jetserve-gateway"), "--config", config_path],
                                 stdout=log, stderr=subprocess.STDOUT,
                                 env=dict(os.environ, **(env or {})))
    try:
        deadline = time.time() + 60
        while time.time() < deadline and None in (s.grpc_address, s.http_url, s.metrics_url):
            if s.process.poll() is not None:
                pytest.fail("gateway exited:\n" + s.log())
            for line in s.log().splitlines():
                m = re.search(r'"event":"(\w*listening)".*"port":(\d+)', line)
                if m and m.group(1) == "listening":
                    s.grpc_address = f"127.0.0.1:{m.group(2)}"
                elif m and m.group(1) == "http_listening":
                    s.http_url = f"http://127.0.0.1:{m.group(2)}"
                elif m and m.group(1) == "metrics_listening":
                    s.metrics_url = f"http://127.0.0.1:{m.group(2)}/metrics"
            time.sleep(0.05)
        if None in (s.grpc_address, s.http_url, s.metrics_url):
            pytest.fail("gateway did not report its ports:\n" + s.log())
        # Readiness from the log: works whether or not calls need an API key.
        names = [m["name"] for m in models]
        while time.time() < deadline:
            ready = set(re.findall(r'"event":"model_health","model":"([^"]+)","serving":true',
                                   s.log()))
            if all(n in ready for n in names):
                break
            time.sleep(0.1)
        else:
            pytest.fail("workers not ready:\n" + s.log())
        yield s
    finally:
        s.process.terminate()
        try:
            s.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            s.process.kill()
        log.close()


@pytest.fixture(scope="session")
def client(stack):
    import jetserve
    with jetserve.Client(stack.grpc_address, timeout=60) as c:
        yield c


def load_json(name):
    with open(os.path.join(ENCODER_DATA, name)) as f:
        return json.load(f)
