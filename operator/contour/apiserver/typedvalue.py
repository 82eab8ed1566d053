"""Operations on whole objects read through their schema: validate, compare, merge.

These are structured-merge-diff v6's typed-value operations (`typed.Validate`, `Compare`, `Merge`), the
steps server-side apply runs on a live object, an update or an applied configuration. They sit apart
from `fieldpath` (which defines field sets and the schema shapes they are read with) and from
`fieldmanager` (which decides who owns which fields), because they only answer questions about values:
can this object be indexed, which fields did a write add, modify or remove, what does merging a
configuration into a live object give. Everything is pure: inputs are never modified.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from contour.apiserver.fieldpath import (
    FieldSet,
    ListShape,
    Path,
    PathElement,
    StructureError,
    field_schema,
    is_atomic_map,
    item_element,
    list_shape,
)
from contour.apiserver.schemas import Schema

# ---------------------------------------------------------------------------------------------------
# Validating: can every set and map list in an object be indexed.


def validate(obj: Any, schema: Schema | None, *, allow_duplicates: bool) -> list[str]:
    """Structural errors that stop structured-merge-diff from typing `obj`, as `path: message` lines."""
    errors: list[str] = []
    _validate(obj, schema, "", errors, at_root=True, dups=allow_duplicates)
    return errors


def format_errors(errors: Sequence[str]) -> str:
    if len(errors) == 1:
        return errors[0]
    return "\n".join(["errors:", *("  " + e for e in errors)])


def _at(path: str, message: str) -> str:
    return f"{path}: {message}" if path else message


def _validate(
    value: Any, schema: Schema | None, path: str, errors: list[str], *, at_root: bool, dups: bool
) -> None:
    if not at_root and (schema is None or not _indexed_below(schema)):
        return
    if isinstance(value, Mapping):
        for name, child in value.items():
            child_schema, _ = field_schema(schema, name, at_root=at_root)
            _validate(child, child_schema, f"{path}.{name}", errors, at_root=False, dups=dups)
    elif isinstance(value, list):
        shape = list_shape(schema)
        if shape.relationship == "atomic":
            for i, item in enumerate(value):
                _validate(item, shape.items, f"{path}[{i}]", errors, at_root=False, dups=dups)
            return
        seen: set[PathElement] = set()
        for i, item in enumerate(value):
            try:
                pe = item_element(item, shape)
            except StructureError as err:
                errors.append(_at(path, f"element {i}: {err}"))
                return
            if pe in seen and not dups:
                errors.append(_at(path, f"duplicate entries for key {pe}"))
            seen.add(pe)
            _validate(item, shape.items, f"{path}{pe}", errors, at_root=False, dups=dups)


# Schema nodes already classified, by identity of the node and of the components its references resolve
# in (every CRD schema node has its own empty ones). Both are kept so that their ids are not reused. The
# bound only matters for nodes built afresh per lookup (an `allOf`), which would otherwise accumulate.
_INDEXED_BELOW: dict[tuple[int, int], tuple[Mapping[str, Any], Mapping[str, Any], bool]] = {}
_INDEXED_BELOW_LIMIT = 4096
_SCHEMA_WALK_LIMIT = 10_000
_NO_COMPONENTS: Mapping[str, Any] = {}


def _indexed_below(schema: Schema) -> bool:
    """Whether a value typed by `schema` can hold a set or map list: only those can fail validation."""
    components = schema.components or _NO_COMPONENTS
    key = (id(schema.node), id(components))
    cached = _INDEXED_BELOW.get(key)
    if cached is not None and cached[0] is schema.node and cached[1] is components:
        return cached[2]
    found = _reaches_indexed_list(schema)
    if len(_INDEXED_BELOW) >= _INDEXED_BELOW_LIMIT:
        _INDEXED_BELOW.clear()
    _INDEXED_BELOW[key] = (schema.node, components, found)
    return found


def _reaches_indexed_list(root: Schema) -> bool:
    seen: dict[int, Mapping[str, Any]] = {id(root.node): root.node}  # kept alive so ids stay unique
    pending = [root]
    while pending:
        schema = pending.pop()
        if list_shape(schema).relationship != "atomic":
            return True
        children = [*schema.properties.values(), schema.items(), schema.additional_properties()]
        for child in children:
            if child is not None and id(child.node) not in seen:
                seen[id(child.node)] = child.node
                pending.append(child)
        if len(seen) > _SCHEMA_WALK_LIMIT:
            return True  # a schema this large is simply walked value by value
    return False


# ---------------------------------------------------------------------------------------------------
# Comparing and merging.


class _Absent:
    """A field that is not there (as opposed to one that is null)."""


_ABSENT = _Absent()


def equal(a: Any, b: Any) -> bool:
    """Deep equality where true is not 1 but 1 is 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (Mapping, list)) or isinstance(b, (Mapping, list)):
        return False
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and bool(a == b)


def _container(a: Any, b: Any) -> str:
    """`map` or `list` when both sides are that container (or null / absent), else `leaf`."""
    kinds = {type(v) for v in (a, b) if v is not None and not isinstance(v, _Absent)}
    if kinds and all(issubclass(k, Mapping) for k in kinds):
        return "map"
    if kinds and all(issubclass(k, list) for k in kinds):
        return "list"
    return "leaf"


@dataclass(frozen=True)
class Comparison:
    added: FieldSet
    modified: FieldSet
    removed: FieldSet

    def excluding(self, ignored: FieldSet | None) -> Comparison:
        if ignored is None or ignored.empty():
            return self
        return Comparison(
            self.added.recursive_difference(ignored),
            self.modified.recursive_difference(ignored),
            self.removed.recursive_difference(ignored),
        )


def compare(lhs: Any, rhs: Any, schema: Schema | None) -> Comparison:
    """The fields rhs adds, modifies and removes relative to lhs (structured-merge-diff's Compare)."""
    added, modified, removed = FieldSet(), FieldSet(), FieldSet()
    _compare(lhs, rhs, schema, (), (added, modified, removed), at_root=True)
    return Comparison(added, modified, removed)


def _leaf(lhs: Any, rhs: Any, path: Path, sets: tuple[FieldSet, FieldSet, FieldSet]) -> None:
    if isinstance(lhs, _Absent):
        sets[0].insert(path)
    elif isinstance(rhs, _Absent):
        sets[2].insert(path)
    elif not equal(lhs, rhs):
        sets[1].insert(path)


def _compare(
    lhs: Any,
    rhs: Any,
    schema: Schema | None,
    path: Path,
    sets: tuple[FieldSet, FieldSet, FieldSet],
    *,
    at_root: bool,
) -> None:
    kind = _container(lhs, rhs)
    if kind == "map":
        left = lhs if isinstance(lhs, Mapping) else {}
        right = rhs if isinstance(rhs, Mapping) else {}
        if is_atomic_map(schema, at_root=at_root) or (not left and not right):
            _leaf(lhs, rhs, path, sets)
            return
        for name in [*left, *(k for k in right if k not in left)]:
            child_schema, _ = field_schema(schema, name, at_root=at_root)
            child_path = (*path, PathElement.field(name))
            _compare(
                left.get(name, _ABSENT),
                right.get(name, _ABSENT),
                child_schema,
                child_path,
                sets,
                at_root=False,
            )
    elif kind == "list":
        left_items = lhs if isinstance(lhs, list) else []
        right_items = rhs if isinstance(rhs, list) else []
        shape = list_shape(schema)
        if shape.relationship == "atomic" or (not left_items and not right_items):
            _leaf(lhs, rhs, path, sets)
            return
        _compare_items(left_items, right_items, shape, path, sets)
    else:
        _leaf(lhs, rhs, path, sets)
        return
    if isinstance(lhs, _Absent):
        sets[0].insert(path)
    elif isinstance(rhs, _Absent):
        sets[2].insert(path)


def _group(items: list[Any], shape: ListShape) -> tuple[list[PathElement], dict[PathElement, list[Any]]]:
    order: list[PathElement] = []
    groups: dict[PathElement, list[Any]] = {}
    for item in items:
        pe = item_element(item, shape)
        if pe not in groups:
            order.append(pe)
            groups[pe] = []
        groups[pe].append(item)
    return order, groups


def _compare_items(
    lhs: list[Any], rhs: list[Any], shape: ListShape, path: Path, sets: tuple[FieldSet, FieldSet, FieldSet]
) -> None:
    """Items are matched by key; duplicated keys are compared as a whole, like an atomic value."""
    item_schema = shape.items
    left_order, left = _group(lhs, shape)
    right_order, right = _group(rhs, shape)
    for pe in [*left_order, *(pe for pe in right_order if pe not in left)]:
        before, after = left.get(pe, []), right.get(pe, [])
        item_path = (*path, pe)
        if len(before) <= 1 and len(after) <= 1:
            _compare(
                before[0] if before else _ABSENT,
                after[0] if after else _ABSENT,
                item_schema,
                item_path,
                sets,
                at_root=False,
            )
        elif len(before) >= 2 and len(after) >= 2:
            if not equal(before, after):
                sets[1].insert(item_path)
        elif len(before) >= 2:
            if after:
                _compare(_ABSENT, after[0], item_schema, item_path, sets, at_root=False)
            sets[2].insert(item_path)
        else:
            if before:
                _compare(before[0], _ABSENT, item_schema, item_path, sets, at_root=False)
            sets[0].insert(item_path)


def merge(lhs: Any, rhs: Any, schema: Schema | None, *, at_root: bool = True) -> Any:
    """rhs merged into lhs (structured-merge-diff's Merge); shares unchanged parts with its inputs."""
    if isinstance(rhs, _Absent):
        return lhs
    if isinstance(lhs, _Absent):
        return rhs
    kind = _container(lhs, rhs)
    if kind == "map":
        left = lhs if isinstance(lhs, Mapping) else {}
        right = rhs if isinstance(rhs, Mapping) else {}
        if is_atomic_map(schema, at_root=at_root) or (not left and not right):
            return rhs
        out: dict[str, Any] = {}
        for name in [*left, *(k for k in right if k not in left)]:
            child_schema, _ = field_schema(schema, name, at_root=at_root)
            out[name] = merge(left.get(name, _ABSENT), right.get(name, _ABSENT), child_schema, at_root=False)
        return out
    if kind == "list":
        left_items = lhs if isinstance(lhs, list) else []
        right_items = rhs if isinstance(rhs, list) else []
        shape = list_shape(schema)
        if shape.relationship == "atomic" or (not left_items and not right_items):
            return rhs
        return _merge_items(left_items, right_items, shape)
    return rhs


def _merge_items(lhs: list[Any], rhs: list[Any], shape: ListShape) -> list[Any]:
    """Shared items take the applied order; live-only items keep their place between them."""
    rhs_pes = [item_element(item, shape) for item in rhs]
    observed_rhs = dict(zip(rhs_pes, rhs, strict=True))
    lhs_pes = [item_element(item, shape) for item in lhs]
    observed_lhs: dict[PathElement, Any] = {}
    for pe, item in zip(lhs_pes, lhs, strict=True):
        # A duplicated live item is not merged with the applied one: the applied one replaces them all.
        observed_lhs[pe] = None if pe in observed_lhs else item
    shared = [pe for pe in rhs_pes if pe in observed_lhs]
    next_shared = shared.pop(0) if shared else None
    merged_rhs: set[PathElement] = set()
    out: list[Any] = []
    li = ri = 0
    while li < len(lhs_pes) or ri < len(rhs_pes):
        if li < len(lhs_pes) and ri < len(rhs_pes):
            pe = lhs_pes[li]
            if pe == rhs_pes[ri]:
                merged_rhs.add(pe)
                out.append(merge(observed_lhs[pe], observed_rhs[pe], shape.items, at_root=False))
                li += 1
                ri += 1
                next_shared = shared.pop(0) if shared else None
                continue
            if pe in observed_rhs and next_shared is not None and next_shared != pe:
                li += 1
                continue
        if li < len(lhs_pes):
            pe = lhs_pes[li]
            if pe not in observed_rhs:
                out.append(lhs[li])
                li += 1
                continue
            if pe in merged_rhs:
                li += 1
        if ri < len(rhs_pes):
            pe = rhs_pes[ri]
            merged_rhs.add(pe)
            out.append(merge(observed_lhs.get(pe, _ABSENT), observed_rhs[pe], shape.items, at_root=False))
            ri += 1
            if next_shared is not None and next_shared == pe:
                next_shared = shared.pop(0) if shared else None
    return out
