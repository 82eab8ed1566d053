"""Dropping the fields a custom resource's schema does not declare, and saying which ones went.

Follows apiextensions-apiserver's schema/pruning: a field survives if its object declares it in
`properties`, if the object has `additionalProperties`, or if the node (or an ancestor, until a node
that declares properties again) sets `x-kubernetes-preserve-unknown-fields`. Embedded resources keep
`apiVersion`, `kind` and `metadata`; the top-level object is an embedded resource, so its metadata is
never pruned here. The dropped paths are what the server reports for `fieldValidation=Strict`
(`unknown field "spec.foo"`) and `Warn`: `spec.routes[0].foo` for list items, `spec.map.key` for map
values.

The object is changed in place.
"""

from __future__ import annotations

from typing import Any

from contour.apiserver.schemas import Schema
from contour.apiserver.structural import Node, compile_schema

_META_FIELDS = frozenset({"apiVersion", "kind", "metadata"})


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Pruner:
    __slots__ = ("drop", "dropped")

    def __init__(self, drop: bool = True) -> None:
        self.drop = drop
        self.dropped: list[str] = []

    def prune(self, value: Any, node: Node | None, path: str, embedded: bool = False) -> None:
        if node is not None and node.preserve_unknown:
            self.skip(value, node, path, embedded)
            return
        if isinstance(value, dict):
            if node is None:
                for key in list(value):
                    self.dropped.append(_join(path, key))
                    if self.drop:
                        del value[key]
                return
            embedded = embedded or node.embedded
            for key in list(value):
                if embedded and key in _META_FIELDS:
                    continue
                prop = node.properties.get(key)
                if prop is not None:
                    self.prune(value[key], prop, _join(path, key))
                elif node.additional is not None:
                    self.prune(value[key], node.additional, _join(path, key))
                else:
                    self.dropped.append(_join(path, key))
                    if self.drop:
                        del value[key]
        elif isinstance(value, list):
            items = node.items if node is not None else None
            for index, item in enumerate(value):
                self.prune(item, items, f"{path}[{index}]")

    def skip(self, value: Any, node: Node, path: str, embedded: bool) -> None:
        """x-kubernetes-preserve-unknown-fields: keep unknown keys, still prune below declared ones."""
        if isinstance(value, dict):
            embedded = embedded or node.embedded
            for key in list(value):
                if embedded and key in _META_FIELDS:
                    continue
                prop = node.properties.get(key)
                if prop is not None:
                    self.prune(value[key], prop, _join(path, key))
                elif node.additional is not None:
                    self.prune(value[key], node.additional, _join(path, key))
        elif isinstance(value, list) and node.items is not None:
            for index, item in enumerate(value):
                self.skip(item, node.items, f"{path}[{index}]", False)


def prune(obj: Any, schema: Schema | Node, *, is_resource_root: bool = True) -> tuple[Any, list[str]]:
    """Drop undeclared fields from `obj` (in place); return it and the dropped paths, in walk order."""
    node = schema if isinstance(schema, Node) else compile_schema(schema)
    pruner = _Pruner()
    pruner.prune(obj, node, "", embedded=is_resource_root)
    return obj, pruner.dropped


def unknown_fields(obj: Any, node: Node, *, is_resource_root: bool = True) -> list[str]:
    """The paths `prune` would drop, leaving `obj` untouched (built-in kinds keep theirs)."""
    pruner = _Pruner(drop=False)
    pruner.prune(obj, node, "", embedded=is_resource_root)
    return pruner.dropped
