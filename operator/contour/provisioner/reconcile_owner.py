"""What a reconciler writes on the object it reconciles: the finalizer, the instance labels, status.

* The finalizer keeps a deleted Contour CR or Gateway in the API until the reconciler has removed
  everything of the instance (cluster-scoped RBAC included), then the reconciler drops it.
* The instance labels are recorded in an annotation when the finalizer is added: a CR whose spec has
  since become invalid can still be cleaned up, and so can one a restarted operator never rendered.
* Conditions keep their `lastTransitionTime` while their status does not change (Kubernetes API
  conventions), carry `observedGeneration`, and a status equal to the one stored is not written.

Writes are JSON merge patches carrying the resourceVersion read: a concurrent writer makes it fail
with 409, and the reconciler tries again from a fresh read.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import httpx
import kr8s
import kr8s.asyncio

from contour.k8s.client import KubeAPIError, api_error, unreachable

log = logging.getLogger(__name__)

INSTANCE_LABELS_ANNOTATION: Final = "projectcontour.io/provisioner-instance-labels"
MERGE_PATCH: Final = {"Content-Type": "application/merge-patch+json"}


@dataclass(frozen=True)
class OwnerResource:
    group: str
    version: str
    plural: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


@dataclass(frozen=True)
class Condition:
    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_conditions(
    existing: Sequence[Mapping[str, Any]], wanted: Sequence[Condition], generation: int, now: str
) -> list[dict[str, Any]]:
    """`existing` with the `wanted` types replaced (others kept, in place); times kept when unchanged."""
    by_type = {str(c.get("type")): c for c in existing if isinstance(c, Mapping)}
    new: dict[str, dict[str, Any]] = {}
    for cond in wanted:
        old = by_type.get(cond.type)
        since = str(old["lastTransitionTime"]) if old and old.get("status") == cond.status else now
        new[cond.type] = {
            "type": cond.type,
            "status": cond.status,
            "reason": cond.reason,
            "message": cond.message,
            "observedGeneration": generation,
            "lastTransitionTime": since,
        }
    out = [new.pop(str(c.get("type")), dict(c)) for c in existing if isinstance(c, Mapping)]
    out.extend(new[c.type] for c in wanted if c.type in new)
    return out


def instance_labels_recorded(obj: Mapping[str, Any]) -> dict[str, str]:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    try:
        labels = json.loads(annotations.get(INSTANCE_LABELS_ANNOTATION) or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


class OwnerWriter:
    """Patches the metadata and status of owners of one resource."""

    def __init__(self, api: kr8s.asyncio.Api, resource: OwnerResource, finalizer: str) -> None:
        self.api = api
        self.resource = resource
        self.finalizer = finalizer

    def has_finalizer(self, obj: Mapping[str, Any]) -> bool:
        return self.finalizer in ((obj.get("metadata") or {}).get("finalizers") or [])

    async def adopt(self, obj: Mapping[str, Any], labels: Mapping[str, str]) -> None:
        """Add the finalizer and record the instance labels, unless both are there already."""
        meta = obj.get("metadata") or {}
        recorded = json.dumps(dict(sorted(labels.items())), separators=(",", ":"))
        finalizers = list(meta.get("finalizers") or [])
        annotations = meta.get("annotations") or {}
        if self.finalizer in finalizers and annotations.get(INSTANCE_LABELS_ANNOTATION) == recorded:
            return
        if self.finalizer not in finalizers:
            finalizers.append(self.finalizer)
        patch = {
            "metadata": {
                "resourceVersion": meta.get("resourceVersion"),
                "finalizers": finalizers,
                "annotations": {INSTANCE_LABELS_ANNOTATION: recorded},
            }
        }
        await self._patch(obj, patch, status=False)

    async def release(self, obj: Mapping[str, Any]) -> None:
        """Drop the finalizer (the object then goes away if it was being deleted)."""
        meta = obj.get("metadata") or {}
        finalizers = [f for f in meta.get("finalizers") or [] if f != self.finalizer]
        patch = {"metadata": {"resourceVersion": meta.get("resourceVersion"), "finalizers": finalizers}}
        try:
            await self._patch(obj, patch, status=False)
        except KubeAPIError as error:
            if error.code != 404:
                raise

    async def write_status(
        self, obj: Mapping[str, Any], status: Mapping[str, Any], *, precondition: bool = True
    ) -> bool:
        """Merge `status` into the object's status; False (nothing sent) when it holds those values.

        With `precondition`, the write fails with 409 if the object changed since `obj` was read.
        """
        current = obj.get("status") or {}
        if all(current.get(k) == v for k, v in status.items()):
            return False
        patch: dict[str, Any] = {"status": dict(status)}
        if precondition:
            patch["metadata"] = {"resourceVersion": (obj.get("metadata") or {}).get("resourceVersion")}
        await self._patch(obj, patch, status=True)
        return True

    async def _patch(self, obj: Mapping[str, Any], patch: Mapping[str, Any], *, status: bool) -> None:
        meta = obj.get("metadata") or {}
        url = f"{self.resource.plural}/{meta['name']}" + ("/status" if status else "")
        try:
            async with self.api.call_api(
                "PATCH",
                version=self.resource.api_version,
                base="/apis",
                namespace=meta.get("namespace"),
                url=url,
                content=json.dumps(patch).encode(),
                headers=MERGE_PATCH,
            ) as response:
                log.debug("patched %s: %d", url, response.status_code)
        except kr8s.ServerError as error:
            raise api_error(error) from None
        except (httpx.HTTPError, kr8s.APITimeoutError, OSError) as error:
            raise unreachable(error, str(self.api.auth.server)) from None
