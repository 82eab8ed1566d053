"""What the GrpcEcho service answers, apart from any transport: one unary call in, a status out.

Behaviour follows gateway-api's echo-basic gRPC server: Echo and EchoTwo return the request's
method, metadata, authority, the pod context and (on TLS) the handshake; EchoThree and anything
else is UNIMPLEMENTED. Metadata is reported the way grpc-go hands it to a handler: pseudo-headers
and the transport's reserved headers are dropped, except `:authority`, `content-type` and
`user-agent`, which grpc-go keeps.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from enum import IntEnum

from google.protobuf.message import DecodeError, Message

from contour.echo.assertions import Identity
from contour.echo.exchange import TLSDetails
from contour.echo.grpc_messages import (
    SERVICE,
    Assertions,
    Context,
    EchoRequest,
    EchoResponse,
    Header,
    TLSAssertions,
    full_method,
    new_message,
)

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
"""grpc-go's default receive limit."""

# https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md: reserved names that are not
# application metadata. grpc-go keeps `:authority`, `content-type` and `user-agent` nonetheless.
_RESERVED = frozenset(
    {
        "grpc-encoding",
        "grpc-message",
        "grpc-message-type",
        "grpc-status",
        "grpc-status-details-bin",
        "grpc-timeout",
        "te",
    }
)
_KEPT_PSEUDO = ":authority"
_IMPLEMENTED = frozenset({"Echo", "EchoTwo"})
_PREFIX = struct.Struct(">BI")


class StatusCode(IntEnum):
    """The gRPC status codes this server answers with."""

    OK = 0
    RESOURCE_EXHAUSTED = 8
    UNIMPLEMENTED = 12
    INTERNAL = 13


@dataclass(frozen=True, slots=True)
class GrpcCall:
    """One unary call as received: its `:path`, header fields in order, and the framed body."""

    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    tls: TLSDetails | None


@dataclass(frozen=True, slots=True)
class RpcOutcome:
    """A status, and the serialised response message when the status is OK."""

    code: StatusCode
    message: str = ""
    response: bytes = b""


def frame_message(payload: bytes) -> bytes:
    """A length-prefixed, uncompressed gRPC message."""
    return _PREFIX.pack(0, len(payload)) + payload


def reported_metadata(headers: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """The header fields a grpc-go handler would find in its incoming metadata, in arrival order."""
    return [
        (name, value)
        for name, value in headers
        if (name == _KEPT_PSEUDO or not name.startswith(":")) and name not in _RESERVED
    ]


class GrpcEchoService:
    """The GrpcEcho service of one echo process."""

    def __init__(self, identity: Identity) -> None:
        self._context = new_message(
            Context,
            namespace=identity.namespace,
            ingress=identity.ingress,
            service_name=identity.service,
            pod=identity.pod,
        )

    def call(self, call: GrpcCall) -> RpcOutcome:
        service, _, method = call.path.removeprefix("/").partition("/")
        if service != SERVICE:
            return RpcOutcome(StatusCode.UNIMPLEMENTED, f"unknown service {service}")
        if method not in _IMPLEMENTED:
            if method == "EchoThree":
                return RpcOutcome(StatusCode.UNIMPLEMENTED, "method EchoThree not implemented")
            return RpcOutcome(StatusCode.UNIMPLEMENTED, f"unknown method {method} for service {service}")
        encoding = next((value for name, value in call.headers if name == "grpc-encoding"), "identity")
        request = _read_single_message(call.body, encoding)
        if isinstance(request, RpcOutcome):
            return request
        try:
            EchoRequest.FromString(request)
        except DecodeError as exc:
            return RpcOutcome(StatusCode.INTERNAL, f"grpc: error unmarshalling request: {exc}")
        return RpcOutcome(StatusCode.OK, response=self._response(call, method).SerializeToString())

    def _response(self, call: GrpcCall, method: str) -> Message:
        metadata = reported_metadata(call.headers)
        assertions = new_message(
            Assertions,
            fully_qualified_method=full_method(method),
            headers=[new_message(Header, key=name, value=value) for name, value in metadata],
            authority=next((value for name, value in metadata if name == _KEPT_PSEUDO), ""),
            context=self._context,
        )
        if call.tls is not None:
            assertions.tls_assertions.CopyFrom(
                new_message(
                    TLSAssertions,
                    version=call.tls.version,
                    negotiated_protocol=call.tls.negotiated_protocol,
                    server_name=call.tls.server_name,
                    cipher_suite=call.tls.cipher_suite,
                    peer_certificates=list(call.tls.peer_certificates),
                )
            )
        return new_message(EchoResponse, assertions=assertions)


def _read_single_message(body: bytes, encoding: str) -> bytes | RpcOutcome:
    """The one message of a unary request, decompressed; or the status that refuses the body."""
    messages: list[bytes] = []
    offset = 0
    while offset < len(body):
        if len(body) - offset < _PREFIX.size:
            return RpcOutcome(StatusCode.INTERNAL, "grpc: truncated message prefix")
        compressed, length = _PREFIX.unpack_from(body, offset)
        offset += _PREFIX.size
        if length > MAX_MESSAGE_BYTES:
            return RpcOutcome(
                StatusCode.RESOURCE_EXHAUSTED,
                f"grpc: received message larger than max ({length} vs. {MAX_MESSAGE_BYTES})",
            )
        if len(body) - offset < length:
            return RpcOutcome(StatusCode.INTERNAL, "grpc: truncated message")
        payload = body[offset : offset + length]
        offset += length
        if compressed:
            inflated = _decompress(payload, encoding)
            if isinstance(inflated, RpcOutcome):
                return inflated
            payload = inflated
        messages.append(payload)
    if len(messages) != 1:
        return RpcOutcome(
            StatusCode.INTERNAL, f"grpc: a unary call takes one request message, got {len(messages)}"
        )
    return messages[0]


def _decompress(payload: bytes, encoding: str) -> bytes | RpcOutcome:
    if encoding in {"", "identity"}:
        return RpcOutcome(StatusCode.INTERNAL, "grpc: compressed flag set with identity or empty encoding")
    if encoding != "gzip":
        return RpcOutcome(
            StatusCode.UNIMPLEMENTED, f'grpc: Decompressor is not installed for grpc-encoding "{encoding}"'
        )
    inflater = zlib.decompressobj(wbits=31)  # 31: a gzip wrapper around deflate
    try:
        inflated = inflater.decompress(payload, MAX_MESSAGE_BYTES + 1)
    except zlib.error as exc:
        return RpcOutcome(StatusCode.INTERNAL, f"grpc: failed to decompress the received message: {exc}")
    if len(inflated) > MAX_MESSAGE_BYTES:
        return RpcOutcome(StatusCode.RESOURCE_EXHAUSTED, "grpc: decompressed message larger than max")
    return inflated
