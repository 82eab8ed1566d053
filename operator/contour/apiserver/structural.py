"""Schemas compiled once into plain node objects, so that every write walks attributes, not mappings.

Validation, defaulting, pruning and CEL all walk the same tree on every create, update and patch.
`Schema` resolves `$ref`/`allOf` on every access, which is right for one-off walks and too slow for a
hot path; `compile_schema` resolves a schema once into `Node`s (recursive built-in definitions such as
JSONSchemaProps become cycles in the node graph) and caches the result per schema document.

CRD schemas are structural: `allOf`/`anyOf`/`oneOf`/`not` hold value validations only and are kept
as such. Built-in definitions use `allOf: [{$ref}]` as a reference wrapper, which `Schema` resolves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import re2

from contour.apiserver.schemas import Schema

# Formats a CRD schema may carry that the API server validates (apiextensions-apiserver
# pkg/apiserver/validation/formats.go); every other format is stripped before validation.
# Names are compared with dashes removed, as go-openapi normalises them ("date-time" -> "datetime").
VALIDATED_FORMATS = frozenset(
    {
        "bsonobjectid",
        "uri",
        "email",
        "hostname",
        "ipv4",
        "ipv6",
        "cidr",
        "mac",
        "uuid",
        "uuid3",
        "uuid4",
        "uuid5",
        "isbn",
        "isbn10",
        "isbn13",
        "creditcard",
        "ssn",
        "hexcolor",
        "rgbcolor",
        "byte",
        "password",
        "date",
        "duration",
        "datetime",
    }
)

_MISSING = object()


class Node:
    """One compiled schema node. Absent keywords are None (or empty), never looked up again."""

    __slots__ = (
        "additional",
        "additional_allowed",
        "all_of",
        "any_of",
        "default",
        "embedded",
        "enum",
        "exclusive_maximum",
        "exclusive_minimum",
        "format",
        "has_default",
        "int_or_string",
        "items",
        "list_map_keys",
        "list_type",
        "max_items",
        "max_length",
        "max_properties",
        "maximum",
        "min_items",
        "min_length",
        "min_properties",
        "minimum",
        "multiple_of",
        "not_",
        "nullable",
        "one_of",
        "pattern",
        "pattern_source",
        "preserve_unknown",
        "properties",
        "required",
        "rules",
        "type",
        "types",
        "unique_items",
    )

    def __init__(self) -> None:
        self.type: str | None = None
        # The type list as kube-openapi sees it: int-or-string becomes ("integer", "string").
        self.types: tuple[str, ...] = ()
        self.nullable = False
        self.int_or_string = False
        self.preserve_unknown = False
        self.embedded = False
        self.format = ""
        self.properties: dict[str, Node] = {}
        self.items: Node | None = None
        self.additional: Node | None = None
        # additionalProperties: false (never in structural schemas, but legal in built-in ones).
        self.additional_allowed = True
        self.required: tuple[str, ...] = ()
        self.enum: list[Any] | None = None
        self.pattern: Any = None
        self.pattern_source = ""
        self.minimum: float | None = None
        self.maximum: float | None = None
        self.exclusive_minimum = False
        self.exclusive_maximum = False
        self.multiple_of: float | None = None
        self.min_length: int | None = None
        self.max_length: int | None = None
        self.min_items: int | None = None
        self.max_items: int | None = None
        self.unique_items = False
        self.min_properties: int | None = None
        self.max_properties: int | None = None
        self.all_of: tuple[Node, ...] = ()
        self.any_of: tuple[Node, ...] = ()
        self.one_of: tuple[Node, ...] = ()
        self.not_: Node | None = None
        self.list_type: str | None = None
        self.list_map_keys: tuple[str, ...] = ()
        self.has_default = False
        self.default: Any = None
        self.rules: tuple[Mapping[str, Any], ...] = ()

    @property
    def is_object(self) -> bool:
        return self.type == "object"

    def __repr__(self) -> str:
        return f"Node(type={self.type!r}, properties={sorted(self.properties)})"


class _Compiler:
    def __init__(self, components: Mapping[str, Mapping[str, Any]]) -> None:
        self.components = components
        # Keyed by the identity of the raw mapping; the mappings are kept alive by `keep`.
        self.memo: dict[int, Node] = {}
        self.keep: list[Mapping[str, Any]] = []

    def resolve(self, raw: Mapping[str, Any]) -> Mapping[str, Any]:
        if self.components:
            return Schema(raw, self.components).node
        return raw

    def compile(self, raw: Mapping[str, Any]) -> Node:
        key = id(raw)
        found = self.memo.get(key)
        if found is not None:
            return found
        node = Node()
        self.memo[key] = node
        self.keep.append(raw)
        self.fill(node, self.resolve(raw))
        if _is_quantity(raw):
            # resource.Quantity is `type: string` in OpenAPI but its JSON form may also be a number.
            node.types = ("string", "integer", "number")
        return node

    def child(self, raw: Any) -> Node | None:
        return self.compile(raw) if isinstance(raw, Mapping) else None

    def fill(self, node: Node, spec: Mapping[str, Any]) -> None:
        kind = spec.get("type")
        node.type = kind if isinstance(kind, str) and kind else None
        node.int_or_string = (
            spec.get("x-kubernetes-int-or-string") is True or spec.get("format") == "int-or-string"
        )
        if node.int_or_string:
            node.types = ("integer", "string")
        elif node.type:
            node.types = (node.type,)
        node.nullable = spec.get("nullable") is True
        node.preserve_unknown = spec.get("x-kubernetes-preserve-unknown-fields") is True
        node.embedded = spec.get("x-kubernetes-embedded-resource") is True
        fmt = spec.get("format")
        if isinstance(fmt, str) and fmt.replace("-", "") in VALIDATED_FORMATS:
            node.format = fmt
        props = spec.get("properties")
        if isinstance(props, Mapping):
            node.properties = {name: self.compile(value) for name, value in props.items()}
        node.items = self.child(spec.get("items"))
        additional = spec.get("additionalProperties")
        if additional is False:
            node.additional_allowed = False
        else:
            node.additional = self.child(additional)
        required = spec.get("required")
        if isinstance(required, list):
            node.required = tuple(str(r) for r in required)
        enum = spec.get("enum")
        if isinstance(enum, list):
            node.enum = enum
        pattern = spec.get("pattern")
        if isinstance(pattern, str) and pattern:
            node.pattern_source = pattern
            node.pattern = compile_pattern(pattern)
        node.minimum = _number(spec.get("minimum"))
        node.maximum = _number(spec.get("maximum"))
        node.exclusive_minimum = spec.get("exclusiveMinimum") is True
        node.exclusive_maximum = spec.get("exclusiveMaximum") is True
        node.multiple_of = _number(spec.get("multipleOf"))
        node.min_length = _integer(spec.get("minLength"))
        node.max_length = _integer(spec.get("maxLength"))
        node.min_items = _integer(spec.get("minItems"))
        node.max_items = _integer(spec.get("maxItems"))
        node.unique_items = spec.get("uniqueItems") is True
        node.min_properties = _integer(spec.get("minProperties"))
        node.max_properties = _integer(spec.get("maxProperties"))
        # Built-in definitions keep `allOf` as a $ref wrapper that Schema already merged.
        if not self.components:
            node.all_of = self.many(spec.get("allOf"))
        node.any_of = self.many(spec.get("anyOf"))
        node.one_of = self.many(spec.get("oneOf"))
        node.not_ = self.child(spec.get("not"))
        list_type = spec.get("x-kubernetes-list-type")
        node.list_type = list_type if isinstance(list_type, str) else None
        keys = spec.get("x-kubernetes-list-map-keys")
        node.list_map_keys = tuple(keys) if isinstance(keys, list) else ()
        default = spec.get("default", _MISSING)
        # A null default is no default (the server only applies non-null ones).
        if default is not _MISSING and default is not None:
            node.has_default = True
            node.default = default
        rules = spec.get("x-kubernetes-validations")
        if isinstance(rules, list):
            node.rules = tuple(r for r in rules if isinstance(r, Mapping))

    def many(self, raw: Any) -> tuple[Node, ...]:
        if not isinstance(raw, list):
            return ()
        return tuple(self.compile(part) for part in raw if isinstance(part, Mapping))


def _is_quantity(raw: Mapping[str, Any]) -> bool:
    refs = [raw.get("$ref")]
    all_of = raw.get("allOf")
    if isinstance(all_of, list):
        refs.extend(part.get("$ref") for part in all_of if isinstance(part, Mapping))
    return any(isinstance(ref, str) and ref.endswith(".api.resource.Quantity") for ref in refs)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _integer(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


_PATTERNS: dict[str, Any] = {}


def compile_pattern(pattern: str) -> Any:
    """A compiled Go-syntax (RE2) pattern, or None if RE2 rejects it (the server reports it then)."""
    if pattern in _PATTERNS:
        return _PATTERNS[pattern]
    try:
        compiled: Any = re2.compile(pattern)
    except re2.error:
        compiled = None
    _PATTERNS[pattern] = compiled
    return compiled


_CACHE: dict[int, tuple[Mapping[str, Any], Node]] = {}
_CACHE_LIMIT = 512


def compile_schema(schema: Schema) -> Node:
    """The compiled tree of a schema; compiled once per schema document (cached by identity)."""
    key = id(schema.node)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is schema.node:
        return hit[1]
    node = _Compiler(schema.components).compile(schema.node)
    if len(_CACHE) >= _CACHE_LIMIT:
        _CACHE.clear()
    _CACHE[key] = (schema.node, node)
    return node
