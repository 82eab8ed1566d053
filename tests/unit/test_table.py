"""Server-side printing: Table columns and cells for CRDs (printer columns, JSONPath) and built-in kinds,
ages as Kubernetes' HumanDuration writes them, row objects per includeObject, and Accept negotiation."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contour.apiserver.errors import APIError
from contour.apiserver.humanduration import age, human_duration
from contour.apiserver.resources import ResourceRegistry, ResourceType
from contour.apiserver.table import list_table, object_table, table_version
from contour.apiserver.table_jsonpath import JSONPath, JSONPathError, go_float, print_value
from tests.support.docserver import registry_with_repo_crds, sample

NOW = datetime(2024, 3, 10, 12, 0, 0, tzinfo=UTC)
FIVE_MINUTES_AGO = "2024-03-10T11:55:00Z"
TABLE_ACCEPT = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
    "application/json"
)


@pytest.fixture(scope="module")
def registry() -> ResourceRegistry:
    return registry_with_repo_crds()


def rtype(registry: ResourceRegistry, api_version: str, kind: str) -> ResourceType:
    found = registry.by_kind(api_version, kind)
    assert found is not None
    return found


def names(table: dict[str, Any]) -> list[str]:
    return [c["name"] for c in table["columnDefinitions"]]


def cells(table: dict[str, Any], *, wide: bool = False) -> list[Any]:
    """The first row's cells; without `wide`, only those of priority-0 columns (what `kubectl get` shows)."""
    shown = [wide or c["priority"] == 0 for c in table["columnDefinitions"]]
    return [cell for cell, keep in zip(table["rows"][0]["cells"], shown, strict=True) if keep]


def header(table: dict[str, Any]) -> list[str]:
    return [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0]


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [
        pytest.param(timedelta(seconds=-3), "<invalid>", id="future"),
        pytest.param(timedelta(seconds=-1.5), "0s", id="clock-skew"),
        pytest.param(timedelta(0), "0s", id="now"),
        pytest.param(timedelta(seconds=59), "59s", id="59s"),
        pytest.param(timedelta(seconds=119), "119s", id="119s"),
        pytest.param(timedelta(minutes=2), "2m", id="2m"),
        pytest.param(timedelta(minutes=5, seconds=30), "5m30s", id="5m30s"),
        pytest.param(timedelta(minutes=9, seconds=59), "9m59s", id="9m59s"),
        pytest.param(timedelta(minutes=10, seconds=59), "10m", id="10m"),
        pytest.param(timedelta(minutes=179), "179m", id="179m"),
        pytest.param(timedelta(hours=3), "3h", id="3h"),
        pytest.param(timedelta(hours=3, minutes=5), "3h5m", id="3h5m"),
        pytest.param(timedelta(hours=7, minutes=59), "7h59m", id="7h59m"),
        pytest.param(timedelta(hours=8, minutes=30), "8h", id="8h"),
        pytest.param(timedelta(hours=47), "47h", id="47h"),
        pytest.param(timedelta(hours=48), "2d", id="2d"),
        pytest.param(timedelta(days=2, hours=3), "2d3h", id="2d3h"),
        pytest.param(timedelta(days=7, hours=23), "7d23h", id="7d23h"),
        pytest.param(timedelta(days=8, hours=5), "8d", id="8d"),
        pytest.param(timedelta(days=729), "729d", id="729d"),
        pytest.param(timedelta(days=730), "2y", id="2y"),
        pytest.param(timedelta(days=740), "2y10d", id="2y10d"),
        pytest.param(timedelta(days=365 * 9 + 3), "9y", id="9y"),
    ],
)
def test_human_duration(elapsed: timedelta, expected: str) -> None:
    assert human_duration(elapsed) == expected


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        pytest.param(FIVE_MINUTES_AGO, "5m", id="utc"),
        pytest.param("2024-03-10T12:55:00+01:00", "5m", id="offset"),
        pytest.param("2024-03-10T11:55:00.123456789Z", "4m59s", id="nanoseconds"),
        pytest.param(None, "<unknown>", id="missing"),
        pytest.param("", "<unknown>", id="empty"),
        pytest.param("yesterday", "<invalid>", id="malformed"),
        pytest.param("2024-03-10", "<invalid>", id="date-only"),
    ],
)
def test_age(timestamp: str | None, expected: str) -> None:
    assert age(timestamp, NOW) == expected


DOCUMENT: dict[str, Any] = {
    "metadata": {"name": "x", "labels": {"app.kubernetes.io/name": "web"}},
    "spec": {"rules": [{"host": "a.example.com"}, {"host": "b.example.com"}], "replicas": 3},
    "status": {
        "conditions": [{"type": "Accepted", "status": "True"}, {"type": "Programmed", "status": "False"}],
        "addresses": [{"value": "10.0.0.1"}, {"value": "10.0.0.2"}],
        "weight": 1.5,
    },
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param(".spec.replicas", [3], id="field"),
        pytest.param("{.spec.replicas}", [3], id="braces"),
        pytest.param('.status.conditions[?(@.type=="Programmed")].status', ["False"], id="filter"),
        pytest.param(".status.conditions[?(@.type=='Accepted')].status", ["True"], id="filter-single-quotes"),
        pytest.param('.status.conditions[?(@.type!="Accepted")].type', ["Programmed"], id="filter-not-equal"),
        pytest.param(".status.conditions[?(@.reason)].type", [], id="filter-existence"),
        pytest.param(".status.addresses[*].value", ["10.0.0.1", "10.0.0.2"], id="wildcard"),
        pytest.param(".spec.rules[0].host", ["a.example.com"], id="index"),
        pytest.param(".spec.rules[-1].host", ["b.example.com"], id="negative-index"),
        pytest.param(".spec.rules[5].host", [], id="index-out-of-range"),
        pytest.param(".spec.rules[0:1].host", ["a.example.com"], id="slice"),
        pytest.param(".metadata.labels['app.kubernetes.io/name']", ["web"], id="quoted-key"),
        pytest.param("..host", ["a.example.com", "b.example.com"], id="recursive"),
        pytest.param(".spec.virtualhost.fqdn", [], id="missing-key"),
        pytest.param(".spec.replicas.value", [], id="field-of-scalar"),
    ],
)
def test_jsonpath(path: str, expected: list[Any]) -> None:
    assert JSONPath.parse(path).find(DOCUMENT) == expected


@pytest.mark.parametrize("path", ["[?(@.type", ".spec[", "x.y", ".a[?(type==1)]"])
def test_jsonpath_rejects_malformed_paths(path: str) -> None:
    with pytest.raises(JSONPathError):
        JSONPath.parse(path)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("text", "text", id="string"),
        pytest.param(3, "3", id="int"),
        pytest.param(True, "true", id="bool"),
        pytest.param(1.5, "1.5", id="float"),
        pytest.param(1234567.0, "1.234567e+06", id="large-float"),
        pytest.param(["a.example.com"], '["a.example.com"]', id="list"),
        pytest.param({"b": 1, "a": "<x>"}, '{"a":"\\u003cx\\u003e","b":1}', id="map"),
        pytest.param(None, None, id="null"),
    ],
)
def test_string_columns_print_values_like_go(value: Any, expected: str | None) -> None:
    assert print_value(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [(100000.0, "100000"), (1e-05, "1e-05"), (0.0001, "0.0001"), (-2.0, "-2")]
)
def test_go_float(value: float, expected: str) -> None:
    assert go_float(value) == expected


def httpproxy_with_status() -> dict[str, Any]:
    proxy = sample("httpproxy.yaml", "www-example-com")
    proxy["metadata"].update(creationTimestamp=FIVE_MINUTES_AGO, resourceVersion="42", uid="u-1")
    proxy["status"] = {"currentStatus": "valid", "description": "Valid HTTPProxy"}
    return proxy


def test_httpproxy_columns_come_from_the_crd(registry: ResourceRegistry) -> None:
    table = object_table(
        rtype(registry, "projectcontour.io/v1", "HTTPProxy"), httpproxy_with_status(), now=NOW
    )
    assert names(table) == ["Name", "FQDN", "TLS Secret", "Status", "Status Description"]
    assert table["columnDefinitions"][1] == {
        "name": "FQDN",
        "type": "string",
        "format": "",
        "description": "Host name the proxy serves",
        "priority": 0,
    }
    assert cells(table) == [
        "www-example-com",
        "www.example.com",
        "www-example-com-tls",
        "valid",
        "Valid HTTPProxy",
    ]


def test_httpproxy_without_virtualhost_or_status_has_empty_cells(registry: ResourceRegistry) -> None:
    child = sample("httpproxy.yaml", "blog")
    table = object_table(rtype(registry, "projectcontour.io/v1", "HTTPProxy"), child, now=NOW)
    assert cells(table) == ["blog", None, None, None, None]


def test_crd_without_printer_columns_gets_name_and_age(registry: ResourceRegistry) -> None:
    delegation = {
        "apiVersion": "projectcontour.io/v1",
        "kind": "TLSCertificateDelegation",
        "metadata": {"name": "d", "namespace": "ns", "creationTimestamp": FIVE_MINUTES_AGO},
    }
    table = object_table(
        rtype(registry, "projectcontour.io/v1", "TLSCertificateDelegation"), delegation, now=NOW
    )
    assert names(table) == ["Name", "Age"]
    assert table["columnDefinitions"][1]["type"] == "date"
    assert cells(table) == ["d", "5m"]


def test_gateway_columns_use_filters_first_values_and_dates(registry: ResourceRegistry) -> None:
    gateway = sample("gateway.yaml", "contour")
    gateway["metadata"]["creationTimestamp"] = "2024-03-08T09:00:00Z"
    gateway["status"] = copy.deepcopy(DOCUMENT["status"])
    table = object_table(rtype(registry, "gateway.networking.k8s.io/v1", "Gateway"), gateway, now=NOW)
    assert names(table) == ["Name", "Class", "Address", "Programmed", "Age"]
    assert cells(table) == ["contour", "contour", "10.0.0.1", "False", "2d3h"]


def test_list_valued_string_column_prints_json(registry: ResourceRegistry) -> None:
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "r", "namespace": "ns", "creationTimestamp": FIVE_MINUTES_AGO},
        "spec": {"hostnames": ["a.example.com", "b.example.com"]},
    }
    table = object_table(rtype(registry, "gateway.networking.k8s.io/v1", "HTTPRoute"), route, now=NOW)
    assert cells(table) == ["r", '["a.example.com","b.example.com"]', "5m"]


def test_rows_carry_partial_object_metadata_by_default(registry: ResourceRegistry) -> None:
    proxy = httpproxy_with_status()
    table = object_table(rtype(registry, "projectcontour.io/v1", "HTTPProxy"), proxy, now=NOW)
    assert table["rows"][0]["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": proxy["metadata"],
    }
    assert (table["kind"], table["apiVersion"], table["metadata"]) == (
        "Table",
        "meta.k8s.io/v1",
        {"resourceVersion": "42"},
    )


def test_rows_carry_the_object_or_nothing_when_asked(registry: ResourceRegistry) -> None:
    proxy = httpproxy_with_status()
    kind = rtype(registry, "projectcontour.io/v1", "HTTPProxy")
    assert object_table(kind, proxy, now=NOW, include_object="Object")["rows"][0]["object"] == proxy
    assert object_table(kind, proxy, now=NOW, include_object="None")["rows"][0]["object"] is None


def test_v1beta1_table_labels_partial_metadata_with_its_version(registry: ResourceRegistry) -> None:
    kind = rtype(registry, "projectcontour.io/v1", "HTTPProxy")
    table = object_table(kind, httpproxy_with_status(), now=NOW, version="v1beta1")
    assert table["apiVersion"] == "meta.k8s.io/v1beta1"
    assert table["rows"][0]["object"]["apiVersion"] == "meta.k8s.io/v1beta1"


def test_unknown_include_object_is_a_bad_request(registry: ResourceRegistry) -> None:
    kind = rtype(registry, "projectcontour.io/v1", "HTTPProxy")
    with pytest.raises(APIError) as caught:
        object_table(kind, httpproxy_with_status(), now=NOW, include_object="Everything")
    assert (caught.value.code, caught.value.message) == (
        400,
        'unrecognized includeObject value: "Everything"',
    )


def test_no_headers_omits_column_definitions(registry: ResourceRegistry) -> None:
    kind = rtype(registry, "projectcontour.io/v1", "HTTPProxy")
    assert "columnDefinitions" not in object_table(kind, httpproxy_with_status(), now=NOW, no_headers=True)


def test_list_table_keeps_list_metadata_and_item_order(registry: ResourceRegistry) -> None:
    first, second = httpproxy_with_status(), sample("httpproxy.yaml", "blog")
    table = list_table(
        rtype(registry, "projectcontour.io/v1", "HTTPProxy"),
        {
            "metadata": {"resourceVersion": "77", "continue": "token", "remainingItemCount": 3},
            "items": [first, second],
        },
        now=NOW,
    )
    assert table["metadata"] == {"resourceVersion": "77", "continue": "token", "remainingItemCount": 3}
    assert [row["cells"][0] for row in table["rows"]] == ["www-example-com", "blog"]


def test_empty_list_table_still_has_columns(registry: ResourceRegistry) -> None:
    table = list_table(
        rtype(registry, "projectcontour.io/v1", "HTTPProxy"),
        {"metadata": {"resourceVersion": "1"}, "items": []},
        now=NOW,
    )
    assert (table["rows"], names(table)[0]) == ([], "Name")


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        pytest.param(TABLE_ACCEPT, "v1", id="kubectl-get"),
        pytest.param("application/json;as=Table;v=v1beta1;g=meta.k8s.io", "v1beta1", id="v1beta1"),
        pytest.param(
            "application/json;as=Table;v=v2;g=meta.k8s.io,application/json", None, id="unknown-version"
        ),
        pytest.param("application/json", None, id="plain"),
        pytest.param("application/yaml,application/json;as=Table;v=v1;g=meta.k8s.io", None, id="yaml-first"),
        pytest.param(
            "application/vnd.kubernetes.protobuf,application/json;as=Table;v=v1;g=meta.k8s.io",
            "v1",
            id="protobuf-skipped",
        ),
        pytest.param("", None, id="none"),
    ],
)
def test_table_negotiation(accept: str, expected: str | None) -> None:
    assert table_version(accept) == expected


def meta(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "ns", "creationTimestamp": FIVE_MINUTES_AGO, **extra}


BUILTIN_CASES: list[Any] = [
    pytest.param(
        ("v1", "Namespace"),
        {"metadata": meta("ns"), "status": {"phase": "Active"}},
        ["Name", "Status", "Age"],
        ["ns", "Active", "5m"],
        id="namespace",
    ),
    pytest.param(
        ("v1", "Service"),
        {
            "metadata": meta("web"),
            "spec": {
                "type": "ClusterIP",
                "clusterIP": "10.96.0.10",
                "clusterIPs": ["10.96.0.10"],
                "ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
            },
        },
        ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"],
        ["web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP,53/UDP", "5m"],
        id="service-cluster-ip",
    ),
    pytest.param(
        ("v1", "Service"),
        {
            "metadata": meta("envoy"),
            "spec": {
                "type": "LoadBalancer",
                "clusterIPs": ["10.96.0.11"],
                "ports": [{"port": 443, "nodePort": 30443}],
            },
        },
        ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"],
        ["envoy", "LoadBalancer", "10.96.0.11", "<pending>", "443:30443/TCP", "5m"],
        id="service-load-balancer-pending",
    ),
    pytest.param(
        ("v1", "Endpoints"),
        {
            "metadata": meta("web"),
            "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 8080}]}],
        },
        ["Name", "Endpoints", "Age"],
        ["web", "10.0.0.1:8080,10.0.0.2:8080", "5m"],
        id="endpoints",
    ),
    pytest.param(
        ("v1", "Secret"),
        {"metadata": meta("tls"), "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}},
        ["Name", "Type", "Data", "Age"],
        ["tls", "kubernetes.io/tls", 2, "5m"],
        id="secret",
    ),
    pytest.param(
        ("v1", "ConfigMap"),
        {"metadata": meta("cfg"), "data": {"a": "1"}, "binaryData": {"b": ""}},
        ["Name", "Data", "Age"],
        ["cfg", 2, "5m"],
        id="configmap",
    ),
    pytest.param(
        ("v1", "ServiceAccount"),
        {"metadata": meta("contour")},
        ["Name", "Secrets", "Age"],
        ["contour", 0, "5m"],
        id="serviceaccount",
    ),
    pytest.param(
        ("v1", "Event"),
        {
            "metadata": meta("web.1"),
            "involvedObject": {"kind": "HTTPProxy", "name": "web"},
            "reason": "Invalid",
            "message": "bad ",
            "type": "Warning",
            "lastTimestamp": FIVE_MINUTES_AGO,
            "count": 2,
        },
        ["Last Seen", "Type", "Reason", "Object", "Message"],
        ["5m", "Warning", "Invalid", "httpproxy/web", "bad"],
        id="event",
    ),
    pytest.param(
        ("v1", "Pod"),
        {
            "metadata": meta("envoy-0"),
            "spec": {"containers": [{"name": "envoy"}, {"name": "shutdown"}]},
            "status": {
                "phase": "Running",
                "containerStatuses": [
                    {"name": "envoy", "ready": True, "restartCount": 0, "state": {"running": {}}},
                    {
                        "name": "shutdown",
                        "ready": False,
                        "restartCount": 2,
                        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                        "lastState": {"terminated": {"finishedAt": "2024-03-10T11:58:00Z", "exitCode": 1}},
                    },
                ],
            },
        },
        ["Name", "Ready", "Status", "Restarts", "Age"],
        ["envoy-0", "1/2", "CrashLoopBackOff", "2 (2m ago)", "5m"],
        id="pod-crashlooping",
    ),
    pytest.param(
        ("discovery.k8s.io/v1", "EndpointSlice"),
        {
            "metadata": meta("web-abc"),
            "addressType": "IPv4",
            "ports": [{"port": 8080}, {"name": "metrics"}],
            "endpoints": [{"addresses": [f"10.0.0.{i}"]} for i in range(1, 6)],
        },
        ["Name", "AddressType", "Ports", "Endpoints", "Age"],
        ["web-abc", "IPv4", "8080,metrics", "10.0.0.1,10.0.0.2,10.0.0.3 + 2 more...", "5m"],
        id="endpointslice",
    ),
    pytest.param(
        ("apps/v1", "Deployment"),
        {
            "metadata": meta("contour"),
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "contour"}}},
            "status": {"readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1},
        },
        ["Name", "Ready", "Up-to-date", "Available", "Age"],
        ["contour", "1/2", 2, 1, "5m"],
        id="deployment",
    ),
    pytest.param(
        ("apps/v1", "DaemonSet"),
        {
            "metadata": meta("envoy"),
            "spec": {"template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}}}},
            "status": {
                "desiredNumberScheduled": 3,
                "currentNumberScheduled": 3,
                "numberReady": 2,
                "updatedNumberScheduled": 3,
                "numberAvailable": 2,
            },
        },
        ["Name", "Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Age"],
        ["envoy", 3, 3, 2, 3, 2, "kubernetes.io/os=linux", "5m"],
        id="daemonset",
    ),
    pytest.param(
        ("networking.k8s.io/v1", "Ingress"),
        {
            "metadata": meta("web"),
            "spec": {"ingressClassName": "contour", "rules": [{"host": "a.example.com"}, {}], "tls": [{}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}},
        },
        ["Name", "Class", "Hosts", "Address", "Ports", "Age"],
        ["web", "contour", "a.example.com", "192.0.2.1", "80, 443", "5m"],
        id="ingress",
    ),
    pytest.param(
        ("networking.k8s.io/v1", "IngressClass"),
        {"metadata": meta("contour"), "spec": {"controller": "projectcontour.io/contour"}},
        ["Name", "Controller", "Parameters", "Age"],
        ["contour", "projectcontour.io/contour", "<none>", "5m"],
        id="ingressclass",
    ),
    pytest.param(
        ("rbac.authorization.k8s.io/v1", "Role"),
        {"metadata": meta("reader")},
        ["Name", "Created At"],
        ["reader", FIVE_MINUTES_AGO],
        id="role",
    ),
    pytest.param(
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
        {
            "metadata": meta("contour"),
            "roleRef": {"kind": "ClusterRole", "name": "contour"},
            "subjects": [{"kind": "ServiceAccount", "namespace": "projectcontour", "name": "contour"}],
        },
        ["Name", "Role", "Age"],
        ["contour", "ClusterRole/contour", "5m"],
        id="clusterrolebinding",
    ),
    pytest.param(
        ("coordination.k8s.io/v1", "Lease"),
        {"metadata": meta("leader-elect"), "spec": {"holderIdentity": "contour-1"}},
        ["Name", "Holder", "Age"],
        ["leader-elect", "contour-1", "5m"],
        id="lease",
    ),
    pytest.param(
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
        {"metadata": meta("httpproxies.projectcontour.io", creationTimestamp="2024-03-10T12:55:00+01:00")},
        ["Name", "Created At"],
        ["httpproxies.projectcontour.io", "2024-03-10T11:55:00Z"],
        id="crd",
    ),
]


@pytest.mark.parametrize(("kind", "obj", "expected_header", "expected_cells"), BUILTIN_CASES)
def test_builtin_tables(
    registry: ResourceRegistry,
    kind: tuple[str, str],
    obj: dict[str, Any],
    expected_header: list[str],
    expected_cells: list[Any],
) -> None:
    table = object_table(rtype(registry, *kind), {"apiVersion": kind[0], "kind": kind[1], **obj}, now=NOW)
    assert (header(table), cells(table)) == (expected_header, expected_cells)


def test_wide_columns_of_a_rolebinding_list_its_subjects(registry: ResourceRegistry) -> None:
    binding = {
        "metadata": meta("b"),
        "roleRef": {"kind": "Role", "name": "r"},
        "subjects": [
            {"kind": "User", "name": "alice"},
            {"kind": "Group", "name": "ops"},
            {"kind": "ServiceAccount", "namespace": "ns", "name": "sa"},
        ],
    }
    table = object_table(rtype(registry, "rbac.authorization.k8s.io/v1", "RoleBinding"), binding, now=NOW)
    assert cells(table, wide=True) == ["b", "Role/r", "5m", "alice", "ops", "ns/sa"]


def test_completed_pod_row_has_the_completed_condition(registry: ResourceRegistry) -> None:
    pod = {
        "metadata": meta("job-1"),
        "spec": {"containers": [{"name": "main"}]},
        "status": {
            "phase": "Succeeded",
            "containerStatuses": [
                {"name": "main", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
            ],
        },
    }
    table = object_table(rtype(registry, "v1", "Pod"), pod, now=NOW)
    assert cells(table)[:3] == ["job-1", "0/1", "Completed"]
    assert table["rows"][0]["conditions"][0]["type"] == "Completed"
