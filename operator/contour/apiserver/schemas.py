"""Read-only views on OpenAPI schemas: the built-in kinds' (shipped as JSON) and the CRDs' own.

Validation, defaulting, pruning, strategic merge patch, server-side apply and the OpenAPI document all
walk schemas; they walk them through `Schema`, which resolves `$ref` and `allOf` wrappers against the
component table, so a CRD's inline openAPIV3Schema and a built-in kind's referenced definitions look
the same to them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

BUILTIN_OPENAPI = Path(__file__).with_name("builtin_openapi.json")
_REF_PREFIX = "#/components/schemas/"

Components = Mapping[str, Mapping[str, Any]]


class Schema:
    """One schema node; children are resolved lazily, so recursive definitions are fine."""

    __slots__ = ("components", "node")

    def __init__(self, node: Mapping[str, Any], components: Components | None = None) -> None:
        self.components: Components = components or {}
        self.node = self._resolve(node)

    def _resolve(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
            target = self.components.get(ref[len(_REF_PREFIX) :], {})
            return self._resolve(target)
        all_of = node.get("allOf")
        if isinstance(all_of, list) and all_of:
            merged: dict[str, Any] = {}
            for part in all_of:
                if isinstance(part, Mapping):
                    merged.update(self._resolve(part))
            merged.update({k: v for k, v in node.items() if k != "allOf"})
            return merged
        return node

    def _child(self, node: Any) -> Schema | None:
        if isinstance(node, Mapping):
            return Schema(node, self.components)
        return None

    @property
    def type(self) -> str | None:
        value = self.node.get("type")
        return value if isinstance(value, str) else None

    @property
    def properties(self) -> dict[str, Schema]:
        props = self.node.get("properties")
        if not isinstance(props, Mapping):
            return {}
        return {name: Schema(value, self.components) for name, value in props.items()}

    def prop(self, name: str) -> Schema | None:
        """The schema of one named property, or None when the object does not declare it."""
        props = self.node.get("properties")
        if isinstance(props, Mapping):
            return self._child(props.get(name))
        return None

    def items(self) -> Schema | None:
        return self._child(self.node.get("items"))

    def additional_properties(self) -> Schema | None:
        """The schema of a map's values (`additionalProperties` as a schema), if this is a map."""
        return self._child(self.node.get("additionalProperties"))

    @property
    def list_type(self) -> str | None:
        """`atomic`, `set` or `map` (x-kubernetes-list-type); None when the schema does not say."""
        value = self.node.get("x-kubernetes-list-type")
        return value if isinstance(value, str) else None

    @property
    def list_map_keys(self) -> tuple[str, ...]:
        value = self.node.get("x-kubernetes-list-map-keys")
        return tuple(value) if isinstance(value, list) else ()

    @property
    def map_type(self) -> str | None:
        """`granular` or `atomic` (x-kubernetes-map-type) for objects."""
        value = self.node.get("x-kubernetes-map-type")
        return value if isinstance(value, str) else None

    @property
    def patch_strategy(self) -> str | None:
        """Strategic merge patch's strategy for this list (`merge`, `retainKeys`, `merge,retainKeys`)."""
        value = self.node.get("x-kubernetes-patch-strategy")
        return value if isinstance(value, str) else None

    @property
    def patch_merge_key(self) -> str | None:
        value = self.node.get("x-kubernetes-patch-merge-key")
        return value if isinstance(value, str) else None

    @property
    def preserve_unknown_fields(self) -> bool:
        return self.node.get("x-kubernetes-preserve-unknown-fields") is True

    @property
    def int_or_string(self) -> bool:
        return (
            self.node.get("x-kubernetes-int-or-string") is True or self.node.get("format") == "int-or-string"
        )

    @property
    def embedded_resource(self) -> bool:
        return self.node.get("x-kubernetes-embedded-resource") is True

    def get(self, key: str, default: Any = None) -> Any:
        return self.node.get(key, default)


@cache
def builtin_document() -> dict[str, Any]:
    """The shipped document: {"kubeVersion", "kinds": [{group, version, kind, schema}], "schemas"}."""
    document: dict[str, Any] = json.loads(BUILTIN_OPENAPI.read_text("utf-8"))
    return document


def builtin_components() -> Components:
    components: Components = builtin_document()["schemas"]
    return components


@cache
def builtin_definition_name(group: str, version: str, kind: str) -> str | None:
    for entry in builtin_document()["kinds"]:
        if (entry["group"], entry["version"], entry["kind"]) == (group, version, kind):
            name: str = entry["schema"]
            return name
    return None


def builtin_schema(group: str, version: str, kind: str) -> Schema | None:
    """The schema of a served built-in kind ("" is the core group), or None if it is not built in."""
    name = builtin_definition_name(group, version, kind)
    if name is None:
        return None
    components = builtin_components()
    return Schema(components[name], components)


def crd_schema(open_api_v3_schema: Mapping[str, Any]) -> Schema:
    """A CRD version's openAPIV3Schema: self-contained, no references."""
    return Schema(open_api_v3_schema)
