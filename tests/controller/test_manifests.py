"""`contour run -f`: reading manifest files and directories, and creating or updating them through the API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from contour.controller.echobackends import echo_pods
from contour.controller.manifests import ManifestError, apply_manifests, read_manifests
from contour.k8s.apply import WriteOutcome
from tests.k8s.cluster import Cluster, embedded_cluster

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart" / "run"

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  value: "{value}"
"""
NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: late
"""


def test_a_directory_is_read_namespaces_first_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(CONFIGMAP.format(value=1) + "---\n" + CONFIGMAP.format(value=2))
    (tmp_path / "b.yml").write_text(NAMESPACE)
    (tmp_path / "notes.txt").write_text("not a manifest")
    kinds = [m.obj["kind"] for m in read_manifests([tmp_path])]
    assert kinds == ["Namespace", "ConfigMap", "ConfigMap"]


def test_a_list_is_unrolled(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [namespace]}))
    assert [m.description for m in read_manifests([path])] == ["Namespace x"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("kind: ConfigMap\nmetadata: {name: x}\n", "needs apiVersion", id="no-api-version"),
        pytest.param("- a\n- b\n", "not an object", id="not-an-object"),
        pytest.param("a: [\n", "list.yaml", id="bad-yaml"),
    ],
)
def test_a_bad_manifest_is_refused_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "list.yaml"
    path.write_text(text)
    with pytest.raises(ManifestError, match=message):
        read_manifests([path])


def test_a_missing_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no such file"):
        read_manifests([tmp_path / "nope.yaml"])


def test_the_quickstart_asks_for_two_echo_backends() -> None:
    assert echo_pods(read_manifests([QUICKSTART])) == [
        ("quickstart", "echo", "echo-1"),
        ("quickstart", "echo", "echo-2"),
    ]


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    async with embedded_cluster(tmp_path / "state") as running:
        yield running


async def test_apply_creates_then_updates_in_the_default_namespace(cluster: Cluster, tmp_path: Path) -> None:
    path = tmp_path / "cm.yaml"
    path.write_text(CONFIGMAP.format(value=1))
    first = await apply_manifests(cluster.api, read_manifests([path]))
    path.write_text(CONFIGMAP.format(value=2))
    second = await apply_manifests(cluster.api, read_manifests([path]))
    assert [outcome for _, outcome in first + second] == [WriteOutcome.CREATED, WriteOutcome.APPLIED]
    async with cluster.api.call_api("GET", version="v1", namespace="default", url="configmaps/settings") as r:
        assert r.json()["data"] == {"value": "2"}


async def test_an_unknown_kind_is_refused_naming_the_object(cluster: Cluster, tmp_path: Path) -> None:
    path = tmp_path / "odd.yaml"
    path.write_text("apiVersion: v1\nkind: Gadget\nmetadata:\n  name: g\n")
    with pytest.raises(ManifestError, match="does not serve kind Gadget"):
        await apply_manifests(cluster.api, read_manifests([path]))
