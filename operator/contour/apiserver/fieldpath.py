"""Field sets as server-side apply tracks them, and their `fieldsV1` wire form.

A `FieldSet` is a trie of `PathElement`s (a field name, a list-map key, a set value or an index) naming
the leaves an object sets. It is the unit of ownership in `metadata.managedFields`, so it must read and
write `fieldsV1` exactly as kube-apiserver (sigs.k8s.io/structured-merge-diff v6) does: keys `f:name`,
`k:{"name":"app"}`, `v:"value"`, `i:0`, `.` for "this node is itself a member", sorted in the library's
order, JSON escaped like Go's jsoniter. The walkers here (`fields_of`, `remove_items`,
`ensure_named_fields`; `typedvalue` holds validate, compare and merge) read an object through its
OpenAPI `Schema` the way the library reads a typed value: atomic maps and lists are one leaf, `map`
lists are keyed by their list-map keys (or, for built-in lists without a list type, their patch merge
key), `set` lists by their values, and anything the schema does not describe is "deduced" (maps
granular, lists atomic). Everything is pure and deterministic.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from contour.apiserver.schemas import Schema, builtin_components
from contour.dag.goformat import go_quote

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

FIELD, KEY, VALUE, INDEX = 0, 1, 2, 3

# The shipped built-in schemas carry no `default`s; list-map keys that kube-apiserver defaults before it
# indexes a list (ports' `protocol`) would otherwise make `ports: [{containerPort: 80}]` unkeyable.
_KEY_DEFAULTS: dict[str, Any] = {"protocol": "TCP"}


class FieldPathError(ValueError):
    """A path element or `fieldsV1` document that cannot be read."""


class StructureError(ValueError):
    """An object whose shape its schema cannot index (a list-map item without its key, ...)."""


# ---------------------------------------------------------------------------------------------------
# Go-compatible JSON text: fieldsV1 keys and manager identifiers must be byte-identical to Go's.


def go_string(text: str) -> str:
    """A JSON string as jsoniter's standard-library-compatible config writes it (HTML-escaped)."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif code < 0x20 or ch in "<>&":
            out.append(f"\\u00{code:02x}")
        elif code in (0x2028, 0x2029):
            out.append(f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_float(number: float) -> str:
    """A float64 as Go's encoding/json writes it ('f' form, 'e' form outside [1e-6, 1e21))."""
    if math.isnan(number) or math.isinf(number):
        raise ValueError(f"unsupported value: {number!r}")
    magnitude = abs(number)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        text = repr(number)
        mantissa, _, exponent = text.partition("e")
        if exponent.startswith("-0"):
            exponent = "-" + exponent[2:]
        return f"{mantissa}e{exponent}"
    text = format(Decimal(repr(number)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "-0" if text == "-0" else text


def go_json(value: Any) -> str:
    """Compact JSON with sorted object keys, as Go encodes an unstructured value."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return go_string(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{go_string(k)}:{go_json(value[k])}" for k in sorted(value)) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(go_json(item) for item in value) + "]"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _display(value: Any) -> str:
    """structured-merge-diff's value.ToString, used in printed paths (`[name="app"]`)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, list):
        return "[" + ",".join(_display(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{k}={_display(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _value_order(value: Any) -> tuple[Any, ...]:
    """structured-merge-diff's total order of values: numbers < strings < booleans < lists < maps < null."""
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, (int, float)):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, list):
        return (3, tuple(_value_order(item) for item in value))
    if isinstance(value, Mapping):
        return (4, tuple((k, _value_order(value[k])) for k in sorted(value)))
    return (5,)


# ---------------------------------------------------------------------------------------------------
# Path elements and paths.


class PathElement:
    """One step of a path: a field name, a list-map key, a set value or a list index."""

    __slots__ = ("_identity", "_order", "kind", "payload")

    kind: int
    payload: Any
    _identity: tuple[Any, ...]
    _order: tuple[Any, ...]

    def __init__(self, kind: int, payload: Any, identity: tuple[Any, ...], order: tuple[Any, ...]) -> None:
        self.kind = kind
        self.payload = payload
        self._identity = identity
        self._order = order

    @classmethod
    def field(cls, name: str) -> PathElement:
        return cls(FIELD, name, (FIELD, name), (FIELD, name))

    @classmethod
    def key(cls, fields: Mapping[str, Any]) -> PathElement:
        """A list-map item selected by its key fields (stored sorted by name)."""
        pairs = tuple((name, fields[name]) for name in sorted(fields))
        identity = (KEY, tuple((name, go_json(v)) for name, v in pairs))
        return cls(KEY, pairs, identity, (KEY, tuple((name, _value_order(v)) for name, v in pairs)))

    @classmethod
    def value(cls, value: Any) -> PathElement:
        return cls(VALUE, value, (VALUE, go_json(value)), (VALUE, _value_order(value)))

    @classmethod
    def index(cls, index: int) -> PathElement:
        return cls(INDEX, index, (INDEX, index), (INDEX, index))

    @property
    def name(self) -> str:
        """The field name (only for field elements)."""
        return str(self.payload) if self.kind == FIELD else ""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PathElement) and self._identity == other._identity

    def __hash__(self) -> int:
        return hash(self._identity)

    def __lt__(self, other: PathElement) -> bool:
        return self._order < other._order

    def __repr__(self) -> str:
        return f"PathElement({self.serialize()!r})"

    def __str__(self) -> str:
        """Printed as in conflict messages: `.name`, `[name="app"]`, `[="value"]`, `[0]`."""
        if self.kind == FIELD:
            return f".{self.payload}"
        if self.kind == KEY:
            return "[" + ",".join(f"{name}={_display(v)}" for name, v in self.payload) + "]"
        if self.kind == VALUE:
            return f"[={_display(self.payload)}]"
        return f"[{self.payload}]"

    def serialize(self) -> str:
        """The fieldsV1 key: `f:name`, `k:{"name":"app"}`, `v:"value"` or `i:0`."""
        if self.kind == FIELD:
            return f"f:{self.payload}"
        if self.kind == KEY:
            return "k:{" + ",".join(f"{go_string(name)}:{go_json(v)}" for name, v in self.payload) + "}"
        if self.kind == VALUE:
            return "v:" + go_json(self.payload)
        return f"i:{self.payload}"

    @classmethod
    def parse(cls, text: str) -> PathElement | None:
        """Read a fieldsV1 key; None for an unknown element type (Kubernetes drops those)."""
        if len(text) < 2:
            raise FieldPathError(f"key must be 2 characters long: {text!r}")
        if text[1] != ":":
            raise FieldPathError(f"missing colon: {text!r}")
        kind, body = text[0], text[2:]
        if kind == "f":
            return cls.field(body)
        if kind == "v":
            return cls.value(_strict_json(body))
        if kind == "k":
            fields = _strict_json(body)
            if not isinstance(fields, dict):
                raise FieldPathError(f"list-map key is not a JSON object: {text!r}")
            return cls.key(fields)
        if kind == "i":
            if not re.fullmatch(r"[+-]?[0-9]+", body):
                raise FieldPathError(f"invalid index: {text!r}")
            return cls.index(int(body))
        return None


def _reject_constant(name: str) -> Any:
    raise FieldPathError(f"invalid JSON number {name}")


def _strict_json(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as err:
        raise FieldPathError(f"invalid JSON in path element: {err}") from None


Path = tuple[PathElement, ...]


def path_string(path: Sequence[PathElement]) -> str:
    """A path as Kubernetes prints it in conflicts: `.spec.containers[name="app"].image`."""
    return "".join(str(pe) for pe in path)


# ---------------------------------------------------------------------------------------------------
# Field sets.


class FieldSet:
    """A set of paths stored as a trie. Treat it as immutable once built: operations return new sets."""

    __slots__ = ("_children", "_members")

    def __init__(self) -> None:
        self._members: set[PathElement] = set()
        self._children: dict[PathElement, FieldSet] = {}

    @classmethod
    def of(cls, *paths: Sequence[PathElement]) -> FieldSet:
        out = cls()
        for path in paths:
            out.insert(path)
        return out

    def insert(self, path: Sequence[PathElement]) -> None:
        """Add one path (the empty path, the object itself, is never tracked)."""
        if not path:
            return
        node = self
        for pe in path[:-1]:
            child = node._children.get(pe)
            if child is None:
                child = node._children[pe] = FieldSet()
            node = child
        node._members.add(path[-1])

    def empty(self) -> bool:
        return not self._members and not self._children

    def has(self, path: Sequence[PathElement]) -> bool:
        node: FieldSet | None = self
        for pe in path[:-1]:
            node = node._children.get(pe) if node is not None else None
        return node is not None and bool(path) and path[-1] in node._members

    def has_member(self, pe: PathElement) -> bool:
        return pe in self._members

    def with_prefix(self, pe: PathElement) -> FieldSet:
        """The paths below `pe` (relative to it)."""
        child = self._children.get(pe)
        return child if child is not None else _EMPTY

    def copy(self) -> FieldSet:
        out = FieldSet()
        out._members = set(self._members)
        out._children = {pe: child.copy() for pe, child in self._children.items()}
        return out

    def union(self, other: FieldSet) -> FieldSet:
        out = FieldSet()
        out._members = self._members | other._members
        for pe in self._children.keys() | other._children.keys():
            mine, theirs = self._children.get(pe), other._children.get(pe)
            if mine is not None and theirs is not None:
                out._children[pe] = mine.union(theirs)
            elif mine is not None:
                out._children[pe] = mine.copy()
            elif theirs is not None:
                out._children[pe] = theirs.copy()
        return out

    def intersection(self, other: FieldSet) -> FieldSet:
        out = FieldSet()
        out._members = self._members & other._members
        for pe, mine in self._children.items():
            theirs = other._children.get(pe)
            if theirs is not None:
                both = mine.intersection(theirs)
                if not both.empty():
                    out._children[pe] = both
        return out

    def difference(self, other: FieldSet) -> FieldSet:
        """Paths in self but not in other; removing a member keeps the paths below it."""
        out = FieldSet()
        out._members = self._members - other._members
        for pe, mine in self._children.items():
            theirs = other._children.get(pe)
            rest = mine.difference(theirs) if theirs is not None else mine.copy()
            if not rest.empty():
                out._children[pe] = rest
        return out

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        """Like `difference`, but a member of other also removes every path below it."""
        out = FieldSet()
        out._members = self._members - other._members
        for pe, mine in self._children.items():
            if pe in other._members:
                continue
            theirs = other._children.get(pe)
            rest = mine.recursive_difference(theirs) if theirs is not None else mine.copy()
            if not rest.empty():
                out._children[pe] = rest
        return out

    def paths(self) -> Iterator[Path]:
        """Every path, in structured-merge-diff's iteration order (members, then children, sorted)."""
        for pe in sorted(self._members):
            yield (pe,)
        for pe in sorted(self._children):
            for rest in self._children[pe].paths():
                yield (pe, *rest)

    def __len__(self) -> int:
        return len(self._members) + sum(len(child) for child in self._children.values())

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, FieldSet)
            and self._members == other._members
            and self._children == other._children
        )

    def __hash__(self) -> int:
        return hash(self.to_json())

    def __repr__(self) -> str:
        return "FieldSet(" + ", ".join(repr(path_string(p)) for p in self.paths()) + ")"

    # fieldsV1 ---------------------------------------------------------------------------------------

    def _nodes(self) -> list[tuple[PathElement, FieldSet | None, bool]]:
        names = sorted(self._members | self._children.keys())
        return [(pe, self._children.get(pe), pe in self._members) for pe in names]

    def to_fields_v1(self) -> dict[str, Any]:
        """The fieldsV1 object, keys in Kubernetes' order (serialise it without sorting keys)."""
        return self._emit(include_self=False)

    def _emit(self, include_self: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if include_self and not self.empty():
            out["."] = {}
        for pe, child, member in self._nodes():
            out[pe.serialize()] = {} if child is None else child._emit(member)
        return out

    def to_json(self) -> str:
        """The fieldsV1 bytes exactly as kube-apiserver writes them."""
        parts: list[str] = []
        self._write(parts, include_self=False)
        return "".join(parts)

    def _write(self, parts: list[str], include_self: bool) -> None:
        parts.append("{")
        first = True
        if include_self and not self.empty():
            parts.append('".":{}')
            first = False
        for pe, child, member in self._nodes():
            if not first:
                parts.append(",")
            first = False
            parts.append(go_string(pe.serialize()) + ":")
            if child is None:
                parts.append("{}")
            else:
                child._write(parts, member)
        parts.append("}")

    @classmethod
    def from_fields_v1(cls, data: Mapping[str, Any] | str | bytes) -> FieldSet:
        """Read a fieldsV1 object (parsed, or its JSON text); raises FieldPathError if malformed."""
        if isinstance(data, (str, bytes)):
            try:
                data = json.loads(data, parse_constant=_reject_constant)
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                raise FieldPathError(f"fieldsV1 is not JSON: {err}") from None
        if not isinstance(data, Mapping):
            raise FieldPathError("fieldsV1 must be a JSON object")
        found, _ = _read_node(data)
        return found if found is not None else FieldSet()


_EMPTY = FieldSet()


def _read_node(node: Mapping[str, Any]) -> tuple[FieldSet | None, bool]:
    """(the children below this node, whether the node is itself a member of its parent)."""
    children: FieldSet | None = None
    is_member = False
    for text, value in node.items():
        if text == ".":
            is_member = True
            continue
        pe = PathElement.parse(text)
        if pe is None:
            continue
        if not isinstance(value, Mapping):
            raise FieldPathError(f"value of {text!r} must be a JSON object")
        grandchildren, child_is_member = _read_node(value)
        if children is None and (child_is_member or grandchildren is not None):
            children = FieldSet()
        if children is not None and child_is_member:
            children._members.add(pe)
        if children is not None and grandchildren is not None:
            existing = children._children.get(pe)
            children._children[pe] = grandchildren if existing is None else existing.union(grandchildren)
    if children is None:
        is_member = True
    return children, is_member


# ---------------------------------------------------------------------------------------------------
# Reading objects through their schema.


@cache
def object_meta_schema() -> Schema:
    """ObjectMeta: every kind's `metadata`, whatever its CRD schema says (kube-apiserver splices it in)."""
    components = builtin_components()
    return Schema(components[OBJECT_META], components)


def field_schema(schema: Schema | None, name: str, *, at_root: bool = False) -> tuple[Schema | None, bool]:
    """(the schema of field `name`'s value, whether `name` is a declared field rather than a map key)."""
    if at_root and name == "metadata":
        return object_meta_schema(), True
    if schema is None:
        return None, False
    declared = schema.prop(name)
    if declared is not None:
        return declared, True
    return schema.additional_properties(), False


def is_atomic_map(schema: Schema | None, *, at_root: bool = False) -> bool:
    return not at_root and schema is not None and schema.map_type == "atomic"


@dataclass(frozen=True)
class ListShape:
    """How a list is tracked: `atomic` (one leaf), `set` (by value) or `map` (by key fields)."""

    relationship: str
    keys: tuple[str, ...] = ()
    items: Schema | None = None


_ATOMIC = ListShape("atomic")


def list_shape(schema: Schema | None) -> ListShape:
    """Per kube-openapi's schemaconv: list type first, then a built-in's patch strategy, else atomic."""
    if schema is None:
        return _ATOMIC
    items = schema.items()
    list_type = schema.list_type
    if list_type == "set":
        return ListShape("set", (), items)
    if list_type == "map":
        keys = schema.list_map_keys
        return ListShape("map", keys, items) if keys else ListShape("atomic", (), items)
    if list_type is None and schema.patch_strategy in ("merge", "merge,retainKeys"):
        merge_key = schema.patch_merge_key
        return ListShape("map", (merge_key,), items) if merge_key else ListShape("set", (), items)
    return ListShape("atomic", (), items)


def item_element(item: Any, shape: ListShape) -> PathElement:
    """The path element of one item of a set or map list; raises StructureError as Kubernetes words it."""
    if shape.relationship == "map":
        if item is None:
            raise StructureError("associative list with keys may not have a null element")
        if not isinstance(item, Mapping):
            raise StructureError("associative list with keys may not have non-map elements")
        fields: dict[str, Any] = {}
        for name in shape.keys:
            if name in item:
                fields[name] = item[name]
                continue
            default = _key_default(shape, name)
            if default is None:
                raise StructureError(
                    f'associative list with keys has an element that omits key field "{name}" '
                    "(and doesn't have default value)"
                )
            fields[name] = default
        return PathElement.key(fields)
    if isinstance(item, Mapping):
        raise StructureError("associative list without keys has an element that's a map type")
    if isinstance(item, list):
        raise StructureError("not supported: associative list with lists as elements")
    if item is None:
        raise StructureError("associative list without keys has an element that's an explicit null")
    return PathElement.value(item)


def _key_default(shape: ListShape, name: str) -> Any:
    declared = shape.items.prop(name) if shape.items is not None else None
    if declared is not None and declared.get("default") is not None:
        return declared.get("default")
    return _KEY_DEFAULTS.get(name)


def fields_of(obj: Any, schema: Schema | None, *, lenient: bool = False) -> FieldSet:
    """The fields an object sets (structured-merge-diff's ToFieldSet).

    Scalars, atomic maps and atomic lists are leaves; a list-map or set item is itself a member
    (written `.` in fieldsV1) as well as a parent of its fields; map keys that are not declared fields,
    nulls and empty objects are members too. Duplicated list items count once, as a whole.
    `lenient` skips items that cannot be indexed instead of raising StructureError.
    """
    out = FieldSet()
    _collect(obj, schema, (), out, at_root=True, lenient=lenient)
    return out


def _collect(
    value: Any, schema: Schema | None, path: Path, out: FieldSet, *, at_root: bool, lenient: bool
) -> None:
    if isinstance(value, Mapping):
        if is_atomic_map(schema, at_root=at_root):
            out.insert(path)
            return
        for name, child in value.items():
            child_schema, named = field_schema(schema, name, at_root=at_root)
            child_path = (*path, PathElement.field(name))
            _collect(child, child_schema, child_path, out, at_root=False, lenient=lenient)
            if child is None or (isinstance(child, Mapping) and not child) or not named:
                out.insert(child_path)
    elif isinstance(value, list):
        shape = list_shape(schema)
        if shape.relationship == "atomic":
            out.insert(path)
            return
        elements: list[PathElement | None] = []
        for item in value:
            try:
                elements.append(item_element(item, shape))
            except StructureError:
                if not lenient:
                    raise
                elements.append(None)
        seen: set[PathElement] = set()
        duplicated: set[PathElement] = set()
        for pe in elements:
            if pe is not None and pe in seen:
                duplicated.add(pe)
            if pe is not None:
                seen.add(pe)
        for pe in duplicated:
            out.insert((*path, pe))
        for item, maybe_pe in zip(value, elements, strict=True):
            if maybe_pe is None or maybe_pe in duplicated:
                continue
            item_path = (*path, maybe_pe)
            _collect(item, shape.items, item_path, out, at_root=False, lenient=lenient)
            out.insert(item_path)
    elif value is not None:
        out.insert(path)


def ensure_named_fields(fields: FieldSet, schema: Schema | None, *, at_root: bool = True) -> FieldSet:
    """`fields` plus every declared (struct) field that has paths below it, as a member.

    Map keys and list items are not added: owning `.spec.replicas` implies `.spec` exists, owning
    `.metadata.labels.app` implies `.metadata.labels`, but not any other label.
    """
    out = FieldSet()
    out._members = set(fields._members)
    for pe, child in fields._children.items():
        if pe.kind == FIELD:
            child_schema, named = field_schema(schema, pe.name, at_root=at_root)
            if named:
                out._members.add(pe)
        else:
            child_schema = list_shape(schema).items
        out._children[pe] = ensure_named_fields(child, child_schema, at_root=False)
    return out


class _Gone:
    """Marks a value whose every part was removed (Go's nil): its key or item is dropped."""


_GONE = _Gone()


def remove_items(obj: Any, fields: FieldSet, schema: Schema | None) -> Any:
    """A copy of `obj` without the paths that are members of `fields` (and everything below them).

    Containers left empty by the removal disappear. The input is not modified; unchanged subtrees are
    shared with it, so callers that mutate the result must copy it first.
    """
    result = _remove(obj, fields, schema, True)
    return {} if isinstance(result, _Gone) else result


def _remove(value: Any, fields: FieldSet, schema: Schema | None, at_root: bool) -> Any:
    if isinstance(value, Mapping):
        if not value or is_atomic_map(schema, at_root=at_root):
            return _GONE
        out: dict[str, Any] = {}
        for name, child in value.items():
            pe = PathElement.field(name)
            if fields.has_member(pe):
                continue
            below = fields.with_prefix(pe)
            if below.empty():
                out[name] = child
                continue
            child_schema, _ = field_schema(schema, name, at_root=at_root)
            kept = _remove(child, below, child_schema, False)
            if not isinstance(kept, _Gone):
                out[name] = kept
        return out if out else _GONE
    if isinstance(value, list):
        shape = list_shape(schema)
        if not value or shape.relationship == "atomic":
            return _GONE
        items: list[Any] = []
        for item in value:
            try:
                pe = item_element(item, shape)
            except StructureError:
                items.append(item)
                continue
            if fields.has_member(pe):
                continue
            below = fields.with_prefix(pe)
            if below.empty():
                items.append(item)
                continue
            kept = _remove(item, below, shape.items, False)
            if not isinstance(kept, _Gone):
                items.append(kept)
        return items if items else _GONE
    return value
