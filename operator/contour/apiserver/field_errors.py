"""Field errors worded exactly as k8s.io/apimachinery/pkg/util/validation/field renders them.

A cause's message is Go's `ErrorBody()`: the error type's words, then the bad value printed the way
Go's fmt prints it (`%q` for strings, `%v` for numbers and booleans, `%#v` for maps and slices), then
`: detail`. Required, Forbidden, TooLong and Internal errors never show the value; an error built with
`OMIT` shows no value either (the CEL rule failures on objects and arrays since Kubernetes 1.35).
Clients compare these strings, so they are built here in one place.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any, Final

from contour.apiserver.errors import Cause
from contour.dag.goformat import go_quote

REQUIRED: Final = "FieldValueRequired"
INVALID: Final = "FieldValueInvalid"
TYPE_INVALID: Final = "FieldValueTypeInvalid"
NOT_SUPPORTED: Final = "FieldValueNotSupported"
DUPLICATE: Final = "FieldValueDuplicate"
FORBIDDEN: Final = "FieldValueForbidden"
TOO_LONG: Final = "FieldValueTooLong"
TOO_MANY: Final = "FieldValueTooMany"
INTERNAL: Final = "InternalError"

_WORDS = {
    REQUIRED: "Required value",
    INVALID: "Invalid value",
    TYPE_INVALID: "Invalid value",
    NOT_SUPPORTED: "Unsupported value",
    DUPLICATE: "Duplicate value",
    FORBIDDEN: "Forbidden",
    TOO_LONG: "Too long",
    TOO_MANY: "Too many",
    INTERNAL: "Internal error",
}
_VALUELESS = frozenset({REQUIRED, FORBIDDEN, TOO_LONG, INTERNAL})


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


OMIT: Final = _Omit()


def go_float(value: float) -> str:
    """Go's `%v` for a float64: the shortest digits, exponent form below 1e-4 and from 1e6 (strconv 'g')."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(str(d) for d in digits)
    point = len(text) + exponent  # position of the decimal point in `text`
    exp10 = point - 1
    prefix = "-" if sign else ""
    if exp10 < -4 or exp10 >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{text}"
    if point >= len(text):
        return f"{prefix}{text}{'0' * (point - len(text))}"
    return f"{prefix}{text[:point]}.{text[point:]}"


def go_value(value: Any) -> str:
    """Go's `%v` of a decoded JSON scalar (int64, float64, bool)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    return go_sharp(value)


def go_sharp(value: Any) -> str:
    """Go's `%#v` of a decoded JSON value (map[string]interface{}, []interface{} and scalars)."""
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, bool | int | float):
        return go_value(value)
    if isinstance(value, dict):
        inner = ", ".join(f"{go_quote(str(k))}:{_sharp_elem(v)}" for k, v in sorted(value.items()))
        return "map[string]interface {}{" + inner + "}"
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(_sharp_elem(v) for v in value) + "}"
    return repr(value)


def _sharp_elem(value: Any) -> str:
    if value is None:
        return "interface {}(nil)"
    return go_sharp(value)


def body(reason: str, value: Any, detail: str = "") -> str:
    """Go's `(*field.Error).ErrorBody()`."""
    words = _WORDS.get(reason, "Invalid value")
    if reason in _VALUELESS or value is OMIT:
        text = words
    elif value is None:
        text = f'{words}: "null"'
    elif isinstance(value, str):
        text = f"{words}: {go_quote(value)}"
    elif isinstance(value, bool | int | float):
        text = f"{words}: {go_value(value)}"
    else:
        text = f"{words}: {go_sharp(value)}"
    return f"{text}: {detail}" if detail else text


def required(path: str, detail: str = "") -> Cause:
    return Cause(REQUIRED, body(REQUIRED, "", detail), path)


def invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause(INVALID, body(INVALID, value, detail), path)


def type_invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause(TYPE_INVALID, body(TYPE_INVALID, value, detail), path)


def not_supported(path: str, value: Any, supported: list[str]) -> Cause:
    detail = "supported values: " + ", ".join(go_quote(v) for v in supported) if supported else ""
    return Cause(NOT_SUPPORTED, body(NOT_SUPPORTED, value, detail), path)


def duplicate(path: str, value: Any) -> Cause:
    return Cause(DUPLICATE, body(DUPLICATE, value), path)


def forbidden(path: str, detail: str) -> Cause:
    return Cause(FORBIDDEN, body(FORBIDDEN, "", detail), path)


def too_long(path: str, max_length: int) -> Cause:
    unit = "byte" if max_length == 1 else "bytes"
    detail = f"may not be more than {max_length} {unit}" if max_length >= 0 else "value is too long"
    return Cause(TOO_LONG, body(TOO_LONG, "", detail), path)


def too_many(path: str, actual: int, maximum: int) -> Cause:
    unit = "item" if maximum == 1 else "items"
    detail = f"must have at most {maximum} {unit}" if maximum >= 0 else "has too many items"
    return Cause(TOO_MANY, body(TOO_MANY, actual if actual >= 0 else OMIT, detail), path)


def internal(path: str, detail: str) -> Cause:
    return Cause(INTERNAL, body(INTERNAL, None, detail), path)


def json_text(value: Any) -> str:
    """`json.Marshal` of an enum value that is not a string (as the CRD handler quotes it)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
