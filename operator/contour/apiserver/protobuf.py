"""Decoding Kubernetes protobuf request bodies into the JSON object the same request would carry.

kubectl's typed-client commands (`kubectl create namespace`, `create secret tls`, `create deployment`...)
send `Content-Type: application/vnd.kubernetes.protobuf` with no JSON fallback. The body is the 4-byte
magic `k8s\\x00` and a `runtime.Unknown` message: typeMeta {apiVersion=1, kind=2}, raw=2 (the object's
own message), contentEncoding=3, contentType=4 (https://kubernetes.io/docs/reference/using-api/api-concepts/#protobuf-encoding).

The object is decoded with the hand-written tables of `protobuf_types` into the dict Go's encoding/json
would have produced from the same struct: the same field names, `omitempty` fields left out when zero,
bytes as base64, IntOrString as a number or a string, Quantity as its string, Time as RFC 3339. Unknown
field numbers are skipped. Malformed bytes are a 400; a kind without a table is a 415.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

from contour.apiserver import errors
from contour.apiserver.protobuf_types import KINDS, MESSAGES, Field, Kind, Presence

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"

VARINT, FIXED64, LEN, FIXED32 = 0, 1, 2, 5

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _MalformedError(Exception):
    """Raised inside the decoder; `decode_protobuf` turns it into a 400 with the message."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise _MalformedError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 64:
            raise _MalformedError("varint longer than 10 bytes")


def _fields(data: bytes, where: str) -> list[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of every field, in order: a varint's integer or a LEN's bytes."""
    try:
        return _split(data)
    except _MalformedError as exc:
        raise _MalformedError(f"{where}: {exc}") from None


def _split(data: bytes) -> list[tuple[int, int, int | bytes]]:
    out: list[tuple[int, int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _MalformedError("field number 0")
        value: int | bytes
        if wire == VARINT:
            value, pos = _varint(data, pos)
        elif wire == LEN:
            length, pos = _varint(data, pos)
            if length > len(data) - pos:
                raise _MalformedError(
                    f"field {number} is {length} bytes long but only {len(data) - pos} remain"
                )
            value, pos = data[pos : pos + length], pos + length
        elif wire in (FIXED64, FIXED32):
            size = 8 if wire == FIXED64 else 4
            if size > len(data) - pos:
                raise _MalformedError(f"truncated fixed-size field {number}")
            value, pos = int.from_bytes(data[pos : pos + size], "little"), pos + size
        else:
            raise _MalformedError(f"unsupported wire type {wire} for field {number}")
        out.append((number, wire, value))
    return out


def _signed(value: int) -> int:
    """int32 and int64 are sent as two's complement in 64 bits (negative int32 takes 10 bytes too)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _int32(value: int) -> int:
    """Go keeps the low 32 bits of a varint read into an int32."""
    return ((value + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def _text(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _MalformedError(f"{where} is not valid UTF-8") from None


def _rfc3339(raw: bytes, where: str) -> str | None:
    """metav1.Time: empty is Go's zero time (JSON null); nanos are dropped, as the real server drops them."""
    if not raw:
        return None
    seconds = 0
    for number, wire, value in _fields(raw, where):
        if number == 1 and wire == VARINT:
            seconds = _signed(_as_int(value))
    try:
        moment = _EPOCH + timedelta(seconds=seconds)
    except OverflowError:
        raise _MalformedError(f"{where}: time out of range") from None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _as_int(value: int | bytes) -> int:
    assert isinstance(value, int)
    return value


def _int_or_string(raw: bytes, where: str) -> int | str:
    kind, number, text = 0, 0, ""
    for field_number, wire, value in _fields(raw, where):
        if field_number == 1 and wire == VARINT:
            kind = _signed(_as_int(value))
        elif field_number == 2 and wire == VARINT:
            number = _int32(_as_int(value))
        elif field_number == 3 and wire == LEN:
            assert isinstance(value, bytes)
            text = _text(value, where)
    return text if kind == 1 else number


def _quantity(raw: bytes, where: str) -> str:
    text = ""
    for number, wire, value in _fields(raw, where):
        if number == 1 and wire == LEN:
            assert isinstance(value, bytes)
            text = _text(value, where)
    return text


def _map_entry(raw: bytes, where: str) -> tuple[str, bytes]:
    key, value = "", b""
    for number, wire, item in _fields(raw, where):
        if wire != LEN:
            raise _MalformedError(f"{where}: map entry field {number} has wire type {wire}")
        assert isinstance(item, bytes)
        if number == 1:
            key = _text(item, f"{where} key")
        elif number == 2:
            value = item
    return key, value


def _map(chunks: list[bytes], kind: Kind, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for chunk in chunks:
        key, raw = _map_entry(chunk, where)
        entry = f"{where}[{key}]"
        if kind is Kind.BYTES_MAP:
            out[key] = base64.b64encode(raw).decode("ascii")
        elif kind is Kind.QUANTITY_MAP:
            out[key] = _quantity(raw, entry)
        else:
            out[key] = _text(raw, entry)
    return out


def _scalar(field: Field, wire: int, value: int | bytes, where: str) -> Any:
    if field.kind in (Kind.INT32, Kind.INT64, Kind.BOOL):
        if wire != VARINT:
            raise _MalformedError(f"{where} should be a varint, has wire type {wire}")
        number = _as_int(value)
        if field.kind is Kind.BOOL:
            return bool(number)
        return _int32(number) if field.kind is Kind.INT32 else _signed(number)
    if wire != LEN:
        raise _MalformedError(f"{where} should be length-delimited, has wire type {wire}")
    assert isinstance(value, bytes)
    if field.kind is Kind.STRING:
        return _text(value, where)
    if field.kind is Kind.BYTES:
        return base64.b64encode(value).decode("ascii")
    if field.kind is Kind.INT_OR_STRING:
        return _int_or_string(value, where)
    if field.kind is Kind.QUANTITY:
        return _quantity(value, where)
    raise AssertionError(field.kind)


def _repeated_scalars(field: Field, values: list[tuple[int, int | bytes]], where: str) -> list[Any]:
    out: list[Any] = []
    for wire, value in values:
        if wire == LEN and field.kind in (Kind.INT32, Kind.INT64, Kind.BOOL):  # packed encoding
            assert isinstance(value, bytes)
            out.extend(_scalar(field, VARINT, number, where) for number in _packed(value))
        else:
            out.append(_scalar(field, wire, value, where))
    return out


def _packed(data: bytes) -> list[int]:
    numbers: list[int] = []
    pos = 0
    while pos < len(data):
        number, pos = _varint(data, pos)
        numbers.append(number)
    return numbers


_STRUCTS = (Kind.MESSAGE, Kind.INT_OR_STRING, Kind.QUANTITY, Kind.TIME)  # Go structs: omitempty has no effect
_MAPS = (Kind.STRING_MAP, Kind.BYTES_MAP, Kind.QUANTITY_MAP)
_ZERO: dict[Kind, Any] = {
    Kind.STRING: "",
    Kind.BYTES: "",
    Kind.INT32: 0,
    Kind.INT64: 0,
    Kind.BOOL: False,
    Kind.INT_OR_STRING: 0,
    Kind.QUANTITY: "0",
    Kind.TIME: None,
}


def _is_zero(value: Any) -> bool:
    return value in ("", 0, False, [], {})


def _absent(field: Field, where: str) -> tuple[bool, Any]:
    """What Go's encoder writes for a field missing from the message: (written?, value)."""
    if field.presence in (Presence.POINTER, Presence.OMITZERO):
        return False, None
    if field.repeated or field.kind in _MAPS:
        return field.presence is Presence.ALWAYS, None
    if field.kind is Kind.MESSAGE:
        return True, _message(b"", field.message, where)
    if field.kind in _STRUCTS:
        return True, _ZERO[field.kind]
    return field.presence is Presence.ALWAYS, _ZERO[field.kind]


def _message(data: bytes, name: str, where: str) -> dict[str, Any]:
    table = MESSAGES[name]
    seen: dict[int, list[tuple[int, int | bytes]]] = {}
    for number, wire, value in _fields(data, where):
        if number in table:
            seen.setdefault(number, []).append((wire, value))
    out: dict[str, Any] = {}
    for number, field in table.items():
        path = f"{where}.{field.json}" if field.json else where
        values = seen.get(number)
        if values is None:
            written, value = _absent(field, path)
            if not written:
                continue
        else:
            value = _field_value(field, values, path)
            omit_zero = field.presence is Presence.OMIT and (field.repeated or field.kind not in _STRUCTS)
            if (omit_zero and _is_zero(value)) or (field.presence is Presence.OMITZERO and value is None):
                continue
        if field.inline:
            out.update(value)
        else:
            out[field.json] = value
    return out


def _chunks(values: list[tuple[int, int | bytes]], where: str) -> list[bytes]:
    chunks: list[bytes] = []
    for wire, value in values:
        if wire != LEN:
            raise _MalformedError(f"{where} should be length-delimited, has wire type {wire}")
        assert isinstance(value, bytes)
        chunks.append(value)
    return chunks


def _field_value(field: Field, values: list[tuple[int, int | bytes]], where: str) -> Any:
    if field.kind in (Kind.STRING_MAP, Kind.BYTES_MAP, Kind.QUANTITY_MAP):
        return _map(_chunks(values, where), field.kind, where)
    if field.kind is Kind.MESSAGE:
        chunks = _chunks(values, where)
        if field.repeated:
            return [_message(c, field.message, f"{where}[{i}]") for i, c in enumerate(chunks)]
        # A message field sent more than once is merged, which for protobuf is decoding the concatenation.
        return _message(b"".join(chunks), field.message, where)
    if field.kind is Kind.TIME:
        return _rfc3339(b"".join(_chunks(values, where)), where)
    if field.repeated:
        return _repeated_scalars(field, values, where)
    wire, value = values[-1]  # a scalar sent more than once: the last one wins
    return _scalar(field, wire, value, where)


def _unknown(data: bytes) -> tuple[str, str, bytes, str, str]:
    """apiVersion, kind, raw, contentEncoding and contentType of the runtime.Unknown envelope."""
    texts: dict[str, str] = {}
    raw = b""
    for number, wire, value in _fields(data, "envelope"):
        if wire != LEN:
            continue
        assert isinstance(value, bytes)
        if number == 1:  # runtime.TypeMeta
            for meta_number, meta_wire, meta_value in _fields(value, "typeMeta"):
                if meta_wire == LEN and meta_number in (1, 2):
                    assert isinstance(meta_value, bytes)
                    name = "apiVersion" if meta_number == 1 else "kind"
                    texts[name] = _text(meta_value, f"typeMeta.{name}")
        elif number == 2:
            raw = value
        elif number in (3, 4):
            name = "contentEncoding" if number == 3 else "contentType"
            texts[name] = _text(value, name)
    return (
        texts.get("apiVersion", ""),
        texts.get("kind", ""),
        raw,
        texts.get("contentEncoding", ""),
        texts.get("contentType", ""),
    )


def decode_protobuf(data: bytes) -> dict[str, Any]:
    """The JSON-shaped object of a Kubernetes protobuf body; APIError 400 if malformed, 415 if not known."""
    if not data.startswith(MAGIC):
        raise errors.bad_request("the protobuf body does not start with the Kubernetes prefix k8s\\x00")
    try:
        api_version, kind, raw, encoding, content_type = _unknown(data[len(MAGIC) :])
        if not kind:
            raise _MalformedError("the envelope names no kind")
        if encoding or content_type not in ("", MEDIA_TYPE):
            raise errors.unsupported_media_type(
                f"application/json, application/yaml; a protobuf body's object must be plain protobuf, "
                f"not contentEncoding={encoding!r} contentType={content_type!r}"
            )
        name = KINDS.get((api_version, kind))
        if name is None:
            raise errors.unsupported_media_type(
                "application/json, application/yaml; application/vnd.kubernetes.protobuf is decoded only for "
                f"the built-in kinds kubectl creates, not {api_version or '(no apiVersion)'} {kind}"
            )
        obj = _message(raw, name, kind)
    except _MalformedError as exc:
        raise errors.bad_request(f"error decoding the protobuf body: {exc}") from None
    return {"kind": kind, "apiVersion": api_version, **obj}
