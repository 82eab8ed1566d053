"""Making the cluster hold exactly a desired object set: server-side apply, pruning, removal by labels.

`ClusterState` is the engine both reconcilers (`contour operator`, `contour gateway-provisioner`) share.
It knows nothing of Contour CRs or Gateways: it takes any desired state (complete manifests plus the
instance labels every one of them carries) and

* applies every object server-side as its field manager, with force: the operator owns these fields,
  and a hand edit of one of them (replicas, an image) is overwritten on the next reconcile. Fields the
  manifest does not mention (a Service's clusterIP, another controller's annotation) are left alone.
  An apply that changes nothing leaves the resourceVersion as it was, so reconciling again on the watch
  event an apply caused settles instead of looping;
* prunes: every object of an owned kind carrying the instance labels that the desired state no longer
  lists is deleted (an Envoy DaemonSet once the Envoy workload is a Deployment, and back);
* removes everything carrying the instance labels, cluster-scoped objects included (a namespaced owner
  cannot own a ClusterRole: the garbage collector would never remove it), for the owner's finalizer.

Only the kinds in `OWNED_KINDS` are listed for pruning and removal; applying any other kind is a
broken invariant (the renderers emit only these) and raises ValueError before anything is written.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import httpx
import kr8s
import kr8s.asyncio

from contour.k8s.apply import WriteOutcome, server_side_apply
from contour.k8s.client import KubeAPIError, api_error, unreachable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OwnedKind:
    api_version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]


# Every kind a desired state may hold, in the order removal deletes them (workloads before what they use).
OWNED_KINDS: Final = (
    OwnedKind("apps/v1", "DaemonSet", "daemonsets", True),
    OwnedKind("apps/v1", "Deployment", "deployments", True),
    OwnedKind("v1", "Service", "services", True),
    OwnedKind("projectcontour.io/v1alpha1", "ContourConfiguration", "contourconfigurations", True),
    OwnedKind("v1", "ConfigMap", "configmaps", True),
    OwnedKind("v1", "Secret", "secrets", True),
    OwnedKind("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", True),
    OwnedKind("rbac.authorization.k8s.io/v1", "Role", "roles", True),
    OwnedKind("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", False),
    OwnedKind("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", False),
    OwnedKind("v1", "ServiceAccount", "serviceaccounts", True),
    OwnedKind("v1", "Namespace", "namespaces", False),
)
_BY_KIND: Final = {(k.api_version, k.kind): k for k in OWNED_KINDS}

ObjectKey = tuple[str, str, str]  # (kind, namespace, name); namespace "" when cluster-scoped


class DesiredObjects(Protocol):
    """What the engine reads of `contour.provisioner.model.DesiredState`."""

    @property
    def objects(self) -> Sequence[Mapping[str, Any]]: ...
    @property
    def instance_labels(self) -> Mapping[str, str]: ...


def owned_kind(obj: Mapping[str, Any]) -> OwnedKind:
    found = _BY_KIND.get((str(obj.get("apiVersion", "")), str(obj.get("kind", ""))))
    if found is None:
        raise ValueError(f"the provisioner does not manage {obj.get('apiVersion')} {obj.get('kind')}")
    return found


def object_key(obj: Mapping[str, Any]) -> ObjectKey:
    meta = obj.get("metadata") or {}
    return (str(obj.get("kind", "")), str(meta.get("namespace") or ""), str(meta.get("name", "")))


def describe(key: ObjectKey) -> str:
    kind, namespace, name = key
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def label_selector(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def carries(obj: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether the object has every one of `labels` (an empty set matches nothing)."""
    have = (obj.get("metadata") or {}).get("labels") or {}
    return bool(labels) and all(have.get(k) == v for k, v in labels.items())


@dataclass
class ApplyReport:
    created: list[ObjectKey] = field(default_factory=list)
    applied: list[ObjectKey] = field(default_factory=list)
    pruned: list[ObjectKey] = field(default_factory=list)


class ClusterState:
    """Applies desired states and removes what an instance no longer wants, as one field manager."""

    def __init__(self, api: kr8s.asyncio.Api, field_manager: str) -> None:
        self.api = api
        self.field_manager = field_manager

    async def apply(self, desired: DesiredObjects) -> ApplyReport:
        """Apply every desired object, then prune the instance's objects that are no longer desired."""
        labels = dict(desired.instance_labels)
        if not labels:
            raise ValueError("a desired state without instance labels cannot be pruned or removed")
        kinds = [(owned_kind(obj), obj) for obj in desired.objects]
        for _, obj in kinds:
            if not carries(obj, labels):
                raise ValueError(f"{describe(object_key(obj))} lacks the instance labels {labels}")
        report = ApplyReport()
        for kind, obj in kinds:
            outcome = await server_side_apply(
                self.api, dict(obj), plural=kind.plural, field_manager=self.field_manager, force=True
            )
            (report.created if outcome is WriteOutcome.CREATED else report.applied).append(object_key(obj))
        keep = {object_key(obj) for obj in desired.objects}
        for obj in await self.list_instance(labels):
            key = object_key(obj)
            if key not in keep:
                await self.delete(obj)
                report.pruned.append(key)
        if report.created or report.pruned:
            log.info(
                "created %s; pruned %s",
                ", ".join(describe(k) for k in report.created) or "nothing",
                ", ".join(describe(k) for k in report.pruned) or "nothing",
            )
        return report

    async def remove_instance(self, labels: Mapping[str, str]) -> list[ObjectKey]:
        """Delete every object carrying the instance labels; the keys deleted."""
        if not labels:
            return []
        removed = []
        for obj in await self.list_instance(labels):
            await self.delete(obj)
            removed.append(object_key(obj))
        if removed:
            log.info("removed %s", ", ".join(describe(k) for k in removed))
        return removed

    async def list_instance(self, labels: Mapping[str, str]) -> list[dict[str, Any]]:
        """Every object of an owned kind, in any namespace, carrying the instance labels."""
        found: list[dict[str, Any]] = []
        for kind in OWNED_KINDS:
            found.extend(await self.list_kind(kind, label_selector(labels)))
        return found

    async def list_kind(self, kind: OwnedKind, selector: str) -> list[dict[str, Any]]:
        body = await self._call("GET", kind, url=kind.plural, params={"labelSelector": selector})
        items = body.get("items") or []
        for item in items:
            item.setdefault("apiVersion", kind.api_version)
            item.setdefault("kind", kind.kind)
        return [item for item in items if isinstance(item, dict)]

    async def delete(self, obj: Mapping[str, Any]) -> None:
        """Delete the object (background propagation); one already gone is not an error."""
        kind = owned_kind(obj)
        meta = obj.get("metadata") or {}
        try:
            await self._call(
                "DELETE",
                kind,
                namespace=meta.get("namespace") if kind.namespaced else None,
                url=f"{kind.plural}/{meta['name']}",
                json={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"},
            )
        except KubeAPIError as error:
            if error.code != 404:
                raise

    async def _call(
        self, method: str, kind: OwnedKind, *, url: str, namespace: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        try:
            async with self.api.call_api(
                method,
                version=kind.api_version,
                base="/apis" if kind.group else "/api",
                namespace=namespace,
                url=url,
                **kwargs,
            ) as response:
                answer: dict[str, Any] = response.json()
                return answer
        except kr8s.ServerError as error:
            raise api_error(error) from None
        except (httpx.HTTPError, kr8s.APITimeoutError, OSError) as error:
            raise unreachable(error, str(self.api.auth.server)) from None


def keys_of(objects: Iterable[Mapping[str, Any]]) -> list[ObjectKey]:
    return sorted(object_key(obj) for obj in objects)
