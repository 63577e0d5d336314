#!/usr/bin/env python3
"""Oracle for engine/chat: renders the real chat templates in tests/data/chat/templates
with Python jinja2 over the conversations in tests/data/chat/conversations.json and writes
tests/data/chat/expected.json, which chat_template_test compares byte for byte.

The environment is Hugging Face transformers' chat-template environment
(ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, a tojson that does
not escape HTML, raise_exception, strftime_now). Conversations are given in jetserve's
Generate form (ChatMessage/Tool/ToolCall of proto/jetserve/v1/generate.proto) and turned
into template variables by the same rules as engine/chat/chat_template.cc (documented there):
  message  -> {"role", "content", ["name"], ["tool_calls"], ["tool_call_id"], ["reasoning_content"]}
  ToolCall -> {"id", "type": "function", "function": {"name", "arguments": parsed JSON (or the text)}}
  Tool     -> {"type": "function", "function": {"name", "description", "parameters": parsed JSON}}
  context  -> messages, tools (None without tools), add_generation_prompt, bos_token,
              eos_token, and the keys of template_kwargs_json.

Run:  python3 -m venv /work/cache/jinja-venv && /work/cache/jinja-venv/bin/pip install jinja2
      /work/cache/jinja-venv/bin/python tests/oracles/chat/render_templates.py
"""
import datetime
import json
import os
import sys

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
DATA = os.path.join(ROOT, "tests", "data", "chat")
FIXED_NOW = 1721952000  # strftime_now() clock of the test: 2024-07-26 00:00:00 UTC

# Template file -> (bos_token, eos_token) as the models' tokenizers define them.
TEMPLATES = {
    "HuggingFaceTB-SmolLM2-135M-Instruct": ("<|im_start|>", "<|im_end|>"),
    "HuggingFaceTB-SmolLM3-3B": ("", "<|im_end|>"),
    "meta-llama-Llama-3.1-8B-Instruct": ("<|begin_of_text|>", "<|eot_id|>"),
    "meta-llama-Llama-3.2-3B-Instruct": ("<|begin_of_text|>", "<|eot_id|>"),
    "meta-llama-Llama-3.3-70B-Instruct": ("<|begin_of_text|>", "<|eot_id|>"),
    "Qwen-Qwen2.5-7B-Instruct": ("", "<|im_end|>"),
    "Qwen-Qwen3-0.6B": ("", "<|im_end|>"),
    "Qwen-QwQ-32B": ("", "<|im_end|>"),
    "mistralai-Mistral-Nemo-Instruct-2407": ("<s>", "</s>"),
    "Mistral-Small-3.2-24B-Instruct-2506": ("<s>", "</s>"),
    "microsoft-Phi-3.5-mini-instruct": ("<s>", "<|endoftext|>"),
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "deepseek-ai-DeepSeek-R1-Distill-Llama-8B": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "NousResearch-Hermes-3-Llama-3.1-8B-tool_use": ("<|begin_of_text|>", "<|im_end|>"),
    "google-gemma-2-2b-it": ("<bos>", "<eos>"),
    "ibm-granite-granite-3.3-2B-Instruct": ("<|end_of_text|>", "<|end_of_text|>"),
}


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def strftime_now(fmt):
    return datetime.datetime.fromtimestamp(FIXED_NOW, datetime.timezone.utc).strftime(fmt)


def make_env():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def parse_json_or_text(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def context(conv, bos, eos):
    messages = []
    for m in conv["messages"]:
        msg = {"role": m["role"], "content": m.get("content", "")}
        if m.get("name"):
            msg["name"] = m["name"]
        if m.get("tool_calls"):
            msg["tool_calls"] = [{
                "id": c.get("id", ""),
                "type": "function",
                "function": {"name": c["name"],
                             "arguments": parse_json_or_text(c.get("arguments_json", "{}"))},
            } for c in m["tool_calls"]]
        if m.get("tool_call_id"):
            msg["tool_call_id"] = m["tool_call_id"]
        if m.get("reasoning_content"):
            msg["reasoning_content"] = m["reasoning_content"]
        messages.append(msg)
    tools = None
    if conv.get("tools"):
        tools = []
        for t in conv["tools"]:
            params = t.get("parameters_json", "")
            tools.append({"type": "function", "function": {
                "name": t["name"],
                "description": t.get("description", ""),
                "parameters": json.loads(params) if params else {"type": "object", "properties": {}},
            }})
    ctx = {}
    if conv.get("template_kwargs_json"):
        ctx.update(json.loads(conv["template_kwargs_json"]))
    ctx.update({"messages": messages, "tools": tools,
                "add_generation_prompt": conv.get("add_generation_prompt", True),
                "bos_token": bos, "eos_token": eos})
    return ctx


def main():
    with open(os.path.join(DATA, "conversations.json"), encoding="utf-8") as f:
        conversations = json.load(f)
    env = make_env()
    out = {"jinja2_version": jinja2.__version__, "now": FIXED_NOW, "templates": {}}
    for name, (bos, eos) in sorted(TEMPLATES.items()):
        with open(os.path.join(DATA, "templates", name + ".jinja"), encoding="utf-8") as f:
            source = f.read()
        tmpl = env.from_string(source)
        results = {}
        for conv in conversations:
            try:
                results[conv["name"]] = {"ok": True, "text": tmpl.render(**context(conv, bos, eos))}
            except Exception as e:  # noqa: BLE001 - the template's own errors are expected data
                results[conv["name"]] = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        out["templates"][name] = {"bos_token": bos, "eos_token": eos, "results": results}
        ok = sum(r["ok"] for r in results.values())
        print(f"{name}: {ok}/{len(results)} rendered", file=sys.stderr)
    with open(os.path.join(DATA, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
