"""Structural defaulting, as the API server applies it to custom resources on every write and read.

Follows apiextensions-apiserver's schema/defaulting: a property with a `default` that is absent (or
null while not nullable) gets a deep copy of the default; list items and map values that are
non-nullable nulls get their schema's default; then defaults apply again inside every present value,
including the ones just defaulted. Afterwards non-nullable nulls without a default are dropped
(PruneNonNullableNullsWithoutDefaults), so `field: null` in a manifest means "unset".

The object is changed in place and returned.
"""

from __future__ import annotations

import copy
from typing import Any

from contour.apiserver.schemas import Schema
from contour.apiserver.structural import Node, compile_schema


def _non_nullable_null(value: Any, node: Node | None) -> bool:
    return value is None and node is not None and not node.nullable


def _default(value: Any, node: Node | None) -> None:
    if node is None:
        return
    if isinstance(value, dict):
        properties = node.properties
        for name, prop in properties.items():
            if prop.has_default and (name not in value or _non_nullable_null(value[name], prop)):
                value[name] = copy.deepcopy(prop.default)
        additional = node.additional
        for key, item in value.items():
            declared = properties.get(key)
            if declared is not None:
                _default(item, declared)
            elif additional is not None:
                if _non_nullable_null(item, additional) and additional.has_default:
                    value[key] = copy.deepcopy(additional.default)
                _default(value[key], additional)
    elif isinstance(value, list):
        items = node.items
        if items is None:
            return
        for index, item in enumerate(value):
            if _non_nullable_null(item, items) and items.has_default:
                value[index] = copy.deepcopy(items.default)
            _default(value[index], items)


def _prune_nulls(value: Any, node: Node | None) -> None:
    if node is None:
        return
    if isinstance(value, dict):
        for key in list(value):
            prop = node.properties.get(key)
            if prop is None:
                continue
            item = value[key]
            if item is None and not prop.has_default and not prop.nullable:
                del value[key]
                continue
            _prune_nulls(item, prop)
    elif isinstance(value, list):
        for item in value:
            _prune_nulls(item, node.items)


def apply_defaults(obj: Any, schema: Schema | Node) -> Any:
    """Fill in schema defaults (in place) and drop non-nullable nulls that have no default."""
    node = schema if isinstance(schema, Node) else compile_schema(schema)
    _default(obj, node)
    _prune_nulls(obj, node)
    return obj
