"""What the embedded API server serves: every resource type, built in or defined by a CRD.

A `ResourceType` carries what discovery, routing, validation, printing and patching need to know about
one group/version/resource. The `ResourceRegistry` holds the built-in types and adds or removes the
types of CustomResourceDefinitions as they are created, changed or deleted, so that creating a CRD
serves its resources and deleting it stops serving them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from contour.apiserver.schemas import Schema, builtin_schema, crd_schema

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class PrinterColumn:
    """One column of `kubectl get`'s table (a CRD's additionalPrinterColumns entry)."""

    name: str
    type: str
    json_path: str
    description: str = ""
    priority: int = 0
    format: str = ""


@dataclass(frozen=True)
class ScaleSubresource:
    """Where a `/scale` subresource reads and writes its replicas (a CRD's `subresources.scale`).

    Paths are the CRD's dotted JSON paths (`.spec.replicas`). Built-in workloads have no selector path:
    their `status.selector` is `spec.selector` (a LabelSelector) printed as a selector string.
    """

    spec_replicas_path: str = ".spec.replicas"
    status_replicas_path: str = ".status.replicas"
    label_selector_path: str = ""
    selector_from_spec: bool = False


WORKLOAD_SCALE = ScaleSubresource(selector_from_spec=True)


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    has_status: bool = False
    printer_columns: tuple[PrinterColumn, ...] = ()
    # The CRD's openAPIV3Schema for this version; None for built-in kinds.
    crd_schema: Mapping[str, Any] | None = None
    crd_name: str | None = None
    # For CRDs: the version objects are stored in (all served versions share one storage).
    storage_version: str = ""
    served: bool = True
    selectable_fields: tuple[str, ...] = field(default=())
    scale: ScaleSubresource | None = None

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def group_resource(self) -> str:
        """`plural.group` (`httpproxies.projectcontour.io`), or `plural` for the core group."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def is_custom(self) -> bool:
        return self.crd_name is not None

    def schema(self) -> Schema | None:
        """The structural schema of this version (built-in or from the CRD)."""
        if self.crd_schema is not None:
            return crd_schema(self.crd_schema)
        return builtin_schema(self.group, self.version, self.kind)


def _builtin(
    group: str,
    kind: str,
    plural: str,
    *,
    version: str = "v1",
    namespaced: bool = True,
    short_names: tuple[str, ...] = (),
    categories: tuple[str, ...] = (),
    has_status: bool = False,
    scale: ScaleSubresource | None = None,
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        kind=kind,
        plural=plural,
        singular=kind.lower(),
        namespaced=namespaced,
        short_names=short_names,
        categories=categories,
        has_status=has_status,
        scale=scale,
    )


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _builtin("", "Namespace", "namespaces", namespaced=False, short_names=("ns",), has_status=True),
    _builtin("", "Service", "services", short_names=("svc",), categories=("all",), has_status=True),
    _builtin("", "Endpoints", "endpoints", short_names=("ep",)),
    _builtin("", "Secret", "secrets"),
    _builtin("", "ConfigMap", "configmaps", short_names=("cm",)),
    _builtin("", "ServiceAccount", "serviceaccounts", short_names=("sa",)),
    _builtin("", "Event", "events", short_names=("ev",)),
    _builtin("", "Pod", "pods", short_names=("po",), categories=("all",), has_status=True),
    _builtin("discovery.k8s.io", "EndpointSlice", "endpointslices"),
    _builtin(
        "apps",
        "Deployment",
        "deployments",
        short_names=("deploy",),
        categories=("all",),
        has_status=True,
        scale=WORKLOAD_SCALE,
    ),
    _builtin(
        "apps",
        "ReplicaSet",
        "replicasets",
        short_names=("rs",),
        categories=("all",),
        has_status=True,
        scale=WORKLOAD_SCALE,
    ),
    _builtin(
        "apps",
        "StatefulSet",
        "statefulsets",
        short_names=("sts",),
        categories=("all",),
        has_status=True,
        scale=WORKLOAD_SCALE,
    ),
    _builtin("apps", "DaemonSet", "daemonsets", short_names=("ds",), categories=("all",), has_status=True),
    _builtin("networking.k8s.io", "Ingress", "ingresses", short_names=("ing",), has_status=True),
    _builtin("networking.k8s.io", "IngressClass", "ingressclasses", namespaced=False),
    _builtin("rbac.authorization.k8s.io", "Role", "roles"),
    _builtin("rbac.authorization.k8s.io", "RoleBinding", "rolebindings"),
    _builtin("rbac.authorization.k8s.io", "ClusterRole", "clusterroles", namespaced=False),
    _builtin("rbac.authorization.k8s.io", "ClusterRoleBinding", "clusterrolebindings", namespaced=False),
    _builtin("coordination.k8s.io", "Lease", "leases"),
    _builtin(
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        namespaced=False,
        short_names=("crd", "crds"),
        categories=("api-extensions",),
        has_status=True,
    ),
)


def types_from_crd(crd: Mapping[str, Any]) -> list[ResourceType]:
    """The served resource types one CustomResourceDefinition defines (one per served version)."""
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    group = spec.get("group", "")
    versions = spec.get("versions", [])
    storage = next((v.get("name", "") for v in versions if v.get("storage")), "")
    types = []
    for version in versions:
        if not version.get("served", False):
            continue
        columns = tuple(
            PrinterColumn(
                name=col.get("name", ""),
                type=col.get("type", "string"),
                json_path=col.get("jsonPath", ""),
                description=col.get("description", ""),
                priority=int(col.get("priority", 0)),
                format=col.get("format", ""),
            )
            for col in version.get("additionalPrinterColumns", [])
        )
        types.append(
            ResourceType(
                group=group,
                version=version.get("name", ""),
                kind=names.get("kind", ""),
                plural=names.get("plural", ""),
                singular=names.get("singular") or names.get("kind", "").lower(),
                namespaced=spec.get("scope") == "Namespaced",
                short_names=tuple(names.get("shortNames", [])),
                categories=tuple(names.get("categories", [])),
                has_status="status" in version.get("subresources", {}),
                printer_columns=columns,
                crd_schema=version.get("schema", {}).get("openAPIV3Schema", {"type": "object"}),
                crd_name=crd.get("metadata", {}).get("name"),
                storage_version=storage,
                selectable_fields=tuple(f.get("jsonPath", "") for f in version.get("selectableFields", [])),
                scale=_crd_scale(version.get("subresources", {})),
            )
        )
    return types


def _crd_scale(subresources: Any) -> ScaleSubresource | None:
    scale = subresources.get("scale") if isinstance(subresources, Mapping) else None
    if not isinstance(scale, Mapping):
        return None
    return ScaleSubresource(
        spec_replicas_path=str(scale.get("specReplicasPath", "")),
        status_replicas_path=str(scale.get("statusReplicasPath", "")),
        label_selector_path=str(scale.get("labelSelectorPath") or ""),
    )


class ResourceRegistry:
    """Every served group/version/resource, looked up by URL parts or by apiVersion and kind."""

    def __init__(self) -> None:
        self._by_path: dict[tuple[str, str, str], ResourceType] = {}
        self._crd_types: dict[str, list[ResourceType]] = {}
        for rtype in BUILTIN_TYPES:
            self._add(rtype)

    def _add(self, rtype: ResourceType) -> None:
        self._by_path[(rtype.group, rtype.version, rtype.plural)] = rtype

    def set_crd(self, crd: Mapping[str, Any]) -> None:
        """Serve (or re-serve, after a change) the resources of a CRD."""
        name = crd.get("metadata", {}).get("name", "")
        self.remove_crd(name)
        types = types_from_crd(crd)
        self._crd_types[name] = types
        for rtype in types:
            self._add(rtype)

    def remove_crd(self, name: str) -> list[ResourceType]:
        removed = self._crd_types.pop(name, [])
        for rtype in removed:
            self._by_path.pop((rtype.group, rtype.version, rtype.plural), None)
        return removed

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_path.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for rtype in self._by_path.values():
            if (rtype.group, rtype.version, rtype.kind) == (group, version, kind):
                return rtype
        return None

    def versions_of(self, group: str, plural: str) -> list[ResourceType]:
        """Every served version of one resource (they share storage)."""
        return [t for t in self._by_path.values() if t.group == group and t.plural == plural]

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(sorted(self._by_path.values(), key=lambda t: (t.group, t.version, t.plural)))

    def groups(self) -> dict[str, list[str]]:
        """group -> served versions, preferred first (the storage version for CRDs)."""
        out: dict[str, list[str]] = {}
        for rtype in self:
            versions = out.setdefault(rtype.group, [])
            if rtype.version not in versions:
                versions.append(rtype.version)
        for group, versions in out.items():
            versions.sort(key=_version_priority, reverse=True)
            out[group] = versions
        return out


def _version_priority(version: str) -> tuple[int, int, int]:
    """Kubernetes' version ordering: GA > beta > alpha, then by number (v1 > v1beta2 > v1alpha1)."""
    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not match:
        return (-1, 0, 0)
    major = int(match.group(1))
    stage = {"alpha": 0, "beta": 1, None: 2}[match.group(2)]
    minor = int(match.group(3) or 0)
    return (stage, major, minor)
