"""OpenAPI schema validation of custom resources (and ObjectMeta) against the repo's real CRDs, with
the exact causes the real kube-apiserver reports: reason, field path and message."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from contour.apiserver import field_errors as fe
from contour.apiserver.admission import ObjectValidator
from contour.apiserver.object_meta import DNS1035_LABEL, DNS_LABEL, PATH_SEGMENT, validate_object_meta
from contour.apiserver.schemas import builtin_schema
from contour.apiserver.validation import validate
from tests.manifests import INVALID_DIR, documents, rel, sample_files
from tests.unit.crd_validators import GW, LISTENER, crd_types, gateway, httpproxy, httproute, node, prepare

SAMPLES = [
    (path, i, doc)
    for path in sample_files()
    for i, doc in enumerate(documents(path))
    if f"{doc.get('apiVersion')}/{doc.get('kind')}" in crd_types()
]


@pytest.mark.parametrize(
    "doc", [s[2] for s in SAMPLES], ids=[f"{rel(p)}#{i}-{d['kind']}" for p, i, d in SAMPLES]
)
def test_sample_is_accepted_without_unknown_fields(doc: dict[str, Any]) -> None:
    _, causes, unknown = prepare(doc)
    assert (causes, unknown) == ([], [])


def _invalid_cases() -> list[tuple[Path, str]]:
    cases = []
    for path in sorted(INVALID_DIR.glob("*.yaml")):
        expected = path.read_text("utf-8").splitlines()[0].removeprefix("# expect: ").strip()
        # The corpus writes list indexes pydantic's way (`ports.0.port`); the server writes `ports[0].port`.
        cases.append((path, re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", expected)))
    return cases


# Invalid manifests whose mistake is a field the schema does not declare: the server prunes it and,
# with fieldValidation=Strict, refuses it as `unknown field "<path>"` (a 400, not a cause of a 422).
UNKNOWN_FIELD_CASES = {
    "contourconfiguration-removed-xds-server-type",
    "contourdeployment-runtime-settings-typo",
    "grpcroute-timeouts",
    "httpproxy-misspelled-timeout-field",
    "httproute-retry-experimental",
    "listenerset-parentref-sectionname",
    "tlscertificatedelegation-unknown-field",
    "udproute-hostnames",
}


@pytest.mark.parametrize(
    ("path", "location"), _invalid_cases(), ids=lambda v: v.stem if isinstance(v, Path) else ""
)
def test_invalid_manifest_is_refused_at_its_field(path: Path, location: str) -> None:
    (doc,) = documents(path)
    _, causes, unknown = prepare(doc)
    if path.stem in UNKNOWN_FIELD_CASES:
        assert (causes, unknown) == ([], [location])
    else:
        assert location in [c["field"] for c in causes], causes


def test_every_invalid_manifest_is_a_custom_resource() -> None:
    kinds = {f"{documents(p)[0]['apiVersion']}/{documents(p)[0]['kind']}" for p, _ in _invalid_cases()}
    assert kinds - set(crd_types()) == set()


PORT = {"name": "s", "port": 80}

CASES: list[tuple[str, dict[str, Any], dict[str, str]]] = [
    (
        "wrong type",
        httpproxy({"routes": [{"services": [{"name": "s", "port": "eighty"}]}]}),
        {
            "reason": "FieldValueTypeInvalid",
            "field": "spec.routes[0].services[0].port",
            "message": 'Invalid value: "string": spec.routes[0].services[0].port in body must be of '
            "type integer: "
            '"string"',
        },
    ),
    (
        "required",
        httpproxy({"virtualhost": {}, "routes": [{"services": [PORT]}]}),
        {"reason": "FieldValueRequired", "field": "spec.virtualhost.fqdn", "message": "Required value"},
    ),
    (
        "enum",
        httpproxy({"routes": [{"services": [{**PORT, "protocol": "h3"}]}]}),
        {
            "reason": "FieldValueNotSupported",
            "field": "spec.routes[0].services[0].protocol",
            "message": 'Unsupported value: "h3": supported values: "h2", "h2c", "tls"',
        },
    ),
    (
        "exclusive maximum",
        httpproxy({"routes": [{"services": [{"name": "s", "port": 70000}]}]}),
        {
            "reason": "FieldValueInvalid",
            "field": "spec.routes[0].services[0].port",
            "message": "Invalid value: 70000: spec.routes[0].services[0].port in body should be less "
            "than 65536",
        },
    ),
    (
        "minimum",
        httpproxy({"routes": [{"services": [{"name": "s", "port": 0}]}]}),
        {
            "reason": "FieldValueInvalid",
            "field": "spec.routes[0].services[0].port",
            "message": "Invalid value: 0: spec.routes[0].services[0].port in body should be greater "
            "than or equal "
            "to 1",
        },
    ),
    (
        "maxItems",
        httproute({"hostnames": [f"h{i}.example.com" for i in range(17)]}),
        {
            "reason": "FieldValueTooMany",
            "field": "spec.hostnames",
            "message": "Too many: 17: must have at most 16 items",
        },
    ),
    (
        "minItems",
        gateway({"gatewayClassName": "c", "listeners": []}),
        {
            "reason": "FieldValueInvalid",
            "field": "spec.listeners",
            "message": "Invalid value: 0: spec.listeners in body should have at least 1 items",
        },
    ),
    (
        "maxLength counts characters",
        gateway({"gatewayClassName": "é" * 254, "listeners": [LISTENER]}),
        {
            "reason": "FieldValueTooLong",
            "field": "spec.gatewayClassName",
            "message": "Too long: may not be more than 253 bytes",
        },
    ),
    (
        "minLength",
        gateway({"gatewayClassName": "", "listeners": [LISTENER]}),
        {
            "reason": "FieldValueInvalid",
            "field": "spec.gatewayClassName",
            "message": 'Invalid value: "": spec.gatewayClassName in body should be at least 1 chars long',
        },
    ),
    (
        "pattern",
        httpproxy({"virtualhost": {"fqdn": "A.example.com"}, "routes": [{"services": [PORT]}]}),
        {
            "reason": "FieldValueInvalid",
            "field": "spec.virtualhost.fqdn",
            "message": 'Invalid value: "A.example.com": spec.virtualhost.fqdn in body should match '
            "'^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'",
        },
    ),
    (
        "list-type map duplicate key",
        gateway({"gatewayClassName": "c", "listeners": [LISTENER, {**LISTENER, "port": 81}]}),
        {
            "reason": "FieldValueDuplicate",
            "field": "spec.listeners[1]",
            "message": 'Duplicate value: map[string]interface {}{"name":"http"}',
        },
    ),
    (
        "format ipv4 inside oneOf",
        gateway({"gatewayClassName": "c", "listeners": [LISTENER], "addresses": [{"value": "300.1.1.1"}]}),
        {
            "reason": "FieldValueInvalid",
            "field": "<nil>",
            "message": 'Invalid value: "": "spec.addresses[0]" must validate one and only one schema '
            "(oneOf). "
            "Found none valid",
        },
    ),
]


@pytest.mark.parametrize(("doc", "cause"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_schema_violation_gives_the_real_cause(doc: dict[str, Any], cause: dict[str, str]) -> None:
    _, causes, _ = prepare(doc)
    assert causes[0] == cause, causes


def test_list_type_set_reports_the_second_occurrence() -> None:
    modifier = {"type": "RequestHeaderModifier", "requestHeaderModifier": {"remove": ["a", "b", "a", "a"]}}
    doc = httproute({"rules": [{"filters": [modifier]}]})
    _, causes, _ = prepare(doc)
    assert causes == [
        {
            "reason": "FieldValueDuplicate",
            "field": "spec.rules[0].filters[0].requestHeaderModifier.remove[2]",
            "message": 'Duplicate value: "a"',
        }
    ]


def test_ipv4_branch_accepts_an_address() -> None:
    doc = gateway({"gatewayClassName": "c", "listeners": [LISTENER], "addresses": [{"value": "10.0.0.1"}]})
    assert prepare(doc)[1] == []


def test_schema_errors_block_cel_rules_with_the_real_notice() -> None:
    _, causes, _ = prepare(gateway({"listeners": [LISTENER]}))
    assert causes == [
        {"reason": "FieldValueRequired", "field": "spec.gatewayClassName", "message": "Required value"},
        {
            "reason": "FieldValueInvalid",
            "field": "<nil>",
            "message": 'Invalid value: "null": some validation rules were not checked because the object was '
            "invalid; correct the existing errors to complete validation",
        },
    ]


def test_validate_walks_a_schema_view_directly() -> None:
    schema = crd_types()[f"{GW}/Gateway"].schema()
    assert schema is not None
    assert [c.field for c in validate({"spec": {"listeners": "x"}}, schema)] == [
        "spec.listeners",
        "spec.gatewayClassName",
    ]


def test_null_is_a_type_error_in_a_list() -> None:
    assert [c.message for c in validate({"spec": {"hostnames": [None]}}, node(GW, "HTTPRoute"))] == [
        'Invalid value: "null": spec.hostnames[0] in body must be of type string: "null"'
    ]


META_CASES: list[tuple[str, dict[str, Any], bool, Any, dict[str, str]]] = [
    (
        "name required",
        {"metadata": {"namespace": "d"}},
        True,
        None,
        {
            "reason": "FieldValueRequired",
            "field": "metadata.name",
            "message": "Required value: name or generateName is required",
        },
    ),
    (
        "subdomain name",
        {"metadata": {"name": "Web_1", "namespace": "d"}},
        True,
        None,
        {
            "reason": "FieldValueInvalid",
            "field": "metadata.name",
            "message": 'Invalid value: "Web_1": a lowercase RFC 1123 subdomain must consist of lower case '
            "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
            "character (e.g. "
            "'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        },
    ),
    (
        "namespace required",
        {"metadata": {"name": "a"}},
        True,
        None,
        {"reason": "FieldValueRequired", "field": "metadata.namespace", "message": "Required value"},
    ),
    (
        "namespace forbidden on cluster-scoped kinds",
        {"metadata": {"name": "a", "namespace": "d"}},
        False,
        None,
        {
            "reason": "FieldValueForbidden",
            "field": "metadata.namespace",
            "message": "Forbidden: not allowed on this type",
        },
    ),
    (
        "namespace name is a label",
        {"metadata": {"name": "a.b"}},
        False,
        DNS_LABEL,
        {
            "reason": "FieldValueInvalid",
            "field": "metadata.name",
            "message": 'Invalid value: "a.b": must not contain dots',
        },
    ),
    (
        "service name is a DNS-1035 label",
        {"metadata": {"name": "1web", "namespace": "d"}},
        True,
        DNS1035_LABEL,
        {
            "reason": "FieldValueInvalid",
            "field": "metadata.name",
            "message": 'Invalid value: "1web": a DNS-1035 label must consist of lower case alphanumeric '
            "characters or '-', start with an alphabetic character, and end with an alphanumeric "
            "character (e.g. "
            "'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
        },
    ),
    (
        "RBAC names are path segments",
        {"metadata": {"name": "a/b"}},
        False,
        PATH_SEGMENT,
        {
            "reason": "FieldValueInvalid",
            "field": "metadata.name",
            "message": "Invalid value: \"a/b\": may not contain '/'",
        },
    ),
    (
        "label value",
        {"metadata": {"name": "a", "labels": {"app": "-x"}}},
        False,
        None,
        {
            "reason": "FieldValueInvalid",
            "field": "metadata.labels",
            "message": 'Invalid value: "-x": a valid label must be an empty string or consist of '
            "alphanumeric "
            "characters, '-', '_' or '.', and must start and end with an alphanumeric character "
            "(e.g. 'MyValue',  "
            "or 'my_value',  or '12345', regex used for validation is "
            "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        },
    ),
    (
        "annotation key",
        {"metadata": {"name": "a", "annotations": {"a/b/c": ""}}},
        False,
        None,
        {
            "reason": "FieldValueInvalid",
            "field": "metadata.annotations",
            "message": 'Invalid value: "a/b/c": a qualified name must consist of alphanumeric '
            "characters, '-', '_' "
            "or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
            "'my.name',  or "
            "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') "
            "with an optional "
            "DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
        },
    ),
    (
        "annotations total size",
        {"metadata": {"name": "a", "annotations": {"big": "x" * (256 * 1024)}}},
        False,
        None,
        {
            "reason": "FieldValueTooLong",
            "field": "metadata.annotations",
            "message": "Too long: may not be more than 262144 bytes",
        },
    ),
]


@pytest.mark.parametrize(
    ("obj", "namespaced", "rule", "cause"), [c[1:] for c in META_CASES], ids=[c[0] for c in META_CASES]
)
def test_object_meta_violation_gives_the_real_cause(
    obj: dict[str, Any], namespaced: bool, rule: Any, cause: dict[str, str]
) -> None:
    causes = (
        validate_object_meta(obj, namespaced)
        if rule is None
        else validate_object_meta(obj, namespaced, name_rule=rule)
    )
    assert [c.as_dict() for c in causes] == [cause]


def test_generate_name_may_end_with_a_dash() -> None:
    assert validate_object_meta({"metadata": {"generateName": "web-", "name": "web-x1"}}, False) == []


def test_annotations_at_the_limit_are_accepted() -> None:
    meta = {"metadata": {"name": "a", "annotations": {"big": "x" * (256 * 1024 - 3)}}}
    assert validate_object_meta(meta, False) == []


def _service_validator() -> ObjectValidator:
    schema = builtin_schema("", "v1", "Service")
    assert schema is not None
    return ObjectValidator.for_schema(schema, is_custom=False)


def test_builtin_kind_gets_type_checks_and_unknown_fields_but_no_pruning() -> None:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "colour": "blue"},
        "spec": {"ports": [{"port": "http", "bogus": 1}], "selector": {"app": "web"}},
    }
    stored, causes, unknown = _service_validator().prepare(svc, None)
    assert stored is svc and "bogus" in stored["spec"]["ports"][0]
    assert unknown == ["spec.ports[0].bogus", "metadata.colour"]
    assert [c.as_dict() for c in causes] == [
        {
            "reason": "FieldValueTypeInvalid",
            "field": "spec.ports[0].port",
            "message": 'Invalid value: "string": spec.ports[0].port in body must be of type integer: '
            '"string"',
        }
    ]


def test_builtin_quantity_accepts_numbers() -> None:
    schema = builtin_schema("apps", "v1", "Deployment")
    assert schema is not None
    container = {"name": "c", "image": "i", "resources": {"limits": {"cpu": 1, "memory": "1Gi"}}}
    deploy = {"spec": {"template": {"spec": {"containers": [container]}}}}
    _, causes, _ = ObjectValidator.for_schema(schema, is_custom=False).prepare(deploy, None)
    assert causes == []


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.5, "1.5"),
        (1e6, "1e+06"),
        (100000.0, "100000"),
        (123456789.0, "1.23456789e+08"),
        (0.0001, "0.0001"),
        (1e-5, "1e-05"),
    ],
)
def test_floats_print_like_go(value: float, text: str) -> None:
    assert fe.go_value(value) == text


@pytest.mark.parametrize(
    ("group", "kind", "name", "accepted"),
    [
        ("rbac.authorization.k8s.io", "ClusterRole", "system:aggregate-to-view", True),
        ("", "Service", "1web", False),
        ("", "Namespace", "a.b", False),
        ("", "ConfigMap", "a.b", True),
    ],
)
def test_builtin_kind_gets_its_own_name_rule(group: str, kind: str, name: str, accepted: bool) -> None:
    schema = builtin_schema(group, "v1", kind)
    assert schema is not None
    validator = ObjectValidator.for_schema(schema, is_custom=False, namespaced=False)
    _, causes, _ = validator.prepare({"metadata": {"name": name}}, None)
    assert (causes == []) is accepted, causes
