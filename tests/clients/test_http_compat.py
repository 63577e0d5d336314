"""The gateway's HTTP API through the clients people already use: the seed's
`requests.post(".../api/generate")` snippet, the official `ollama` and `openai` Python
packages. Texts are compared with greedy Generate calls over gRPC (the same request through
the other door), embeddings with llama.cpp's references for the same GGUF file."""
import concurrent.futures
import json
import math
import re
import struct
import time

import pytest
import requests

from conftest import load_json

QUESTION = "What is edge AI?"


def as_float32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def chat_greedy(client, content, max_tokens=None, **params):
    return client.chat("mistral", [{"role": "user", "content": content}], temperature=0,
                       max_tokens=max_tokens, **params).completion()


def test_seed_snippet_runs_unchanged(stack):
    # The seed's lab code, verbatim except the address.
    response = requests.post(f"{stack.http_url}/api/generate", json={
        "model": "mistral",
        "prompt": "What is edge AI?",
        "stream": False
    })
    print(response.json()["response"])
    assert response.status_code == 200
    body = response.json()
    assert body["done"] is True and body["model"] == "mistral"
    assert isinstance(body["response"], str) and body["eval_count"] >= 1
    assert response.headers["Content-Type"].startswith("application/json")


def test_seed_snippet_greedy_equals_generate(stack, client):
    # Ollama: temperature 0 is greedy, its other defaults stay (repeat_penalty 1.1 over the
    # last 64 tokens): the same as a greedy Generate of the prompt as a user message with
    # that penalty. With the penalty off it is a plain greedy Generate.
    texts = {}
    for options, penalty in (({"temperature": 0, "num_predict": 24}, 1.1),
                             ({"temperature": 0, "num_predict": 24, "repeat_penalty": 1}, 1.0),
                             ({"temperature": 0, "num_predict": 24, "repeat_penalty": 2}, 2.0)):
        response = requests.post(f"{stack.http_url}/api/generate", json={
            "model": "mistral", "prompt": QUESTION, "stream": False, "options": options})
        assert response.status_code == 200, response.text
        expected = chat_greedy(client, QUESTION, max_tokens=24, repetition_penalty=penalty)
        assert response.json()["response"] == expected.text
        assert response.json()["eval_count"] == len(expected.token_ids)
        texts[penalty] = expected.text
    assert texts[1.0] != texts[2.0]  # the option reaches the sampler


def test_ndjson_stream(stack, client):
    with requests.post(f"{stack.http_url}/api/generate", stream=True, json={
            "model": "mistral", "prompt": QUESTION,
            "options": {"temperature": 0, "num_predict": 8, "repeat_penalty": 1}}) as response:
        assert response.headers["Content-Type"] == "application/x-ndjson"
        lines = [json.loads(line) for line in response.iter_lines() if line]
    assert all(not line["done"] for line in lines[:-1]) and lines[-1]["done"]
    assert lines[-1]["done_reason"] == "length"
    assert "".join(line["response"] for line in lines) == chat_greedy(client, QUESTION, 8).text


def test_ollama_package(stack, client):
    ollama = pytest.importorskip("ollama")
    c = ollama.Client(host=stack.http_url)
    options = {"temperature": 0, "num_predict": 10, "repeat_penalty": 1}
    expected = chat_greedy(client, QUESTION, 10).text
    assert c.generate(model="mistral", prompt=QUESTION, options=options).response == expected
    assert "".join(part.response for part in c.generate(model="mistral", prompt=QUESTION,
                                                        options=options, stream=True)) == expected
    messages = [{"role": "user", "content": QUESTION}]
    reply = c.chat(model="mistral", messages=messages, options=options)
    assert reply.message.role == "assistant" and reply.message.content == expected
    assert reply.done_reason == "length" and reply.eval_count == 10
    assert "".join(p.message.content for p in c.chat(model="mistral", messages=messages,
                                                     options=options, stream=True)) == expected
    # Embeddings: /api/embed (normalized) and /api/embeddings (legacy, not normalized),
    # against llama.cpp's normalized embeddings of the same GGUF.
    refs = load_json("tiny_bert_vocab.llama.json")["cases"]
    embedded = c.embed(model="emb", input=[r["text"] for r in refs]).embeddings
    for ref, vector in zip(refs, embedded):
        assert max(abs(x - y) for x, y in zip(vector, ref["embedding"])) < 1e-3
    legacy = c.embeddings(model="emb", prompt=refs[0]["text"]).embedding
    norm = math.sqrt(sum(x * x for x in legacy))
    assert abs(norm - 1) > 1e-3  # raw mean pooling
    assert max(abs(x / norm - y) for x, y in zip(legacy, refs[0]["embedding"])) < 1e-3
    # "name:latest" is the bare name, as in Ollama; the reply echoes the name as sent.
    tagged = c.generate(model="mistral:latest", prompt=QUESTION, options=options)
    assert tagged.response == expected and tagged.model == "mistral:latest"
    assert c.embed(model="emb:latest", input="x").embeddings
    with pytest.raises(ollama.ResponseError):
        c.generate(model="mistral:7b", prompt=QUESTION, options=options)
    # Model listing.
    names = {m.model for m in c.list().models}
    assert names == {"mistral", "tools", "emb", "nli"}
    shown = c.show("mistral")
    assert shown.details.family == "llama" and shown.details.format == "gguf"
    assert {m.model for m in c.ps().models} == names
    with pytest.raises(ollama.ResponseError) as e:
        c.generate(model="nope", prompt="x")
    assert e.value.status_code == 404


def test_openai_package(stack, client):
    openai = pytest.importorskip("openai")
    c = openai.OpenAI(base_url=f"{stack.http_url}/v1", api_key="unused", max_retries=0)
    # Completions: the raw prompt, no template.
    prompt = "The capital of France is"
    raw = client.generate_text("mistral", prompt, max_tokens=8, temperature=0)
    completion = c.completions.create(model="mistral", prompt=prompt, max_tokens=8,
                                      temperature=0)
    assert completion.choices[0].text == raw.text
    assert completion.usage.completion_tokens == len(raw.token_ids)
    streamed = c.completions.create(model="mistral", prompt=prompt, max_tokens=8, temperature=0,
                                    stream=True)
    assert "".join(chunk.choices[0].text for chunk in streamed if chunk.choices) == raw.text
    # Chat, whole and streamed (with the usage chunk).
    messages = [{"role": "user", "content": QUESTION}]
    expected = chat_greedy(client, QUESTION, 10)
    chat = c.chat.completions.create(model="mistral", messages=messages, max_tokens=10,
                                     temperature=0)
    assert chat.choices[0].message.content == expected.text
    assert chat.choices[0].finish_reason == "length"
    assert chat.usage.prompt_tokens == expected.usage.prompt_tokens
    chunks = list(c.chat.completions.create(model="mistral", messages=messages, max_tokens=10,
                                            temperature=0, stream=True,
                                            stream_options={"include_usage": True}))
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices) == \
        expected.text
    assert chunks[-1].usage.completion_tokens == 10
    # Structured output: the reply is JSON of the schema.
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"],
              "additionalProperties": False}
    structured = c.chat.completions.create(
        model="mistral", messages=messages, max_tokens=48, temperature=0,
        response_format={"type": "json_schema", "json_schema": {"name": "r", "schema": schema}})
    assert structured.choices[0].finish_reason == "stop"
    value = json.loads(structured.choices[0].message.content)
    assert list(value) == ["ok"] and isinstance(value["ok"], bool)
    # Embeddings: the package asks for base64 by default; floats on request.
    refs = load_json("tiny_bert_vocab.llama.json")["cases"]
    texts = [r["text"] for r in refs]
    b64 = c.embeddings.create(model="emb", input=texts)
    floats = c.embeddings.create(model="emb", input=texts, encoding_format="float")
    grpc_vectors = client.embed("emb", texts)
    for ref, a, b, g in zip(refs, b64.data, floats.data, grpc_vectors):
        assert a.embedding == g  # base64 float32 bytes: exact
        assert [as_float32(x) for x in b.embedding] == g  # shortest float32 text: exact
        assert max(abs(x - y) for x, y in zip(a.embedding, ref["embedding"])) < 1e-3
    assert {m.id for m in c.models.list()} == {"mistral", "tools", "emb", "nli"}
    # Errors in OpenAI's shape and codes.
    with pytest.raises(openai.NotFoundError):
        c.chat.completions.create(model="nope", messages=messages)
    with pytest.raises(openai.BadRequestError) as e:
        c.chat.completions.create(model="mistral", messages=messages, temperature=5)
    assert "temperature" in e.value.message
    with pytest.raises(openai.BadRequestError):
        c.completions.create(model="emb", prompt="x")  # an encoder cannot generate


# The forced call's arguments follow this schema; the city's bounded length lets the random
# model's greedy call end within max_tokens. Keys are in sorted order: the HTTP gateway
# passes the schema on with its keys sorted, and the rendered prompts (so the greedy
# arguments) of the HTTP and gRPC paths agree only when the order is the same.
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather of a city",
    "parameters": {"properties": {"city": {"maxLength": 8, "minLength": 1, "type": "string"}},
                   "required": ["city"], "type": "object"}}}


def test_openai_tools(stack, client):
    openai = pytest.importorskip("openai")
    c = openai.OpenAI(base_url=f"{stack.http_url}/v1", api_key="unused", max_retries=0)
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    reply = c.chat.completions.create(model="tools", messages=messages, tools=[WEATHER_TOOL],
                                      tool_choice="required", max_tokens=80, temperature=0)
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert call.type == "function" and call.function.name == "get_weather" and call.id
    args = json.loads(call.function.arguments)
    assert list(args) == ["city"] and 1 <= len(args["city"]) <= 8
    # The same through the gRPC client.
    grpc_reply = client.chat("tools", messages, tools=[WEATHER_TOOL], tool_choice="required",
                             max_tokens=80, temperature=0).completion()
    assert [t["name"] for t in grpc_reply.tool_calls] == ["get_weather"]
    assert json.loads(call.function.arguments) == grpc_reply.tool_calls[0]["arguments"]
    # Streamed: the call arrives as a tool_calls delta.
    chunks = list(c.chat.completions.create(model="tools", messages=messages,
                                            tools=[WEATHER_TOOL], tool_choice="required",
                                            max_tokens=80, temperature=0, stream=True))
    calls = [tc for ch in chunks if ch.choices for tc in (ch.choices[0].delta.tool_calls or [])]
    assert [tc.function.name for tc in calls] == ["get_weather"]
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    # The tool's answer goes back in a tool message: it is rendered into the prompt.
    followup = messages + [
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "22 degrees, sunny"}]
    answer = c.chat.completions.create(model="tools", messages=followup, tools=[WEATHER_TOOL],
                                       max_tokens=4, temperature=0)
    assert answer.usage.prompt_tokens > reply.usage.prompt_tokens + 5


def test_ollama_tools(stack):
    ollama = pytest.importorskip("ollama")
    c = ollama.Client(host=stack.http_url)
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    options = {"temperature": 0, "num_predict": 4}
    plain = c.chat(model="tools", messages=messages, options=options)
    with_tools = c.chat(model="tools", messages=messages, tools=[WEATHER_TOOL], options=options)
    # Qwen2.5's template lists the tools in the system turn.
    assert with_tools.prompt_eval_count > plain.prompt_eval_count + 20
    history = messages + [
        {"role": "assistant", "content": "",
         "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "content": "22 degrees, sunny", "tool_name": "get_weather"}]
    answer = c.chat(model="tools", messages=history, tools=[WEATHER_TOOL], options=options)
    assert answer.prompt_eval_count > with_tools.prompt_eval_count + 10


def test_http_errors_and_limits(stack):
    r = requests.post(f"{stack.http_url}/api/generate", data="{not json")
    assert r.status_code == 400 and "error" in r.json()
    r = requests.post(f"{stack.http_url}/v1/chat/completions", json={"model": "mistral"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    r = requests.get(f"{stack.http_url}/v1/nothing")
    assert r.status_code == 404 and "error" in r.json()
    # limits.max_request_bytes (default 4 MiB) applies to HTTP bodies too.
    r = requests.post(f"{stack.http_url}/api/generate", data=b"x" * (5 << 20))
    assert r.status_code == 413
    r = requests.post(f"{stack.http_url}/api/generate",
                      json={"model": "mistral", "prompt": "x", "stream": False,
                            "options": {"num_predict": 1}},
                      headers={"X-Request-Id": "my-request-42"})
    assert r.headers["X-Request-Id"] == "my-request-42"
    assert requests.get(f"{stack.http_url}/api/version").json()["version"]
    # The HTTP calls went through the gateway's per-call log and metrics as Generate calls,
    # and are counted by endpoint and status.
    log = stack.log()
    assert re.search(r'"request_id":"my-request-42".*"method":"Generate"', log)
    metrics = requests.get(stack.metrics_url).text

    def value(pattern):
        m = re.search(pattern + r" (\d+)", metrics)
        return int(m.group(1)) if m else 0

    assert value(r'jetserve_gateway_http_requests_total\{code="200",endpoint="/api/generate"\}') >= 1
    assert value(r'jetserve_gateway_http_requests_total\{code="413",endpoint="/api/generate"\}') == 1
    assert value(r'jetserve_gateway_http_requests_total\{code="404",endpoint="other"\}') == 1
    assert value(r'jetserve_gateway_requests_total\{[^}]*method="Generate"[^}]*model="mistral"[^}]*\}') >= 1


def test_client_disconnect_cancels_the_call(stack):
    # Greedy on this model repeats one token and never ends by itself before num_predict.
    request_id = "disconnect-test-1"
    with requests.post(f"{stack.http_url}/api/generate", stream=True,
                       headers={"X-Request-Id": request_id},
                       json={"model": "mistral", "prompt": "Hello", "raw": True,
                             "options": {"temperature": 0, "num_predict": 400}}) as response:
        lines = response.iter_lines()
        assert json.loads(next(lines))["done"] is False
    # Closed after one line: the gateway notices at its next write and cancels the call.
    deadline = time.time() + 30
    pattern = re.compile(r'"request_id":"%s".*"code":"CANCELLED"' % request_id)
    while time.time() < deadline and not pattern.search(stack.log()):
        time.sleep(0.05)
    assert pattern.search(stack.log()), stack.log()[-3000:]


def test_concurrent_http_streams(stack, client):
    expected = client.generate_text("mistral", "Jetson devices are", max_tokens=12,
                                    temperature=0).text

    def one(i):
        if i % 2:
            r = requests.post(f"{stack.http_url}/v1/completions", json={
                "model": "mistral", "prompt": "Jetson devices are", "max_tokens": 12,
                "temperature": 0})
            return r.json()["choices"][0]["text"]
        r = requests.post(f"{stack.http_url}/api/generate", json={
            "model": "mistral", "prompt": "Jetson devices are", "raw": True, "stream": False,
            "options": {"temperature": 0, "num_predict": 12, "repeat_penalty": 1}})
        return r.json()["response"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        texts = list(pool.map(one, range(16)))
    assert texts == [expected] * 16
