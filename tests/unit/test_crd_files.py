"""The CRD files are real CustomResourceDefinitions: kubectl accepts each one, each validates against
the upstream apiextensions.k8s.io/v1 schema, and config/crd/ holds the same objects as crds/."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.manifests import REPO_ROOT, crd_files, rel
from tests.support import kubectl_discovery

KUBECTL = Path(os.environ.get("VIRTUAL_ENV", REPO_ROOT / ".venv")) / "bin" / "kubectl"
# The Kubernetes versions Contour 1.33 supports, and the newest kubernetes-validate knows.
KUBE_VERSIONS = ("1.32.0", "1.33.0", "1.34.0", "1.37.0")


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with kubectl_discovery.serve(tmp_path_factory.mktemp("kube")) as (path, _requests):
        yield path


def kubectl_apply_dry_run(kubeconfig: Path, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KUBECTL), "apply", "--dry-run=client", "-f", str(path)],
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("path", crd_files(), ids=rel)
def test_kubectl_accepts_the_crd(kubeconfig: Path, path: Path) -> None:
    done = kubectl_apply_dry_run(kubeconfig, path)
    name = yaml.safe_load(path.read_text("utf-8"))["metadata"]["name"]
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"customresourcedefinition.apiextensions.k8s.io/{name} created (dry run)"


def test_kubectl_refuses_a_broken_file(kubeconfig: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinitio\nmetadata: {name: x}\n"
    )
    done = kubectl_apply_dry_run(kubeconfig, broken)
    assert done.returncode != 0
    assert str(broken) in done.stderr


@pytest.mark.parametrize("version", KUBE_VERSIONS)
@pytest.mark.parametrize("path", crd_files(), ids=rel)
def test_crd_validates_against_upstream_apiextensions_schema(path: Path, version: str) -> None:
    doc = yaml.safe_load(path.read_text("utf-8"))
    kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("path", crd_files(), ids=rel)
def test_installed_copy_is_the_same_object(path: Path) -> None:
    installed = REPO_ROOT / "config" / "crd" / path.name
    assert yaml.safe_load(installed.read_text("utf-8")) == yaml.safe_load(path.read_text("utf-8"))
    assert not re.search(r":\s[&*][A-Za-z0-9_]+\s*$", installed.read_text("utf-8"), re.M), (
        "anchors are expanded"
    )
