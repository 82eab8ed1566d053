"""The echo body: the JSON document the conformance suite reads as "request assertions".

It is written by hand rather than with `json.dumps(indent=...)` for two reasons: the output must
match Go's `json.MarshalIndent(v, "", " ")` (field order, one-space indent, map keys sorted, `<>&`
escaped as in Go's default HTML-safe encoding), and the indenting encoder of the standard library
is the slow pure-Python one while this runs on every request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from contour.echo.exchange import EchoRequest, TLSDetails

_encode_string = json.encoder.encode_basestring
_GO_HTML_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


@dataclass(frozen=True, slots=True)
class Identity:
    """Where the backend says it runs: the `Context` fields of the reference server."""

    namespace: str = ""
    ingress: str = ""
    service: str = ""
    pod: str = ""


def _string(value: str) -> str:
    encoded: str = _encode_string(value)
    return encoded


def _string_list(values: list[str] | tuple[str, ...], indent: str) -> str:
    inner = indent + " "
    items = ",\n".join(inner + _string(value) for value in values)
    return f"[\n{items}\n{indent}]"


def grouped_headers(request: EchoRequest) -> dict[str, list[str]]:
    """Header values per canonical name, in arrival order, as Go's http.Header holds them."""
    grouped: dict[str, list[str]] = {}
    for name, value in request.headers:
        grouped.setdefault(name, []).append(value)
    return grouped


def _headers(request: EchoRequest) -> str:
    grouped = grouped_headers(request)
    if not grouped:
        return "{}"
    entries = ",\n".join(
        f"  {_string(name)}: {_string_list(grouped[name], '  ')}" for name in sorted(grouped)
    )
    return "{\n" + entries + "\n }"


def _tls(details: TLSDetails) -> str:
    lines = [f'  "version": {_string(details.version)}']
    if details.peer_certificates:
        lines.append(f'  "peerCertificates": {_string_list(details.peer_certificates, "  ")}')
    lines.append(f'  "serverName": {_string(details.server_name)}')
    if details.negotiated_protocol:
        lines.append(f'  "negotiatedProtocol": {_string(details.negotiated_protocol)}')
    lines.append(f'  "cipherSuite": {_string(details.cipher_suite)}')
    return "{\n" + ",\n".join(lines) + "\n }"


def render_echo_body(request: EchoRequest, identity: Identity) -> bytes:
    """The pretty-printed JSON body of an echo response."""
    fields = [
        f' "path": {_string(request.target)}',
        f' "host": {_string(request.host)}',
        f' "method": {_string(request.method)}',
        f' "proto": {_string(request.proto)}',
        f' "headers": {_headers(request)}',
        f' "httpPort": {_string(str(request.connection.listener_port))}',
        f' "namespace": {_string(identity.namespace)}',
        f' "ingress": {_string(identity.ingress)}',
        f' "service": {_string(identity.service)}',
        f' "pod": {_string(identity.pod)}',
    ]
    if request.connection.tls is not None:
        fields.append(f' "tls": {_tls(request.connection.tls)}')
    text = "{\n" + ",\n".join(fields) + "\n}"
    for raw, escaped in _GO_HTML_ESCAPES:
        if raw in text:
            text = text.replace(raw, escaped)
    return text.encode("utf-8", "replace")


def render_error_body(message: str) -> bytes:
    """Go's processError body: compact `{"message": ...}`."""
    return json.dumps({"message": message}, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8", "replace"
    )
