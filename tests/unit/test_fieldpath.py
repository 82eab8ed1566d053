"""Field sets: the fieldsV1 wire form kube-apiserver writes, set algebra, printed paths, and the fields an
object sets as read through real schemas (apps/v1 Deployment, the repository's HTTPProxy CRD)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from contour.apiserver.fieldpath import (
    FieldPathError,
    FieldSet,
    PathElement,
    ensure_named_fields,
    fields_of,
    go_json,
    path_string,
    remove_items,
)
from contour.apiserver.schemas import Schema, builtin_schema, crd_schema
from contour.apiserver.typedvalue import format_errors, validate

CRDS = Path(__file__).resolve().parents[2] / "crds"


def deployment_schema() -> Schema:
    schema = builtin_schema("apps", "v1", "Deployment")
    assert schema is not None
    return schema


@cache
def httpproxy_schema() -> Schema:
    crd = yaml.safe_load((CRDS / "projectcontour.io_httpproxies.yaml").read_text())
    (v1,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return crd_schema(v1["schema"]["openAPIV3Schema"])


def f(name: str) -> PathElement:
    return PathElement.field(name)


def k(**fields: Any) -> PathElement:
    return PathElement.key(fields)


def v(value: Any) -> PathElement:
    return PathElement.value(value)


def paths(fields: FieldSet) -> list[str]:
    return [path_string(p) for p in fields.paths()]


# --- fieldsV1 exactly as Kubernetes writes it -------------------------------------------------------

KUBERNETES_FIELDS_V1 = [
    pytest.param(
        r'{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":'
        r'{".":{},"f:image":{}}}}}',
        id="labels and a container by key",
    ),
    pytest.param(
        r'{"f:metadata":{"f:annotations":{".":{},"f:kubectl.kubernetes.io/last-applied-configuration":{}},'
        r'"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:progressDeadlineSeconds":{},"f:replicas":{},'
        r'"f:revisionHistoryLimit":{},"f:selector":{},"f:strategy":{"f:rollingUpdate":{".":{},'
        r'"f:maxSurge":{},"f:maxUnavailable":{}},"f:type":{}},"f:template":{"f:metadata":{"f:labels":'
        r'{".":{},"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},"f:image":{},'
        r'"f:imagePullPolicy":{},"f:name":{},"f:ports":{".":{},"k:{\"containerPort\":80,\"protocol\":'
        r'\"TCP\"}":{".":{},"f:containerPort":{},"f:protocol":{}}},"f:resources":{},'
        r'"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},'
        r'"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},'
        r'"f:terminationGracePeriodSeconds":{}}}}}',
        id="kubectl client-side apply of a deployment",
    ),
    pytest.param(
        r'{"f:status":{"f:conditions":{".":{},"k:{\"type\":\"Available\"}":{".":{},'
        r'"f:lastTransitionTime":{},"f:status":{},"f:type":{}}},"f:replicas":{}}}',
        id="status conditions by type",
    ),
    pytest.param(
        r'{"f:metadata":{"f:finalizers":{".":{},"v:\"a.example.com/x\"":{},"v:\"b\"":{}}}}', id="set"
    ),
    pytest.param(
        r'{"f:spec":{"f:list":{"i:0":{},"i:2":{"f:a":{}},"i:10":{}}}}', id="indices sort numerically"
    ),
    pytest.param(r'{"f:data":{"f:a\u003cb\u0026c":{},"f:caf\u00e9":{}}}', id="html escaped, unicode raw"),
    pytest.param(r'{"f:spec":{"f:x":{"k:{\"n\":1.5,\"s\":true}":{}}}}', id="key of a float and a bool"),
    pytest.param("{}", id="empty set"),
]


def as_written(text: str) -> str:
    """Kubernetes writes non-ASCII raw: decode the \\u escapes the test sources use for readability."""
    return text.replace(r"\u00e9", "é")


@pytest.mark.parametrize("text", KUBERNETES_FIELDS_V1)
def test_fields_v1_round_trip_is_byte_identical(text: str) -> None:
    assert FieldSet.from_fields_v1(as_written(text)).to_json() == as_written(text)


@pytest.mark.parametrize("text", KUBERNETES_FIELDS_V1)
def test_fields_v1_object_form_keeps_kubernetes_key_order(text: str) -> None:
    parsed = json.loads(as_written(text))
    assert json.dumps(FieldSet.from_fields_v1(parsed).to_fields_v1(), separators=(",", ":")) == json.dumps(
        parsed, separators=(",", ":")
    )


GO_JSON = [
    pytest.param(1.0, "1", id="integral float"),
    pytest.param(1.5e-7, "1.5e-7", id="small float"),
    pytest.param(0.000001, "0.000001", id="smallest fixed-point float"),
    pytest.param(1e21, "1e+21", id="large float"),
    pytest.param(-0.0, "-0", id="negative zero"),
    pytest.param("a<b>&\u2028\n\x01é", '"a\\u003cb\\u003e\\u0026\\u2028\\n\\u0001é"', id="escapes"),
    pytest.param({"b": [True, None], "a": 1}, '{"a":1,"b":[true,null]}', id="sorted keys"),
]


@pytest.mark.parametrize(("value", "expected"), GO_JSON)
def test_values_are_written_like_go(value: Any, expected: str) -> None:
    assert go_json(value) == expected


ORDERING = [
    pytest.param('{"f:b":{},"f:a":{}}', '{"f:a":{},"f:b":{}}', id="field names sorted"),
    pytest.param(
        '{"i:0":{},"v:1":{},"k:{\\"a\\":1}":{},"f:z":{}}',
        '{"f:z":{},"k:{\\"a\\":1}":{},"v:1":{},"i:0":{}}',
        id="field < key < value < index",
    ),
    pytest.param(
        '{"v:\\"a\\"":{},"v:true":{},"v:2":{},"v:null":{}}',
        '{"v:2":{},"v:\\"a\\"":{},"v:true":{},"v:null":{}}',
        id="numbers < strings < bools < null",
    ),
    pytest.param('{"k:{\\"b\\":1,\\"a\\":2}":{}}', '{"k:{\\"a\\":2,\\"b\\":1}":{}}', id="key fields sorted"),
    pytest.param('{"f:a":{"f:b":{},".":{}}}', '{"f:a":{".":{},"f:b":{}}}', id="self marker first"),
    pytest.param('{"z:unknown":{},"f:a":{}}', '{"f:a":{}}', id="unknown element types dropped"),
    pytest.param('{"f:a":{".":{}}}', '{"f:a":{}}', id="self marker alone is a member"),
]


@pytest.mark.parametrize(("given_text", "expected"), ORDERING)
def test_fields_v1_is_written_in_kubernetes_order(given_text: str, expected: str) -> None:
    assert FieldSet.from_fields_v1(given_text).to_json() == expected


MEMBERSHIP = [
    pytest.param('{"f:a":{}}', [".a"], id="leaf"),
    pytest.param('{"f:a":{"f:b":{}}}', [".a.b"], id="parent only"),
    pytest.param('{"f:a":{".":{},"f:b":{}}}', [".a", ".a.b"], id="parent and member"),
]


@pytest.mark.parametrize(("text", "expected"), MEMBERSHIP)
def test_self_marker_makes_a_parent_a_member(text: str, expected: list[str]) -> None:
    assert paths(FieldSet.from_fields_v1(text)) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('{"a":{}}', id="too short"),
        pytest.param('{"fa":{}}', id="missing colon"),
        pytest.param('{"k:[1]":{}}', id="key not an object"),
        pytest.param('{"i:x":{}}', id="index not a number"),
        pytest.param('{"v:{":{}}', id="value not JSON"),
        pytest.param('{"f:a":1}', id="value not an object"),
        pytest.param("[1]", id="not an object"),
        pytest.param("{", id="not JSON"),
    ],
)
def test_malformed_fields_v1_is_refused(text: str) -> None:
    with pytest.raises(FieldPathError):
        FieldSet.from_fields_v1(text)


# --- set algebra --------------------------------------------------------------------------------------

A = FieldSet.of((f("a"),), (f("b"), f("c")), (f("b"), f("d")))
B = FieldSet.of((f("b"),), (f("b"), f("c")), (f("e"),))

ALGEBRA = [
    pytest.param(A.union(B), [".a", ".b", ".e", ".b.c", ".b.d"], id="union"),
    pytest.param(A.intersection(B), [".b.c"], id="intersection"),
    pytest.param(A.difference(B), [".a", ".b.d"], id="difference keeps paths below a removed member"),
    pytest.param(A.recursive_difference(B), [".a"], id="recursive difference removes them"),
    pytest.param(FieldSet().union(FieldSet()), [], id="empty union"),
]


@pytest.mark.parametrize(("result", "expected"), ALGEBRA)
def test_set_algebra(result: FieldSet, expected: list[str]) -> None:
    assert paths(result) == expected


def test_operations_do_not_change_their_operands() -> None:
    before = A.to_json(), B.to_json()
    A.union(B).insert((f("a"), f("new")))
    A.difference(B).insert((f("b"), f("new")))
    assert (A.to_json(), B.to_json()) == before


PRINTED = [
    pytest.param((f("spec"), f("replicas")), ".spec.replicas", id="fields"),
    pytest.param(
        (f("spec"), f("containers"), k(name="app"), f("image")),
        '.spec.containers[name="app"].image',
        id="key",
    ),
    pytest.param(
        (f("ports"), k(containerPort=80, protocol="TCP")),
        '.ports[containerPort=80,protocol="TCP"]',
        id="keys",
    ),
    pytest.param((f("finalizers"), v("a")), '.finalizers[="a"]', id="set value"),
    pytest.param((f("list"), PathElement.index(3)), ".list[3]", id="index"),
]


@pytest.mark.parametrize(("path", "expected"), PRINTED)
def test_paths_print_like_kubernetes_conflicts(path: tuple[PathElement, ...], expected: str) -> None:
    assert path_string(path) == expected


# --- the fields an object sets ------------------------------------------------------------------------

DEPLOYMENT_FIELDS = [
    pytest.param(
        {"metadata": {"name": "web", "labels": {"app": "web"}}},
        '{"f:metadata":{"f:labels":{"f:app":{}},"f:name":{}}}',
        id="labels are a map of leaves",
    ),
    pytest.param(
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx"}]}}}},
        r'{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:image":{},"f:name":{}}}}}}}',
        id="list-map item is a member and a parent",
    ),
    pytest.param(
        {"spec": {"selector": {"matchLabels": {"app": "web"}}}},
        '{"f:spec":{"f:selector":{}}}',
        id="atomic map is one leaf",
    ),
    pytest.param(
        {"spec": {"template": {"spec": {"containers": [{"name": "a", "args": ["x", "y"]}]}}}},
        r'{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"a\"}":{".":{},"f:args":{},"f:name":{}}}}}}}',
        id="atomic list is one leaf",
    ),
    pytest.param(
        {"metadata": {"finalizers": ["b", "a"]}},
        r'{"f:metadata":{"f:finalizers":{"v:\"a\"":{},"v:\"b\"":{}}}}',
        id="set items by value",
    ),
    pytest.param(
        {"spec": {"template": {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80}]}]}}}},
        r'{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"a\"}":{".":{},"f:name":{},'
        r'"f:ports":{"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}}}}}}}',
        id="defaulted key field",
    ),
    pytest.param(
        {"spec": {"strategy": {}, "paused": None}},
        '{"f:spec":{"f:paused":{},"f:strategy":{}}}',
        id="empty object and null are members",
    ),
    pytest.param(
        {"spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "a", "image": "x"}]}}}},
        r'{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"a\"}":{}}}}}}',
        id="duplicated item counts once as a whole",
    ),
]


@pytest.mark.parametrize(("obj", "expected"), DEPLOYMENT_FIELDS)
def test_fields_of_a_deployment(obj: dict[str, Any], expected: str) -> None:
    assert fields_of(obj, deployment_schema()).to_json() == expected


HTTPPROXY_FIELDS = [
    pytest.param(
        {"metadata": {"labels": {"app": "web"}}},
        '{"f:metadata":{"f:labels":{"f:app":{}}}}',
        id="metadata is ObjectMeta even in a CRD",
    ),
    pytest.param(
        {"spec": {"routes": [{"services": [{"name": "s", "port": 80}]}]}},
        '{"f:spec":{"f:routes":{}}}',
        id="untyped list is atomic",
    ),
    pytest.param(
        {"status": {"conditions": [{"type": "Valid", "status": "True"}]}},
        r'{"f:status":{"f:conditions":{"k:{\"type\":\"Valid\"}":{".":{},"f:status":{},"f:type":{}}}}}',
        id="conditions by type",
    ),
    pytest.param(
        {"spec": {"virtualhost": {"authorization": {"authPolicy": {"context": {"k": "v"}}}}}},
        '{"f:spec":{"f:virtualhost":{"f:authorization":{"f:authPolicy":{"f:context":{"f:k":{}}}}}}}',
        id="additionalProperties map",
    ),
]


@pytest.mark.parametrize(("obj", "expected"), HTTPPROXY_FIELDS)
def test_fields_of_an_httpproxy(obj: dict[str, Any], expected: str) -> None:
    assert fields_of(obj, httpproxy_schema()).to_json() == expected


def test_unknown_fields_are_deduced_maps_with_member_keys() -> None:
    obj = {"spec": {"extra": {"a": {"b": 1}, "l": [1, 2]}}}
    assert fields_of(obj, httpproxy_schema()).to_json() == (
        '{"f:spec":{"f:extra":{".":{},"f:a":{".":{},"f:b":{}},"f:l":{}}}}'
    )


def test_named_fields_become_members_but_map_keys_do_not() -> None:
    owned = FieldSet.of((f("metadata"), f("labels"), f("app")), (f("spec"), f("replicas")))
    assert paths(ensure_named_fields(owned, deployment_schema())) == [
        ".metadata",
        ".spec",
        ".metadata.labels",
        ".metadata.labels.app",
        ".spec.replicas",
    ]


REMOVALS = [
    pytest.param(
        {"spec": {"replicas": 1, "paused": True}},
        FieldSet.of((f("spec"), f("replicas"))),
        {"spec": {"paused": True}},
        id="a field",
    ),
    pytest.param(
        {"metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 1}},
        FieldSet.of((f("metadata"), f("labels"), f("a"))),
        {"spec": {"replicas": 1}},
        id="emptied maps disappear",
    ),
    pytest.param(
        {"spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}}},
        FieldSet.of((f("spec"), f("template"), f("spec"), f("containers"), k(name="a"))),
        {"spec": {"template": {"spec": {"containers": [{"name": "b"}]}}}},
        id="a list-map item",
    ),
    pytest.param(
        {"metadata": {"finalizers": ["a", "b"]}},
        FieldSet.of((f("metadata"), f("finalizers"), v("b"))),
        {"metadata": {"finalizers": ["a"]}},
        id="a set value",
    ),
]


@pytest.mark.parametrize(("obj", "removed", "expected"), REMOVALS)
def test_remove_items(obj: dict[str, Any], removed: FieldSet, expected: dict[str, Any]) -> None:
    before = json.dumps(obj)
    assert remove_items(obj, removed, deployment_schema()) == expected
    assert json.dumps(obj) == before


INVALID = [
    pytest.param(
        {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}},
        ".spec.template.spec.containers: element 0: associative list with keys has an element that omits key "
        'field "name" (and doesn\'t have default value)',
        id="missing key",
    ),
    pytest.param(
        {"spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "a"}]}}}},
        '.spec.template.spec.containers: duplicate entries for key [name="a"]',
        id="duplicate key",
    ),
    pytest.param(
        {"metadata": {"finalizers": [{"a": 1}]}},
        ".metadata.finalizers: element 0: associative list without keys has an element that's a map type",
        id="map in a set",
    ),
]


@pytest.mark.parametrize(("obj", "message"), INVALID)
def test_validate_words_errors_like_kubernetes(obj: dict[str, Any], message: str) -> None:
    assert format_errors(validate(obj, deployment_schema(), allow_duplicates=False)) == message


def test_live_objects_may_hold_duplicates() -> None:
    obj = {"spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "a"}]}}}}
    assert validate(obj, deployment_schema(), allow_duplicates=True) == []


# Validation skips subtrees whose schema holds no set or map list; these place one ever deeper.
_KEYED: dict[str, Any] = {
    "type": "array",
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["name"],
    "items": {"type": "object", "properties": {"name": {"type": "string"}}},
}


def _holding_keyed(**extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {"k": _KEYED}, **extra}


def _nested_schema() -> Schema:
    free_items = {"type": "object", "properties": {"v": {"type": "string"}}}
    return crd_schema(
        {
            "type": "object",
            "properties": {
                "plain": {"type": "object", "properties": {"deep": _holding_keyed()}},
                "atomic": {"type": "array", "items": _holding_keyed()},
                "sealed": _holding_keyed(**{"x-kubernetes-map-type": "atomic"}),
                "byname": {"type": "object", "additionalProperties": _holding_keyed()},
                "free": {"type": "array", "items": free_items},
            },
        }
    )


_OMITS_NAME = 'element 0: associative list with keys has an element that omits key field "name"'


@pytest.mark.parametrize(
    ("obj", "path"),
    [
        pytest.param({"plain": {"deep": {"k": [{}]}}}, ".plain.deep.k", id="below nested fields"),
        pytest.param({"atomic": [{"k": [{}]}]}, ".atomic[0].k", id="below an atomic list"),
        pytest.param({"sealed": {"k": [{}]}}, ".sealed.k", id="below an atomic map"),
        pytest.param({"byname": {"x": {"k": [{}]}}}, ".byname.x.k", id="below a map value"),
    ],
)
def test_validate_reaches_keyed_lists_at_any_depth(obj: dict[str, Any], path: str) -> None:
    (error,) = validate(obj, _nested_schema(), allow_duplicates=True)
    assert error.startswith(f"{path}: {_OMITS_NAME}")


def test_validate_reaches_keyed_lists_in_recursive_schemas() -> None:
    crd = builtin_schema("apiextensions.k8s.io", "v1", "CustomResourceDefinition")
    size = {"type": "integer", "x-kubernetes-validations": [{"message": "too big"}]}
    spec = {"properties": {"spec": {"properties": {"size": size}}}}
    obj = {"spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": spec}}]}}
    (error,) = validate(obj, crd, allow_duplicates=True)
    assert error.startswith(
        ".spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.size.x-kubernetes-validations: "
        'element 0: associative list with keys has an element that omits key field "rule"'
    )


def test_validate_accepts_anything_where_no_list_is_keyed() -> None:
    obj: dict[str, Any] = {"free": [{"v": [None, {}, [1]]}, None, "x"], "plain": {"deep": {"o": [[{}]]}}}
    assert validate(obj, _nested_schema(), allow_duplicates=False) == []


# --- properties ---------------------------------------------------------------------------------------

scalars = st.one_of(st.integers(-5, 5), st.text(max_size=4), st.booleans())
elements = st.one_of(
    st.text(min_size=1, max_size=6).map(PathElement.field),
    st.dictionaries(st.sampled_from(["name", "port", "protocol"]), scalars, min_size=1).map(PathElement.key),
    scalars.map(PathElement.value),
    st.integers(0, 20).map(PathElement.index),
)
field_sets = st.lists(st.lists(elements, min_size=1, max_size=4), max_size=12).map(
    lambda ps: FieldSet.of(*ps)
)


@given(field_sets)
def test_any_set_survives_fields_v1(fields: FieldSet) -> None:
    text = fields.to_json()
    assert FieldSet.from_fields_v1(text) == fields
    assert FieldSet.from_fields_v1(text).to_json() == text
    assert FieldSet.from_fields_v1(fields.to_fields_v1()) == fields


@given(field_sets, field_sets)
def test_difference_and_intersection_partition_a_set(a: FieldSet, b: FieldSet) -> None:
    assert a.difference(b).union(a.intersection(b)) == a
    assert a.difference(b).intersection(b).empty()
