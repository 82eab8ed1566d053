"""The JSONPath of CRD printer columns, evaluated as Kubernetes' `k8s.io/client-go/util/jsonpath` does.

A column's `jsonPath` (`.spec.virtualhost.fqdn`, `.status.conditions[?(@.type=="Valid")].status`,
`.status.addresses[*].value`, `.spec.rules[0].host`) selects zero or more values; the table shows the
first, printed the way the real server prints it: strings as they are, numbers and booleans as Go's
`fmt` prints them, maps and lists as compact Go JSON. Missing keys select nothing (the real table
convertor calls `AllowMissingKeys(true)`), which becomes an empty cell.

Supported: `.field`, `['field']`, `..field` (recursive), `*` and `[*]`, `[n]` (negative too),
`[start:end:step]`, `[a,b]` unions of indexes or quoted keys, and `[?(@.path)]` or
`[?(@.path OP literal)]` filters with `==`, `!=`, `<`, `<=`, `>`, `>=`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


class JSONPathError(ValueError):
    """The expression is not one Kubernetes' JSONPath parser accepts (in the subset supported here)."""


@dataclass(frozen=True)
class _Field:
    name: str
    recursive: bool = False


@dataclass(frozen=True)
class _Wildcard:
    recursive: bool = False


@dataclass(frozen=True)
class _Indexes:
    items: tuple[int | str, ...]


@dataclass(frozen=True)
class _Slice:
    start: int | None
    end: int | None
    step: int | None


@dataclass(frozen=True)
class _Filter:
    path: tuple[_Step, ...]
    op: str | None
    literal: Any


_Step = _Field | _Wildcard | _Indexes | _Slice | _Filter

_FIELD = re.compile(r"[^.\[\]\s()'\"=!<>,]+")
_INT = re.compile(r"-?\d+")
_COMPARISON = re.compile(r"\s*(==|!=|<=|>=|<|>)\s*")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, why: str) -> JSONPathError:
        return JSONPathError(f"{why} at position {self.pos} in {self.text!r}")

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos : self.pos + n]

    def steps(self, stop: Callable[[], bool]) -> tuple[_Step, ...]:
        out: list[_Step] = []
        while self.pos < len(self.text) and not stop():
            if self.peek(2) == "..":
                self.pos += 2
                out.append(self.dotted(recursive=True))
            elif self.peek() == ".":
                self.pos += 1
                if self.pos == len(self.text) or stop():
                    break  # a lone "." (or a trailing one) selects the current value
                out.append(self.dotted(recursive=False))
            elif self.peek() == "[":
                self.pos += 1
                out.append(self.bracket())
            else:
                raise self.fail("unexpected character")
        return tuple(out)

    def dotted(self, *, recursive: bool) -> _Step:
        if self.peek() == "*":
            self.pos += 1
            return _Wildcard(recursive)
        if self.peek() == "[" and recursive:
            self.pos += 1
            step = self.bracket()
            if isinstance(step, _Wildcard):
                return _Wildcard(recursive=True)
            raise self.fail("only [*] may follow '..'")
        match = _FIELD.match(self.text, self.pos)
        if not match:
            raise self.fail("expected a field name")
        self.pos = match.end()
        return _Field(match.group(), recursive)

    def quoted(self) -> str:
        quote = self.peek()
        end = self.text.find(quote, self.pos + 1)
        if end < 0:
            raise self.fail("unterminated string")
        value = self.text[self.pos + 1 : end]
        self.pos = end + 1
        return value

    def close(self) -> None:
        if self.peek() != "]":
            raise self.fail("expected ']'")
        self.pos += 1

    def bracket(self) -> _Step:
        if self.peek() == "*":
            self.pos += 1
            self.close()
            return _Wildcard()
        if self.peek(2) == "?(":
            self.pos += 2
            step = self.filter()
            self.close()
            return step
        end = self.text.find("]", self.pos)
        if end < 0:
            raise self.fail("expected ']'")
        body = self.text[self.pos : end].strip()
        if ":" in body and not body.startswith(("'", '"')):
            parts = [p.strip() for p in body.split(":")]
            if len(parts) > 3 or not all(p == "" or _INT.fullmatch(p) for p in parts):
                raise self.fail("invalid slice")
            numbers = [int(p) if p else None for p in parts] + [None] * (3 - len(parts))
            self.pos = end + 1
            return _Slice(numbers[0], numbers[1], numbers[2])
        items: list[int | str] = []
        while True:
            while self.peek() == " ":
                self.pos += 1
            if self.peek() in ("'", '"'):
                items.append(self.quoted())
            else:
                match = _INT.match(self.text, self.pos)
                if not match:
                    raise self.fail("expected an index or a quoted key")
                items.append(int(match.group()))
                self.pos = match.end()
            while self.peek() == " ":
                self.pos += 1
            if self.peek() == ",":
                self.pos += 1
                continue
            break
        self.close()
        return _Indexes(tuple(items))

    def filter(self) -> _Filter:
        if self.peek() != "@":
            raise self.fail("a filter starts with '@'")
        self.pos += 1
        path = self.steps(lambda: self.peek() in (")", " ", "=", "!", "<", ">"))
        op_match = _COMPARISON.match(self.text, self.pos)
        if not op_match:
            while self.peek() == " ":
                self.pos += 1
            if self.peek() != ")":
                raise self.fail("expected ')'")
            self.pos += 1
            return _Filter(path, None, None)
        self.pos = op_match.end()
        literal = self.literal()
        while self.peek() == " ":
            self.pos += 1
        if self.peek() != ")":
            raise self.fail("expected ')'")
        self.pos += 1
        return _Filter(path, op_match.group(1), literal)

    def literal(self) -> Any:
        if self.peek() in ("'", '"'):
            return self.quoted()
        for word, value in (("true", True), ("false", False)):
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return value
        match = _NUMBER.match(self.text, self.pos)
        if not match:
            raise self.fail("expected a literal")
        self.pos = match.end()
        text = match.group()
        return float(text) if match.group(1) or match.group(2) else int(text)


@dataclass(frozen=True)
class JSONPath:
    """A parsed column path; `find` returns every selected value, in document order."""

    source: str
    steps: tuple[_Step, ...]

    @classmethod
    def parse(cls, expression: str) -> JSONPath:
        text = expression.strip()
        if text.startswith("{") and text.endswith("}"):
            text = text[1:-1].strip()
        if text.startswith("$"):
            text = text[1:]
        parser = _Parser(text)
        steps = parser.steps(lambda: False)
        return cls(expression, steps)

    def find(self, document: Any) -> list[Any]:
        values = [document]
        for step in self.steps:
            values = [out for value in values for out in _apply(step, value)]
        return values


def _descendants(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for key in sorted(value):
            yield from _descendants(value[key])
    elif isinstance(value, list):
        for item in value:
            yield from _descendants(item)


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [value[key] for key in sorted(value)]
    if isinstance(value, list):
        return list(value)
    return []


def _apply(step: _Step, value: Any) -> list[Any]:
    if isinstance(step, _Field):
        candidates = list(_descendants(value)) if step.recursive else [value]
        return [c[step.name] for c in candidates if isinstance(c, dict) and step.name in c]
    if isinstance(step, _Wildcard):
        if step.recursive:
            return [child for node in _descendants(value) for child in _children(node)]
        return _children(value)
    if isinstance(step, _Indexes):
        out = []
        for item in step.items:
            if isinstance(item, str):
                if isinstance(value, dict) and item in value:
                    out.append(value[item])
            elif isinstance(value, list) and -len(value) <= item < len(value):
                out.append(value[item])
        return out
    if isinstance(step, _Slice):
        if not isinstance(value, list) or step.step == 0:
            return []
        return value[step.start : step.end : step.step]
    if not isinstance(value, list):
        return []
    return [item for item in value if _matches(step, item)]


def _matches(step: _Filter, item: Any) -> bool:
    found = [item]
    for sub in step.path:
        found = [out for value in found for out in _apply(sub, value)]
    if step.op is None:
        return bool(found)
    if not found:
        return False
    left, right = found[0], step.literal
    if isinstance(left, bool) != isinstance(right, bool):
        return step.op == "!="
    numbers = isinstance(left, int | float) and isinstance(right, int | float)
    if step.op == "==":
        return bool(left == right) if numbers or type(left) is type(right) else False
    if step.op == "!=":
        return bool(left != right) if numbers or type(left) is type(right) else True
    if not numbers and not (isinstance(left, str) and isinstance(right, str)):
        return False
    compare = {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}
    return bool(compare[step.op])


def _go_json_numbers(value: Any) -> Any:
    """Go writes a whole float64 below 1e21 without a fraction (`3`, not `3.0`)."""
    if isinstance(value, dict):
        return {key: _go_json_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_go_json_numbers(item) for item in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


def go_json(value: Any) -> str:
    """`encoding/json.Marshal` of a decoded JSON value: compact, sorted keys, HTML characters escaped."""
    text = json.dumps(
        _go_json_numbers(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    for char, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        text = text.replace(char, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def go_float(value: float) -> str:
    """`fmt.Sprint(float64)`: Go's %g with the shortest digits, in %e style when the exponent is below -4
    or at least 6 (`1e+06`, `1.5`, `0.0001`, `1e-05`)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return sign + "0"
    _, digit_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    assert isinstance(exponent, int)  # finite
    digits = "".join(map(str, digit_tuple))
    stripped = digits.rstrip("0")
    exponent += len(digits) - len(stripped)
    digits = stripped
    exp10 = len(digits) + exponent - 1
    if exp10 < -4 or exp10 >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    if exponent >= 0:
        return sign + digits + "0" * exponent
    point = len(digits) + exponent
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def print_value(value: Any) -> str | None:
    """How `JSONPath.PrintResults` prints one selected value; None when Go finds nothing printable."""
    if value is None:
        return None
    if isinstance(value, dict | list):
        return go_json(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    return str(value)
