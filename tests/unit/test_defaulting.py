"""Structural defaulting: defaults fill absent fields, list items and map values, apply inside values
they create, replace non-nullable nulls, and nulls without a default are dropped."""

from __future__ import annotations

from typing import Any

import pytest

from contour.apiserver.defaulting import apply_defaults
from contour.apiserver.schemas import crd_schema
from tests.unit.crd_validators import GW, LISTENER, gateway, httproute, node, prepare


def test_absent_field_gets_its_default() -> None:
    stored, causes, _ = prepare(
        gateway({"gatewayClassName": "c", "listeners": [LISTENER], "addresses": [{"value": "10.0.0.1"}]})
    )
    assert causes == []
    assert stored["spec"]["addresses"] == [{"type": "IPAddress", "value": "10.0.0.1"}]


def test_defaults_apply_inside_list_items() -> None:
    stored, _, _ = prepare(httproute({"rules": [{"backendRefs": [{"name": "web", "port": 80}]}]}))
    assert stored["spec"]["rules"][0]["backendRefs"] == [
        {"name": "web", "port": 80, "group": "", "kind": "Service", "weight": 1}
    ]


def test_defaulted_value_gets_the_defaults_of_its_own_schema() -> None:
    stored, _, _ = prepare(httproute({}))
    assert stored["spec"]["rules"] == [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}]}]


def test_defaults_are_copies() -> None:
    first, _, _ = prepare(httproute({}))
    first["spec"]["rules"][0]["matches"].clear()
    second, _, _ = prepare(httproute({}))
    assert second["spec"]["rules"][0]["matches"] != []


SCHEMA = crd_schema(
    {
        "type": "object",
        "properties": {
            "mode": {"type": "string", "default": "fast"},
            "note": {"type": "string"},
            "maybe": {"type": "string", "nullable": True},
            "limits": {"type": "object", "additionalProperties": {"type": "integer", "default": 7}},
            "items": {
                "type": "array",
                "items": {"type": "object", "properties": {"w": {"type": "integer", "default": 1}}},
            },
        },
    }
)

CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("absent", {}, {"mode": "fast"}),
    ("present value kept", {"mode": "slow"}, {"mode": "slow"}),
    ("null replaced by the default", {"mode": None}, {"mode": "fast"}),
    ("null without default dropped", {"note": None}, {"mode": "fast"}),
    ("nullable null kept", {"maybe": None}, {"mode": "fast", "maybe": None}),
    (
        "map value null defaulted",
        {"limits": {"a": None, "b": 2}},
        {"mode": "fast", "limits": {"a": 7, "b": 2}},
    ),
    ("list items", {"items": [{}, {"w": 3}]}, {"mode": "fast", "items": [{"w": 1}, {"w": 3}]}),
]


@pytest.mark.parametrize(("given", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_defaulting_table(given: dict[str, Any], expected: dict[str, Any]) -> None:
    assert apply_defaults(given, SCHEMA) == expected


def test_defaults_apply_on_read_from_storage_without_other_changes() -> None:
    stored = {"spec": {"parentRefs": [{"name": "gw"}]}}
    assert apply_defaults(stored, node(GW, "HTTPRoute"))["spec"]["parentRefs"] == [
        {"name": "gw", "group": "gateway.networking.k8s.io", "kind": "Gateway"}
    ]
