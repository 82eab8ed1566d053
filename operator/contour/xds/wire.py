"""Protobuf wire-format encoding of the few fields a discovery response has.

Each resource is serialised once per snapshot; every stream's response is then a concatenation of
those bytes plus a few small fields, instead of a new protobuf message serialised per stream. A
repeated message field is encoded as ``tag, length, payload`` per element, and field order does not
matter to a parser (https://protobuf.dev/programming-guides/encoding/#structure), so a response built
here parses to the same message as one built with the protobuf API.
"""

_LENGTH_DELIMITED = 2


def varint(value: int) -> bytes:
    """Base-128 varint of a non-negative integer."""
    if value < 0x80:
        return bytes((value,))
    if value < 0x4000:  # most resources: one or two bytes, without the loop
        return bytes(((value & 0x7F) | 0x80, value >> 7))
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def tag(field_number: int) -> bytes:
    """The key of a length-delimited field (strings, bytes, messages)."""
    return varint((field_number << 3) | _LENGTH_DELIMITED)


def header(field_number: int, length: int) -> bytes:
    """Key and length prefix of a length-delimited field whose payload is ``length`` bytes."""
    return tag(field_number) + varint(length)


def field(field_number: int, payload: bytes | memoryview) -> bytes:
    """A complete length-delimited field. Empty payloads are omitted, as proto3 does for scalars."""
    if not payload:
        return b""
    return header(field_number, len(payload)) + bytes(payload)


def string_field(field_number: int, text: str) -> bytes:
    """A proto3 string field (omitted when empty)."""
    return field(field_number, text.encode())
