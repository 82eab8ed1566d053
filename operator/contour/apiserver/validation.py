"""OpenAPI schema validation of objects, with the causes the real API server reports.

The walk follows k8s.io/kube-openapi/pkg/validation/validate as the custom resource handler runs it:
per node the type check, then allOf/anyOf/oneOf/not, string length and pattern (Go RE2 syntax, via
google-re2, unanchored like Go's MatchString), format, numeric bounds, array items and sizes, enum,
then object bounds, additionalProperties, properties and required. Errors name the field as
kube-openapi does (`spec.routes[0].services[1].port`, map values as `spec.labels.key`) and are turned
into causes the way apiextensions-apiserver's kubeOpenAPIResultToFieldErrors turns them: Required,
NotSupported (enum), TooLong (maxLength), TooMany (maxItems, maxProperties), TypeInvalid (type and
format) and Invalid with kube-openapi's own sentence for everything else. String lengths count
runes, as Go's utf8.RuneCount does (Python's len()). `x-kubernetes-list-type` set/map uniqueness is a
second pass (listtype.ValidateListSetsAndMaps) whose paths use field.Path notation (`[key]` for map
keys). Object metadata rules live in `object_meta.py`.
"""

from __future__ import annotations

from typing import Any

from contour.apiserver import field_errors as fe
from contour.apiserver import formats
from contour.apiserver.errors import Cause
from contour.apiserver.object_meta import validate_object_meta
from contour.apiserver.schemas import Schema
from contour.apiserver.structural import Node, compile_schema
from contour.dag.goformat import go_quote

__all__ = [
    "json_equal",
    "list_type_errors",
    "schema_errors",
    "type_errors",
    "validate",
    "validate_object_meta",
]

_IN = "in body"


def _kind(value: Any) -> str:
    """The JSON type kube-openapi infers from a decoded value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "unknown"


def json_equal(a: Any, b: Any) -> bool:
    """Equality of decoded JSON values that keeps booleans apart from numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and bool(a == b)


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _bound(limit: float, value: Any) -> str:
    """How kube-openapi prints a minimum/maximum: as int64 for integer data, float64 otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(int(limit))
    return fe.go_value(float(limit))


class _Walk:
    """One validation pass; `errors` collects the causes in kube-openapi's order."""

    __slots__ = ("errors",)

    def __init__(self) -> None:
        self.errors: list[Cause] = []

    # kube-openapi's SchemaValidator.Validate for one node.
    def node(self, value: Any, node: Node, path: str) -> None:
        self.type_check(value, node, path)
        if value is None:
            self.enum(value, node, path)
            return
        if node.all_of or node.any_of or node.one_of or node.not_ is not None:
            self.schema_props(value, node, path)
        if isinstance(value, str):
            self.string(value, node, path)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            self.number(value, node, path)
        elif isinstance(value, list):
            self.array(value, node, path)
        if node.enum is not None:
            self.enum(value, node, path)
        if isinstance(value, dict):
            self.object(value, node, path)

    def type_check(self, value: Any, node: Node, path: str) -> None:
        """kube-openapi's typeValidator (the walk goes on after a type error, as kube-openapi's does)."""
        types = node.types
        if value is None:
            if types and "null" not in types and not node.nullable:
                self._type_error(path, ",".join(types), "null")
            return
        if not types and not node.format:
            return
        kind = _kind(value)
        is_float_int = kind == "number" and float(value).is_integer() and "integer" in types
        is_int_float = kind == "integer" and "number" in types
        matches = kind in types or is_float_int or is_int_float
        if kind not in ("string", "array") and node.format and not matches:
            self._type_error(path, node.format, {"integer": "int64", "number": "double"}.get(kind, ""))
        elif node.format and kind in ("string", "array") and "number" not in types and "integer" not in types:
            return
        elif types and not matches:
            self._type_error(path, ",".join(types), kind)

    def _type_error(self, path: str, expected: str, actual: str) -> None:
        detail = f"{path} {_IN} must be of type {expected}: {go_quote(actual)}"
        self.errors.append(fe.type_invalid(path, actual, detail))

    def string(self, value: str, node: Node, path: str) -> None:
        if node.max_length is not None and len(value) > node.max_length:
            self.errors.append(fe.too_long(path, node.max_length))
        elif node.min_length is not None and len(value) < node.min_length:
            detail = f"{path} {_IN} should be at least {node.min_length} chars long"
            self.errors.append(fe.invalid(path, value, detail))
        elif node.pattern_source:
            if node.pattern is None:
                detail = f"{path} {_IN} should match '{node.pattern_source}, but pattern is invalid'"
                self.errors.append(fe.invalid(path, value, detail))
            elif node.pattern.search(value) is None:
                detail = f"{path} {_IN} should match '{node.pattern_source}'"
                self.errors.append(fe.invalid(path, value, detail))
        if node.format and not formats.check(node.format, value):
            self._type_error(path, node.format, value)

    def number(self, value: float, node: Node, path: str) -> None:
        if node.multiple_of is not None and node.multiple_of > 0:
            factor = node.multiple_of
            quotient = value / factor if factor >= 1 else (1 / factor) * value
            if not float(quotient).is_integer():
                detail = f"{path} {_IN} should be a multiple of {_bound(factor, value)}"
                self.errors.append(fe.invalid(path, value, detail))
        if node.minimum is not None:
            low = node.minimum
            if (value <= low) if node.exclusive_minimum else (value < low):
                words = "greater than" if node.exclusive_minimum else "greater than or equal to"
                detail = f"{path} {_IN} should be {words} {_bound(low, value)}"
                self.errors.append(fe.invalid(path, value, detail))
        if node.maximum is not None:
            high = node.maximum
            if (value >= high) if node.exclusive_maximum else (value > high):
                words = "less than" if node.exclusive_maximum else "less than or equal to"
                detail = f"{path} {_IN} should be {words} {_bound(high, value)}"
                self.errors.append(fe.invalid(path, value, detail))

    def array(self, value: list[Any], node: Node, path: str) -> None:
        items = node.items
        if items is not None:
            for index, item in enumerate(value):
                self.node(item, items, f"{path}[{index}]")
        size = len(value)
        if node.min_items is not None and size < node.min_items:
            detail = f"{path} {_IN} should have at least {node.min_items} items"
            self.errors.append(fe.invalid(path, size, detail))
        if node.max_items is not None and size > node.max_items:
            self.errors.append(fe.too_many(path, size, node.max_items))
        if node.unique_items:
            for i, item in enumerate(value):
                if any(json_equal(item, other) for other in value[:i]):
                    self.errors.append(fe.invalid(path, None, f"{path} {_IN} shouldn't contain duplicates"))
                    break

    def enum(self, value: Any, node: Node, path: str) -> None:
        allowed = node.enum
        if not allowed or any(json_equal(value, option) for option in allowed):
            return
        names = [option if isinstance(option, str) else fe.json_text(option) for option in allowed]
        self.errors.append(fe.not_supported(path, value, names))

    def object(self, value: dict[str, Any], node: Node, path: str) -> None:
        count = len(value)
        if node.min_properties is not None and count < node.min_properties:
            detail = f"{path} {_IN} should have at least {node.min_properties} properties"
            self.errors.append(fe.invalid(path, count, detail))
            return
        if node.max_properties is not None and count > node.max_properties:
            self.errors.append(fe.too_many(path, count, node.max_properties))
            return
        properties = node.properties
        if not node.additional_allowed:
            for key in value:
                if key not in properties:
                    detail = f"{path}.{key} {_IN} is a forbidden property"
                    self.errors.append(fe.invalid(path, key, detail))
        elif node.additional is not None:
            additional = node.additional
            for key, item in value.items():
                if key not in properties:
                    self.node(item, additional, f"{path}.{key}")
        for name, sub in properties.items():
            if name in value:
                self.node(value[name], sub, _child(path, name))
        for name in node.required:
            if name not in value:
                self.errors.append(fe.required(_child(path, name)))

    def schema_props(self, value: Any, node: Node, path: str) -> None:
        """kube-openapi's schemaPropsValidator: anyOf, oneOf, allOf, not (errors have no field path)."""
        quoted = go_quote(path)
        if node.any_of:
            best: list[Cause] | None = None
            for branch in node.any_of:
                found = _errors_of(value, branch, path)
                if not found:
                    best = None
                    break
                if best is None or len(found) < len(best):
                    best = found
            else:
                self.errors.append(
                    fe.invalid("<nil>", "", f"{quoted} must validate at least one schema (anyOf)")
                )
            if best:
                self.errors.extend(best)
        if node.one_of:
            valid = 0
            best = None
            for branch in node.one_of:
                found = _errors_of(value, branch, path)
                if not found:
                    valid += 1
                    best = None
                elif valid == 0 and (best is None or len(found) < len(best)):
                    best = found
            if valid != 1:
                more = "Found none valid" if valid == 0 else f"Found {valid} valid alternatives"
                detail = f"{quoted} must validate one and only one schema (oneOf). {more}"
                self.errors.append(fe.invalid("<nil>", "", detail))
                if best:
                    self.errors.extend(best)
        if node.all_of:
            passed = 0
            for branch in node.all_of:
                found = _errors_of(value, branch, path)
                passed += not found
                self.errors.extend(found)
            if passed != len(node.all_of):
                more = ". None validated" if passed == 0 else ""
                detail = f"{quoted} must validate all the schemas (allOf){more}"
                self.errors.append(fe.invalid("<nil>", "", detail))
        if node.not_ is not None and not _errors_of(value, node.not_, path):
            self.errors.append(fe.invalid("<nil>", "", f"{quoted} must not validate the schema (not)"))


def _errors_of(value: Any, node: Node, path: str) -> list[Cause]:
    walk = _Walk()
    walk.node(value, node, path)
    return walk.errors


def schema_errors(value: Any, node: Node, path: str = "") -> list[Cause]:
    """kube-openapi validation of `value` against a compiled node."""
    return _errors_of(value, node, path)


# --- x-kubernetes-list-type: set / map uniqueness (listtype.ValidateListSetsAndMaps) ---------------------


def list_type_errors(value: Any, node: Node, path: str = "") -> list[Cause]:
    errors: list[Cause] = []
    _list_types(value, node, path, errors)
    return errors


def _list_types(value: Any, node: Node, path: str, errors: list[Cause]) -> None:
    if isinstance(value, dict):
        if node.additional is not None:
            for key, item in value.items():
                _list_types(item, node.additional, f"{path}[{key}]", errors)
        if node.properties:
            for key, item in value.items():
                sub = node.properties.get(key)
                if sub is not None:
                    _list_types(item, sub, _child(path, key), errors)
    elif isinstance(value, list):
        if node.list_type == "set":
            for index in _second_occurrences(value):
                errors.append(fe.duplicate(f"{path}[{index}]", value[index]))
        elif node.list_type == "map":
            _list_map(value, node, path, errors)
        if node.items is not None:
            for index, item in enumerate(value):
                _list_types(item, node.items, f"{path}[{index}]", errors)


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return ("{", tuple(sorted((k, _hashable(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("[", tuple(_hashable(v) for v in value))
    return (type(value) is bool, value)


def _second_occurrences(values: list[Any]) -> list[int]:
    """Indexes where a value is seen for the second time (Go reports each duplicate value once)."""
    seen: dict[Any, int] = {}
    found = []
    for index, value in enumerate(values):
        key = _hashable(value)
        times = seen.get(key, 0)
        if times == 1:
            found.append(index)
        seen[key] = times + 1
    return found


def _list_map(value: list[Any], node: Node, path: str, errors: list[Cause]) -> None:
    for index, item in enumerate(value):
        if item is not None and not isinstance(item, dict):
            errors.append(
                fe.invalid(f"{path}[{index}]", item, "must be an object for an array of list-type map")
            )
            return
    if len(value) <= 1:
        return
    keys: list[dict[str, Any]] = []
    for item in value:
        key: dict[str, Any] = {}
        for field in node.list_map_keys:
            if isinstance(item, dict) and field in item:
                key[field] = item[field]
        keys.append(key)
    for index in _second_occurrences(keys):
        errors.append(fe.duplicate(f"{path}[{index}]", keys[index]))


def type_errors(value: Any, node: Node, path: str = "") -> list[Cause]:
    """Only the type mismatches (built-in kinds: their other rules are Go code, not in the schema).

    Nulls pass: a Go struct decodes null as the zero value.
    """
    walk = _Walk()
    _types_only(walk, value, node, path)
    return walk.errors


def _types_only(walk: _Walk, value: Any, node: Node, path: str) -> None:
    if value is None:
        return
    before = len(walk.errors)
    walk.type_check(value, node, path)
    if len(walk.errors) != before:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            sub = node.properties.get(key) or node.additional
            if sub is not None:
                _types_only(walk, item, sub, f"{path}.{key}" if path else key)
    elif isinstance(value, list) and node.items is not None:
        for index, item in enumerate(value):
            _types_only(walk, item, node.items, f"{path}[{index}]")


def validate(obj: Any, schema: Schema | Node, path: str = "") -> list[Cause]:
    """Every schema cause for `obj` (schema validation first, then list-type uniqueness)."""
    node = schema if isinstance(schema, Node) else compile_schema(schema)
    return schema_errors(obj, node, path) + list_type_errors(obj, node, path)
