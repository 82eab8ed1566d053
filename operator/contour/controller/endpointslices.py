"""EndpointSlices by Service, and the ClusterLoadAssignments the current DAG needs from them.

EndpointSlices change far more often than anything else and never change the DAG, so they stay out of
`KubernetesCache`: this index keeps them per Service (label `kubernetes.io/service-name`), and
`AssignmentCache` turns them into one ClusterLoadAssignment per EDS name the DAG references. An
assignment is rebuilt only when its Service's slices or its port changed; a slice change names the
Services it touched, so EDS updates go out without a DAG rebuild. An ExtensionService's cluster has
one assignment merged from its Services' (`for_extensions`), remade only when one of those changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from contour.dag.model import ExtensionCluster, ObjectRef, Service, ServicePort

SERVICE_NAME_LABEL = "kubernetes.io/service-name"

AssignmentFactory = Callable[[str, Sequence[Mapping[str, Any]], ServicePort, ServicePort | None], Any]
# (cluster name, [(a Service's assignment, its weight)]) -> the extension cluster's assignment
MergedAssignmentFactory = Callable[[str, Sequence[tuple[Any, int]]], Any]


def _slice_key(obj: Mapping[str, Any]) -> tuple[ObjectRef, str] | None:
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping):
        return None
    labels = meta.get("labels") or {}
    service = labels.get(SERVICE_NAME_LABEL) if isinstance(labels, Mapping) else None
    name = meta.get("name")
    if not isinstance(service, str) or not service or not isinstance(name, str):
        return None
    return ObjectRef(str(meta.get("namespace") or ""), service), name


def _essence(obj: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The part of a slice a ClusterLoadAssignment is made of (`contour.envoy.endpoints`): its name,
    address type, ports, and each endpoint's first address and readiness. Slices are the most
    numerous objects; keeping them whole (managedFields, topology, targetRefs) costs the most memory."""
    ports = obj.get("ports")
    endpoints = obj.get("endpoints")
    kept_endpoints = []
    for endpoint in endpoints if isinstance(endpoints, list) else []:
        if not isinstance(endpoint, Mapping):
            continue
        addresses = endpoint.get("addresses")
        conditions = endpoint.get("conditions")
        ready = conditions.get("ready") if isinstance(conditions, Mapping) else None
        kept: dict[str, Any] = {"addresses": addresses[:1] if isinstance(addresses, list) else addresses}
        if ready is not None:
            kept["conditions"] = {"ready": ready}
        kept_endpoints.append(kept)
    return {
        "metadata": {"name": name},
        "addressType": obj.get("addressType", "IPv4"),
        "ports": [
            {k: p[k] for k in ("name", "port", "protocol") if k in p}
            for p in (ports if isinstance(ports, list) else [])
            if isinstance(p, Mapping)
        ],
        "endpoints": kept_endpoints,
    }


class EndpointSliceIndex:
    """The EndpointSlices of each Service, and a per-Service change counter."""

    def __init__(self) -> None:
        self._slices: dict[ObjectRef, dict[str, Mapping[str, Any]]] = {}
        self._revisions: dict[ObjectRef, int] = {}
        self.generation = 0  # bumped by every change to any Service's slices

    def upsert(self, obj: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> set[ObjectRef]:
        """Store a slice; returns the Services whose endpoints changed (two if its label moved)."""
        touched = self.remove(old) if old is not None else set()
        key = _slice_key(obj)
        if key is None:
            return touched
        service, name = key
        self._slices.setdefault(service, {})[name] = _essence(obj, name)
        self._bump(service)
        return touched | {service}

    def remove(self, obj: Mapping[str, Any] | None) -> set[ObjectRef]:
        if obj is None:
            return set()
        key = _slice_key(obj)
        if key is None:
            return set()
        service, name = key
        slices = self._slices.get(service)
        if slices is None or slices.pop(name, None) is None:
            return set()
        if not slices:
            del self._slices[service]
        self._bump(service)
        return {service}

    def _bump(self, service: ObjectRef) -> None:
        self._revisions[service] = self._revisions.get(service, 0) + 1
        self.generation += 1

    def slices(self, service: ObjectRef) -> list[Mapping[str, Any]]:
        """The Service's slices, sorted by name."""
        held = self._slices.get(service, {})
        return [held[name] for name in sorted(held)]

    def revision(self, service: ObjectRef) -> int:
        return self._revisions.get(service, 0)


class AssignmentCache:
    """ClusterLoadAssignments per EDS name, memoised on (port, the Service's slice revision).

    An incremental rebuild hands over the very same `Service` objects while nothing changed, so a
    memo entry made for that object at that slice revision is reused without comparing ports.
    """

    def __init__(self, index: EndpointSliceIndex, factory: AssignmentFactory) -> None:
        self._index = index
        self._factory = factory
        self._memo: dict[str, tuple[tuple[ServicePort, ServicePort | None, int], Service, Any]] = {}
        self._generation = -1  # the index generation at the last for_dag_services
        self._merged: dict[str, tuple[list[tuple[Any, int]], Any]] = {}

    def assignment(self, service: Service) -> Any:
        revision = self._index.revision(service.ref)
        memo = self._memo.get(service.eds_name)
        if memo is not None and memo[1] is service and memo[0][2] == revision:
            return memo[2]
        stamp = (service.port, service.health_port, revision)
        if memo is not None and memo[0] == stamp:
            self._memo[service.eds_name] = (stamp, service, memo[2])
            return memo[2]
        slices = self._index.slices(service.ref)
        assignment = self._factory(service.eds_name, slices, service.port, service.health_port)
        self._memo[service.eds_name] = (stamp, service, assignment)
        return assignment

    def for_services(self, services: Iterable[Service]) -> list[Any]:
        """One assignment per service (ExternalName services have none: they are DNS clusters)."""
        chosen = {s.eds_name: s for s in services if not s.external_name}
        return self._for_chosen(chosen, sorted(chosen))

    def for_dag_services(self, services: Mapping[str, Service]) -> list[Any]:
        """`for_services` of a DAG's `services`, which are keyed by EDS name and sorted already.

        While no slice changed since the last call, a Service that is the very object of that call
        gets its assignment back without any other lookup (the common case after one change).
        """
        memo, result = self._memo, []
        still = self._index.generation == self._generation
        for name, service in services.items():
            if service.external_name:
                continue
            entry = memo.get(name)
            if still and entry is not None and entry[1] is service:
                result.append(entry[2])
            else:
                result.append(self.assignment(service))
        if len(memo) > len(result):  # forget assignments nobody references any more
            for stale in memo.keys() - {n for n, s in services.items() if not s.external_name}:
                del memo[stale]
        self._generation = self._index.generation
        return result

    def _for_chosen(self, chosen: Mapping[str, Service], names: list[str]) -> list[Any]:
        # Forget assignments nobody references any more, so the memo does not grow without bound.
        if len(self._memo) != len(chosen) or self._memo.keys() != chosen.keys():
            for stale in self._memo.keys() - chosen.keys():
                del self._memo[stale]
        assignment = self.assignment
        return [assignment(chosen[name]) for name in names]

    def for_extensions(
        self,
        extensions: Mapping[str, ExtensionCluster],
        merge: MergedAssignmentFactory,
        touched: set[ObjectRef] | None = None,
    ) -> list[Any]:
        """The merged assignment of every extension cluster, or (with `touched`) of those with a
        Service in `touched`; reused while each Service's assignment is the very same object."""
        if touched is None:
            for stale in self._merged.keys() - extensions.keys():
                del self._merged[stale]
        result = []
        for name in sorted(extensions):
            ext = extensions[name]
            if touched is not None and not any(s.ref in touched for s, _ in ext.services):
                continue
            parts = [(self.assignment(s), w) for s, w in ext.services if not s.external_name]
            memo = self._merged.get(name)
            if (
                memo is None
                or len(memo[0]) != len(parts)
                or any(a is not b or v != w for (a, v), (b, w) in zip(memo[0], parts, strict=True))
            ):
                memo = (parts, merge(name, parts))
                self._merged[name] = memo
            result.append(memo[1])
        return result
