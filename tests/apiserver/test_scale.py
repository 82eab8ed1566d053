"""The `/scale` subresource against a real `contour apiserver`, with real kubectl and plain HTTP.

`kubectl scale` finds the subresource through discovery (group autoscaling, version v1, kind Scale),
reads the Scale for `--current-replicas`, and writes replicas with a merge patch (or a PUT when it has
a precondition). The Scale object is compared field by field with what kube-apiserver serves.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from tests.support.apiserver_process import APIServerProcess

NS = "scaling"
APPS = "/apis/apps/v1/namespaces/" + NS
MERGE = {"Content-Type": "application/merge-patch+json"}


def workload(
    kind: str, name: str, replicas: int = 1, selector: dict[str, Any] | None = None
) -> dict[str, Any]:
    labels = {"app": name}
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": selector or {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "app", "image": "example.com/app:1"}]},
        },
    }
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


@pytest.fixture(scope="module")
def client(server: APIServerProcess) -> Iterator[httpx.Client]:
    with server.client() as c:
        created = c.post("/api/v1/namespaces", json={"metadata": {"name": NS}})
        assert created.status_code == 201, created.text
        yield c


def create(client: httpx.Client, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"{APPS}/{plural}", json=obj)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def kubectl(server: APIServerProcess, *args: str, check: bool = True) -> Any:
    return server.kubectl("-n", NS, *args, check=check)


# --- kubectl ------------------------------------------------------------------------------------------


def test_kubectl_scale_deployment_sets_spec_replicas(server: APIServerProcess, client: httpx.Client) -> None:
    create(client, "deployments", workload("Deployment", "web"))
    out = kubectl(server, "scale", "deployment", "web", "--replicas=3").stdout
    assert out.strip() == "deployment.apps/web scaled"
    got = kubectl(server, "get", "deployment", "web", "-o", "jsonpath={.spec.replicas}").stdout
    assert got == "3"


def test_kubectl_scale_current_replicas_mismatch_fails(
    server: APIServerProcess, client: httpx.Client
) -> None:
    create(client, "deployments", workload("Deployment", "guarded", replicas=1))
    result = kubectl(
        server, "scale", "deployment", "guarded", "--current-replicas=2", "--replicas=5", check=False
    )
    assert result.returncode != 0
    assert "Expected replicas to be 2, was 1" in result.stderr
    assert client.get(f"{APPS}/deployments/guarded").json()["spec"]["replicas"] == 1


def test_kubectl_scale_current_replicas_match_scales(server: APIServerProcess, client: httpx.Client) -> None:
    create(client, "deployments", workload("Deployment", "matching", replicas=2))
    kubectl(server, "scale", "deployment", "matching", "--current-replicas=2", "--replicas=4")
    assert client.get(f"{APPS}/deployments/matching").json()["spec"]["replicas"] == 4


def test_kubectl_scale_server_dry_run_changes_nothing(server: APIServerProcess, client: httpx.Client) -> None:
    before = create(client, "deployments", workload("Deployment", "dry", replicas=1))
    out = kubectl(server, "scale", "deployment", "dry", "--replicas=7", "--dry-run=server").stdout
    assert "scaled (server dry run)" in out
    after = client.get(f"{APPS}/deployments/dry").json()
    assert after["spec"]["replicas"] == 1
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_kubectl_get_subresource_scale_prints_desired_and_available(
    server: APIServerProcess, client: httpx.Client
) -> None:
    create(client, "deployments", workload("Deployment", "shown", replicas=2))
    lines = kubectl(server, "get", "deployment", "shown", "--subresource=scale").stdout.splitlines()
    assert lines[0].split() == ["NAME", "DESIRED", "AVAILABLE"]
    assert lines[1].split() == ["shown", "2", "0"]


def test_kubectl_scale_missing_deployment_is_not_found(server: APIServerProcess) -> None:
    result = kubectl(server, "scale", "deployment", "absent", "--replicas=2", check=False)
    assert result.returncode != 0
    assert 'deployments.apps "absent" not found' in result.stderr


# --- the Scale object over HTTP -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "plural"),
    [("Deployment", "deployments"), ("ReplicaSet", "replicasets"), ("StatefulSet", "statefulsets")],
    ids=["deployment", "replicaset", "statefulset"],
)
def test_get_scale_has_the_fields_kubernetes_serves(client: httpx.Client, kind: str, plural: str) -> None:
    name = f"fields-{plural}"
    selector = {
        "matchLabels": {"app": name},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "edge"]}],
    }
    obj = workload(kind, name, replicas=2, selector=selector)
    obj["spec"]["template"]["metadata"]["labels"]["tier"] = "web"
    create(client, plural, obj)
    status = client.patch(f"{APPS}/{plural}/{name}/status", json={"status": {"replicas": 1}}, headers=MERGE)
    assert status.status_code == 200, status.text
    parent = status.json()
    response = client.get(f"{APPS}/{plural}/{name}/scale")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": name,
            "namespace": NS,
            "uid": parent["metadata"]["uid"],
            "resourceVersion": parent["metadata"]["resourceVersion"],
            "creationTimestamp": parent["metadata"]["creationTimestamp"],
        },
        "spec": {"replicas": 2},
        "status": {"replicas": 1, "selector": f"app={name},tier in (edge,web)"},
    }


def test_scale_of_zero_replicas_omits_spec_replicas(client: httpx.Client) -> None:
    create(client, "deployments", workload("Deployment", "idle", replicas=0))
    scale = client.get(f"{APPS}/deployments/idle/scale").json()
    assert scale["spec"] == {} and scale["status"] == {"replicas": 0, "selector": "app=idle"}


def test_put_scale_bumps_generation_and_keeps_status(client: httpx.Client) -> None:
    create(client, "deployments", workload("Deployment", "put", replicas=1))
    client.patch(f"{APPS}/deployments/put/status", json={"status": {"replicas": 1}}, headers=MERGE)
    scale = client.get(f"{APPS}/deployments/put/scale").json()
    scale["spec"]["replicas"] = 5
    response = client.put(f"{APPS}/deployments/put/scale", json=scale)
    assert response.status_code == 200, response.text
    assert response.json()["spec"] == {"replicas": 5}
    parent = client.get(f"{APPS}/deployments/put").json()
    assert parent["spec"]["replicas"] == 5
    assert parent["metadata"]["generation"] == 2
    assert parent["status"] == {"replicas": 1}
    assert response.json()["metadata"]["resourceVersion"] == parent["metadata"]["resourceVersion"]
    scale_entries = [m for m in parent["metadata"]["managedFields"] if m.get("subresource") == "scale"]
    assert [m["operation"] for m in scale_entries] == ["Update"]


def test_put_scale_with_stale_resource_version_conflicts(client: httpx.Client) -> None:
    create(client, "deployments", workload("Deployment", "stale"))
    scale = client.get(f"{APPS}/deployments/stale/scale").json()
    client.patch(f"{APPS}/deployments/stale", json={"metadata": {"labels": {"x": "y"}}}, headers=MERGE)
    scale["spec"]["replicas"] = 3
    response = client.put(f"{APPS}/deployments/stale/scale", json=scale)
    assert response.status_code == 409
    assert response.json()["message"] == (
        'Operation cannot be fulfilled on deployments.apps "stale": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    assert client.get(f"{APPS}/deployments/stale").json()["spec"]["replicas"] == 1


def test_put_scale_with_same_replicas_keeps_resource_version(client: httpx.Client) -> None:
    created = create(client, "deployments", workload("Deployment", "noop", replicas=2))
    scale = client.get(f"{APPS}/deployments/noop/scale").json()
    response = client.put(f"{APPS}/deployments/noop/scale", json=scale)
    assert response.status_code == 200, response.text
    assert response.json()["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


@pytest.mark.parametrize(
    ("content_type", "patch"),
    [
        ("application/merge-patch+json", {"spec": {"replicas": 6}}),
        ("application/strategic-merge-patch+json", {"spec": {"replicas": 6}}),
        ("application/json-patch+json", [{"op": "replace", "path": "/spec/replicas", "value": 6}]),
    ],
    ids=["merge", "strategic", "json-patch"],
)
def test_patch_scale_sets_replicas(client: httpx.Client, content_type: str, patch: Any) -> None:
    name = "patch-" + content_type.removeprefix("application/").partition("+")[0]
    create(client, "deployments", workload("Deployment", name, replicas=1))
    response = client.patch(
        f"{APPS}/deployments/{name}/scale", content=json.dumps(patch), headers={"Content-Type": content_type}
    )
    assert response.status_code == 200, response.text
    assert response.json()["spec"] == {"replicas": 6}
    assert client.get(f"{APPS}/deployments/{name}").json()["spec"]["replicas"] == 6


def test_patch_scale_with_stale_resource_version_conflicts(client: httpx.Client) -> None:
    create(client, "deployments", workload("Deployment", "patch-stale"))
    patch = {"metadata": {"resourceVersion": "1"}, "spec": {"replicas": 3}}
    response = client.patch(f"{APPS}/deployments/patch-stale/scale", json=patch, headers=MERGE)
    assert response.status_code == 409 and response.json()["reason"] == "Conflict"


def test_negative_replicas_are_invalid(client: httpx.Client) -> None:
    create(client, "deployments", workload("Deployment", "negative"))
    response = client.patch(
        f"{APPS}/deployments/negative/scale", json={"spec": {"replicas": -1}}, headers=MERGE
    )
    assert response.status_code == 422
    assert response.json()["message"] == (
        'Scale.autoscaling "negative" is invalid: spec.replicas: Invalid value: -1: '
        "must be greater than or equal to 0"
    )


def test_scale_write_sends_a_watch_event_for_the_parent(client: httpx.Client) -> None:
    created = create(client, "deployments", workload("Deployment", "watched"))
    client.patch(f"{APPS}/deployments/watched/scale", json={"spec": {"replicas": 2}}, headers=MERGE)
    params = {
        "watch": "true",
        "resourceVersion": created["metadata"]["resourceVersion"],
        "fieldSelector": "metadata.name=watched",
        "timeoutSeconds": "5",
    }
    with client.stream("GET", f"{APPS}/deployments", params=params) as response:
        event = json.loads(next(line for line in response.iter_lines() if line))
    assert event["type"] == "MODIFIED"
    assert event["object"]["kind"] == "Deployment"
    assert event["object"]["spec"]["replicas"] == 2


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH"])
def test_scale_of_a_missing_object_is_not_found(client: httpx.Client, method: str) -> None:
    body = {"apiVersion": "autoscaling/v1", "kind": "Scale", "spec": {"replicas": 1}}
    headers = MERGE if method == "PATCH" else {}
    response = client.request(
        method, f"{APPS}/deployments/missing/scale", json=None if method == "GET" else body, headers=headers
    )
    assert response.status_code == 404
    assert response.json()["message"] == 'deployments.apps "missing" not found'
    assert response.json()["details"] == {"name": "missing", "group": "apps", "kind": "deployments"}


def test_kinds_without_scale_have_no_scale_subresource(client: httpx.Client) -> None:
    created = client.post(f"/api/v1/namespaces/{NS}/configmaps", json={"metadata": {"name": "plain"}})
    assert created.status_code == 201
    assert client.get(f"/api/v1/namespaces/{NS}/configmaps/plain/scale").status_code == 404


def test_delete_on_scale_is_not_allowed(client: httpx.Client) -> None:
    create(client, "deployments", workload("Deployment", "undeletable"))
    assert client.delete(f"{APPS}/deployments/undeletable/scale").status_code == 405


# --- discovery ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("plural", ["deployments", "replicasets", "statefulsets"])
def test_discovery_lists_scale_subresource(client: httpx.Client, plural: str) -> None:
    resources = client.get("/apis/apps/v1").json()["resources"]
    names = [r["name"] for r in resources]
    assert names.index(f"{plural}/scale") == names.index(plural) + 1
    assert next(r for r in resources if r["name"] == f"{plural}/scale") == {
        "name": f"{plural}/scale",
        "singularName": "",
        "namespaced": True,
        "group": "autoscaling",
        "version": "v1",
        "kind": "Scale",
        "verbs": ["get", "patch", "update"],
    }


def test_aggregated_discovery_lists_scale_subresource(client: httpx.Client) -> None:
    accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    groups = client.get("/apis", headers={"Accept": accept}).json()["items"]
    apps = next(g for g in groups if g["metadata"].get("name") == "apps")
    deployments = next(r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments")
    assert deployments["subresources"][0] == {
        "subresource": "scale",
        "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
        "verbs": ["get", "patch", "update"],
    }
    assert [s["subresource"] for s in deployments["subresources"]] == ["scale", "status"]


# --- custom resources ---------------------------------------------------------------------------------

WIDGETS_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.scale.example.com"},
    "spec": {
        "group": "scale.example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {
                    "status": {},
                    "scale": {
                        "specReplicasPath": ".spec.count",
                        "statusReplicasPath": ".status.count",
                        "labelSelectorPath": ".status.selector",
                    },
                },
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {"count": {"type": "integer", "maximum": 10}},
                            },
                            "status": {
                                "type": "object",
                                "properties": {"count": {"type": "integer"}, "selector": {"type": "string"}},
                            },
                        },
                    }
                },
            }
        ],
    },
}
WIDGETS = f"/apis/scale.example.com/v1/namespaces/{NS}/widgets"


@pytest.fixture(scope="module")
def widgets(server: APIServerProcess, client: httpx.Client) -> str:
    server.kubectl("apply", "-f", "-", input=yaml.safe_dump(WIDGETS_CRD))
    created = client.post(
        WIDGETS,
        json={
            "apiVersion": "scale.example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"count": 1},
        },
    )
    assert created.status_code == 201, created.text
    status = {"status": {"count": 1, "selector": "app=w"}}
    assert client.patch(f"{WIDGETS}/w/status", json=status, headers=MERGE).status_code == 200
    return f"{WIDGETS}/w"


def test_kubectl_scale_custom_resource(server: APIServerProcess, client: httpx.Client, widgets: str) -> None:
    out = kubectl(server, "scale", "widgets.scale.example.com", "w", "--replicas=4").stdout
    assert out.strip() == "widget.scale.example.com/w scaled"
    widget = client.get(widgets).json()
    assert widget["spec"]["count"] == 4
    assert widget["status"] == {"count": 1, "selector": "app=w"}


def test_custom_resource_scale_reads_the_crd_paths(client: httpx.Client, widgets: str) -> None:
    widget = client.get(widgets).json()
    scale = client.get(f"{widgets}/scale").json()
    assert scale == {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": "w",
            "namespace": NS,
            "uid": widget["metadata"]["uid"],
            "resourceVersion": widget["metadata"]["resourceVersion"],
            "creationTimestamp": widget["metadata"]["creationTimestamp"],
        },
        "spec": {"replicas": widget["spec"]["count"]},
        "status": {"replicas": 1, "selector": "app=w"},
    }


def test_custom_resource_scale_is_validated_by_the_crd_schema(client: httpx.Client, widgets: str) -> None:
    response = client.patch(f"{widgets}/scale", json={"spec": {"replicas": 11}}, headers=MERGE)
    assert response.status_code == 422
    assert "spec.count" in response.json()["message"]


def test_custom_resource_scale_refuses_strategic_merge_patch(client: httpx.Client, widgets: str) -> None:
    response = client.patch(
        f"{widgets}/scale",
        json={"spec": {"replicas": 2}},
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    )
    assert response.status_code == 415


def test_custom_resource_discovery_lists_scale(client: httpx.Client, widgets: str) -> None:
    resources = client.get("/apis/scale.example.com/v1").json()["resources"]
    assert [r["name"] for r in resources] == ["widgets", "widgets/scale", "widgets/status"]
    scale = resources[1]
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
