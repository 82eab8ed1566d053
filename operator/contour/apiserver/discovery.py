"""The discovery documents kubectl and client-go read to learn which resources the server has.

Two shapes exist. The legacy one is a tree of small documents (`/api` APIVersions, `/api/v1` and
`/apis/GROUP/VERSION` APIResourceLists, `/apis` APIGroupList, `/apis/GROUP` APIGroup). The aggregated
one (`apidiscovery.k8s.io/v2` APIGroupDiscoveryList, KEP-3352) answers `/api` and `/apis` in one
document each when the client asks for it in `Accept`; kubectl 1.37 sends
`application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json`, and decides
which shape it got from the response Content-Type, so `discovery_document` returns both.

Everything here is a pure function of the `ResourceRegistry`: removing a CRD removes its group.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from typing import Any

from contour.apiserver.resources import ResourceRegistry, ResourceType

JSON = "application/json"
AGGREGATED_GROUP = "apidiscovery.k8s.io"
AGGREGATED_KIND = "APIGroupDiscoveryList"
AGGREGATED_VERSIONS = ("v2", "v2beta1")
STATUS_VERBS = ("get", "patch", "update")
SCALE_VERBS = ("get", "patch", "update")
SCALE_KIND = {"group": "autoscaling", "version": "v1", "kind": "Scale"}

# kube-aggregator's group priorities (higher first); CRD groups come after all of these, by name.
_BUILTIN_GROUP_ORDER = (
    "apps",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "apiextensions.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
)


def aggregated_content_type(version: str = "v2") -> str:
    return f"{JSON};g={AGGREGATED_GROUP};v={version};as={AGGREGATED_KIND}"


def storage_version_hash(group: str, version: str, kind: str) -> str:
    """What the real server publishes: base64 of the first 8 bytes of sha256("group/version/kind")."""
    digest = hashlib.sha256(f"{group}/{version}/{kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _group_versions(registry: ResourceRegistry) -> list[tuple[str, list[str]]]:
    """Named groups in the order the real server lists them, each with its versions, preferred first."""
    groups = {g: v for g, v in registry.groups().items() if g}
    builtin = [g for g in _BUILTIN_GROUP_ORDER if g in groups]
    custom = sorted(g for g in groups if g not in _BUILTIN_GROUP_ORDER)
    return [(g, groups[g]) for g in builtin + custom]


def _types_in(registry: ResourceRegistry, group: str, version: str) -> list[ResourceType]:
    return sorted((t for t in registry if t.group == group and t.version == version), key=lambda t: t.plural)


def _version_entry(group: str, version: str) -> dict[str, str]:
    return {"groupVersion": f"{group}/{version}", "version": version}


def api_versions(server_address: str = "") -> dict[str, Any]:
    """`/api`: the core group's versions."""
    addresses = [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}] if server_address else []
    return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": addresses}


def _api_group(group: str, versions: list[str]) -> dict[str, Any]:
    return {
        "name": group,
        "versions": [_version_entry(group, v) for v in versions],
        "preferredVersion": _version_entry(group, versions[0]),
    }


def api_group_list(registry: ResourceRegistry) -> dict[str, Any]:
    """`/apis`: every named group."""
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_api_group(g, versions) for g, versions in _group_versions(registry)],
    }


def api_group(registry: ResourceRegistry, group: str) -> dict[str, Any] | None:
    """`/apis/GROUP`, or None when the group is not served."""
    versions = registry.groups().get(group) if group else None
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_api_group(group, versions)}


def _resource_entries(rtype: ResourceType) -> Iterable[dict[str, Any]]:
    entry: dict[str, Any] = {
        "name": rtype.plural,
        "singularName": rtype.singular,
        "namespaced": rtype.namespaced,
        "kind": rtype.kind,
        "verbs": list(rtype.verbs),
    }
    if rtype.short_names:
        entry["shortNames"] = list(rtype.short_names)
    if rtype.categories:
        entry["categories"] = list(rtype.categories)
    entry["storageVersionHash"] = storage_version_hash(
        rtype.group, rtype.storage_version or rtype.version, rtype.kind
    )
    yield entry
    if rtype.scale is not None:
        yield {
            "name": f"{rtype.plural}/scale",
            "singularName": "",
            "namespaced": rtype.namespaced,
            **SCALE_KIND,
            "verbs": list(SCALE_VERBS),
        }
    if rtype.has_status:
        yield {
            "name": f"{rtype.plural}/status",
            "singularName": "",
            "namespaced": rtype.namespaced,
            "kind": rtype.kind,
            "verbs": list(STATUS_VERBS),
        }


def api_resource_list(registry: ResourceRegistry, group: str, version: str) -> dict[str, Any] | None:
    """`/api/v1` (group "") or `/apis/GROUP/VERSION`, or None when that group/version is not served."""
    types = _types_in(registry, group, version)
    if not types:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": [entry for rtype in types for entry in _resource_entries(rtype)],
    }


def _gvk(rtype: ResourceType) -> dict[str, str]:
    return {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}


def _aggregated_resource(rtype: ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": rtype.plural,
        "responseKind": _gvk(rtype),
        "scope": "Namespaced" if rtype.namespaced else "Cluster",
        "singularResource": rtype.singular,
        "verbs": list(rtype.verbs),
    }
    if rtype.short_names:
        entry["shortNames"] = list(rtype.short_names)
    if rtype.categories:
        entry["categories"] = list(rtype.categories)
    subresources = []
    if rtype.scale is not None:
        subresources.append(
            {"subresource": "scale", "responseKind": dict(SCALE_KIND), "verbs": list(SCALE_VERBS)}
        )
    if rtype.has_status:
        subresources.append(
            {"subresource": "status", "responseKind": _gvk(rtype), "verbs": list(STATUS_VERBS)}
        )
    if subresources:
        entry["subresources"] = subresources
    return entry


def _aggregated_group(registry: ResourceRegistry, group: str, versions: list[str]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"creationTimestamp": None}
    if group:
        metadata["name"] = group
    return {
        "metadata": metadata,
        "versions": [
            {
                "version": version,
                "resources": [_aggregated_resource(t) for t in _types_in(registry, group, version)],
                "freshness": "Current",
            }
            for version in versions
        ],
    }


def aggregated_discovery(registry: ResourceRegistry, *, core: bool, version: str = "v2") -> dict[str, Any]:
    """The APIGroupDiscoveryList for `/api` (core=True) or `/apis`; versions are listed preferred first."""
    groups = [("", registry.groups().get("", []))] if core else _group_versions(registry)
    return {
        "kind": AGGREGATED_KIND,
        "apiVersion": f"{AGGREGATED_GROUP}/{version}",
        "metadata": {},
        "items": [_aggregated_group(registry, g, versions) for g, versions in groups if versions],
    }


def _media_ranges(accept: str) -> list[tuple[str, dict[str, str]]]:
    """`Accept` split into (type, params), highest q first (a stable sort keeps the client's order)."""
    ranges: list[tuple[float, str, dict[str, str]]] = []
    for part in accept.split(","):
        pieces = [p.strip() for p in part.split(";")]
        if not pieces[0]:
            continue
        params: dict[str, str] = {}
        for piece in pieces[1:]:
            key, _, value = piece.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        try:
            quality = float(params.pop("q", "1"))
        except ValueError:
            quality = 0.0
        if quality > 0:
            ranges.append((quality, pieces[0].lower(), params))
    ranges.sort(key=lambda r: -r[0])
    return [(media, params) for _, media, params in ranges]


def wants_aggregated(accept: str) -> str | None:
    """The aggregated discovery version (`v2`, `v2beta1`) the client prefers, or None for the legacy shape."""
    for media, params in _media_ranges(accept):
        if media not in (JSON, "application/*", "*/*"):
            continue
        if not params:
            return None
        if (
            params.get("g") == AGGREGATED_GROUP
            and params.get("as") == AGGREGATED_KIND
            and params.get("v") in AGGREGATED_VERSIONS
        ):
            return params["v"]
    return None


def discovery_document(
    registry: ResourceRegistry, path: str, accept: str = JSON, *, server_address: str = ""
) -> tuple[dict[str, Any], str] | None:
    """The (body, Content-Type) for a discovery path, or None when the path is not a served document.

    `/api` and `/apis` honour the aggregated media type in `accept`; every other path has one shape.
    """
    path = path.split("?", 1)[0].rstrip("/") or "/"
    parts = path.strip("/").split("/")
    if path in ("/api", "/apis"):
        version = wants_aggregated(accept)
        if version is not None:
            return aggregated_discovery(registry, core=path == "/api", version=version), (
                aggregated_content_type(version)
            )
        if path == "/api":
            return api_versions(server_address), JSON
        return api_group_list(registry), JSON
    document: dict[str, Any] | None = None
    if len(parts) == 2 and parts[0] == "api":
        document = api_resource_list(registry, "", parts[1])
    elif len(parts) == 2 and parts[0] == "apis":
        document = api_group(registry, parts[1])
    elif len(parts) == 3 and parts[0] == "apis":
        document = api_resource_list(registry, parts[1], parts[2])
    return (document, JSON) if document is not None else None
