"""jetserve: Python client for the jetserve inference gateway (gRPC).

    import jetserve
    client = jetserve.Client("localhost:50051")
    print(client.generate_text("smollm2", "Hello", max_tokens=16, temperature=0).text)

The generated protobuf modules are jetserve.v1.*_pb2 / *_pb2_grpc.
"""
from jetserve._requests import Completion, classify_request, embed_request, generate_request
from jetserve.client import AsyncClient, AsyncGenerateStream, Client, GenerateStream
from jetserve.errors import (CancelledError, DeadlineExceededError, FailedPreconditionError,
                             InternalError, InvalidArgumentError, JetserveError, NotFoundError,
                             PermissionDeniedError, ResourceExhaustedError, UnauthenticatedError,
                             UnavailableError, UnimplementedError, from_rpc_error)

__version__ = "0.1.0"

__all__ = [
    "AsyncClient", "AsyncGenerateStream", "CancelledError", "Client", "Completion",
    "DeadlineExceededError", "FailedPreconditionError", "GenerateStream", "InternalError",
    "InvalidArgumentError", "JetserveError", "NotFoundError", "PermissionDeniedError",
    "ResourceExhaustedError", "UnauthenticatedError", "UnavailableError", "UnimplementedError",
    "classify_request", "embed_request", "from_rpc_error", "generate_request",
]
