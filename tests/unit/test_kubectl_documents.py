"""Real kubectl 1.37 reads the discovery, OpenAPI v3 and Table documents and does what users expect.

The documents are served by tests/support/docserver.py on loopback, with one HTTPProxy and one
Deployment as canned objects. Each test runs kubectl with its own cache directory, so it reads every
document it needs from the server, and checks what kubectl printed and what it asked for.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import docserver

KUBECTL = Path(os.environ.get("VIRTUAL_ENV", docserver.REPO_ROOT / ".venv")) / "bin" / "kubectl"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1"}]},
            },
        },
    }


def live(applied: dict[str, Any], uid: str) -> dict[str, Any]:
    """The object as the server holds it after a `kubectl apply` of `applied`."""
    obj: dict[str, Any] = json.loads(json.dumps(applied))
    obj["metadata"].update(
        creationTimestamp="2024-01-01T00:00:00Z",
        resourceVersion="7",
        uid=uid,
        annotations={LAST_APPLIED: json.dumps(applied)},
    )
    return obj


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[docserver.DocServer]:
    registry = docserver.registry_with_repo_crds()
    proxy_type = registry.by_kind("projectcontour.io/v1", "HTTPProxy")
    deployment_type = registry.by_kind("apps/v1", "Deployment")
    assert proxy_type is not None and deployment_type is not None
    proxy = live(docserver.sample("httpproxy.yaml", "www-example-com"), "u-proxy")
    proxy["status"] = {"currentStatus": "valid", "description": "Valid HTTPProxy"}
    objects = {
        docserver.object_path(proxy_type, "www-example-com", "storefront"): proxy,
        docserver.object_path(deployment_type, "web", "default"): live(deployment(), "u-web"),
    }
    with docserver.serve(registry, objects, tmp_path_factory.mktemp("docserver")) as state:
        yield state


def kubectl(server: docserver.DocServer, tmp: Path, *args: str) -> tuple[str, list[docserver.Request]]:
    """Run kubectl against the server; return its output and the requests it made."""
    start = len(server.requests)
    result = subprocess.run(
        [str(KUBECTL), "--kubeconfig", str(server.kubeconfig), "--cache-dir", str(tmp / "cache"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout, server.requests[start:]


def asked_for_openapi_v2(requests: list[docserver.Request]) -> bool:
    return any(r.path.startswith("/openapi/v2") for r in requests)


def test_api_resources_lists_httpproxies_with_short_name(server: docserver.DocServer, tmp_path: Path) -> None:
    output, requests = kubectl(server, tmp_path, "api-resources", "--api-group=projectcontour.io")
    rows = [line.split() for line in output.splitlines()[1:]]
    assert ["httpproxies", "proxy,proxies", "projectcontour.io/v1", "true", "HTTPProxy"] in rows
    assert any("as=APIGroupDiscoveryList" in r.accept for r in requests if r.path == "/apis")


def test_explain_httpproxy_field_prints_the_crd_description(
    server: docserver.DocServer, tmp_path: Path
) -> None:
    output, requests = kubectl(server, tmp_path, "explain", "httpproxy.spec.virtualhost")
    assert "FIELD: virtualhost <Object>" in output
    assert "The host this proxy serves. Its presence makes the proxy a root." in output
    assert "fqdn\t<string> -required-" in output
    assert not asked_for_openapi_v2(requests)


def test_explain_deployment_spec_lists_its_fields(server: docserver.DocServer, tmp_path: Path) -> None:
    output, requests = kubectl(server, tmp_path, "explain", "deployment.spec")
    assert "KIND:       Deployment" in output
    assert "template\t<PodTemplateSpec> -required-" in output
    assert "selector\t<LabelSelector> -required-" in output
    assert not asked_for_openapi_v2(requests)


def test_get_httpproxy_prints_the_printer_columns(server: docserver.DocServer, tmp_path: Path) -> None:
    output, requests = kubectl(server, tmp_path, "get", "httpproxy", "www-example-com", "-n", "storefront")
    header, row = output.splitlines()
    assert header.split() == ["NAME", "FQDN", "TLS", "SECRET", "STATUS", "STATUS", "DESCRIPTION"]
    assert row.split() == [
        "www-example-com",
        "www.example.com",
        "www-example-com-tls",
        "valid",
        "Valid",
        "HTTPProxy",
    ]
    get = next(r for r in requests if r.path.endswith("/httpproxies/www-example-com"))
    assert get.accept.startswith("application/json;as=Table;v=v1;g=meta.k8s.io")


def test_get_deployment_prints_builtin_columns(server: docserver.DocServer, tmp_path: Path) -> None:
    output, _ = kubectl(server, tmp_path, "get", "deploy", "web", "-n", "default")
    assert output.splitlines()[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert output.splitlines()[1].split()[:4] == ["web", "0/1", "0", "0"]


def apply(server: docserver.DocServer, tmp_path: Path, obj: dict[str, Any], *flags: str) -> docserver.Request:
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(yaml.safe_dump(obj))
    _, requests = kubectl(server, tmp_path, "apply", *flags, "-f", str(manifest))
    patches = [r for r in requests if r.method == "PATCH"]
    assert patches, [f"{r.method} {r.path}" for r in requests]
    return patches[0]


def test_client_side_apply_of_a_builtin_sends_a_strategic_merge_patch(
    server: docserver.DocServer, tmp_path: Path
) -> None:
    changed = deployment()
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    patch = apply(server, tmp_path, changed)
    assert patch.content_type == "application/strategic-merge-patch+json"
    assert patch.query["fieldValidation"] == ["Strict"]
    body = json.loads(patch.body)
    # Only a schema carrying containers' x-kubernetes-patch-merge-key makes kubectl order them by name.
    assert body["spec"]["template"]["spec"] == {
        "$setElementOrder/containers": [{"name": "web"}],
        "containers": [{"image": "nginx:2", "name": "web"}],
    }


def test_client_side_apply_of_a_crd_object_sends_a_merge_patch(
    server: docserver.DocServer, tmp_path: Path
) -> None:
    changed = docserver.sample("httpproxy.yaml", "www-example-com")
    changed["spec"]["virtualhost"]["fqdn"] = "new.example.com"
    patch = apply(server, tmp_path, changed)
    assert patch.content_type == "application/merge-patch+json"
    assert patch.query["fieldValidation"] == ["Strict"]
    assert json.loads(patch.body)["spec"] == {"virtualhost": {"fqdn": "new.example.com"}}


def test_server_side_apply_asks_for_strict_field_validation(
    server: docserver.DocServer, tmp_path: Path
) -> None:
    patch = apply(server, tmp_path, docserver.sample("httpproxy.yaml", "www-example-com"), "--server-side")
    assert patch.content_type == "application/apply-patch+yaml"
    assert (patch.query["fieldManager"], patch.query["fieldValidation"]) == (["kubectl"], ["Strict"])


def test_builtin_apply_never_needs_openapi_v2(server: docserver.DocServer, tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(yaml.safe_dump(deployment()))
    _, requests = kubectl(server, tmp_path, "apply", "-f", str(manifest))
    assert not asked_for_openapi_v2(requests)
