"""Synchronous and asyncio clients for the jetserve gateway's gRPC API.

    import jetserve

    with jetserve.Client("localhost:50051") as client:
        for piece in client.generate("smollm2", "The capital of France is", max_tokens=16,
                                     temperature=0):
            print(piece, end="", flush=True)
        vectors = client.embed("minilm", ["a cat", "a kitten"])

    async with jetserve.AsyncClient("localhost:50051") as client:
        async for piece in client.generate("smollm2", "Hello", max_tokens=8):
            ...

Failed calls raise jetserve.JetserveError subclasses (jetserve/errors.py).
"""
from __future__ import annotations

from typing import Any, AsyncIterator, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import grpc
from grpc import aio

from jetserve import _requests
from jetserve._requests import Completion
from jetserve.errors import from_rpc_error
from jetserve.v1 import encode_pb2, generate_pb2, models_pb2, service_pb2_grpc

_MAX_MESSAGE = 64 << 20


def _metadata(api_key: Optional[str], request_id: Optional[str]) -> List[Tuple[str, str]]:
    md = []
    if api_key:
        md.append(("authorization", f"Bearer {api_key}"))
    if request_id:
        md.append(("x-request-id", request_id))
    return md


def _labels(response: encode_pb2.ClassifyResponse) -> List[List[Tuple[str, float]]]:
    return [[(l.label, l.score) for l in r.labels] for r in response.results]


class GenerateStream:
    """The text pieces of one Generate call (choice 0), as they arrive. After iteration:
    finish_reason ("stop", "length", "tool_calls"), usage, token_ids, reasoning and
    tool_calls. cancel() stops the generation."""

    def __init__(self, call: Any) -> None:
        self._call = call
        self._state = _requests._StreamState()

    def __iter__(self) -> Iterator[str]:
        try:
            for message in self._call:
                text = self._state.take(message)
                if text:
                    yield text
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None

    def cancel(self) -> None:
        self._call.cancel()

    def completion(self) -> Completion:
        """Consumes what is left and returns the whole result."""
        for _ in self:
            pass
        return self._state.completion()

    @property
    def finish_reason(self) -> Optional[str]:
        return self._state.finish_reason

    @property
    def usage(self) -> Optional[generate_pb2.Usage]:
        return self._state.usage

    @property
    def token_ids(self) -> List[int]:
        return self._state.token_ids

    @property
    def tool_calls(self) -> List[Dict[str, Any]]:
        return self._state.tool_calls


class Client:
    """Blocking client. `target` is "host:port"; `api_key` is sent as
    "authorization: Bearer KEY"; `timeout` (seconds) is the default deadline of each call."""

    def __init__(self, target: str, *, api_key: Optional[str] = None,
                 timeout: Optional[float] = None,
                 credentials: Optional[grpc.ChannelCredentials] = None,
                 channel: Optional[grpc.Channel] = None) -> None:
        options = [("grpc.max_receive_message_length", _MAX_MESSAGE),
                   ("grpc.max_send_message_length", _MAX_MESSAGE)]
        if channel is not None:
            self._channel = channel
        elif credentials is not None:
            self._channel = grpc.secure_channel(target, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(target, options=options)
        self._stub = service_pb2_grpc.JetserveStub(self._channel)
        self._api_key = api_key
        self._timeout = timeout

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _unary(self, method: Any, request: Any, timeout: Optional[float],
               request_id: Optional[str]) -> Any:
        try:
            return method(request, timeout=timeout if timeout is not None else self._timeout,
                          metadata=_metadata(self._api_key, request_id))
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None

    # --- generation ---
    def generate(self, model: str, prompt: Optional[str] = None, *,
                 timeout: Optional[float] = None, request_id: Optional[str] = None,
                 **params: Any) -> GenerateStream:
        """Streams generated text. `prompt` is raw text; pass messages=[...] for a chat.
        Parameters: max_tokens, temperature, top_k, top_p, min_p, repetition_penalty,
        presence_penalty, frequency_penalty, seed, stop, tools, tool_choice, json_schema,
        json_object, add_special_tokens, template_kwargs."""
        request = _requests.generate_request(model, prompt, **params)
        return self.generate_request(request, timeout=timeout, request_id=request_id)

    def generate_request(self, request: generate_pb2.GenerateRequest, *,
                         timeout: Optional[float] = None,
                         request_id: Optional[str] = None) -> GenerateStream:
        """Streams a prebuilt GenerateRequest."""
        call = self._stub.Generate(request,
                                   timeout=timeout if timeout is not None else self._timeout,
                                   metadata=_metadata(self._api_key, request_id))
        return GenerateStream(call)

    def generate_text(self, model: str, prompt: Optional[str] = None, **kwargs: Any) -> Completion:
        """The whole generation at once."""
        return self.generate(model, prompt, **kwargs).completion()

    def chat(self, model: str, messages: Sequence[_requests.Message], **kwargs: Any) -> GenerateStream:
        """Streams the assistant's reply to a conversation ([{"role", "content"}, ...])."""
        return self.generate(model, messages=messages, **kwargs)

    # --- encoders ---
    def embed(self, model: str, inputs: Union[str, Sequence[str]], *,
              timeout: Optional[float] = None, request_id: Optional[str] = None,
              **params: Any) -> List[List[float]]:
        """One vector per input (L2-normalized unless normalize=False)."""
        response = self._unary(self._stub.Embed,
                               _requests.embed_request(model, inputs, **params), timeout,
                               request_id)
        return [list(e.values) for e in response.embeddings]

    def classify(self, model: str, inputs: Union[str, Sequence[Union[str, Tuple[str, str]]]], *,
                 timeout: Optional[float] = None, request_id: Optional[str] = None,
                 **params: Any) -> List[List[Tuple[str, float]]]:
        """(label, score) pairs per input, highest first; candidate_labels=[...] for
        zero-shot."""
        response = self._unary(self._stub.Classify,
                               _requests.classify_request(model, inputs, **params), timeout,
                               request_id)
        return _labels(response)

    def rerank(self, model: str, query: str, documents: Sequence[str], *,
               timeout: Optional[float] = None, **params: Any) -> List[Tuple[int, float]]:
        """(document index, score) pairs, best first."""
        response = self._unary(self._stub.Rerank,
                               _requests.rerank_request(model, query, documents, **params),
                               timeout, None)
        return [(r.index, r.score) for r in response.results]

    # --- tokens and models ---
    def tokenize(self, model: str, text: str, *, add_special_tokens: Optional[bool] = None,
                 timeout: Optional[float] = None) -> List[int]:
        request = models_pb2.TokenizeRequest(model=model, text=text)
        if add_special_tokens is not None:
            request.add_special_tokens = add_special_tokens
        return list(self._unary(self._stub.Tokenize, request, timeout, None).token_ids)

    def detokenize(self, model: str, token_ids: Sequence[int], *,
                   timeout: Optional[float] = None) -> str:
        request = models_pb2.DetokenizeRequest(model=model, token_ids=list(token_ids))
        return self._unary(self._stub.Detokenize, request, timeout, None).text

    def list_models(self, *, timeout: Optional[float] = None) -> List[models_pb2.ModelInfo]:
        return list(self._unary(self._stub.ListModels, models_pb2.ListModelsRequest(), timeout,
                                None).models)

    def get_model(self, name: str, *, timeout: Optional[float] = None) -> models_pb2.ModelInfo:
        return self._unary(self._stub.GetModel, models_pb2.GetModelRequest(name=name), timeout,
                           None)


class AsyncGenerateStream:
    """GenerateStream for asyncio: `async for piece in stream`."""

    def __init__(self, call: Any) -> None:
        self._call = call
        self._state = _requests._StreamState()

    def __aiter__(self) -> AsyncIterator[str]:
        return self._pieces()

    async def _pieces(self) -> AsyncIterator[str]:
        try:
            async for message in self._call:
                text = self._state.take(message)
                if text:
                    yield text
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None

    def cancel(self) -> None:
        self._call.cancel()

    async def completion(self) -> Completion:
        async for _ in self:
            pass
        return self._state.completion()

    @property
    def finish_reason(self) -> Optional[str]:
        return self._state.finish_reason

    @property
    def usage(self) -> Optional[generate_pb2.Usage]:
        return self._state.usage

    @property
    def token_ids(self) -> List[int]:
        return self._state.token_ids


class AsyncClient:
    """asyncio client (grpc.aio); same methods as Client, as coroutines. Create it inside
    the running event loop."""

    def __init__(self, target: str, *, api_key: Optional[str] = None,
                 timeout: Optional[float] = None,
                 credentials: Optional[grpc.ChannelCredentials] = None) -> None:
        options = [("grpc.max_receive_message_length", _MAX_MESSAGE),
                   ("grpc.max_send_message_length", _MAX_MESSAGE)]
        if credentials is not None:
            self._channel = aio.secure_channel(target, credentials, options=options)
        else:
            self._channel = aio.insecure_channel(target, options=options)
        self._stub = service_pb2_grpc.JetserveStub(self._channel)
        self._api_key = api_key
        self._timeout = timeout

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def _unary(self, method: Any, request: Any, timeout: Optional[float],
                     request_id: Optional[str]) -> Any:
        try:
            return await method(request,
                                timeout=timeout if timeout is not None else self._timeout,
                                metadata=_metadata(self._api_key, request_id))
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None

    def generate(self, model: str, prompt: Optional[str] = None, *,
                 timeout: Optional[float] = None, request_id: Optional[str] = None,
                 **params: Any) -> AsyncGenerateStream:
        request = _requests.generate_request(model, prompt, **params)
        call = self._stub.Generate(request,
                                   timeout=timeout if timeout is not None else self._timeout,
                                   metadata=_metadata(self._api_key, request_id))
        return AsyncGenerateStream(call)

    async def generate_text(self, model: str, prompt: Optional[str] = None,
                            **kwargs: Any) -> Completion:
        return await self.generate(model, prompt, **kwargs).completion()

    def chat(self, model: str, messages: Sequence[_requests.Message],
             **kwargs: Any) -> AsyncGenerateStream:
        return self.generate(model, messages=messages, **kwargs)

    async def embed(self, model: str, inputs: Union[str, Sequence[str]], *,
                    timeout: Optional[float] = None, **params: Any) -> List[List[float]]:
        response = await self._unary(self._stub.Embed,
                                     _requests.embed_request(model, inputs, **params), timeout,
                                     None)
        return [list(e.values) for e in response.embeddings]

    async def classify(self, model: str, inputs: Union[str, Sequence[Union[str, Tuple[str, str]]]],
                       *, timeout: Optional[float] = None,
                       **params: Any) -> List[List[Tuple[str, float]]]:
        response = await self._unary(self._stub.Classify,
                                     _requests.classify_request(model, inputs, **params),
                                     timeout, None)
        return _labels(response)

    async def tokenize(self, model: str, text: str, *,
                       timeout: Optional[float] = None) -> List[int]:
        response = await self._unary(self._stub.Tokenize,
                                     models_pb2.TokenizeRequest(model=model, text=text), timeout,
                                     None)
        return list(response.token_ids)

    async def list_models(self, *, timeout: Optional[float] = None) -> List[models_pb2.ModelInfo]:
        response = await self._unary(self._stub.ListModels, models_pb2.ListModelsRequest(),
                                     timeout, None)
        return list(response.models)

    async def get_model(self, name: str, *,
                        timeout: Optional[float] = None) -> models_pb2.ModelInfo:
        return await self._unary(self._stub.GetModel, models_pb2.GetModelRequest(name=name),
                                 timeout, None)
