"""config/install.yaml is what `kubectl kustomize config` builds, is current with its sources, installs
with one `kubectl apply`, and every object in it that is not a CRD passes the upstream schemas."""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from codegen import bundle
from codegen.crdfiles import load_all
from codegen.installbundle import INSTALL_PATH
from tests.manifests import REPO_ROOT, rel
from tests.support.apiserver_process import KUBECTL, APIServerProcess

# The Kubernetes versions Contour 1.33 supports (1.31-1.33) up to the kubectl shipped here.
KUBERNETES_VERSIONS = ("1.31.0", "1.32.0", "1.33.0", "1.34.0", "1.35.0", "1.36.0", "1.37.0")
INSTALLED = [doc for doc in yaml.safe_load_all(INSTALL_PATH.read_text("utf-8")) if doc]
NON_CRDS = [doc for doc in INSTALLED if doc["kind"] != "CustomResourceDefinition"]


def object_id(doc: dict[str, Any]) -> str:
    namespace = doc["metadata"].get("namespace")
    return f"{doc['kind']}/{namespace + '/' if namespace else ''}{doc['metadata']['name']}"


def kustomize(directory: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [KUBECTL, "kustomize", str(directory)], capture_output=True, text=True, check=True, timeout=60
    )
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def test_install_yaml_is_what_codegen_renders() -> None:
    assert bundle.render(load_all())[INSTALL_PATH] == INSTALL_PATH.read_text("utf-8"), (
        "config/install.yaml is stale: run `make codegen`"
    )


def test_install_yaml_holds_what_kustomize_builds_in_the_same_order() -> None:
    built = kustomize(REPO_ROOT / "config")
    assert [object_id(d) for d in INSTALLED] == [object_id(d) for d in built]
    assert built == INSTALLED


def test_install_yaml_holds_the_crds_namespace_rbac_and_operator() -> None:
    crds = {d["metadata"]["name"] for d in INSTALLED if d["kind"] == "CustomResourceDefinition"}
    assert {
        "contours.operator.projectcontour.io",
        "contourdeployments.projectcontour.io",
        "contourconfigurations.projectcontour.io",
        "gateways.gateway.networking.k8s.io",
        "httpproxies.projectcontour.io",
    } <= crds
    assert len(crds) == len(list((REPO_ROOT / "crds").glob("*.yaml")))
    assert [object_id(d) for d in NON_CRDS] == [
        "Namespace/contour-operator",
        "ServiceAccount/contour-operator/contour-operator",
        "ClusterRole/contour-operator",
        "ClusterRoleBinding/contour-operator",
        "Deployment/contour-operator/contour-operator",
    ]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("doc", NON_CRDS, ids=object_id)
def test_object_validates_against_upstream_schema(doc: dict[str, Any], version: str) -> None:
    kubernetes_validate.validate(doc, version, strict=True)


def test_kubectl_apply_creates_everything(server: APIServerProcess) -> None:
    out = server.kubectl("apply", "-f", str(INSTALL_PATH)).stdout
    for doc in INSTALLED:
        kind, name = doc["kind"].lower(), doc["metadata"]["name"]
        assert f"{kind}" in out
        args = ["get", kind, name, "-o", "yaml"]
        if "namespace" in doc["metadata"]:
            args += ["-n", doc["metadata"]["namespace"]]
        stored = yaml.safe_load(server.kubectl(*args).stdout)
        assert stored["metadata"]["uid"], object_id(doc)
    again = server.kubectl("apply", "-f", str(INSTALL_PATH)).stdout
    assert "created" not in again, "a second apply changes nothing"


def test_images_override_reaches_the_operator_and_the_contour_image(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    config = yaml.safe_load((REPO_ROOT / "config" / "kustomization.yaml").read_text("utf-8"))
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": [os.path.relpath(REPO_ROOT / "config", overlay)],
                "images": [
                    {"name": "contour-py", "newName": "registry.example.com/contour-py", "newTag": "v9"}
                ],
                "replacements": config["replacements"],
            }
        )
    )
    (deployment,) = [d for d in kustomize(overlay) if d["kind"] == "Deployment"]
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        assert container["image"] == "registry.example.com/contour-py:v9", container["name"]
        assert "--contour-image=registry.example.com/contour-py:v9" in container["args"], container["name"]


def test_operator_image_tag_is_the_package_version() -> None:
    version = yaml.safe_load("v: " + _pyproject_version())["v"]
    (deployment,) = [d for d in NON_CRDS if d["kind"] == "Deployment"]
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        assert container["image"] == f"contour-py:{version}"
        assert f"--contour-image=contour-py:{version}" in container["args"]


def _pyproject_version() -> str:
    with (REPO_ROOT / "pyproject.toml").open("rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def test_every_config_file_is_listed_in_its_kustomization() -> None:
    for directory in ("rbac", "operator"):
        folder = REPO_ROOT / "config" / directory
        listed = set(yaml.safe_load((folder / "kustomization.yaml").read_text("utf-8"))["resources"])
        on_disk = {p.name for p in folder.glob("*.yaml")} - {"kustomization.yaml"}
        assert on_disk == listed, rel(folder)
