"""Discovery documents for the built-in kinds plus the repository's CRDs, in both shapes kubectl reads."""

from __future__ import annotations

from typing import Any

import pytest

from contour.apiserver.discovery import (
    aggregated_content_type,
    discovery_document,
    storage_version_hash,
    wants_aggregated,
)
from contour.apiserver.resources import ResourceRegistry
from tests.support.docserver import registry_with_repo_crds

KUBECTL_ACCEPT = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
HTTPPROXY_CRD = "httpproxies.projectcontour.io"


@pytest.fixture
def registry() -> ResourceRegistry:
    return registry_with_repo_crds()


def document(registry: ResourceRegistry, path: str, accept: str = "application/json") -> dict[str, Any]:
    found = discovery_document(registry, path, accept)
    assert found is not None, path
    return found[0]


def aggregated_resource(body: dict[str, Any], group: str, version: str, resource: str) -> dict[str, Any]:
    for item in body["items"]:
        if item["metadata"].get("name", "") != group:
            continue
        for entry in item["versions"]:
            if entry["version"] != version:
                continue
            for found in entry["resources"]:
                if found["resource"] == resource:
                    result: dict[str, Any] = found
                    return result
    raise AssertionError(f"{group}/{version} {resource} not in the aggregated document")


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        pytest.param(KUBECTL_ACCEPT, "v2", id="kubectl-1.37"),
        pytest.param(
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json",
            "v2beta1",
            id="v2beta1-only",
        ),
        pytest.param("application/json", None, id="plain-json"),
        pytest.param("", None, id="no-accept"),
        pytest.param("*/*", None, id="anything"),
        pytest.param(
            "application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList,application/json",
            None,
            id="unknown-version-falls-back",
        ),
        pytest.param(
            "application/json;q=0.5,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
            "v2",
            id="quality-wins-over-order",
        ),
        pytest.param(
            "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
            "application/json",
            None,
            id="protobuf-not-offered",
        ),
    ],
)
def test_accept_header_picks_the_discovery_shape(accept: str, expected: str | None) -> None:
    assert wants_aggregated(accept) == expected


def test_aggregated_apis_document_carries_its_content_type(registry: ResourceRegistry) -> None:
    found = discovery_document(registry, "/apis", KUBECTL_ACCEPT)
    assert found is not None
    body, content_type = found
    assert content_type == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    assert (body["kind"], body["apiVersion"]) == ("APIGroupDiscoveryList", "apidiscovery.k8s.io/v2")


def test_aggregated_v2beta1_is_served_when_asked_for(registry: ResourceRegistry) -> None:
    accept = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
    found = discovery_document(registry, "/apis", accept)
    assert found is not None
    assert found[0]["apiVersion"] == "apidiscovery.k8s.io/v2beta1"
    assert found[1] == aggregated_content_type("v2beta1")


def test_aggregated_entry_for_httpproxies(registry: ResourceRegistry) -> None:
    body = document(registry, "/apis", KUBECTL_ACCEPT)
    assert aggregated_resource(body, "projectcontour.io", "v1", "httpproxies") == {
        "resource": "httpproxies",
        "responseKind": {"group": "projectcontour.io", "version": "v1", "kind": "HTTPProxy"},
        "scope": "Namespaced",
        "singularResource": "httpproxy",
        "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        "shortNames": ["proxy", "proxies"],
        "subresources": [
            {
                "subresource": "status",
                "responseKind": {"group": "projectcontour.io", "version": "v1", "kind": "HTTPProxy"},
                "verbs": ["get", "patch", "update"],
            }
        ],
    }


def test_aggregated_core_group_has_no_name_and_cluster_scoped_namespaces(registry: ResourceRegistry) -> None:
    body = document(registry, "/api", KUBECTL_ACCEPT)
    assert [item["metadata"] for item in body["items"]] == [{"creationTimestamp": None}]
    namespaces = aggregated_resource(body, "", "v1", "namespaces")
    assert (namespaces["scope"], namespaces["shortNames"]) == ("Cluster", ["ns"])


def test_aggregated_versions_are_listed_preferred_first(registry: ResourceRegistry) -> None:
    body = document(registry, "/apis", KUBECTL_ACCEPT)
    gateway = next(i for i in body["items"] if i["metadata"]["name"] == "gateway.networking.k8s.io")
    assert [v["version"] for v in gateway["versions"]] == ["v1", "v1beta1"]
    assert {v["freshness"] for v in gateway["versions"]} == {"Current"}


def test_legacy_api_versions(registry: ResourceRegistry) -> None:
    found = discovery_document(registry, "/api", "application/json")
    assert found == (
        {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
        "application/json",
    )


def test_legacy_group_list_names_builtin_groups_before_crd_groups(registry: ResourceRegistry) -> None:
    body = document(registry, "/apis")
    assert [g["name"] for g in body["groups"]] == [
        "apps",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
        "apiextensions.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "gateway.networking.k8s.io",
        "operator.projectcontour.io",
        "projectcontour.io",
    ]


def test_legacy_group_document_prefers_the_first_version(registry: ResourceRegistry) -> None:
    assert document(registry, "/apis/projectcontour.io") == {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": "projectcontour.io",
        "versions": [
            {"groupVersion": "projectcontour.io/v1", "version": "v1"},
            {"groupVersion": "projectcontour.io/v1alpha1", "version": "v1alpha1"},
        ],
        "preferredVersion": {"groupVersion": "projectcontour.io/v1", "version": "v1"},
    }


def test_legacy_resource_list_has_httpproxies_and_their_status(registry: ResourceRegistry) -> None:
    body = document(registry, "/apis/projectcontour.io/v1")
    assert (body["kind"], body["groupVersion"]) == ("APIResourceList", "projectcontour.io/v1")
    entries = {r["name"]: r for r in body["resources"]}
    assert entries["httpproxies"]["shortNames"] == ["proxy", "proxies"]
    assert entries["httpproxies"]["kind"] == "HTTPProxy"
    assert entries["httpproxies"]["storageVersionHash"] == storage_version_hash(
        "projectcontour.io", "v1", "HTTPProxy"
    )
    assert entries["httpproxies/status"] == {
        "name": "httpproxies/status",
        "singularName": "",
        "namespaced": True,
        "kind": "HTTPProxy",
        "verbs": ["get", "patch", "update"],
    }


def test_core_resource_list_carries_categories(registry: ResourceRegistry) -> None:
    entries = {r["name"]: r for r in document(registry, "/api/v1")["resources"]}
    assert entries["services"]["categories"] == ["all"]
    assert "categories" not in entries["secrets"]


@pytest.mark.parametrize(
    ("group", "kind", "expected"),
    [
        pytest.param("", "Pod", "xPOwRZ+Yhw8=", id="pods"),
        pytest.param("", "Service", "0/CO1lhkEBI=", id="services"),
        pytest.param("apps", "Deployment", "8aSe+NMegvE=", id="deployments"),
    ],
)
def test_storage_version_hash_matches_kube_apiserver(group: str, kind: str, expected: str) -> None:
    assert storage_version_hash(group, "v1", kind) == expected


@pytest.mark.parametrize(
    "path",
    [
        "/apis/example.com",
        "/apis/projectcontour.io/v9",
        "/api/v2",
        "/apis/projectcontour.io/v1/httpproxies",
        "/healthz",
    ],
)
def test_unserved_paths_are_not_discovery_documents(registry: ResourceRegistry, path: str) -> None:
    assert discovery_document(registry, path, KUBECTL_ACCEPT) is None


def test_removing_a_crd_drops_its_group_when_it_was_the_last(registry: ResourceRegistry) -> None:
    registry.remove_crd("contours.operator.projectcontour.io")
    assert "operator.projectcontour.io" not in [g["name"] for g in document(registry, "/apis")["groups"]]
    aggregated = document(registry, "/apis", KUBECTL_ACCEPT)
    assert "operator.projectcontour.io" not in [i["metadata"]["name"] for i in aggregated["items"]]
    assert discovery_document(registry, "/apis/operator.projectcontour.io") is None
    assert discovery_document(registry, "/apis/operator.projectcontour.io/v1alpha1") is None


def test_removing_a_crd_keeps_the_rest_of_its_group(registry: ResourceRegistry) -> None:
    registry.remove_crd(HTTPPROXY_CRD)
    names = [r["name"] for r in document(registry, "/apis/projectcontour.io/v1")["resources"]]
    assert "httpproxies" not in names
    assert "tlscertificatedelegations" in names
