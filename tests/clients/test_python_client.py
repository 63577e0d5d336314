"""The Python client (clients/python) against a real gateway and workers: streaming text,
chat, embeddings and classification checked against llama.cpp / onnxruntime references,
typed errors, and the asyncio client agreeing with the sync one."""
import asyncio
import math

import grpc
import pytest

import jetserve
from conftest import load_json


def test_generate_streams_pieces_that_make_the_whole_text(client):
    stream = client.generate("mistral", "The capital of France is", max_tokens=12, temperature=0)
    pieces = list(stream)
    assert len(pieces) >= 1
    assert stream.finish_reason in ("stop", "length")
    assert stream.usage is not None and stream.usage.completion_tokens == len(stream.token_ids)
    whole = client.generate_text("mistral", "The capital of France is", max_tokens=12,
                                 temperature=0)
    assert "".join(pieces) == whole.text  # greedy: same text twice
    assert whole.token_ids == stream.token_ids
    # The tokens' own text, decoded separately, is the streamed text.
    assert client.detokenize("mistral", whole.token_ids) == whole.text
    if whole.finish_reason == "length":
        assert len(whole.token_ids) == 12


def test_seeded_sampling_repeats_and_stop_strings_end_the_text(client):
    a = client.generate_text("mistral", "Once upon a time", max_tokens=10, temperature=0.9,
                             seed=7)
    b = client.generate_text("mistral", "Once upon a time", max_tokens=10, temperature=0.9,
                             seed=7)
    assert a.text == b.text and a.token_ids == b.token_ids
    greedy = client.generate_text("mistral", "Hello", max_tokens=8, temperature=0)
    assert len(greedy.text) > 2
    stop = greedy.text[1:3]
    cut = client.generate_text("mistral", "Hello", max_tokens=8, temperature=0, stop=stop)
    assert cut.finish_reason == "stop"
    assert cut.text == greedy.text[:greedy.text.index(stop)]


def test_chat_renders_the_template(client):
    messages = [{"role": "user", "content": "What is edge AI?"}]
    reply = client.chat("mistral", messages, max_tokens=6, temperature=0).completion()
    assert reply.finish_reason in ("stop", "length")
    # The chat is the template's rendering: more prompt tokens than the bare question.
    bare = client.tokenize("mistral", "What is edge AI?", add_special_tokens=False)
    assert reply.usage.prompt_tokens > len(bare)


def test_embed_matches_llama_cpp(client):
    refs = load_json("tiny_bert_vocab.llama.json")["cases"]
    vectors = client.embed("emb", [c["text"] for c in refs])
    for case, vector in zip(refs, vectors):
        expected = case["embedding"]
        assert len(vector) == len(expected)
        assert max(abs(x - y) for x, y in zip(vector, expected)) < 1e-3, case["text"]
        assert abs(math.sqrt(sum(x * x for x in vector)) - 1) < 1e-5  # normalized


def test_classify_matches_onnxruntime(client):
    refs = [c for c in load_json("tiny_bert/text_refs.json")["classify"]]
    inputs = [c["text"] if c["text_pair"] is None else (c["text"], c["text_pair"]) for c in refs]
    results = client.classify("nli", inputs)
    labels = ["contradiction", "neutral", "entailment"]  # tiny_bert/config.json id2label
    for case, result in zip(refs, results):
        scores = dict(result)
        assert sorted(scores) == sorted(labels)
        for label, p in zip(labels, case["probs"]):
            assert abs(scores[label] - p) < 1e-4, (case["text"], label)


def test_typed_errors(client):
    with pytest.raises(jetserve.NotFoundError) as e:
        client.generate_text("no-such-model", "x")
    assert e.value.code == grpc.StatusCode.NOT_FOUND
    assert e.value.request_id
    with pytest.raises(jetserve.InvalidArgumentError, match="temperature"):
        client.generate_text("mistral", "x", temperature=-1)
    with pytest.raises(jetserve.UnimplementedError):
        client.generate_text("emb", "x")  # an encoder cannot generate
    with pytest.raises(jetserve.DeadlineExceededError):
        client.generate_text("mistral", "x", max_tokens=400, temperature=1, timeout=0.001)
    with pytest.raises(ValueError):
        client.generate("mistral")  # neither prompt nor messages
    assert issubclass(jetserve.UnavailableError, jetserve.JetserveError)


def test_async_client_agrees_with_sync(stack, client):
    expected = client.generate_text("mistral", "Jetson devices are", max_tokens=8,
                                    temperature=0)
    expected_vectors = client.embed("emb", ["hello world"])

    async def run():
        async with jetserve.AsyncClient(stack.grpc_address, timeout=60) as aclient:
            stream = aclient.generate("mistral", "Jetson devices are", max_tokens=8,
                                      temperature=0)
            pieces = [p async for p in stream]
            vectors = await aclient.embed("emb", ["hello world"])
            models = await aclient.list_models()
            try:
                await aclient.get_model("nope")
            except jetserve.NotFoundError:
                not_found = True
            else:
                not_found = False
            # Concurrent streams on one channel.
            texts = await asyncio.gather(*[
                aclient.generate_text("mistral", "Jetson devices are", max_tokens=8,
                                      temperature=0) for _ in range(3)])
            return pieces, stream.token_ids, vectors, models, not_found, texts

    pieces, token_ids, vectors, models, not_found, texts = asyncio.run(run())
    assert "".join(pieces) == expected.text
    assert token_ids == expected.token_ids
    assert vectors == expected_vectors
    assert {m.name for m in models} == {"mistral", "tools", "emb", "nli"}
    assert not_found
    assert [t.text for t in texts] == [expected.text] * 3


def test_cancel_stops_a_stream(client):
    # Greedy on this model repeats one token without an end token: the stream is still
    # running when it is cancelled.
    stream = client.generate("mistral", "Hello", max_tokens=400, temperature=0)
    it = iter(stream)
    next(it)
    stream.cancel()
    with pytest.raises(jetserve.CancelledError):
        for _ in it:
            pass
