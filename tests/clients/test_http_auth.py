"""API keys (gateway/auth.h) on the HTTP API: the Authorization / X-Api-Key headers reach
the same key check, per-key limits and per-key metrics as gRPC calls, counted once."""
import os
import re

import pytest
import requests

from conftest import ENCODER_DATA, gateway

KEYS = "alice:alice-secret-0123456789,bob:bob-secret-0123456789"


@pytest.fixture(scope="module")
def keyed(stack):
    models = [{"name": "mistral", "path": stack.model_path, "local": {}},
              {"name": "emb", "path": os.path.join(ENCODER_DATA, "tiny_bert_vocab.gguf"),
               "local": {}}]
    with gateway(os.path.join(stack.workdir, "auth"), models,
                 extra_config={"auth": {"keys_env": "JETSERVE_TEST_KEYS"}},
                 env={"JETSERVE_TEST_KEYS": KEYS}) as s:
        yield s


def key_requests(metrics_url, key):
    m = re.search(r'jetserve_gateway_key_requests_total\{key="%s"\} (\d+)' % key,
                  requests.get(metrics_url).text)
    return int(m.group(1)) if m else 0


def test_http_calls_need_a_key(keyed):
    body = {"model": "mistral", "prompt": "hi", "stream": False, "options": {"num_predict": 2}}
    r = requests.post(f"{keyed.http_url}/api/generate", json=body)
    assert r.status_code == 401 and "error" in r.json()
    r = requests.post(f"{keyed.http_url}/v1/embeddings", json={"model": "emb", "input": "x"},
                      headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    assert r.json()["error"]["type"] == "authentication_error"
    before = key_requests(keyed.metrics_url, "alice")
    r = requests.post(f"{keyed.http_url}/api/generate", json=body,
                      headers={"Authorization": "Bearer alice-secret-0123456789"})
    assert r.status_code == 200, r.text
    r = requests.post(f"{keyed.http_url}/api/embed", json={"model": "emb", "input": "x"},
                      headers={"X-Api-Key": "alice-secret-0123456789"})
    assert r.status_code == 200, r.text
    # Counted once per call (the HTTP layer adds no second check).
    assert key_requests(keyed.metrics_url, "alice") == before + 2


def test_official_clients_send_their_keys(keyed):
    openai = pytest.importorskip("openai")
    ollama = pytest.importorskip("ollama")
    good = openai.OpenAI(base_url=f"{keyed.http_url}/v1", api_key="bob-secret-0123456789",
                         max_retries=0)
    assert good.embeddings.create(model="emb", input="x").data
    bad = openai.OpenAI(base_url=f"{keyed.http_url}/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.embeddings.create(model="emb", input="x")
    c = ollama.Client(host=keyed.http_url,
                      headers={"Authorization": "Bearer bob-secret-0123456789"})
    assert c.embed(model="emb", input="x").embeddings
    with pytest.raises(ollama.ResponseError) as e:
        ollama.Client(host=keyed.http_url).embed(model="emb", input="x")
    assert e.value.status_code == 401
