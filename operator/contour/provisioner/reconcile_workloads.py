"""Reading an instance's health from its workloads' status: how many Contour and Envoy pods are available.

Which rendered workload is which: the Envoy one is the DaemonSet, or the Deployment whose pod template
has a container named `envoy`; the Contour one is the other Deployment. The Envoy Service is the
Service whose selector matches the Envoy pod template's labels. Counts come from the live objects
(`status.availableReplicas` of a Deployment, `status.numberAvailable` of a DaemonSet); wanted counts
from the manifest (`spec.replicas`, default 1) or, for a DaemonSet, `status.desiredNumberScheduled`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from contour.provisioner.reconcile_owner import Condition

Lookup = Callable[[str], Mapping[str, Any]]  # plural -> {namespace/name: live object}


@dataclass(frozen=True)
class Health:
    name: str  # "Contour" | "Envoy"
    present: bool
    wanted: int
    available: int
    settled: bool  # the workload's controller observed its latest generation


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _containers(obj: Mapping[str, Any]) -> list[str]:
    spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    return [str(c.get("name")) for c in spec.get("containers") or [] if isinstance(c, Mapping)]


def _key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


def envoy_workload(objects: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    for obj in objects:
        if obj.get("kind") == "DaemonSet" or (
            obj.get("kind") == "Deployment" and "envoy" in _containers(obj)
        ):
            return obj
    return None


def contour_workload(objects: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    for obj in objects:
        if obj.get("kind") == "Deployment" and "envoy" not in _containers(obj):
            return obj
    return None


def envoy_service(objects: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    workload = envoy_workload(objects)
    if workload is None:
        return None
    labels = (((workload.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
    for obj in objects:
        selector = (obj.get("spec") or {}).get("selector") if obj.get("kind") == "Service" else None
        if (
            isinstance(selector, Mapping)
            and selector
            and all(labels.get(k) == v for k, v in selector.items())
        ):
            return obj
    return None


def health(name: str, manifest: Mapping[str, Any] | None, lookup: Lookup) -> Health:
    if manifest is None:
        return Health(name, False, 0, 0, True)
    kind = manifest.get("kind")
    live = lookup("daemonsets" if kind == "DaemonSet" else "deployments").get(_key(manifest))
    if not isinstance(live, Mapping):
        return Health(name, False, 0, 0, False)
    status = live.get("status") or {}
    generation = _int((live.get("metadata") or {}).get("generation"))
    settled = _int(status.get("observedGeneration")) >= generation
    if kind == "DaemonSet":
        return Health(
            name,
            True,
            _int(status.get("desiredNumberScheduled")),
            _int(status.get("numberAvailable")),
            settled,
        )
    replicas = (manifest.get("spec") or {}).get("replicas")
    wanted = 1 if replicas is None else _int(replicas)
    return Health(name, True, wanted, _int(status.get("availableReplicas")), settled)


@dataclass(frozen=True)
class Workloads:
    contours: Health
    envoys: Health

    def conditions(self) -> list[Condition]:
        c, e = self.contours, self.envoys
        counts = f"{c.available}/{c.wanted} Contour and {e.available}/{e.wanted} Envoy pods available"
        if c.available > 0 and e.available > 0:
            available = Condition("Available", "True", "Available", counts)
        elif c.available == 0:
            available = Condition("Available", "False", "ContourUnavailable", counts)
        else:
            available = Condition("Available", "False", "EnvoyUnavailable", counts)
        rolling = [h.name for h in (c, e) if not h.present or not h.settled or h.available < h.wanted]
        if rolling:
            progressing = Condition(
                "Progressing", "True", "RolloutInProgress", f"{' and '.join(rolling)}: {counts}"
            )
        else:
            progressing = Condition("Progressing", "False", "RolloutComplete", counts)
        return [available, progressing]


def find_workloads(objects: Sequence[Mapping[str, Any]], lookup: Lookup) -> Workloads:
    return Workloads(
        health("Contour", contour_workload(objects), lookup), health("Envoy", envoy_workload(objects), lookup)
    )


def service_addresses(service: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """Gateway `status.addresses` from a Service's `status.loadBalancer.ingress` (IP, else hostname)."""
    balancer = ((service or {}).get("status") or {}).get("loadBalancer") or {}
    found: list[dict[str, str]] = []
    for entry in balancer.get("ingress") or []:
        if isinstance(entry, Mapping) and entry.get("ip"):
            found.append({"type": "IPAddress", "value": str(entry["ip"])})
        elif isinstance(entry, Mapping) and entry.get("hostname"):
            found.append({"type": "Hostname", "value": str(entry["hostname"])})
    return found
