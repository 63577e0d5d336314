"""Builds jetserve.v1 request messages from keyword arguments (shared by both clients)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from jetserve.v1 import encode_pb2, generate_pb2, models_pb2

Message = Union[Mapping[str, Any], generate_pb2.ChatMessage]

_TOOL_CHOICE = {
    "auto": generate_pb2.TOOL_CHOICE_AUTO,
    "none": generate_pb2.TOOL_CHOICE_NONE,
    "required": generate_pb2.TOOL_CHOICE_REQUIRED,
}

_FINISH = {
    generate_pb2.FINISH_REASON_EOS: "stop",
    generate_pb2.FINISH_REASON_STOP_STRING: "stop",
    generate_pb2.FINISH_REASON_STOP_TOKEN: "stop",
    generate_pb2.FINISH_REASON_LENGTH: "length",
    generate_pb2.FINISH_REASON_TOOL_CALLS: "tool_calls",
}


def finish_reason_name(reason: int) -> Optional[str]:
    """"stop", "length", "tool_calls", or None while unset."""
    return _FINISH.get(reason)


def _chat_message(m: Message) -> generate_pb2.ChatMessage:
    if isinstance(m, generate_pb2.ChatMessage):
        return m
    out = generate_pb2.ChatMessage(role=m["role"], content=m.get("content") or "")
    if m.get("name"):
        out.name = m["name"]
    if m.get("tool_call_id"):
        out.tool_call_id = m["tool_call_id"]
    for call in m.get("tool_calls") or ():
        fn = call.get("function", call)
        args = fn.get("arguments", {})
        out.tool_calls.add(id=call.get("id", ""), name=fn["name"],
                           arguments_json=args if isinstance(args, str) else json.dumps(args))
    return out


def _tool(t: Mapping[str, Any]) -> generate_pb2.Tool:
    fn = t.get("function", t)
    params = fn.get("parameters")
    return generate_pb2.Tool(name=fn["name"], description=fn.get("description", ""),
                             parameters_json=json.dumps(params) if params is not None else "")


def generate_request(
    model: str,
    prompt: Optional[str] = None,
    *,
    messages: Optional[Sequence[Message]] = None,
    max_tokens: Optional[int] = None,
    temperature: Optional[float] = None,
    top_k: Optional[int] = None,
    top_p: Optional[float] = None,
    min_p: Optional[float] = None,
    repetition_penalty: Optional[float] = None,
    presence_penalty: Optional[float] = None,
    frequency_penalty: Optional[float] = None,
    seed: Optional[int] = None,
    stop: Union[str, Sequence[str], None] = None,
    tools: Optional[Sequence[Mapping[str, Any]]] = None,
    tool_choice: Union[str, None] = None,
    json_schema: Union[Mapping[str, Any], str, None] = None,
    json_object: bool = False,
    add_special_tokens: Optional[bool] = None,
    template_kwargs: Optional[Mapping[str, Any]] = None,
) -> generate_pb2.GenerateRequest:
    """A GenerateRequest: `prompt` (raw text) or `messages` (a chat rendered with the model's
    template). Unset parameters take the server's defaults (temperature 1; 0 is greedy)."""
    if (prompt is None) == (messages is None):
        raise ValueError("give exactly one of prompt and messages")
    r = generate_pb2.GenerateRequest(model=model)
    if prompt is not None:
        r.prompt = prompt
    else:
        chat = r.chat
        chat.messages.extend(_chat_message(m) for m in messages)
        chat.tools.extend(_tool(t) for t in tools or ())
        if tool_choice is not None:
            if tool_choice in _TOOL_CHOICE:
                chat.tool_choice = _TOOL_CHOICE[tool_choice]
            else:
                chat.tool_choice = generate_pb2.TOOL_CHOICE_NAMED
                chat.tool_choice_name = tool_choice
        if template_kwargs:
            chat.template_kwargs_json = json.dumps(dict(template_kwargs))
    s = r.sampling
    for name, value in (("temperature", temperature), ("top_k", top_k), ("top_p", top_p),
                        ("min_p", min_p), ("repetition_penalty", repetition_penalty),
                        ("presence_penalty", presence_penalty),
                        ("frequency_penalty", frequency_penalty), ("seed", seed)):
        if value is not None:
            setattr(s, name, value)
    if max_tokens is not None:
        r.stop.max_tokens = max_tokens
    if stop is not None:
        r.stop.stop.extend([stop] if isinstance(stop, str) else list(stop))
    if json_schema is not None:
        r.response_format.json_schema = (json_schema if isinstance(json_schema, str)
                                         else json.dumps(json_schema))
    elif json_object:
        r.response_format.json_object = True
    if add_special_tokens is not None:
        r.add_special_tokens = add_special_tokens
    return r


def embed_request(model: str, inputs: Union[str, Sequence[str]], *,
                  normalize: Optional[bool] = None, dimensions: Optional[int] = None,
                  truncate: bool = True) -> encode_pb2.EmbedRequest:
    r = encode_pb2.EmbedRequest(model=model)
    r.inputs.extend([inputs] if isinstance(inputs, str) else list(inputs))
    if normalize is not None:
        r.normalize = normalize
    if dimensions is not None:
        r.dimensions = dimensions
    if not truncate:
        r.truncation = encode_pb2.TRUNCATION_NONE
    return r


def classify_request(model: str, inputs: Union[str, Sequence[Union[str, Tuple[str, str]]]], *,
                     candidate_labels: Optional[Sequence[str]] = None,
                     hypothesis_template: Optional[str] = None, multi_label: bool = False,
                     top_k: int = 0) -> encode_pb2.ClassifyRequest:
    r = encode_pb2.ClassifyRequest(model=model, multi_label=multi_label, top_k=top_k)
    for item in [inputs] if isinstance(inputs, str) else inputs:
        if isinstance(item, str):
            r.inputs.add(text=item)
        else:
            r.inputs.add(text=item[0], text_pair=item[1])
    r.candidate_labels.extend(candidate_labels or ())
    if hypothesis_template:
        r.hypothesis_template = hypothesis_template
    return r


def rerank_request(model: str, query: str, documents: Sequence[str], *, top_n: int = 0,
                   return_documents: bool = False) -> encode_pb2.RerankRequest:
    return encode_pb2.RerankRequest(model=model, query=query, documents=list(documents),
                                    top_n=top_n, return_documents=return_documents)


@dataclass
class Completion:
    """A whole generation (generate_text / chat_text)."""

    text: str
    finish_reason: Optional[str]
    token_ids: List[int] = field(default_factory=list)
    reasoning: str = ""
    tool_calls: List[Dict[str, Any]] = field(default_factory=list)
    usage: Optional[generate_pb2.Usage] = None


class _StreamState:
    """Accumulates what a Generate stream reported besides its text (choice 0)."""

    def __init__(self) -> None:
        self.finish_reason: Optional[str] = None
        self.usage: Optional[generate_pb2.Usage] = None
        self.token_ids: List[int] = []
        self.reasoning = ""
        self.tool_calls: List[Dict[str, Any]] = []
        self.text = ""

    def take(self, m: generate_pb2.GenerateResponse) -> str:
        if m.HasField("usage"):
            self.usage = m.usage
        if m.index != 0:
            return ""
        if m.finish_reason:
            self.finish_reason = finish_reason_name(m.finish_reason)
        self.token_ids.extend(m.token_ids)
        self.reasoning += m.reasoning_text
        for c in m.tool_calls:
            try:
                args: Any = json.loads(c.arguments_json) if c.arguments_json else {}
            except ValueError:
                args = c.arguments_json
            self.tool_calls.append({"id": c.id, "name": c.name, "arguments": args})
        self.text += m.text
        return m.text

    def completion(self) -> Completion:
        return Completion(text=self.text, finish_reason=self.finish_reason,
                          token_ids=self.token_ids, reasoning=self.reasoning,
                          tool_calls=self.tool_calls, usage=self.usage)


ModelInfo = models_pb2.ModelInfo
