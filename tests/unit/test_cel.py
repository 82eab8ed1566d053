"""CEL validation rules (x-kubernetes-validations): every rule in crds/ compiles with the library
functions provided, and failing rules give the real server's causes (message, messageExpression,
reason, fieldPath, transition rules with oldSelf, evaluation errors)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from contour.apiserver.cel import CompiledRules, UnsupportedRule, escape, to_cel
from contour.apiserver.cel_library import index_of, is_ip, substring
from contour.apiserver.schemas import crd_schema
from contour.apiserver.structural import compile_schema
from tests.unit.crd_validators import GW, LISTENER, crd_types, gateway, httproute, node, prepare, validator


def test_every_rule_in_crds_is_supported() -> None:
    unsupported = [rule for key in crd_types() for rule in validator(*key.rsplit("/", 1)).unsupported_rules]
    assert unsupported == []


def test_crds_hold_rules_to_enforce() -> None:
    assert not CompiledRules.compile(node(GW, "HTTPRoute")).empty


def _rules(spec: dict[str, Any], label: str = "") -> CompiledRules:
    return CompiledRules.compile(
        compile_schema(crd_schema({"type": "object", "properties": {"spec": spec}})), label=label
    )


def test_rule_calling_an_unknown_function_is_reported_not_run() -> None:
    rules = _rules(
        {"type": "string", "x-kubernetes-validations": [{"rule": "self.ext() == 1"}]}, label="w.example.com"
    )
    assert rules.unsupported == [
        UnsupportedRule("w.example.com: spec", "self.ext() == 1", "uses functions not provided: ext")
    ]
    assert rules.validate({"spec": "x"}) == []


def test_rule_that_does_not_parse_is_reported() -> None:
    rules = _rules({"type": "string", "x-kubernetes-validations": [{"rule": "self.?a.orValue(1) == 1"}]})
    assert [(u.path, u.reason.split(":")[0]) for u in rules.unsupported] == [("spec", "does not parse")]


def _filter(**fields: Any) -> dict[str, Any]:
    return httproute({"rules": [{"filters": [fields]}]})


def test_failing_rule_on_an_object_gives_its_message_without_the_value() -> None:
    _, causes, _ = prepare(_filter(type="RequestHeaderModifier"))
    assert causes == [
        {
            "reason": "FieldValueInvalid",
            "field": "spec.rules[0].filters[0]",
            "message": "Invalid value: type RequestHeaderModifier needs the requestHeaderModifier field",
        }
    ]


def test_library_function_is_ip_is_enforced() -> None:
    doc = {
        "apiVersion": GW,
        "kind": "TLSRoute",
        "metadata": {"name": "t", "namespace": "d"},
        "spec": {"hostnames": ["10.0.0.1"], "rules": [{"backendRefs": [{"name": "b", "port": 1}]}]},
    }
    _, causes, _ = prepare(doc)
    assert causes == [
        {
            "reason": "FieldValueInvalid",
            "field": "spec.hostnames",
            "message": "Invalid value: hostnames must be DNS names, not IP addresses",
        }
    ]


def test_receiver_style_library_calls_work_on_map_keys() -> None:
    infra = {"labels": {"a" * 253 + "/x": "v"}}
    _, causes, _ = prepare(
        gateway({"gatewayClassName": "c", "listeners": [LISTENER], "infrastructure": infra})
    )
    assert {c["message"] for c in causes} >= {
        "Invalid value: the prefix of label keys must be shorter than 253 characters"
    }


def test_escaped_namespace_property_is_visible_to_rules() -> None:
    ref = {"name": "gw", "namespace": "infra", "sectionName": "http"}
    _, causes, _ = prepare(httproute({"parentRefs": [ref, dict(ref)]}))
    assert causes == [
        {
            "reason": "FieldValueInvalid",
            "field": "spec.parentRefs",
            "message": "Invalid value: parentRefs pointing at the same parent need distinct "
            "sectionName values",
        }
    ]
    other = {**ref, "namespace": "other"}
    assert prepare(httproute({"parentRefs": [ref, other]}))[1] == []


def _gateway_class(controller: str) -> dict[str, Any]:
    return {
        "apiVersion": GW,
        "kind": "GatewayClass",
        "metadata": {"name": "c"},
        "spec": {"controllerName": controller},
    }


def test_transition_rule_runs_only_on_update() -> None:
    old, _, _ = prepare(_gateway_class("example.com/a"))
    assert prepare(_gateway_class("example.com/b"))[1] == []
    assert prepare(_gateway_class("example.com/b"), old)[1] == [
        {
            "reason": "FieldValueInvalid",
            "field": "spec.controllerName",
            "message": 'Invalid value: "example.com/b": controllerName cannot be changed once set',
        }
    ]
    assert prepare(_gateway_class("example.com/a"), old)[1] == []


RULE_CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, str]]] = [
    (
        "default message names the rule",
        {"rule": "self.a < self.b"},
        {"a": 2, "b": 1},
        {
            "reason": "FieldValueInvalid",
            "field": "spec",
            "message": "Invalid value: failed rule: self.a < self.b",
        },
    ),
    (
        "messageExpression",
        {"rule": "self.a < self.b", "messageExpression": "'a is ' + string(self.a)"},
        {"a": 2, "b": 1},
        {"reason": "FieldValueInvalid", "field": "spec", "message": "Invalid value: a is 2"},
    ),
    (
        "failing messageExpression falls back to message",
        {"rule": "self.a < self.b", "message": "m", "messageExpression": "self.nope"},
        {"a": 2, "b": 1},
        {"reason": "FieldValueInvalid", "field": "spec", "message": "Invalid value: m"},
    ),
    (
        "reason Forbidden and fieldPath",
        {"rule": "self.a < self.b", "message": "no", "reason": "FieldValueForbidden", "fieldPath": ".a"},
        {"a": 2, "b": 1},
        {"reason": "FieldValueForbidden", "field": "spec.a", "message": "Forbidden: no"},
    ),
    (
        "reason Required",
        {"rule": "has(self.c)", "message": "c is needed", "reason": "FieldValueRequired"},
        {"a": 1, "b": 2},
        {"reason": "FieldValueRequired", "field": "spec", "message": "Required value: c is needed"},
    ),
    (
        "reason Duplicate",
        {"rule": "false", "reason": "FieldValueDuplicate"},
        {"a": 1},
        {"reason": "FieldValueDuplicate", "field": "spec", "message": "Duplicate value"},
    ),
    (
        "no such key is a cause, not an exception",
        {"rule": "self.c == 1"},
        {"a": 1},
        {
            "reason": "FieldValueInvalid",
            "field": "spec",
            "message": 'Invalid value: "object": no such key: c evaluating rule: self.c == 1',
        },
    ),
    (
        "overload error",
        {"rule": "self.a + 'x' == 'y'", "message": "bad"},
        {"a": 1},
        {
            "reason": "FieldValueInvalid",
            "field": "spec",
            "message": "Invalid value: \"object\": 'no such overload': call arguments did not "
            "match a supported "
            "operator, function or macro signature for rule: bad",
        },
    ),
]


@pytest.mark.parametrize(
    ("raw", "value", "cause"), [c[1:] for c in RULE_CASES], ids=[c[0] for c in RULE_CASES]
)
def test_rule_failure_gives_the_real_cause(
    raw: dict[str, Any], value: dict[str, Any], cause: dict[str, str]
) -> None:
    props = {"a": {"type": "integer"}, "b": {"type": "integer"}, "c": {"type": "integer"}}
    rules = _rules({"type": "object", "properties": props, "x-kubernetes-validations": [raw]})
    assert rules.unsupported == []
    assert [c.as_dict() for c in rules.validate({"spec": value})] == [cause]


def test_scalar_value_is_shown_in_the_cause() -> None:
    rules = _rules({"type": "string", "x-kubernetes-validations": [{"rule": "self.startsWith('a')"}]})
    assert [c.as_dict() for c in rules.validate({"spec": "b"})] == [
        {
            "reason": "FieldValueInvalid",
            "field": "spec",
            "message": "Invalid value: \"b\": failed rule: self.startsWith('a')",
        }
    ]


def test_root_rule_failure_has_the_nil_field() -> None:
    schema = crd_schema({"type": "object", "x-kubernetes-validations": [{"rule": "false", "message": "m"}]})
    assert [c.as_dict() for c in CompiledRules.compile(compile_schema(schema)).validate({})] == [
        {"reason": "FieldValueInvalid", "field": "<nil>", "message": "Invalid value: m"}
    ]


def test_optional_old_self_runs_on_create_too() -> None:
    raw = {"rule": "oldSelf.hasValue() ? self >= oldSelf.value() : self < 10", "optionalOldSelf": True}
    rules = _rules({"type": "integer", "x-kubernetes-validations": [raw]})
    assert [c.field for c in rules.validate({"spec": 12})] == ["spec"]
    assert rules.validate({"spec": 12}, {"spec": 11}) == []
    assert [c.field for c in rules.validate({"spec": 12}, {"spec": 13})] == ["spec"]


def test_list_map_items_correlate_with_old_items_by_key() -> None:
    item = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "v": {"type": "integer"}},
        "x-kubernetes-validations": [{"rule": "self.v >= oldSelf.v", "message": "no decrease"}],
    }
    spec = {
        "type": "array",
        "items": item,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
    }
    rules = _rules(spec)
    old = {"spec": [{"name": "a", "v": 5}, {"name": "b", "v": 1}]}
    new = {"spec": [{"name": "b", "v": 0}, {"name": "a", "v": 6}, {"name": "c", "v": 0}]}
    assert [(c.field, c.message) for c in rules.validate(new, old)] == [
        ("spec[0]", "Invalid value: no decrease")
    ]


def test_rules_in_list_items_and_map_values_get_their_paths() -> None:
    value_rule = {"type": "string", "x-kubernetes-validations": [{"rule": "self != 'x'"}]}
    spec = {
        "type": "object",
        "properties": {
            "l": {"type": "array", "items": value_rule},
            "m": {"type": "object", "additionalProperties": value_rule},
        },
    }
    causes = _rules(spec).validate({"spec": {"l": ["a", "x"], "m": {"k": "x"}}})
    assert [c.field for c in causes] == ["spec.l[1]", "spec.m[k]"]


def test_input_object_is_not_changed_by_admission() -> None:
    doc = httproute({"parentRefs": [{"name": "gw"}]})
    before = copy.deepcopy(doc)
    stored, _, _ = validator(GW, "HTTPRoute").prepare(doc, None)
    assert doc == before and stored != doc


@pytest.mark.parametrize(
    ("name", "escaped"),
    [
        ("namespace", "__namespace__"),
        ("a-b", "a__dash__b"),
        ("a.b/c", "a__dot__b__slash__c"),
        ("a__b", "a__underscores__b"),
        ("1a", None),
        ("a b", None),
    ],
)
def test_property_names_are_escaped_like_kubernetes(name: str, escaped: str | None) -> None:
    assert escape(name) == escaped


def test_number_fields_reach_cel_as_doubles() -> None:
    schema = compile_schema(crd_schema({"type": "object", "properties": {"n": {"type": "number"}}}))
    assert to_cel({"n": 1}, schema) == {"n": 1.0}


@pytest.mark.parametrize(
    ("call", "result"),
    [
        (lambda: index_of("ab/c", "/"), 2),
        (lambda: index_of(["a", "b"], "b"), 1),
        (lambda: substring("*.example.com", 2), "example.com"),
        (lambda: is_ip("10.0.0.1"), True),
        (lambda: is_ip("::1"), True),
        (lambda: is_ip("010.0.0.1"), False),
        (lambda: is_ip("example.com"), False),
    ],
    ids=[
        "indexOf-string",
        "indexOf-list",
        "substring",
        "isIP-v4",
        "isIP-v6",
        "isIP-leading-zero",
        "isIP-name",
    ],
)
def test_library_functions(call: Any, result: Any) -> None:
    assert call() == result
