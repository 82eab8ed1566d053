"""Pruning: undeclared fields are dropped and their paths returned (for fieldValidation), except where
the schema preserves unknown fields; top-level metadata and embedded resources' apiVersion, kind and
metadata are kept."""

from __future__ import annotations

from typing import Any

import pytest

from contour.apiserver.pruning import prune
from contour.apiserver.schemas import crd_schema
from tests.unit.crd_validators import httpproxy, prepare

SCHEMA = crd_schema(
    {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "list": {
                        "type": "array",
                        "items": {"type": "object", "properties": {"a": {"type": "string"}}},
                    },
                    "map": {
                        "type": "object",
                        "additionalProperties": {"type": "object", "properties": {"a": {"type": "string"}}},
                    },
                    "free": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                        "properties": {"known": {"type": "object", "properties": {}}},
                    },
                    "embedded": {
                        "type": "object",
                        "x-kubernetes-embedded-resource": True,
                        "properties": {"spec": {"type": "object"}},
                    },
                },
            }
        },
    }
)

CASES: list[tuple[str, dict[str, Any], dict[str, Any], list[str]]] = [
    (
        "top-level metadata and type meta kept",
        {"apiVersion": "v", "kind": "K", "metadata": {"x": 1}},
        {"apiVersion": "v", "kind": "K", "metadata": {"x": 1}},
        [],
    ),
    ("unknown top-level field", {"extra": 1, "spec": {}}, {"spec": {}}, ["extra"]),
    (
        "list item",
        {"spec": {"list": [{"a": "x"}, {"a": "y", "b": 1}]}},
        {"spec": {"list": [{"a": "x"}, {"a": "y"}]}},
        ["spec.list[1].b"],
    ),
    (
        "map value",
        {"spec": {"map": {"k": {"a": "x", "b": 1}}}},
        {"spec": {"map": {"k": {"a": "x"}}}},
        ["spec.map.k.b"],
    ),
    (
        "preserved unknown fields",
        {"spec": {"free": {"anything": {"deep": 1}}}},
        {"spec": {"free": {"anything": {"deep": 1}}}},
        [],
    ),
    (
        "declared field under preserve is pruned",
        {"spec": {"free": {"known": {"z": 1}}}},
        {"spec": {"free": {"known": {}}}},
        ["spec.free.known.z"],
    ),
    (
        "embedded resource keeps its type and object meta",
        {
            "spec": {
                "embedded": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": "p"},
                    "spec": {},
                    "status": {},
                }
            }
        },
        {"spec": {"embedded": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}}}},
        ["spec.embedded.status"],
    ),
]


@pytest.mark.parametrize(("given", "expected", "dropped"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_pruning_table(given: dict[str, Any], expected: dict[str, Any], dropped: list[str]) -> None:
    assert prune(given, SCHEMA) == (expected, dropped)


def test_real_crd_drops_a_misspelled_field_and_names_it() -> None:
    doc = httpproxy(
        {"routes": [{"services": [{"name": "s", "port": 80}], "timeoutPolicy": {"reponse": "1s"}}]}
    )
    stored, causes, unknown = prepare(doc)
    assert unknown == ["spec.routes[0].timeoutPolicy.reponse"]
    assert stored["spec"]["routes"][0]["timeoutPolicy"] == {}
    assert causes == []


def test_unknown_top_level_metadata_is_reported_but_kept() -> None:
    doc = httpproxy({"routes": [{"services": [{"name": "s", "port": 80}]}]})
    doc["metadata"]["lables"] = {"a": "b"}
    stored, _, unknown = prepare(doc)
    assert unknown == ["metadata.lables"]
    assert stored["metadata"]["lables"] == {"a": "b"}
