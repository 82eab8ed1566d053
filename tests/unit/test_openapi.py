"""OpenAPI v3 documents: CRD schemas published as apiextensions-apiserver does, paths kubectl inspects,
a content hash per group/version, and a cache that rebuilds only what a CRD change touched."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contour.apiserver.openapi import (
    OpenAPIDocuments,
    canonical_bytes,
    content_hash,
    group_version_document,
)
from contour.apiserver.resources import ResourceRegistry
from tests.support.docserver import registry_with_repo_crds, repo_crds

REF = "#/components/schemas/"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
HTTPPROXY = "io.projectcontour.v1.HTTPProxy"
SMP = "application/strategic-merge-patch+json"


@pytest.fixture
def registry() -> ResourceRegistry:
    return registry_with_repo_crds()


def gv_document(registry: ResourceRegistry, group: str, version: str) -> dict[str, Any]:
    document = group_version_document(registry, group, version)
    assert document is not None
    return document


def refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(refs(v) for k, v in node.items() if k != "$ref"))
    if isinstance(node, list):
        return set().union(*(refs(v) for v in node))
    return set()


def all_group_versions(registry: ResourceRegistry) -> list[tuple[str, str]]:
    return [(g, v) for g, versions in registry.groups().items() for v in versions]


def test_every_reference_resolves_in_every_document(registry: ResourceRegistry) -> None:
    for group, version in all_group_versions(registry):
        document = gv_document(registry, group, version)
        names = set(document["components"]["schemas"])
        missing = {r for r in refs(document) if r.removeprefix(REF) not in names}
        assert not missing, f"{group}/{version}: {sorted(missing)}"


def test_httpproxy_schema_is_published_like_apiextensions(registry: ResourceRegistry) -> None:
    schema = gv_document(registry, "projectcontour.io", "v1")["components"]["schemas"][HTTPPROXY]
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": "projectcontour.io", "kind": "HTTPProxy", "version": "v1"}
    ]
    assert schema["properties"]["metadata"]["allOf"] == [{"$ref": REF + OBJECT_META}]
    assert schema["properties"]["apiVersion"]["type"] == "string"
    assert schema["properties"]["kind"]["type"] == "string"
    virtualhost = schema["properties"]["spec"]["properties"]["virtualhost"]
    assert virtualhost["description"] == "The host this proxy serves. Its presence makes the proxy a root."


def test_httpproxy_list_schema_refers_to_the_kind(registry: ResourceRegistry) -> None:
    schema = gv_document(registry, "projectcontour.io", "v1")["components"]["schemas"][HTTPPROXY + "List"]
    assert schema["properties"]["items"]["items"] == {"$ref": REF + HTTPPROXY}
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": "projectcontour.io", "kind": "HTTPProxyList", "version": "v1"}
    ]
    assert schema["required"] == ["items"]


def test_builtin_kinds_keep_their_shipped_schema_and_get_a_list(registry: ResourceRegistry) -> None:
    schemas = gv_document(registry, "apps", "v1")["components"]["schemas"]
    assert schemas["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}
    ]
    assert "io.k8s.api.apps.v1.DeploymentList" in schemas
    assert "io.k8s.api.core.v1.PodSpec" in schemas  # reached through the template


def patch_operation(document: dict[str, Any], path: str) -> dict[str, Any]:
    operation: dict[str, Any] = document["paths"][path]["patch"]
    return operation


def query_parameters(operation: dict[str, Any]) -> set[str]:
    return {p["name"] for p in operation["parameters"] if p["in"] == "query"}


@pytest.mark.parametrize(
    ("gvk", "path", "strategic"),
    [
        pytest.param(
            ("projectcontour.io", "v1", "HTTPProxy"),
            "/apis/projectcontour.io/v1/namespaces/{namespace}/httpproxies/{name}",
            False,
            id="crd",
        ),
        pytest.param(
            ("apps", "v1", "Deployment"),
            "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
            True,
            id="builtin",
        ),
        pytest.param(("", "v1", "Namespace"), "/api/v1/namespaces/{name}", True, id="cluster-scoped-core"),
    ],
)
def test_patch_operations_declare_field_validation_and_patch_types(
    registry: ResourceRegistry, gvk: tuple[str, str, str], path: str, strategic: bool
) -> None:
    group, version, kind = gvk
    operation = patch_operation(gv_document(registry, group, version), path)
    assert operation["x-kubernetes-group-version-kind"] == {"group": group, "version": version, "kind": kind}
    assert {"fieldValidation", "fieldManager", "dryRun", "force"} <= query_parameters(operation)
    assert (SMP in operation["requestBody"]["content"]) is strategic
    assert "application/apply-patch+yaml" in operation["requestBody"]["content"]


def test_create_and_replace_declare_field_validation(registry: ResourceRegistry) -> None:
    paths = gv_document(registry, "projectcontour.io", "v1")["paths"]
    assert "fieldValidation" in query_parameters(
        paths["/apis/projectcontour.io/v1/namespaces/{namespace}/httpproxies"]["post"]
    )
    item = paths["/apis/projectcontour.io/v1/namespaces/{namespace}/httpproxies/{name}"]
    assert "fieldValidation" in query_parameters(item["put"])


def test_status_and_all_namespaces_paths(registry: ResourceRegistry) -> None:
    paths = gv_document(registry, "projectcontour.io", "v1")["paths"]
    status = paths["/apis/projectcontour.io/v1/namespaces/{namespace}/httpproxies/{name}/status"]
    assert set(status) == {"get", "put", "patch", "parameters"}
    every = paths["/apis/projectcontour.io/v1/httpproxies"]["get"]
    assert every["x-kubernetes-action"] == "list"
    assert every["operationId"] == "listProjectcontourIoV1HTTPProxyForAllNamespaces"


def test_documents_are_deterministic(registry: ResourceRegistry) -> None:
    first = canonical_bytes(gv_document(registry, "projectcontour.io", "v1"))
    again = canonical_bytes(gv_document(registry_with_repo_crds(), "projectcontour.io", "v1"))
    assert first == again


def test_index_links_every_group_version_with_its_hash(registry: ResourceRegistry) -> None:
    documents = OpenAPIDocuments()
    index = documents.index(registry)["paths"]
    assert set(index) == {f"apis/{g}/{v}" if g else f"api/{v}" for g, v in all_group_versions(registry)}
    body = documents.document(registry, "projectcontour.io", "v1")
    assert body is not None
    assert index["apis/projectcontour.io/v1"] == {
        "serverRelativeURL": f"/openapi/v3/apis/projectcontour.io/v1?hash={content_hash(body)}"
    }
    assert len(content_hash(body)) == 128


def changed_httpproxy_crd() -> dict[str, Any]:
    crd = next(c for c in repo_crds() if c["metadata"]["name"] == "httpproxies.projectcontour.io")
    v1 = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    v1["schema"]["openAPIV3Schema"]["description"] = "Changed."
    return crd


def test_changing_a_crd_changes_only_its_group_versions_hash(registry: ResourceRegistry) -> None:
    documents = OpenAPIDocuments()
    before = documents.index(registry)["paths"]
    registry.set_crd(changed_httpproxy_crd())
    after = documents.index(registry)["paths"]
    changed = {path for path in before if before[path] != after[path]}
    # v1alpha1 holds other projectcontour.io kinds; set_crd re-registers only the HTTPProxy versions.
    assert changed == {"apis/projectcontour.io/v1"}
    body = documents.document(registry, "projectcontour.io", "v1")
    assert body is not None
    assert json.loads(body)["components"]["schemas"][HTTPPROXY]["description"] == "Changed."


def test_unchanged_documents_come_from_the_cache(registry: ResourceRegistry) -> None:
    documents = OpenAPIDocuments()
    first = documents.document(registry, "apps", "v1")
    assert first is not None
    assert documents.document(registry, "apps", "v1") is first


def test_removing_a_crd_removes_its_documents(registry: ResourceRegistry) -> None:
    documents = OpenAPIDocuments()
    documents.index(registry)
    registry.remove_crd("contours.operator.projectcontour.io")
    assert "apis/operator.projectcontour.io/v1alpha1" not in documents.index(registry)["paths"]
    assert documents.for_path(registry, "/openapi/v3/apis/operator.projectcontour.io/v1alpha1") is None


@pytest.mark.parametrize(
    ("path", "served"),
    [
        pytest.param("/openapi/v3", True, id="index"),
        pytest.param("/openapi/v3/api/v1", True, id="core"),
        pytest.param("/openapi/v3/apis/projectcontour.io/v1?hash=X", True, id="with-hash"),
        pytest.param("/openapi/v3/apis/example.com/v1", False, id="unknown-group"),
        pytest.param("/openapi/v3/apis/projectcontour.io", False, id="group-without-version"),
        pytest.param("/openapi/v2", False, id="v2"),
    ],
)
def test_paths_under_openapi(registry: ResourceRegistry, path: str, served: bool) -> None:
    assert (OpenAPIDocuments().for_path(registry, path) is not None) is served
