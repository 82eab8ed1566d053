"""Strategic merge patch on the real built-in schemas: merge keys, list strategies, every directive
kubectl sends, and the real server's answer to malformed patches."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contour.apiserver.errors import APIError
from contour.apiserver.jsonpatch import MAX_DEPTH, REJECTED
from contour.apiserver.mergepatch import apply_merge_patch
from contour.apiserver.schemas import Schema, builtin_schema
from contour.apiserver.strategicpatch import apply_strategic_merge_patch, go_format


def schema_of(group: str, kind: str) -> Schema:
    schema = builtin_schema(group, "v1", kind)
    assert schema is not None
    return schema


DEPLOYMENT = schema_of("apps", "Deployment")
SERVICE = schema_of("", "Service")
CONFIGMAP = schema_of("", "ConfigMap")


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "labels": {"app": "web", "tier": "front"},
            "finalizers": ["a.example.com/one", "b.example.com/two"],
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx:1.25",
                            "ports": [
                                {"containerPort": 80, "name": "http"},
                                {"containerPort": 443, "name": "https"},
                            ],
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                            "volumeMounts": [{"name": "conf", "mountPath": "/etc/nginx"}],
                        },
                        {"name": "sidecar", "image": "envoy:1.40", "args": ["--log-level", "info"]},
                    ],
                    "volumes": [
                        {"name": "conf", "configMap": {"name": "nginx"}},
                        {"name": "cache", "emptyDir": {}},
                    ],
                    "tolerations": [
                        {"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"}
                    ],
                },
            },
        },
    }


def service() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
        },
    }


def at(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    return obj


def pod_spec(patch: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": patch}}}


def containers(*items: dict[str, Any]) -> dict[str, Any]:
    return pod_spec({"containers": list(items)})


POD = "spec.template.spec"
WEB = f"{POD}.containers.0"

DEPLOYMENT_CASES = [
    pytest.param(
        containers({"name": "sidecar", "image": "envoy:1.41"}),
        f"{POD}.containers",
        [
            deployment()["spec"]["template"]["spec"]["containers"][0],
            {"name": "sidecar", "image": "envoy:1.41", "args": ["--log-level", "info"]},
        ],
        id="containers merge by name",
    ),
    pytest.param(
        containers({"name": "init", "image": "busybox"}),
        f"{POD}.containers.*.name",
        ["init", "web", "sidecar"],
        id="a new container goes first without $setElementOrder",
    ),
    pytest.param(
        containers({"name": "sidecar", "$patch": "delete"}),
        f"{POD}.containers.*.name",
        ["web"],
        id="$patch delete removes one container",
    ),
    pytest.param(
        containers({"name": "solo", "image": "x"}, {"$patch": "replace"}),
        f"{POD}.containers",
        [{"name": "solo", "image": "x"}],
        id="$patch replace element replaces the whole list",
    ),
    pytest.param(
        containers({"name": "web", "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]}),
        f"{WEB}.env",
        [{"name": "A", "value": "1"}, {"name": "B", "value": "20"}, {"name": "C", "value": "3"}],
        id="env merges by name",
    ),
    pytest.param(
        containers({"name": "web", "env": [{"name": "A", "$patch": "delete"}]}),
        f"{WEB}.env",
        [{"name": "B", "value": "2"}],
        id="$patch delete removes one env var",
    ),
    pytest.param(
        containers({"name": "web", "ports": [{"containerPort": 443, "name": "tls"}]}),
        f"{WEB}.ports",
        [{"containerPort": 80, "name": "http"}, {"containerPort": 443, "name": "tls"}],
        id="container ports merge by containerPort",
    ),
    pytest.param(
        containers({"name": "web", "ports": [{"containerPort": 8080, "name": "alt"}]}),
        f"{WEB}.ports.*.containerPort",
        [8080, 80, 443],
        id="a new container port",
    ),
    pytest.param(
        containers({"name": "web", "volumeMounts": [{"mountPath": "/etc/nginx", "readOnly": True}]}),
        f"{WEB}.volumeMounts",
        [{"name": "conf", "mountPath": "/etc/nginx", "readOnly": True}],
        id="volumeMounts merge by mountPath",
    ),
    pytest.param(
        pod_spec(
            {"volumes": [{"name": "cache", "$retainKeys": ["name", "secret"], "secret": {"secretName": "s"}}]}
        ),
        f"{POD}.volumes",
        [{"name": "conf", "configMap": {"name": "nginx"}}, {"name": "cache", "secret": {"secretName": "s"}}],
        id="volumes merge by name and $retainKeys drops the old source",
    ),
    pytest.param(
        pod_spec({"tolerations": [{"key": "gpu", "operator": "Exists"}]}),
        f"{POD}.tolerations",
        [{"key": "gpu", "operator": "Exists"}],
        id="tolerations have no strategy and are replaced",
    ),
    pytest.param(
        containers({"name": "sidecar", "args": ["--concurrency", "2"]}),
        f"{POD}.containers.1.args",
        ["--concurrency", "2"],
        id="atomic args are replaced",
    ),
    pytest.param(
        {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
        "spec.strategy",
        {"type": "Recreate"},
        id="$retainKeys on the deployment strategy",
    ),
    pytest.param(
        {"spec": {"strategy": {"rollingUpdate": None}}},
        "spec.strategy",
        {"type": "RollingUpdate"},
        id="null deletes a field",
    ),
    pytest.param(
        {"metadata": {"labels": {"tier": None, "env": "prod"}}},
        "metadata.labels",
        {"app": "web", "env": "prod"},
        id="labels merge as a map",
    ),
    pytest.param(
        {"metadata": {"labels": {"$patch": "replace", "only": "this"}}},
        "metadata.labels",
        {"only": "this"},
        id="$patch replace on a map",
    ),
    pytest.param(
        {"spec": {"selector": {"$patch": "delete"}}},
        "spec.selector",
        {},
        id="$patch delete on a map empties it",
    ),
    pytest.param(
        {"metadata": {"finalizers": ["c.example.com/three", "a.example.com/one"]}},
        "metadata.finalizers",
        ["c.example.com/three", "a.example.com/one", "b.example.com/two"],
        id="finalizers merge as a set",
    ),
    pytest.param(
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.example.com/one"]}},
        "metadata.finalizers",
        ["b.example.com/two"],
        id="$deleteFromPrimitiveList/finalizers",
    ),
    pytest.param(
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x.example.com/absent"]}},
        "metadata.finalizers",
        ["a.example.com/one", "b.example.com/two"],
        id="$deleteFromPrimitiveList of an absent value",
    ),
    pytest.param(
        pod_spec({"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "web"}]}),
        f"{POD}.containers.*.name",
        ["sidecar", "web"],
        id="$setElementOrder/containers reorders",
    ),
    pytest.param(
        pod_spec(
            {
                "$setElementOrder/containers": [{"name": "web"}, {"name": "new"}, {"name": "sidecar"}],
                "containers": [{"name": "new", "image": "n"}],
            }
        ),
        f"{POD}.containers.*.name",
        ["web", "new", "sidecar"],
        id="$setElementOrder/containers places a new container",
    ),
    pytest.param(
        {"metadata": {"$setElementOrder/finalizers": ["b.example.com/two", "a.example.com/one"]}},
        "metadata.finalizers",
        ["b.example.com/two", "a.example.com/one"],
        id="$setElementOrder on a primitive list",
    ),
    pytest.param(
        pod_spec(
            {
                "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
                "containers": [
                    {
                        "$setElementOrder/env": [{"name": "A"}, {"name": "B"}, {"name": "C"}],
                        "env": [{"name": "C", "value": "3"}],
                        "name": "web",
                    }
                ],
            }
        ),
        f"{WEB}.env",
        [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "C", "value": "3"}],
        id="kubectl apply adds an env var in place",
    ),
    pytest.param(
        {
            "metadata": {
                "$setElementOrder/finalizers": ["b.example.com/two", "c.example.com/three"],
                "$deleteFromPrimitiveList/finalizers": ["a.example.com/one"],
                "finalizers": ["c.example.com/three"],
            }
        },
        "metadata.finalizers",
        ["b.example.com/two", "c.example.com/three"],
        id="kubectl apply swaps a finalizer",
    ),
    pytest.param(
        containers(
            {"name": "extra", "image": "e", "env": [{"name": "X", "value": None}], "$retainKeys": ["x"]}
        ),
        f"{POD}.containers.0",
        {"name": "extra", "image": "e", "env": [{"name": "X"}]},
        id="new values lose their nulls and directives",
    ),
    pytest.param(
        pod_spec({"hostAliases": [{"ip": "10.0.0.1", "hostnames": ["a"], "extra": {"$patch": "delete"}}]}),
        f"{POD}.hostAliases",
        [{"ip": "10.0.0.1", "hostnames": ["a"]}],
        id="a new list drops maps carrying directives",
    ),
    pytest.param({"spec": {"replicas": 5}}, "spec.replicas", 5, id="a scalar is replaced"),
]


def pick(obj: Any, path: str) -> Any:
    head, star, tail = path.partition(".*.")
    if not star:
        return at(obj, path)
    return [at(item, tail) for item in at(obj, head)]


@pytest.mark.parametrize(("patch", "path", "expected"), DEPLOYMENT_CASES)
def test_deployment(patch: dict[str, Any], path: str, expected: Any) -> None:
    assert pick(apply_strategic_merge_patch(deployment(), patch, DEPLOYMENT), path) == expected


SERVICE_CASES = [
    pytest.param(
        {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}},
        [{"name": "http", "port": 80, "targetPort": 9090, "protocol": "TCP"}],
        id="ports merge by port",
    ),
    pytest.param(
        {"spec": {"ports": [{"name": "https", "port": 443, "targetPort": 8443}]}},
        [
            {"name": "https", "port": 443, "targetPort": 8443},
            {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
        ],
        id="a new port",
    ),
    pytest.param(
        {
            "spec": {
                "$setElementOrder/ports": [{"port": 80}, {"port": 443}],
                "ports": [{"name": "https", "port": 443, "targetPort": 8443}],
            }
        },
        [
            {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
            {"name": "https", "port": 443, "targetPort": 8443},
        ],
        id="a new port in kubectl apply's order",
    ),
    pytest.param({"spec": {"ports": [{"port": 80, "$patch": "delete"}]}}, [], id="$patch delete a port"),
]


@pytest.mark.parametrize(("patch", "expected"), SERVICE_CASES)
def test_service_ports(patch: dict[str, Any], expected: Any) -> None:
    assert apply_strategic_merge_patch(service(), patch, SERVICE)["spec"]["ports"] == expected


# --- errors

INTERNAL_ERRORS = [
    pytest.param(
        containers({"image": "x"}),
        "map: map[image:x] does not contain declared merge key: name",
        id="missing merge key",
    ),
    pytest.param(
        containers({"$patch": "delete"}),
        "map: map[$patch:delete] does not contain declared merge key: name",
        id="$patch delete without the merge key",
    ),
    pytest.param(
        {"metadata": {"labels": {"$patch": "merge", "a": "b"}}},
        "unknown patch type: merge in map: map[$patch:merge a:b]",
        id="$patch merge on a map",
    ),
    pytest.param(
        containers({"name": "web", "$patch": "merge"}),
        "merging lists cannot yet be specified in the patch",
        id="$patch merge in a list",
    ),
    pytest.param(
        {"spec": {"$patch": 3}},
        "unknown patch type: %!s(int64=3) in map: map[$patch:3]",
        id="$patch that is not a string",
    ),
    pytest.param(
        {"metadata": {"$setElementOrder/finalizers": "a"}},
        "expected a []interface {}, but received a string",
        id="$setElementOrder that is not a list",
    ),
    pytest.param(
        {"metadata": {"$setElementOrder/finalizers": ["a.example.com/one"], "finalizers": ["z"]}},
        "the order in patch list:\n[z]\n doesn't match $setElementOrder list:\n[a.example.com/one]",
        id="$setElementOrder that does not match the patch",
    ),
    pytest.param(
        {"metadata": {"finalizers": [1]}},
        "list element types are not identical: [[a.example.com/one b.example.com/two] [1]]",
        id="mixed element types",
    ),
    pytest.param(
        pod_spec({"$setElementOrder/containers": ["web"]}),
        "value for key 0 is not a map",
        id="$setElementOrder of names instead of maps",
    ),
]


@pytest.mark.parametrize(("patch", "message"), INTERNAL_ERRORS)
def test_errors_the_real_server_reports_as_internal(patch: dict[str, Any], message: str) -> None:
    with pytest.raises(APIError) as caught:
        apply_strategic_merge_patch(deployment(), patch, DEPLOYMENT)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (500, "", message)


BAD_REQUESTS = [
    pytest.param(
        {"spec": {"strategy": {"$retainKeys": "type"}}},
        "invalid patch format of retainKeys",
        id="$retainKeys that is not a list",
    ),
    pytest.param(
        {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 2}}}},
        "invalid patch format of retainKeys",
        id="$retainKeys that leaves out a patched field",
    ),
    pytest.param(
        {"metadata": {"$deleteFromPrimitiveListX/finalizers": ["a"]}},
        "invalid patch format of primitive list",
        id="misspelt $deleteFromPrimitiveList",
    ),
    pytest.param(
        {"metadata": {"$setElementOrder": ["a"]}},
        "invalid patch type of setElementOrder list",
        id="$setElementOrder without a field",
    ),
]


@pytest.mark.parametrize(("patch", "message"), BAD_REQUESTS)
def test_malformed_directives_are_bad_requests(patch: dict[str, Any], message: str) -> None:
    with pytest.raises(APIError) as caught:
        apply_strategic_merge_patch(deployment(), patch, DEPLOYMENT)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (400, "BadRequest", message)


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        pytest.param([], "array", id="array"),
        pytest.param("x", "string", id="string"),
        pytest.param(1, "number", id="1"),
    ],
)
def test_a_body_that_is_not_an_object_is_a_bad_request(body: Any, kind: str) -> None:
    with pytest.raises(APIError) as caught:
        apply_strategic_merge_patch(deployment(), body, DEPLOYMENT)
    assert (caught.value.code, caught.value.message) == (
        400,
        f"json: cannot unmarshal {kind} into Go value of type map[string]interface {{}}",
    )


def test_a_list_of_lists_is_unprocessable() -> None:
    doc = deployment()
    doc["metadata"]["finalizers"] = []
    with pytest.raises(APIError) as caught:
        apply_strategic_merge_patch(doc, {"metadata": {"finalizers": [["a"]]}}, DEPLOYMENT)
    assert (caught.value.code, caught.value.reason, caught.value.message, caught.value.details) == (
        422,
        "Invalid",
        REJECTED,
        {"causes": [{"reason": "UnexpectedServerResponse", "message": "lists of lists are not supported"}]},
    )


# --- inputs, depth


def test_neither_input_is_modified() -> None:
    doc = deployment()
    patch = pod_spec(
        {
            "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "web"}],
            "containers": [{"name": "web", "env": [{"name": "A", "$patch": "delete"}], "image": "x"}],
            "volumes": [{"name": "cache", "$retainKeys": ["name", "secret"], "secret": {"secretName": "s"}}],
        }
    )
    before = copy.deepcopy((doc, patch))
    result = apply_strategic_merge_patch(doc, patch, DEPLOYMENT)
    result["spec"]["template"]["spec"]["volumes"][1]["secret"]["secretName"] = "changed"
    assert (doc, patch) == before


def test_a_new_map_carrying_patch_directive_is_dropped_as_the_real_server_does() -> None:
    patch = pod_spec({"nodeSelector": {"disk": "ssd", "$patch": "replace"}})
    assert (
        "nodeSelector"
        not in apply_strategic_merge_patch(deployment(), patch, DEPLOYMENT)["spec"]["template"]["spec"]
    )


def test_a_null_patch_changes_nothing() -> None:
    assert apply_strategic_merge_patch(deployment(), None, DEPLOYMENT) == deployment()  # type: ignore[arg-type]


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"n": value}
    return value


def test_a_patch_nested_past_the_limit_is_a_bad_request() -> None:
    with pytest.raises(APIError) as caught:
        apply_strategic_merge_patch({}, {"data": nested(MAX_DEPTH)}, CONFIGMAP)
    assert (caught.value.code, caught.value.message) == (
        400,
        f"the patch is nested more than {MAX_DEPTH} levels deep",
    )


def test_a_document_a_hundred_thousand_levels_deep_is_refused_without_recursion() -> None:
    with pytest.raises(APIError) as caught:
        apply_strategic_merge_patch(nested(100_000), {"n": {"x": 1}}, CONFIGMAP)
    assert caught.value.code == 400


def test_objects_just_under_the_limit_merge() -> None:
    doc, patch = nested(MAX_DEPTH - 1), nested(MAX_DEPTH - 1)
    assert apply_strategic_merge_patch(doc, patch, CONFIGMAP) == nested(MAX_DEPTH - 1)


# --- properties

keys = st.text(alphabet="abc", min_size=1, max_size=3)
scalars = st.booleans() | st.integers(-3, 3) | st.text(max_size=3)
trees = st.recursive(scalars, lambda inner: st.dictionaries(keys, inner, max_size=3), max_leaves=15)
patches = st.recursive(
    scalars | st.none(), lambda inner: st.dictionaries(keys, inner, max_size=3), max_leaves=15
)


@given(st.dictionaries(keys, trees, max_size=4), st.dictionaries(keys, patches, max_size=4))
def test_without_lists_or_directives_it_is_a_json_merge_patch(
    doc: dict[str, Any], patch: dict[str, Any]
) -> None:
    data_doc, data_patch = {"data": doc}, {"data": patch}
    assert apply_strategic_merge_patch(data_doc, data_patch, CONFIGMAP) == apply_merge_patch(
        data_doc, data_patch
    )


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        pytest.param(
            {"b": [1, 2.5, None], "a": True}, "map[a:true b:[1 2.5 <nil>]]", id="map with sorted keys"
        ),
        pytest.param(1e6, "1e+06", id="a million"),
        pytest.param(123456.0, "123456", id="six digits"),
        pytest.param(0.0001, "0.0001", id="small"),
        pytest.param(0.00001, "1e-05", id="smaller"),
        pytest.param(-1.5e-7, "-1.5e-07", id="negative exponent"),
    ],
)
def test_values_print_as_go_prints_them(value: Any, printed: str) -> None:
    assert go_format(value) == printed
