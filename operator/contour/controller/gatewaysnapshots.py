"""Publishing each Gateway's own snapshot, next to the default group's.

Every Gateway in `DAG.gateways` is served to its own Envoy, whose node.cluster is the Gateway's group
name (`gateway_group`). After each rebuild the event handler hands the DAG here: each Gateway's
resources are translated and published to its group with the assignments of the Services it uses,
and the groups of Gateways that are gone are cleared. EndpointSlice changes reach each Gateway that
uses the Service. Unchanged content republishes nothing (snapshot type versions are content hashes).

Gateway API statuses carry conditions nested in `status.listeners[]` and `status.parents[]`; the
status writer stamps only top-level conditions, and the pure processor has no clock, so the nested
conditions that kept no previous time are stamped here (the CRDs require lastTransitionTime).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from typing import Any

from contour.controller.endpointslices import AssignmentCache, EndpointSliceIndex
from contour.dag.gatewayapi_model import GatewayDAG
from contour.dag.gatewayapi_names import GROUP as GATEWAY_API_GROUP
from contour.dag.gatewayapi_names import gateway_group
from contour.dag.model import DAG, ObjectRef
from contour.envoy.endpoints import cluster_load_assignment
from contour.envoy.gatewayapi_translate import translate_gateway
from contour.envoy.gatewayapi_udp import udp_weighted_assignment, udp_weighted_backends
from contour.envoy.translate import TranslatorConfig
from contour.xds import typeurls
from contour.xds.cache import SnapshotCache
from contour.xds.endpoints import EndpointsCache
from contour.xds.snapshot import ResourceMemo, Snapshot


class GatewaySnapshots:
    """The snapshots of the Gateways' groups."""

    def __init__(
        self, snapshots: SnapshotCache, slices: EndpointSliceIndex, endpoints: EndpointsCache
    ) -> None:
        self.snapshots = snapshots
        self.slices = slices
        self.endpoints = endpoints
        self.groups: dict[ObjectRef, str] = {}
        self._memos: dict[ObjectRef, ResourceMemo] = {}
        # One per Gateway: an AssignmentCache forgets what the last call did not ask for.
        self._assignments: dict[ObjectRef, AssignmentCache] = {}

    def _assignments_of(self, ref: ObjectRef) -> AssignmentCache:
        found = self._assignments.get(ref)
        if found is None:
            found = self._assignments[ref] = AssignmentCache(self.slices, cluster_load_assignment)
        return found

    def publish(self, dag: DAG, config: TranslatorConfig, version: str) -> None:
        """Publish every Gateway of `dag` and clear the groups of the Gateways it no longer has."""
        for ref in sorted(set(self.groups) - set(dag.gateways)):
            self.snapshots.clear_snapshot(self.groups.pop(ref))
            self._memos.pop(ref, None)
            self._assignments.pop(ref, None)
        for ref in sorted(dag.gateways):
            gateway = dag.gateways[ref]
            resources: dict[str, list[Any]] = dict(translate_gateway(gateway, config))
            assignments = self._assignments_of(ref)
            resources[typeurls.ENDPOINT] = assignments.for_dag_services(gateway.services)
            resources[typeurls.ENDPOINT] += _weighted_udp(gateway, assignments)
            memo = self._memos.setdefault(ref, ResourceMemo())
            group = self.groups[ref] = gateway_group(ref)
            self.snapshots.set_snapshot(group, Snapshot.build(version, resources, memo))

    def endpoints_changed(self, dag: DAG, touched: Collection[ObjectRef]) -> None:
        """Push the new assignments of the `touched` Services to every Gateway using them."""
        for ref in sorted(dag.gateways):
            services = [
                s for s in dag.gateways[ref].services.values() if s.ref in touched and not s.external_name
            ]
            if services:
                assignments = [self._assignments_of(ref).assignment(s) for s in services]
                assignments += _weighted_udp(dag.gateways[ref], self._assignments_of(ref), touched)
                self.endpoints.update(assignments, group=gateway_group(ref))


def _weighted_udp(
    gateway: GatewayDAG, assignments: AssignmentCache, touched: Collection[ObjectRef] | None = None
) -> list[Any]:
    """The merged assignments of the Gateway's weighted UDP listeners (those with a Service in
    `touched`, when given): the UDP proxy has no weighted clusters (see envoy/gatewayapi_udp.py)."""
    return [
        udp_weighted_assignment(name, [(assignments.assignment(s), w) for s, w in members])
        for name, members in udp_weighted_backends(gateway).items()
        if touched is None or any(s.ref in touched for s, _ in members)
    ]


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stamp(entries: Any, now: str) -> bool:
    stamped = False
    for entry in entries if isinstance(entries, list) else []:
        conditions = entry.get("conditions") if isinstance(entry, dict) else None
        for cond in conditions if isinstance(conditions, list) else []:
            if isinstance(cond, dict) and not cond.get("lastTransitionTime"):
                cond["lastTransitionTime"] = now
                stamped = True
    return stamped


def stamp_nested_conditions(updates: list[Any], clock: Callable[[], str] = _now) -> list[Any]:
    """`updates` with every nested Gateway API condition given a lastTransitionTime (copies only
    the updates that need one)."""
    now = clock()
    out = []
    for update in updates:
        status = getattr(update, "status", None)
        if getattr(update, "group", "") != GATEWAY_API_GROUP or not isinstance(status, Mapping):
            out.append(update)
            continue
        nested = ("listeners", "parents", "ancestors")
        copied = {k: _copy_entries(v) if k in nested else v for k, v in status.items()}
        stamped = any([_stamp(copied.get(key), now) for key in nested])
        out.append(replace(update, status=copied) if stamped else update)
    return out


def _copy_entries(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    return [
        {**e, "conditions": [dict(c) if isinstance(c, dict) else c for c in e.get("conditions") or []]}
        if isinstance(e, dict)
        else e
        for e in value
    ]
