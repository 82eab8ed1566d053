"""RFC 7386 JSON merge patch (`application/merge-patch+json`): apply one, and compute one.

Custom resources only accept JSON and merge patches, so this is how `kubectl apply` and `kubectl patch`
change them; the status writer uses `create_merge_patch` to send only what changed.

`apply_merge_patch` is RFC 7386 exactly, including a non-object patch replacing the whole target. The
server additionally refuses bodies that are not objects before applying: `check_merge_patch_body`
raises the real server's 400 for those. Both functions work with an explicit stack, so nesting costs
no Python stack frames, and neither modifies its inputs.
"""

from __future__ import annotations

from typing import Any

from contour.apiserver.errors import bad_request
from contour.apiserver.jsonpatch import check_depth, deep_copy, json_equal


def check_merge_patch_body(patch: Any) -> None:
    """Refuse a merge patch body kube-apiserver refuses: `null` and anything that is not an object (400)."""
    if patch is None:
        raise bad_request("Invalid JSON Patch")
    if not isinstance(patch, dict):
        kind = {list: "array", str: "string", bool: "bool"}.get(type(patch), "number")
        go_type = "map[string]interface {}"
        raise bad_request(
            f"error decoding patch: json: cannot unmarshal {kind} into Go value of type {go_type}"
        )


def apply_merge_patch(doc: Any, patch: Any) -> Any:
    """RFC 7386 MergePatch(doc, patch): returns a new value; `null` members of the patch delete."""
    check_depth(patch, "patch")
    if not isinstance(patch, dict):
        return deep_copy(patch)
    check_depth(doc, "object")
    result: dict[str, Any] = deep_copy(doc) if isinstance(doc, dict) else {}
    # Every target on the stack is part of the private copy, so it can be changed in place.
    stack: list[tuple[dict[str, Any], dict[str, Any]]] = [(result, patch)]
    while stack:
        target, changes = stack.pop()
        for key, value in changes.items():
            if value is None:
                target.pop(key, None)
            elif isinstance(value, dict):
                current = target.get(key)
                if not isinstance(current, dict):
                    current = target[key] = {}
                stack.append((current, value))
            else:
                target[key] = deep_copy(value)
    return result


def create_merge_patch(original: Any, modified: Any) -> Any:
    """A merge patch that turns `original` into `modified` (`{}` when they are equal).

    Merge patches cannot set a member to `null` (it means "delete"), so `null` members of `modified`'s
    objects come out absent after applying; everything else round-trips exactly.
    """
    check_depth(original, "object")
    check_depth(modified, "object")
    if not (isinstance(original, dict) and isinstance(modified, dict)):
        return deep_copy(modified)
    root: dict[str, Any] = {}
    # (parent, key, child) for every nested patch object, in the order they were opened: walking it
    # backwards visits children before parents, so empty ones can be dropped bottom-up.
    opened: list[tuple[dict[str, Any], str, dict[str, Any]]] = []
    stack: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = [(original, modified, root)]
    while stack:
        before, after, out = stack.pop()
        for key in before:
            if key not in after:
                out[key] = None
        for key, value in after.items():
            if key not in before:
                out[key] = deep_copy(value)
                continue
            old = before[key]
            if isinstance(old, dict) and isinstance(value, dict):
                child: dict[str, Any] = {}
                out[key] = child
                opened.append((out, key, child))
                stack.append((old, value, child))
            elif not json_equal(old, value):
                out[key] = deep_copy(value)
    for parent, key, child in reversed(opened):
        if not child:
            del parent[key]
    return root
