"""Compact JSON the way Go's `json.Marshal` writes it, for the TCP and UDP echo answers.

Clients of the conformance echo parse these lines with Go's decoder, so the only thing that must
match is valid JSON with Go's key order (given by the caller's dict order); the HTML-safe escapes
are kept so that the bytes are also identical to the reference server's for the same input.
"""

from __future__ import annotations

import json

# Go's encoder escapes these by default (json.Marshal uses HTMLEscape-compatible output).
_GO_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def marshal_compact(value: object) -> bytes:
    """`json.Marshal(value)`: no spaces, UTF-8, HTML-sensitive characters escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for raw, escaped in _GO_ESCAPES:
        if raw in text:
            text = text.replace(raw, escaped)
    return text.encode("utf-8")
