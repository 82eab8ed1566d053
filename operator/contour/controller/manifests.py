"""`contour run -f PATH`: read manifests from files and directories and apply them server-side at start,
as `kubectl apply --server-side --force-conflicts -f` would.

Paths are files or directories (their `*.yaml`, `*.yml` and `*.json` files, sorted, not recursive, as
kubectl without `-R`); a file may hold several YAML documents, and a `kind: List` is unrolled. Each
object's resource (plural, namespaced or not) comes from the server's discovery, so any served kind
works, CRDs included. A namespaced object without a namespace goes to `default`. Namespaces and CRDs
are written first, so a directory may hold a Namespace in any of its files.

Every object is applied with field manager `contour-run`: re-running with an edited file updates the
object, a field removed from the file is removed from the object (this manager owned it), and fields
other managers set (a `kubectl label`, a controller's writes) are kept. Where the file and another
manager disagree on a field, the file wins and takes the field over.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kr8s.asyncio
import yaml

from contour.k8s.apply import WriteOutcome, server_side_apply
from contour.k8s.client import KubeClientError

SUFFIXES = (".yaml", ".yml", ".json")
FIELD_MANAGER = "contour-run"
_FIRST_KINDS = ("Namespace", "CustomResourceDefinition")


class ManifestError(ValueError):
    """A manifest cannot be read or applied; the message names the file and the object."""


@dataclass(frozen=True)
class Manifest:
    source: str  # file path, and #index of the document in it
    obj: dict[str, Any]

    @property
    def description(self) -> str:
        meta = self.obj.get("metadata") or {}
        where = f"{meta.get('namespace')}/" if meta.get("namespace") else ""
        return f"{self.obj.get('kind')} {where}{meta.get('name')}"


def manifest_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and p.suffix in SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            raise ManifestError(f"{path}: no such file or directory")
    return files


def read_manifests(paths: Iterable[Path]) -> list[Manifest]:
    """Every object in `paths`, Namespaces and CRDs first, otherwise in file and document order."""
    found: list[Manifest] = []
    for file in manifest_files(paths):
        try:
            text = file.read_text("utf-8")
            documents = [json.loads(text)] if file.suffix == ".json" else list(yaml.safe_load_all(text))
        except (OSError, ValueError, yaml.YAMLError) as error:
            raise ManifestError(f"{file}: {error}") from None
        for index, document in enumerate(documents):
            if document is None:
                continue
            items = document.get("items") if isinstance(document, dict) else None
            if isinstance(document, dict) and document.get("kind") == "List" and isinstance(items, list):
                objects = items
            else:
                objects = [document]
            for obj in objects:
                _check(obj, f"{file}#{index}")
                found.append(Manifest(f"{file}#{index}", obj))
    return sorted(found, key=lambda m: 0 if m.obj["kind"] in _FIRST_KINDS else 1)


def _check(obj: Any, source: str) -> None:
    if not isinstance(obj, dict):
        raise ManifestError(f"{source}: not an object")
    meta = obj.get("metadata")
    if not obj.get("apiVersion") or not obj.get("kind") or not isinstance(meta, dict) or not meta.get("name"):
        raise ManifestError(f"{source}: an object needs apiVersion, kind and metadata.name")


class Discovery:
    """(apiVersion, kind) -> (plural, namespaced), from the server's discovery, asked once per version."""

    def __init__(self, api: kr8s.asyncio.Api) -> None:
        self.api = api
        self._versions: dict[str, dict[str, tuple[str, bool]]] = {}

    async def resource(self, api_version: str, kind: str) -> tuple[str, bool]:
        kinds = self._versions.get(api_version)
        if kinds is None:
            kinds = await self._discover(api_version)
        if kind not in kinds:
            # A CRD applied a moment ago may not have been served when this version was first asked.
            kinds = await self._discover(api_version)
        if kind not in kinds:
            raise ManifestError(f"the server does not serve kind {kind} in {api_version}")
        return kinds[kind]

    async def _discover(self, api_version: str) -> dict[str, tuple[str, bool]]:
        base = "/api" if api_version == "v1" else "/apis"
        # version="" and the version as the url: kr8s would otherwise end the path with a slash.
        async with self.api.call_api(
            "GET", version="", base=base, url=api_version, raise_for_status=False
        ) as r:
            body = r.json() if r.status_code == 200 else {}
        kinds = {
            res["kind"]: (res["name"], bool(res.get("namespaced")))
            for res in body.get("resources", [])
            if "/" not in res.get("name", "/")
        }
        self._versions[api_version] = kinds
        return kinds


async def apply_manifests(
    api: kr8s.asyncio.Api, manifests: Iterable[Manifest], *, default_namespace: str = "default"
) -> list[tuple[Manifest, WriteOutcome]]:
    """Apply every manifest in order; ManifestError naming the file and object on the first failure."""
    discovery = Discovery(api)
    done: list[tuple[Manifest, WriteOutcome]] = []
    for manifest in manifests:
        obj = copy.deepcopy(manifest.obj)
        try:
            plural, namespaced = await discovery.resource(obj["apiVersion"], obj["kind"])
            if namespaced:
                obj["metadata"].setdefault("namespace", default_namespace)
            else:
                obj["metadata"].pop("namespace", None)
            outcome = await server_side_apply(api, obj, plural=plural, field_manager=FIELD_MANAGER)
        except ManifestError as error:
            raise ManifestError(f"{manifest.source}: {manifest.description}: {error}") from None
        except KubeClientError as error:
            raise ManifestError(f"{manifest.source}: {manifest.description}: {error}") from error
        done.append((Manifest(manifest.source, obj), outcome))
    return done
