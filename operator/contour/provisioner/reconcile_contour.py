"""`contour operator`'s reconciler: a Contour CR (operator.projectcontour.io/v1alpha1) -> its installation.

One reconcile of `namespace/name`:

1. a CR being deleted: everything carrying its instance labels is deleted (cluster-scoped RBAC too),
   then the finalizer is dropped;
2. the planner turns the CR into parameters; invalid ones set `Degraded=True, InvalidParameters` with
   a message naming the field, and nothing else is created, changed or deleted;
3. the finalizer is added (with the instance labels recorded), the xDS certificates are chosen
   (reused while valid), the desired state is applied and what it no longer lists pruned;
4. status: `availableContours` / `availableEnvoys` from the workloads' status, and the conditions
   Available (both have an available pod), Progressing (fewer available than wanted, or a workload
   whose controller has not observed its latest generation) and Degraded (AsExpected, or why not).

It returns when to be called again: when the certificates are due for rotation.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import kr8s.asyncio

from contour.k8s.client import KubeClientError
from contour.provisioner.reconcile import ClusterState, DesiredObjects, carries
from contour.provisioner.reconcile_certs import CertFields, CertProfile, xds_certificates
from contour.provisioner.reconcile_owner import (
    Condition,
    OwnerResource,
    OwnerWriter,
    instance_labels_recorded,
    merge_conditions,
    now_rfc3339,
)
from contour.provisioner.reconcile_runtime import ReconcileRuntime, Watch
from contour.provisioner.reconcile_workloads import Workloads, find_workloads

log = logging.getLogger(__name__)

FIELD_MANAGER: Final = "contour-operator"
FINALIZER: Final = "operator.projectcontour.io/finalizer"
CONTOURS: Final = OwnerResource("operator.projectcontour.io", "v1alpha1", "contours")


@dataclass(frozen=True)
class Invalid:
    """Parameters that cannot be rendered: `field` is the path in the object (`spec.envoy.replicas`)."""

    field: str
    message: str


Render = Callable[[CertFields], DesiredObjects]
ContourPlanner = Callable[[Mapping[str, Any]], "Invalid | Render"]


@dataclass(frozen=True)
class Planned:
    """A Render that also says what the instance's xDS certificates must be (lifetime, names); a plain
    Render gets the default profile (365 days, `contour` and `envoy`)."""

    render: Render
    certs: CertProfile

    def __call__(self, fields: CertFields) -> DesiredObjects:
        return self.render(fields)


def cert_profile(plan: Render) -> CertProfile:
    return plan.certs if isinstance(plan, Planned) else CertProfile()


def owners_matching(instances: Mapping[str, Mapping[str, str]], obj: Mapping[str, Any]) -> list[str]:
    return [key for key, labels in instances.items() if carries(obj, labels)]


class ContourReconciler:
    def __init__(
        self, api: kr8s.asyncio.Api, planner: ContourPlanner, *, max_requeue: float = 3600.0
    ) -> None:
        self.api = api
        self.planner = planner
        self.max_requeue = max_requeue
        self.state = ClusterState(api, FIELD_MANAGER)
        self.owner = OwnerWriter(api, CONTOURS, FINALIZER)
        self.instances: dict[str, dict[str, str]] = {}
        self.runtime: ReconcileRuntime | None = None

    def make_runtime(self, resync: float = 600.0) -> ReconcileRuntime:
        self.instances.clear()
        self.runtime = ReconcileRuntime(
            self.api,
            name="contour operator",
            watches=[Watch(CONTOURS.group, CONTOURS.version, CONTOURS.plural, lambda obj: [_key(obj)])],
            reconcile=self.reconcile,
            owners_of=self.owners_of,
            resync=resync,
        )
        return self.runtime

    def owners_of(self, obj: Mapping[str, Any]) -> Iterable[str]:
        return owners_matching(self.instances, obj)

    async def reconcile(self, key: str) -> float | None:
        assert self.runtime is not None
        cr = self.runtime.store(CONTOURS.plural).get(key)
        if not isinstance(cr, dict):
            self.instances.pop(key, None)
            return None
        if (cr.get("metadata") or {}).get("deletionTimestamp"):
            await self._finalize(key, cr)
            return None
        plan = self.planner(cr)
        if isinstance(plan, Invalid):
            log.warning("Contour %s: invalid %s: %s", key, plan.field, plan.message)
            await self._status(cr, None, Condition("Degraded", "True", "InvalidParameters", _named(plan)))
            return None
        namespace = str(cr["metadata"].get("namespace") or "")
        now = datetime.datetime.now(datetime.UTC)
        certs = await xds_certificates(
            self.api, lambda c: plan(c).objects, namespace=namespace, now=now, profile=cert_profile(plan)
        )
        desired = plan(certs.fields)
        labels = dict(desired.instance_labels)
        self.instances[key] = labels
        self.runtime.watch_owned(labels)
        await self.owner.adopt(cr, labels)
        try:
            await self.state.apply(desired)
        except (KubeClientError, ValueError) as error:
            await self._status(cr, None, Condition("Degraded", "True", "ApplyFailed", str(error)[:1000]))
            raise
        workloads = find_workloads(desired.objects, self.runtime.owned_store)
        await self._status(cr, workloads, Condition("Degraded", "False", "AsExpected", "Reconciled"))
        return min(max(certs.rotate_in, 1.0), self.max_requeue)

    async def _finalize(self, key: str, cr: Mapping[str, Any]) -> None:
        if self.owner.has_finalizer(cr):
            labels = instance_labels_recorded(cr) or self.instances.get(key) or {}
            await self.state.remove_instance(labels)
            await self.owner.release(cr)
        self.instances.pop(key, None)

    async def _status(self, cr: Mapping[str, Any], workloads: Workloads | None, degraded: Condition) -> None:
        wanted = [degraded]
        status: dict[str, Any] = {}
        if workloads is not None:
            wanted = [*workloads.conditions(), degraded]
            status = {
                "availableContours": workloads.contours.available,
                "availableEnvoys": workloads.envoys.available,
            }
        existing = (cr.get("status") or {}).get("conditions") or []
        generation = int((cr.get("metadata") or {}).get("generation") or 0)
        conditions = merge_conditions(existing, wanted, generation, now_rfc3339())
        if _same(existing, conditions):
            conditions = list(existing)
        status["conditions"] = conditions
        await self.owner.write_status(cr, status, precondition=False)


def _named(invalid: Invalid) -> str:
    return f"{invalid.field}: {invalid.message}" if invalid.field else invalid.message


def _same(existing: list[Any], conditions: list[dict[str, Any]]) -> bool:
    return existing == conditions


def _key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}" if meta.get("namespace") else str(meta.get("name"))
