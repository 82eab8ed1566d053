"""RFC 6902 JSON Patch (`application/json-patch+json`) as kube-apiserver applies it.

kube-apiserver applies JSON patches with gopkg.in/evanphx/json-patch.v4, which kubectl and kr8s users
meet through its error messages and a few deliberate departures from the RFC that Kubernetes keeps for
compatibility (https://github.com/evanphx/json-patch/pull/111):

* `replace` of a missing object member adds it instead of failing;
* `copy` from a missing object member copies `null`;
* array indices may be negative (counted from the end, `add` at -1 appends);
* `add`/`remove` of the whole document (path "") fail, `replace` with path "" swaps the whole document
  for an object or array value and ignores any other value;
* whatever precedes a pointer's first "/" is ignored ("a/b" names "/b").

Errors carry the real server's Status: a body that is not a list of operations is 400 BadRequest
("error decoding patch: ..."), more than 10,000 operations is 413, and any failure while applying
(missing path, bad index, failed `test`) is 422 Invalid with the generic message and the library's
own message as the single `UnexpectedServerResponse` cause.

The helpers here (`deep_copy`, `json_equal`, `check_depth`) walk values with an explicit stack, so a
deeply nested value costs memory, not Python stack frames; the patch modules share them.
"""

from __future__ import annotations

import json
import re
from typing import Any

from contour.apiserver.errors import APIError, Cause, bad_request

MAX_OPERATIONS = 10_000
# kube-apiserver's default JSONPatchMaxCopyBytes (genericapiserver's Config): 3 MiB.
MAX_COPY_BYTES = 3 * 1024 * 1024
# Deeper values are refused (400) before any work. Kubernetes objects nest well under 100 levels; the
# cap leaves Python's default 1000-frame stack room for the caller's own JSON encoding and for the
# recursive strategic merge.
MAX_DEPTH = 500

REJECTED = "the server rejected our request due to an error in our request"
_INDEX = re.compile(r"[+-]?[0-9]+")
_INT64_MAX = 2**63 - 1


# --- shared helpers


def deep_copy(value: Any) -> Any:
    """A copy of a JSON value whose dicts and lists are all new (iterative: depth costs no stack)."""
    if not isinstance(value, (dict, list)):
        return value
    root: dict[str, Any] | list[Any] = {} if isinstance(value, dict) else []
    stack: list[tuple[Any, Any]] = [(value, root)]
    while stack:
        source, target = stack.pop()
        items = source.items() if isinstance(source, dict) else enumerate(source)
        for key, child in items:
            value_copy = child
            if isinstance(child, (dict, list)):
                value_copy = {} if isinstance(child, dict) else []
                stack.append((child, value_copy))
            if isinstance(target, dict):
                target[key] = value_copy
            else:
                target.append(value_copy)
    return root


def json_depth(value: Any, limit: int) -> int:
    """How many containers deep `value` nests (a scalar is 0), counting no further than `limit` + 1."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, (dict, list)):
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def check_depth(value: Any, what: str, limit: int = MAX_DEPTH) -> None:
    """Refuse (400) a value nested deeper than `limit` containers before any recursive work sees it."""
    if json_depth(value, limit) > limit:
        raise bad_request(f"the {what} is nested more than {limit} levels deep")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def json_equal(left: Any, right: Any) -> bool:
    """JSON equality: numbers by value, but never a bool equal to a number (unlike Python's ==)."""
    stack: list[tuple[Any, Any]] = [(left, right)]
    while stack:
        a, b = stack.pop()
        kind = _kind(a)
        if kind != _kind(b):
            return False
        if kind == "object":
            if a.keys() != b.keys():
                return False
            stack.extend((a[key], b[key]) for key in a)
        elif kind == "array":
            if len(a) != len(b):
                return False
            stack.extend(zip(a, b, strict=True))
        elif a != b:
            return False
    return True


def encoded_size(value: Any) -> int:
    """The length of `value`'s compact JSON encoding (UTF-8 bytes), computed without recursion."""
    size = 0
    stack: list[Any] = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            size += 2 + max(len(node) - 1, 0) + len(node)  # braces, commas, colons
            for key, child in node.items():
                size += len(json.dumps(key, ensure_ascii=False).encode())
                stack.append(child)
        elif isinstance(node, list):
            size += 2 + max(len(node) - 1, 0)
            stack.extend(node)
        else:
            size += len(json.dumps(node, ensure_ascii=False).encode())
    return size


# --- errors


class _OperationError(Exception):
    """One operation could not be applied; the message is json-patch v4's own."""


def _missing(message: str) -> _OperationError:
    """json-patch wraps its ErrMissing sentinel: the message ends with ": missing value"."""
    return _OperationError(f"{message}: missing value")


def rejected(message: str) -> APIError:
    """422 Invalid as kube-apiserver reports a patch it could not apply (NewGenericServerResponse)."""
    return APIError(
        422, "Invalid", REJECTED, {"causes": [Cause("UnexpectedServerResponse", message).as_dict()]}
    )


def _decode_error(message: str) -> APIError:
    return bad_request(f"error decoding patch: json: cannot unmarshal {message}")


# --- decoding


def _operations(patch: Any) -> list[dict[str, Any]]:
    """Check the patch's shape as the server's strict decoding into []jsonPatchOp does (400 on error)."""
    if patch is None:
        return []  # `null` decodes to an empty patch: a no-op
    if not isinstance(patch, list):
        raise _decode_error(f"{_kind(patch)} into Go value of type []handlers.jsonPatchOp")
    operations: list[dict[str, Any]] = []
    for op in patch:
        if op is None:
            operations.append({})
            continue
        if not isinstance(op, dict):
            raise _decode_error(f"{_kind(op)} into Go value of type handlers.jsonPatchOp")
        for field in ("op", "path", "from"):
            value = op.get(field)
            if value is not None and not isinstance(value, str):
                raise _decode_error(f"{_kind(value)} into Go struct field jsonPatchOp.{field} of type string")
        operations.append(op)
    return operations


# --- pointers


def _unescape(token: str) -> str:
    # RFC 6901 section 4: "~1" becomes "/" first, then "~0" becomes "~" (so "~01" is "~1").
    return token.replace("~1", "/").replace("~0", "~") if "~" in token else token


def _atoi(key: str) -> int:
    """Go's strconv.Atoi, with its error messages."""
    quoted = json.dumps(key, ensure_ascii=False)
    if not _INDEX.fullmatch(key):
        raise _OperationError(f"strconv.Atoi: parsing {quoted}: invalid syntax")
    index = int(key)
    if abs(index) > _INT64_MAX:
        raise _OperationError(f"strconv.Atoi: parsing {quoted}: value out of range")
    return index


def _invalid_index(index: int) -> _OperationError:
    return _OperationError(f"Unable to access invalid index: {index}: invalid index referenced")


def _element(array: list[Any], key: str) -> int:
    """The position an existing element's key names (negative keys count from the end)."""
    index = _atoi(key)
    if index < 0:
        if index < -len(array):
            raise _invalid_index(index)
        index += len(array)
    if index >= len(array):
        raise _invalid_index(index)
    return index


def _get(container: Any, key: str) -> Any:
    """The member or element at `key`; a missing object member reads as None, like json-patch v4."""
    if isinstance(container, dict):
        return container.get(key)
    return container[_element(container, key)]


def _add(container: Any, key: str, value: Any) -> None:
    if isinstance(container, dict):
        container[key] = value
        return
    if key == "-":
        container.append(value)
        return
    try:
        index = _atoi(key)
    except _OperationError as failure:
        raise _OperationError(f"value was not a proper array index: '{key}': {failure}") from None
    size = len(container) + 1
    if index >= size:
        raise _invalid_index(index)
    if index < 0:
        if index < -size:
            raise _invalid_index(index)
        index += size
    container.insert(index, value)


def _remove(container: Any, key: str) -> None:
    if isinstance(container, dict):
        if key not in container:
            raise _missing(f"Unable to remove nonexistent key: {key}")
        del container[key]
        return
    index = _atoi(key)
    if index >= len(container):
        raise _invalid_index(index)
    if index < 0:
        if index < -len(container):
            raise _invalid_index(index)
        index += len(container)
    del container[index]


def _find(doc: Any, path: str) -> tuple[Any, str] | None:
    """The container holding the pointer's last token, and that token; None when a parent is missing."""
    tokens = path.split("/")
    if len(tokens) < 2:
        return None
    node = doc
    for token in tokens[1:-1]:
        try:
            node = _get(node, _unescape(token)) if isinstance(node, (dict, list)) else None
        except _OperationError:
            return None
        if not isinstance(node, (dict, list)):
            return None
    if not isinstance(node, (dict, list)):
        return None
    return node, _unescape(tokens[-1])


# --- operations


def _string(op: dict[str, Any], field: str) -> str | None:
    value = op.get(field)
    return value if isinstance(value, str) else None


class _Patcher:
    """Applies operations to a private copy of the document, keeping the copy-size budget."""

    def __init__(self, doc: Any) -> None:
        self.doc = deep_copy(doc)
        self.copied = 0

    def apply(self, op: dict[str, Any]) -> None:
        kind = _string(op, "op") or "unknown"
        handler = {
            "add": self.add,
            "remove": self.remove,
            "replace": self.replace,
            "move": self.move,
            "test": self.test,
            "copy": self.copy,
        }.get(kind)
        if handler is None:
            raise _OperationError(f"Unexpected kind: {kind}")
        handler(op)

    def add(self, op: dict[str, Any]) -> None:
        path = _string(op, "path")
        if path is None:
            raise _missing("add operation failed to decode path")
        found = _find(self.doc, path)
        if found is None:
            raise _missing(f'add operation does not apply: doc is missing path: "{path}"')
        try:
            _add(*found, deep_copy(op.get("value")))
        except _OperationError as failure:
            raise _OperationError(f"error in add for path: '{path}': {failure}") from None

    def remove(self, op: dict[str, Any]) -> None:
        path = _string(op, "path")
        if path is None:
            raise _missing("remove operation failed to decode path")
        found = _find(self.doc, path)
        if found is None:
            raise _missing(f'remove operation does not apply: doc is missing path: "{path}"')
        try:
            _remove(*found)
        except _OperationError as failure:
            raise _OperationError(f"error in remove for path: '{path}': {failure}") from None

    def replace(self, op: dict[str, Any]) -> None:
        path = _string(op, "path")
        if path is None:
            raise _missing("replace operation failed to decode path: operation missing path field")
        value = op.get("value")
        if path == "":
            if isinstance(value, (dict, list)):
                self.doc = deep_copy(value)
            return
        found = _find(self.doc, path)
        if found is None:
            raise _missing(f"replace operation does not apply: doc is missing path: {path}")
        container, key = found
        if isinstance(container, dict):
            container[key] = deep_copy(value)
            return
        try:
            index = _element(container, key)
        except _OperationError:
            raise _missing(f"replace operation does not apply: doc is missing key: {path}") from None
        container[index] = deep_copy(value)

    def move(self, op: dict[str, Any]) -> None:
        source = _string(op, "from")
        if source is None:
            raise _missing("move operation failed to decode from: operation, missing from field")
        found = _find(self.doc, source)
        if found is None:
            raise _missing(f"move operation does not apply: doc is missing from path: {source}")
        container, key = found
        try:
            value = _get(container, key)
            _remove(container, key)
        except _OperationError as failure:
            raise _OperationError(f"error in move for path: '{key}': {failure}") from None
        path = _string(op, "path")
        if path is None:
            raise _missing("move operation failed to decode path: operation missing path field")
        target = _find(self.doc, path)
        if target is None:
            raise _missing(f"move operation does not apply: doc is missing destination path: {path}")
        try:
            _add(*target, value)
        except _OperationError as failure:
            raise _OperationError(f"error in move for path: '{path}': {failure}") from None

    def test(self, op: dict[str, Any]) -> None:
        path = _string(op, "path")
        if path is None:
            raise _missing("test operation failed to decode path: operation missing path field")
        failed = _OperationError(f"testing value {path} failed: test failed")
        if path == "":
            if "value" not in op or not json_equal(self.doc, op["value"]):
                raise failed
            return
        found = _find(self.doc, path)
        if found is None:
            raise _missing(f"test operation does not apply: is missing path: {path}")
        try:
            actual = _get(*found)
        except _OperationError as failure:
            raise _OperationError(f"error in test for path: '{path}': {failure}") from None
        # A missing member and a null one read alike, and a null `value` matches both.
        if "value" not in op or not json_equal(actual, op["value"]):
            raise failed

    def copy(self, op: dict[str, Any]) -> None:
        source = _string(op, "from")
        if source is None:
            raise _missing("copy operation failed to decode from: operation, missing from field")
        found = _find(self.doc, source)
        if found is None:
            raise _missing(f"copy operation does not apply: doc is missing from path: {source}")
        try:
            value = _get(*found)
        except _OperationError as failure:
            raise _OperationError(f"error in copy for from: '{source}': {failure}") from None
        path = _string(op, "path")
        if path is None:
            raise _missing("copy operation failed to decode path")
        target = _find(self.doc, path)
        if target is None:
            raise _missing(f"copy operation does not apply: doc is missing destination path: {path}")
        self.copied += 0 if value is None else encoded_size(value)
        if self.copied > MAX_COPY_BYTES:
            raise _OperationError(
                "Unable to complete the copy, the accumulated size increase of copy is "
                f"{self.copied}, exceeding the limit {MAX_COPY_BYTES}"
            )
        try:
            _add(*target, deep_copy(value))
        except _OperationError as failure:
            raise _OperationError(f"error while adding value during copy: {failure}") from None


def apply_json_patch(doc: Any, patch: Any) -> Any:
    """Apply an RFC 6902 patch (the decoded request body) to `doc`; returns a new document.

    Raises `APIError`: 400 for a body that is not a list of operations or nests too deep, 413 for more
    than 10,000 operations, 422 for an operation that does not apply. Neither input is modified.
    """
    operations = _operations(patch)
    if len(operations) > MAX_OPERATIONS:
        raise APIError(
            413,
            "RequestEntityTooLarge",
            f"The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, got {len(operations)}",
        )
    check_depth(patch, "patch")
    check_depth(doc, "object")
    patcher = _Patcher(doc)
    for op in operations:
        try:
            patcher.apply(op)
        except _OperationError as failure:
            raise rejected(str(failure)) from None
    check_depth(patcher.doc, "patched object")
    return patcher.doc
