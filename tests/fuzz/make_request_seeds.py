#!/usr/bin/env python3
"""Writes the seed inputs of the gateway_request fuzz target (tests/fuzz/corpus/
gateway_request): one method byte (0 Generate, 1 Embed, 2 Classify, 3 Rerank, 4 Tokenize,
5 Detokenize) and a request encoded from protobuf text format by `protoc --encode`
(Debian's protobuf-compiler). Valid requests, requests at and past each request limit,
and a few that do not parse. Run from anywhere; the outputs are committed."""
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PROTO = os.path.join(ROOT, "proto")
METHODS = {"Generate": (0, "generate"), "Embed": (1, "encode"), "Classify": (2, "encode"),
           "Rerank": (3, "encode"), "Tokenize": (4, "models"), "Detokenize": (5, "models")}


def encode(method, text):
    _, proto = METHODS[method]
    return subprocess.run(
        ["protoc", f"--proto_path={PROTO}", f"--encode=jetserve.v1.{method}Request",
         f"jetserve/v1/{proto}.proto"], input=text.encode(), capture_output=True,
        check=True).stdout


def out(name, method, wire):
    with open(os.path.join(HERE, "corpus", "gateway_request", name), "wb") as f:
        f.write(bytes([METHODS[method][0]]) + wire)


def seed(name, method, text):
    out(name, method, encode(method, text))


stops17 = " ".join(f'stop: "s{i}"' for i in range(17))
seed("generate_prompt", "Generate", """
model: "m" prompt: "Hello there"
sampling { temperature: 0.7 top_k: 40 top_p: 0.9 min_p: 0.05 repetition_penalty: 1.1
           logit_bias { key: 5 value: -1.5 } seed: 7 }
stop { max_tokens: 8 stop: "\\n\\n" stop_token_ids: 2 }
logprobs { top_logprobs: 1 } n: 2""")
seed("generate_chat", "Generate", """
model: "m"
chat { messages { role: "system" content: "Be brief." }
       messages { role: "user" content: "Weather?" }
       messages { role: "assistant" tool_calls { id: "c1" name: "weather"
                                                 arguments_json: "{\\"city\\": \\"Oslo\\"}" } }
       messages { role: "tool" tool_call_id: "c1" content: "sunny" }
       tools { name: "weather" description: "Looks it up" parameters_json: "{}" }
       template_kwargs_json: "{\\"enable_thinking\\": false}" }""")
seed("generate_over_limits", "Generate", f"""
model: "m" prompt: "0123456789abcdefg"
stop {{ max_tokens: 9 {stops17} stop: "a-long-stop" stop_token_ids: -1 min_tokens: -1 }}
logprobs {{ top_logprobs: 21 }} n: 17""")
seed("generate_nonfinite", "Generate", """
model: "m" prompt: "p" sampling { temperature: nan top_p: inf logit_bias { key: -3 value: 1 } }
stop { max_tokens: 0 }""")
seed("generate_gbnf", "Generate", """
model: "m" prompt: "p" response_format { gbnf: "root ::= \\"yes\\" | \\"no\\"" }""")
seed("embed", "Embed", 'model: "m" inputs: "a" inputs: "b" dimensions: 8')
seed("embed_many", "Embed", 'model: "m" ' + " ".join('inputs: "x"' for _ in range(3))
     + " dimensions: 0")
seed("classify", "Classify", """
model: "m" inputs { text: "great film" text_pair: "it was" }
candidate_labels: "good" candidate_labels: "bad" candidate_labels: "meh" top_k: -1""")
seed("rerank", "Rerank", """
model: "m" query: "capital of France" documents: "Paris" documents: "Rome" documents: "Oslo"
top_n: 2""")
seed("rerank_no_query", "Rerank", 'model: "m" documents: "d"')
seed("tokenize_text", "Tokenize", 'model: "m" text: "Hello, world"')
seed("tokenize_chat", "Tokenize", 'model: "m" chat { messages { role: "user" content: "hi" } }')
seed("detokenize", "Detokenize", 'model: "m" token_ids: 1 token_ids: 2 token_ids: -1')

# Each past exactly one of the fuzz target's tight limits (so each check's refusal is
# reached by the seeds alone, without fuzzing).
seed("tight_prompt_bytes", "Generate", 'model: "m" prompt: "0123456789abcdefg"')
seed("tight_chat_bytes", "Generate",
     'model: "m" chat { messages { role: "user" content: "0123456789" } '
     'messages { role: "user" content: "abcdefg" } }')
seed("tight_stop_count", "Generate", 'model: "m" prompt: "p" stop { stop: "a" stop: "b" stop: "c" }')
seed("tight_stop_bytes", "Generate", 'model: "m" prompt: "p" stop { stop: "abcde" }')
seed("tight_max_tokens", "Generate", 'model: "m" prompt: "p" stop { max_tokens: 9 }')
seed("tight_top_logprobs", "Generate", 'model: "m" prompt: "p" logprobs { top_logprobs: 2 }')
seed("tight_choices", "Generate", 'model: "m" prompt: "p" n: 3')
seed("tight_inputs", "Embed", 'model: "m" inputs: "a" inputs: "b" inputs: "c"')
seed("tight_labels", "Classify",
     'model: "m" inputs { text: "t" } candidate_labels: "a" candidate_labels: "b" '
     'candidate_labels: "c"')
seed("tight_documents", "Rerank", 'model: "m" query: "q" documents: "a" documents: "b" documents: "c"')
seed("tight_text_bytes", "Tokenize", 'model: "m" text: "0123456789abcdefg"')

# Requests that do not parse: a string that is not UTF-8, a cut-short field.
wire = encode("Embed", 'model: "m" inputs: "ok" inputs: "@@"')
out("embed_not_utf8", "Embed", wire.replace(b"@@", b"\xff\xc3"))
out("generate_truncated", "Generate", encode("Generate", 'model: "m" prompt: "hello"')[:-1])
