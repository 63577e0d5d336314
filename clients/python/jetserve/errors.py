"""Typed errors for gRPC status codes returned by the jetserve gateway.

Every failed call raises a subclass of JetserveError carrying the gRPC code, the server's
message and the call's x-request-id (when the server sent one):

    try:
        client.generate_text("nope", "hi")
    except jetserve.NotFoundError as e:
        print(e.code, e.message, e.request_id)
"""
from __future__ import annotations

from typing import Optional

import grpc


class JetserveError(Exception):
    """A failed jetserve call."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str, code: Optional[grpc.StatusCode] = None,
                 request_id: Optional[str] = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.request_id = request_id

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"


class InvalidArgumentError(JetserveError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFoundError(JetserveError):
    code = grpc.StatusCode.NOT_FOUND


class ResourceExhaustedError(JetserveError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class UnavailableError(JetserveError):
    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceededError(JetserveError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class CancelledError(JetserveError):
    code = grpc.StatusCode.CANCELLED


class UnimplementedError(JetserveError):
    code = grpc.StatusCode.UNIMPLEMENTED


class UnauthenticatedError(JetserveError):
    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDeniedError(JetserveError):
    code = grpc.StatusCode.PERMISSION_DENIED


class FailedPreconditionError(JetserveError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class InternalError(JetserveError):
    code = grpc.StatusCode.INTERNAL


_BY_CODE = {cls.code: cls for cls in (
    InvalidArgumentError, NotFoundError, ResourceExhaustedError, UnavailableError,
    DeadlineExceededError, CancelledError, UnimplementedError, UnauthenticatedError,
    PermissionDeniedError, FailedPreconditionError, InternalError)}


def from_rpc_error(error: grpc.RpcError) -> JetserveError:
    """The typed error for a grpc.RpcError (sync or asyncio)."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    details = error.details() if hasattr(error, "details") else str(error)
    request_id = None
    try:
        metadata = list(error.trailing_metadata() or ()) + list(error.initial_metadata() or ())
    except Exception:  # noqa: BLE001 - metadata is optional; some errors carry none
        metadata = []
    for key, value in metadata:
        if key == "x-request-id":
            request_id = value
            break
    cls = _BY_CODE.get(code, JetserveError)
    return cls(details or "", code=code, request_id=request_id)
