"""Kubernetes strategic merge patch (`application/strategic-merge-patch+json`) for built-in kinds.

Client-side `kubectl apply` and `kubectl patch` (its default `--type strategic`) send these for
built-in kinds. The server half of k8s.io/apimachinery/pkg/util/strategicpatch is rebuilt here on the
kind's OpenAPI schema (`x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`): lists whose
strategy is `merge` merge element-wise by their merge key (primitive lists merge as sets), other lists
are replaced, maps merge recursively and `null` deletes. The directives:

* `$patch: replace` on a map replaces it, `$patch: delete` empties it; in a merging list an element
  `{$patch: replace}` replaces the whole list and `{<key>: v, $patch: delete}` deletes that element;
* `$retainKeys: [...]` keeps only the named fields of the map it sits in;
* `$deleteFromPrimitiveList/<field>: [...]` removes values from a primitive list;
* `$setElementOrder/<field>: [...]` orders a list: its order first, then the patch's, then the live one.

The real server rejects `$patch: merge` ("unknown patch type" on a map, "merging lists cannot yet be
specified" in a list) and so does this. Errors carry the real server's Status: malformed directives
are 400, lists of lists 422, and anything else the library reports (a missing merge key, mixed element
types) is a 500 whose reason is empty and whose message is the library's, as `kubectl` prints it
("Error from server: map: map[image:x] does not contain declared merge key: name").

Differences from the real server, which decodes the result into Go structs: values the patch inserts
verbatim (new fields, new list elements, replaced lists) lose their `null` members and any directives,
which the typed decoding would otherwise drop or reject. Custom resources never get here: the real
server answers strategic merge patches to them with 415, and the caller enforces that.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from contour.apiserver.errors import APIError, bad_request
from contour.apiserver.jsonpatch import check_depth, deep_copy, json_equal, rejected
from contour.apiserver.schemas import Schema

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"
SET_ELEMENT_ORDER = "$setElementOrder"

# apimachinery/pkg/util/mergepatch's sentinel errors that kube-apiserver maps to 400 and 422.
BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
BAD_SET_ELEMENT_ORDER = "invalid patch type of setElementOrder list"
NO_LIST_OF_LISTS = "lists of lists are not supported"

_MAP = "map[string]interface {}"
_SLICE = "[]interface {}"
_DROP = object()


class _PatchError(Exception):
    def __init__(self, message: str, code: int = 500) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def api_error(self) -> APIError:
        if self.code == 400:
            return bad_request(self.message)
        if self.code == 422:
            return rejected(self.message)
        # Not a Status error: the server answers 500 with StatusReasonUnknown ("") and the bare message.
        return APIError(500, "", self.message)


# --- Go's %v


def go_type(value: Any) -> str:
    """The Go type a decoded JSON value has in apimachinery (integers are int64)."""
    if value is None:
        return "%!s(<nil>)"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    return _SLICE if isinstance(value, list) else _MAP


def _go_float(value: float) -> str:
    # %v of a float64 is %g with the shortest digits, switching to an exponent below 1e-4 or from 1e6 on.
    if value == 0:
        return "-0" if str(value).startswith("-") else "0"
    sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exponent  # digits before the decimal point
    prefix = "-" if sign else ""
    if point - 1 < -4 or point - 1 >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        power = point - 1
        return f"{prefix}{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return prefix + digits + "0" * (point - len(digits))
    return f"{prefix}{digits[:point]}.{digits[point:]}"


def go_format(value: Any) -> str:
    """`fmt.Sprintf("%v", value)` for a decoded JSON value (maps print with sorted keys)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, list):
        return "[" + " ".join(go_format(item) for item in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{key}:{go_format(value[key])}" for key in sorted(value)) + "]"
    return str(value)


def _go_string(value: Any) -> str:
    """`%s` of an interface value: strings print bare, anything else as Go's bad-verb notation."""
    if isinstance(value, str):
        return value
    if value is None:
        return "%!s(<nil>)"
    return f"%!s({go_type(value)}={go_format(value)})"


def _bad_arg_type(expected: str, actual: Any) -> _PatchError:
    return _PatchError(f"expected a {expected}, but received a {go_type(actual)}")


def _no_merge_key(item: dict[str, Any], merge_key: str) -> _PatchError:
    return _PatchError(f"map: {go_format(item)} does not contain declared merge key: {merge_key}")


# --- schema


@dataclass(frozen=True)
class _Field:
    """What the schema says about one field: its schema, its patch strategy and its merge key."""

    schema: Schema | None
    strategy: str = ""
    merge_key: str = ""

    def items(self) -> Schema | None:
        return self.schema.items() if self.schema is not None else None


def _field(schema: Schema | None, name: str) -> _Field:
    if schema is None:
        return _Field(None)
    child = schema.prop(name) or schema.additional_properties()
    if child is None:
        return _Field(None)
    strategies = [s for s in (child.patch_strategy or "").split(",") if s]
    if len(strategies) > 2 or (len(strategies) == 2 and "retainKeys" not in strategies):
        raise _PatchError(f"unexpected patch strategy: {go_format(strategies)}")
    others = [s for s in strategies if s != "retainKeys"]
    return _Field(child, others[0] if others else "", child.patch_merge_key or "")


# --- values


def _tag(value: Any) -> str:
    kind = go_type(value)
    return {_MAP: "map", _SLICE: "slice", "%!s(<nil>)": "nil"}.get(kind, kind)


def _same(a: Any, b: Any) -> bool:
    """Go's `==` on decoded JSON values: int64 1 and float64 1 differ, and so do true and 1."""
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        return json_equal(a, b)
    return _tag(a) == _tag(b) and bool(a == b)


def _hashable(value: Any) -> tuple[str, Any] | None:
    return None if isinstance(value, (dict, list)) else (_tag(value), value)


class _Positions:
    """First position of each value (a map's merge-key value) in a list, for ordering lookups."""

    def __init__(self, order: list[Any], merge_key: str) -> None:
        self.merge_key = merge_key
        self.values = [self.value(item) for item in order]
        self.index: dict[tuple[str, Any], int] = {}
        for position, value in enumerate(self.values):
            key = _hashable(value)
            if key is not None:
                self.index.setdefault(key, position)

    def value(self, item: Any) -> Any:
        if not self.merge_key:
            return item
        return item.get(self.merge_key) if isinstance(item, dict) else None

    def of(self, item: Any) -> int:
        value = self.value(item)
        key = _hashable(value)
        if key is not None:
            return self.index.get(key, -1)
        return next((i for i, other in enumerate(self.values) if _same(value, other)), -1)


def _element_kind(*lists: list[Any]) -> str:
    """The one element type of the lists ("map", "string", ...), as apimachinery's sliceElementType."""
    kind = ""
    for items in lists:
        for item in items:
            tag = _tag(item)
            if not kind:
                if tag == "slice":
                    raise _PatchError(NO_LIST_OF_LISTS, 422)
                kind = tag
            elif tag != kind:
                raise _PatchError(f"list element types are not identical: {go_format(list(lists))}")
    if not kind:
        raise _PatchError("no elements in any of the given slices")
    return kind


def _clean(value: Any) -> Any:
    """A patch value inserted verbatim: without null members, and without maps carrying `$patch` or
    other directives (`_DROP` when the value itself is such a map)."""
    if isinstance(value, dict):
        if DIRECTIVE in value:
            return _DROP
        out: dict[str, Any] = {}
        for key, child in value.items():
            if child is None or _is_directive(key):
                continue
            cleaned = _clean(child)
            if cleaned is not _DROP:
                out[key] = cleaned
        return out
    if isinstance(value, list):
        return [cleaned for child in value if (cleaned := _clean(child)) is not _DROP]
    return value


def _is_directive(key: str) -> bool:
    return key == RETAIN_KEYS or key.startswith((SET_ELEMENT_ORDER + "/", DELETE_FROM_PRIMITIVE_LIST + "/"))


def _directive_field(key: str, prefix: str, error: str) -> str:
    head, slash, field = key.partition("/")
    if head != prefix or not slash:
        raise _PatchError(error, 400)
    return field


def _merge_key_value(item: Any, merge_key: str) -> Any:
    if not isinstance(item, dict):
        raise _bad_arg_type(_MAP, item)
    if merge_key not in item:
        raise _no_merge_key(item, merge_key)
    return item[merge_key]


# --- ordering


def _sort_by(items: list[Any], order: list[Any], merge_key: str, is_map: bool) -> list[Any]:
    if is_map:
        for item in (*items, *order):
            _merge_key_value(item, merge_key)
    positions = _Positions(order, merge_key)
    # Items the order does not know go last, in their own order (apimachinery's comparator is not a
    # strict order for them; no well-formed patch produces any).
    return sorted(items, key=lambda item: (0, p) if (p := positions.of(item)) >= 0 else (1, 0))


def _normalize_order(
    patch_items: list[Any],
    server_only: list[Any],
    patch_order: list[Any],
    server_order: list[Any],
    merge_key: str,
) -> list[Any]:
    """Patch items in the patch's order, interleaved with server-only items where the live list had
    them: walk both, taking the server-only item only when it came first in the live list."""
    is_map = bool(merge_key)
    right = _sort_by(patch_items, patch_order, merge_key, is_map)
    left = _sort_by(server_only, server_order, merge_key, is_map)
    live = _Positions(server_order, merge_key)
    merged: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if j >= len(right):
            merged.append(left[i])
            i += 1
            continue
        if i < len(left):
            li, ri = live.of(left[i]), live.of(right[j])
            if 0 <= li < ri:
                merged.append(left[i])
                i += 1
                continue
        merged.append(right[j])
        j += 1
    return merged


def _partition(merged: list[Any], by: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    """Split the merged list into the items `by` names and the ones only the server has."""
    if merge_key:
        for position, item in enumerate(by):
            if not isinstance(item, dict):
                raise _PatchError(f"value for key {position} is not a map")
        for item in merged:
            _merge_key_value(item, merge_key)
    present = _Positions(by, merge_key)
    named = [item for item in merged if present.of(item) >= 0]
    server_only = [item for item in merged if present.of(item) < 0]
    return named, server_only


def _validate_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """The patch list's items must appear in the `$setElementOrder` list, in the same relative order."""
    if not order or not patch_list:
        return
    items = patch_list
    if merge_key:
        for item in patch_list:
            if not isinstance(item, dict):
                raise _bad_arg_type(_MAP, item)
        items = [item for item in patch_list if item.get(DIRECTIVE) != "delete"]
    i = j = 0
    while i < len(items) and j < len(order):
        item = items[i]
        if isinstance(item, dict) and DIRECTIVE in item:
            i += 1
            continue
        if merge_key:
            equal = _same(_merge_key_value(item, merge_key), _merge_key_value(order[j], merge_key))
        else:
            equal = _same(item, order[j])
        if equal:
            i += 1
        j += 1
    if i < len(items):
        raise _PatchError(
            f"the order in patch list:\n{go_format(patch_list)}\n doesn't match "
            f"{SET_ELEMENT_ORDER} list:\n{go_format(order)}"
        )


# --- merging


def _dedupe(items: list[Any]) -> list[Any]:
    seen: set[tuple[str, Any]] = set()
    unique: list[Any] = []
    for item in items:
        key = _hashable(item)
        if key is None:
            if not any(_same(item, other) for other in unique):
                unique.append(item)
        elif key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def _merge_list(original: list[Any], patch: list[Any], field: _Field, delete_list: bool) -> list[Any]:
    if field.strategy != "merge" and not delete_list:
        replaced: list[Any] = _clean(patch)
        return replaced
    if not original and not patch:
        return original
    merge_key = field.merge_key
    if _element_kind(original, patch) != "map":
        if delete_list:
            doomed = _Positions(patch, "")
            return [item for item in original if doomed.of(item) < 0]
        merged = _dedupe([*original, *patch])
        named, server_only = _partition(merged, patch, "")
        return _normalize_order(named, server_only, patch, original, "")
    if not merge_key:
        raise _PatchError("cannot merge lists without merge key for struct")
    live, updates, replace = _special_elements(original, patch, merge_key)
    if replace:
        return _normalize_order([], updates, [], updates, merge_key)
    merged = list(live)
    for update in updates:
        value = _merge_key_value(update, merge_key)
        position = next(
            (
                i
                for i, item in enumerate(merged)
                if isinstance(item, dict) and merge_key in item and _same(item[merge_key], value)
            ),
            -1,
        )
        if position >= 0:
            merged[position] = _merge_map(merged[position], update, field.items())
        else:
            merged.append(_clean(update))
    named, server_only = _partition(merged, updates, merge_key)
    # The live order is the list before the patch's new elements were appended.
    return _normalize_order(named, server_only, updates, live, merge_key)


def _special_elements(
    original: list[Any], patch: list[Any], merge_key: str
) -> tuple[list[Any], list[Any], bool]:
    """Apply the `$patch` elements of a merging list of maps: (live list after deletions, the patch's
    other elements, whether an element asked for the whole list to be replaced by those)."""
    kept: list[Any] = []
    replace = False
    for item in patch:
        if DIRECTIVE not in item:
            kept.append(item)
            continue
        directive = item[DIRECTIVE]
        if directive == "delete":
            value = _merge_key_value(item, merge_key)
            original = [
                live
                for live in original
                if not (isinstance(live, dict) and merge_key in live and _same(live[merge_key], value))
            ]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise _PatchError("merging lists cannot yet be specified in the patch")
        else:
            raise _PatchError(f"unknown patch type: {_go_string(directive)} in map: {go_format(item)}")
    if replace:
        return [], [_clean(item) for item in kept], True
    return original, kept, False


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    if RETAIN_KEYS not in patch:
        return
    retain = patch.pop(RETAIN_KEYS)
    if not isinstance(retain, list):
        raise _PatchError(BAD_RETAIN_KEYS, 400)
    kept = {key for key in retain if isinstance(key, str)}
    for key, value in patch.items():
        if value is None or key.startswith((DELETE_FROM_PRIMITIVE_LIST, SET_ELEMENT_ORDER)):
            continue
        if key not in kept:
            raise _PatchError(BAD_RETAIN_KEYS, 400)
    for key in [key for key in original if key not in kept]:
        del original[key]


def _as_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _bad_arg_type(_SLICE, value)
    return value


def _apply_element_order(original: dict[str, Any], patch: dict[str, Any], schema: Schema | None) -> None:
    """Merge every list that has a `$setElementOrder/<field>` directive, then order it."""
    for key in [key for key in patch if key.startswith(SET_ELEMENT_ORDER)]:
        order = patch.pop(key)
        order = _as_list(order)
        name = _directive_field(key, SET_ELEMENT_ORDER, BAD_SET_ELEMENT_ORDER)
        live = _as_list(original[name]) if name in original else None
        update = _as_list(patch[name]) if name in patch else None
        field = _field(schema, name)
        _validate_order(update or [], order, field.merge_key)
        if live is not None and update is not None:
            merged = _merge_list(live, update, field, False)
        elif update is not None:
            merged = list(_clean(update))
        elif live is not None:
            merged = live
        else:
            continue
        named, server_only = _partition(merged, order, field.merge_key)
        _element_kind(live or [], update or [])
        original[name] = _normalize_order(named, server_only, order, live or [], field.merge_key)
        patch.pop(name, None)


def _merge_map(original: dict[str, Any], patch: dict[str, Any], schema: Schema | None) -> dict[str, Any]:
    """Merge `patch` into `original` (a private copy, changed in place) and return the result."""
    if DIRECTIVE in patch:
        directive = patch[DIRECTIVE]
        if directive == "replace":
            replaced: dict[str, Any] = _clean({k: v for k, v in patch.items() if k != DIRECTIVE})
            return replaced
        if directive == "delete":
            return {}
        raise _PatchError(f"unknown patch type: {_go_string(directive)} in map: {go_format(patch)}")
    patch = dict(patch)  # directives are popped from this shallow copy, never from the caller's patch
    _apply_retain_keys(original, patch)
    _apply_element_order(original, patch, schema)
    for patch_key, value in patch.items():
        key = patch_key
        delete_list = key.startswith(DELETE_FROM_PRIMITIVE_LIST)
        if delete_list:
            key = _directive_field(key, DELETE_FROM_PRIMITIVE_LIST, BAD_PRIMITIVE_LIST)
        if value is None:
            original.pop(key, None)
            continue
        current = original.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            field = _field(schema, key)
            if field.strategy == "replace":
                original[key] = _clean(value)
            else:
                original[key] = _merge_map(current, value, field.schema)
        elif isinstance(current, list) and isinstance(value, list):
            original[key] = _merge_list(current, value, _field(schema, key), delete_list)
        elif not delete_list:
            cleaned = _clean(value)
            if cleaned is _DROP:
                original.pop(key, None)
            else:
                original[key] = cleaned
    return original


def apply_strategic_merge_patch(doc: dict[str, Any], patch: dict[str, Any], schema: Schema) -> dict[str, Any]:
    """Apply a strategic merge patch (the decoded request body) to `doc`; returns a new object.

    `schema` is the kind's schema (`builtin_schema(...)`). Raises `APIError` with the real server's
    code: 400 for a body that is not an object or a malformed directive, 422 for lists of lists, 500
    for what the real server reports as an internal error. Neither input is modified.
    """
    if patch is None:
        return dict(deep_copy(doc))  # `null` decodes to an empty patch
    if not isinstance(patch, dict):
        kind = {list: "array", str: "string", bool: "bool"}.get(type(patch), "number")
        raise bad_request(f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}")
    check_depth(patch, "patch")
    check_depth(doc, "object")
    try:
        return _merge_map(deep_copy(doc), patch, schema)
    except _PatchError as error:
        raise error.api_error() from None
    except RecursionError:  # a backstop only: check_depth keeps recursion far below the stack limit
        raise bad_request("the patch is nested too deeply to apply") from None


strategic_merge_patch = apply_strategic_merge_patch
