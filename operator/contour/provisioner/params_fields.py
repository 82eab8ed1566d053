"""Reading the JSON-shaped specs the parameters come from: schema errors as field paths, nested fields."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from contour.provisioner.model import InvalidParameters, NodePlacement


def invalid_from_validation(error: ValidationError, *, prefix: str) -> InvalidParameters:
    """The first schema error of a generated model, as the field's path (camelCase, [i] indices)."""
    first = error.errors()[0]
    path = prefix
    for part in first["loc"]:
        if isinstance(part, int):
            path += f"[{part}]"
        elif "[" in part:
            continue  # a union member's tag (e.g. "function-after[...]"), not a field
        else:
            path += f".{part}"
    return InvalidParameters(path, f"{path}: {first['msg']}")


def node_placement(raw: Mapping[str, Any]) -> NodePlacement:
    selector = raw.get("nodeSelector") or {}
    tolerations = raw.get("tolerations") or []
    return NodePlacement(
        node_selector={str(k): str(v) for k, v in sorted(selector.items())},
        tolerations=tuple(copy.deepcopy(dict(t)) for t in tolerations),
    )


def raw_at(obj: Mapping[str, Any], *path: str) -> Mapping[str, Any]:
    """The object at `path` (already schema-checked), or an empty one."""
    current: Any = obj
    for key in path:
        current = current.get(key) if isinstance(current, Mapping) else None
    return copy.deepcopy(dict(current)) if isinstance(current, Mapping) else {}


def int_at(obj: Mapping[str, Any], path: tuple[str, ...], default: int) -> int:
    current: Any = obj
    for key in path:
        current = current.get(key) if isinstance(current, Mapping) else None
    return current if isinstance(current, int) and not isinstance(current, bool) and current else default


def kind_of(obj: Mapping[str, Any]) -> str:
    return f"{obj.get('apiVersion')} {obj.get('kind')}"
