"""The messages of the conformance `grpcecho.proto`, built at import time from a descriptor.

No code generator is installed, so the file descriptor is written here field for field, matching
gateway-api's `conformance/echo-basic/grpcecho.proto` (package, message and field names and numbers
are the wire contract). The classes live in a private descriptor pool so that they never clash with
another copy of the same proto loaded into the default pool.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

PACKAGE = "gateway_api_conformance.echo_basic.grpcecho"
SERVICE = f"{PACKAGE}.GrpcEcho"
METHODS = ("Echo", "EchoTwo", "EchoThree")
"""Every method the service declares; the server implements all but EchoThree."""

_STRING = descriptor_pb2.FieldDescriptorProto.TYPE_STRING
_MESSAGE = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
_OPTIONAL = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
_REPEATED = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED

# (message, [(field, number, type, label, message type or "")])
_MESSAGES: tuple[tuple[str, tuple[tuple[str, int, int, int, str], ...]], ...] = (
    ("Header", (("key", 1, _STRING, _OPTIONAL, ""), ("value", 2, _STRING, _OPTIONAL, ""))),
    (
        "Context",
        (
            ("namespace", 1, _STRING, _OPTIONAL, ""),
            ("ingress", 2, _STRING, _OPTIONAL, ""),
            ("service_name", 3, _STRING, _OPTIONAL, ""),
            ("pod", 4, _STRING, _OPTIONAL, ""),
        ),
    ),
    (
        "TLSAssertions",
        (
            ("version", 1, _STRING, _OPTIONAL, ""),
            ("negotiated_protocol", 2, _STRING, _OPTIONAL, ""),
            ("server_name", 3, _STRING, _OPTIONAL, ""),
            ("cipher_suite", 4, _STRING, _OPTIONAL, ""),
            ("peer_certificates", 5, _STRING, _REPEATED, ""),
        ),
    ),
    (
        "Assertions",
        (
            ("fully_qualified_method", 1, _STRING, _OPTIONAL, ""),
            ("headers", 2, _MESSAGE, _REPEATED, "Header"),
            ("authority", 3, _STRING, _OPTIONAL, ""),
            ("context", 4, _MESSAGE, _OPTIONAL, "Context"),
            ("tls_assertions", 5, _MESSAGE, _OPTIONAL, "TLSAssertions"),
        ),
    ),
    ("EchoRequest", ()),
    (
        "EchoResponse",
        (
            ("assertions", 1, _MESSAGE, _OPTIONAL, "Assertions"),
            ("request", 2, _MESSAGE, _OPTIONAL, "EchoRequest"),
        ),
    ),
)


def file_descriptor() -> descriptor_pb2.FileDescriptorProto:
    """The FileDescriptorProto protoc would produce for grpcecho.proto (without comments)."""
    proto = descriptor_pb2.FileDescriptorProto(name="grpcecho.proto", package=PACKAGE, syntax="proto3")
    proto.options.go_package = "sigs.k8s.io/gateway-api/conformance/echo-basic/grpcechoserver"
    for message_name, fields in _MESSAGES:
        message = proto.message_type.add(name=message_name)
        for field_name, number, field_type, label, type_name in fields:
            field = message.field.add(name=field_name, number=number, type=field_type, label=label)
            field.json_name = _json_name(field_name)
            if type_name:
                field.type_name = f".{PACKAGE}.{type_name}"
    service = proto.service.add(name="GrpcEcho")
    for method in METHODS:
        service.method.add(
            name=method, input_type=f".{PACKAGE}.EchoRequest", output_type=f".{PACKAGE}.EchoResponse"
        )
    return proto


def _json_name(field_name: str) -> str:
    head, *rest = field_name.split("_")
    return head + "".join(part.capitalize() for part in rest)


_POOL = descriptor_pool.DescriptorPool()
_POOL.Add(file_descriptor())


def _message_class(name: str) -> type[Message]:
    message_class: type[Message] = message_factory.GetMessageClass(
        _POOL.FindMessageTypeByName(f"{PACKAGE}.{name}")
    )
    return message_class


Header = _message_class("Header")
Context = _message_class("Context")
TLSAssertions = _message_class("TLSAssertions")
Assertions = _message_class("Assertions")
EchoRequest = _message_class("EchoRequest")
EchoResponse = _message_class("EchoResponse")


def new_message(message_class: type[Message], **fields: Any) -> Message:
    """Construct a message from keyword fields (the classes are dynamic, so typed loosely here)."""
    constructor: Any = message_class
    built: Message = constructor(**fields)
    return built


def full_method(method: str) -> str:
    """The HTTP/2 `:path` of a method, which is also the reported `fully_qualified_method`."""
    return f"/{SERVICE}/{method}"
