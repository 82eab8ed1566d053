"""The address statuses report: the Envoy Service's load balancer, copied into every status that has one.

Contour's leader copies `status.loadBalancer` of the Envoy Service (`--envoy-service-namespace/name`)
into HTTPProxy and Ingress `status.loadBalancer` and into Gateway `status.addresses`;
`--ingress-status-address` replaces the Service with a fixed address (an IP is written as `ip`,
anything else as `hostname`). Here the address is part of the status each rebuild submits
(`AddressedStatusSink` sits in front of the StatusUpdater), so the updater's "skip what is already
settled" keeps working and a new address is one write per object, made by whoever leads.

A Gateway is Programmed only once it has an address (Gateway API's AddressNotAssigned). The DAG knows
a Gateway's address from `KubernetesCache.gateway_addresses`, which is also where its listeners bind;
in a cluster Envoy binds every address, so `sync_gateway_addresses` records 0.0.0.0 for each Gateway
while the Service has an address (nothing while it has none), and the status gets the Service's
addresses instead.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from contour.controller.eventhandler import StatusSink
from contour.dag.cache import KubernetesCache
from contour.dag.model import DAG, ObjectRef
from contour.k8s.statuswriter import StatusUpdateLike, load_balancer_status

LOAD_BALANCER_KINDS: Final = frozenset(
    {("projectcontour.io", "httpproxies"), ("networking.k8s.io", "ingresses")}
)
GATEWAYS: Final = ("gateway.networking.k8s.io", "gateways")
# Where a Gateway's listeners bind in a cluster: every address of the Envoy pod.
GATEWAY_BIND_ADDRESS: Final = "0.0.0.0"
# The fields of a LoadBalancerIngress entry the HTTPProxy and Ingress status schemas hold.
_INGRESS_FIELDS: Final = ("ip", "hostname", "ipMode", "ports")


def service_load_balancer(service: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """`status.loadBalancer` of a Service, reduced to its ingress entries; None when it has none."""
    if service is None:
        return None
    status = service.get("status")
    balancer = status.get("loadBalancer") if isinstance(status, Mapping) else None
    entries = balancer.get("ingress") if isinstance(balancer, Mapping) else None
    if not isinstance(entries, list):
        return None
    kept = [
        {k: copy.deepcopy(entry[k]) for k in _INGRESS_FIELDS if entry.get(k) not in (None, "", [])}
        for entry in entries
        if isinstance(entry, Mapping)
    ]
    kept = [entry for entry in kept if entry.get("ip") or entry.get("hostname")]
    return {"ingress": kept} if kept else None


def gateway_addresses(load_balancer: Mapping[str, Any]) -> list[dict[str, str]]:
    """Gateway `status.addresses` for a load balancer status: IPAddress or Hostname entries."""
    found: list[dict[str, str]] = []
    for entry in load_balancer.get("ingress") or []:
        if entry.get("ip"):
            found.append({"type": "IPAddress", "value": str(entry["ip"])})
        elif entry.get("hostname"):
            found.append({"type": "Hostname", "value": str(entry["hostname"])})
    return found


@dataclass(frozen=True)
class AddressedUpdate:
    """A status update with the address fields set (the StatusWriter reads these six fields)."""

    group: str
    version: str
    plural: str
    ref: ObjectRef
    generation: int
    status: Mapping[str, Any]


class StatusAddresses:
    """The load balancer status to report: a fixed address, or the Envoy Service's latest."""

    def __init__(self, fixed_address: str = "") -> None:
        self.fixed = bool(fixed_address)
        self.load_balancer: dict[str, Any] | None = (
            load_balancer_status(fixed_address) if fixed_address else None
        )

    def set_service(self, service: Mapping[str, Any] | None) -> bool:
        """Take the Service's status (None: it is gone); True when the address to report changed."""
        if self.fixed:
            return False
        found = service_load_balancer(service)
        if found == self.load_balancer:
            return False
        self.load_balancer = found
        return True

    def apply(self, update: StatusUpdateLike) -> StatusUpdateLike:
        """`update` with its loadBalancer or addresses set from the current address."""
        kind = (update.group, update.plural)
        if kind not in LOAD_BALANCER_KINDS and kind != GATEWAYS:
            return update
        status = dict(update.status)
        if kind == GATEWAYS:
            status.pop("addresses", None)
            if self.load_balancer is not None and update.status.get("addresses"):
                status["addresses"] = gateway_addresses(self.load_balancer)
        elif self.load_balancer is not None:
            status["loadBalancer"] = copy.deepcopy(self.load_balancer)
        else:
            status.pop("loadBalancer", None)
        return AddressedUpdate(
            update.group, update.version, update.plural, update.ref, update.generation, status
        )


class AddressedStatusSink:
    """A StatusSink that adds the addresses to each update on its way to `inner`."""

    def __init__(self, inner: StatusSink, addresses: StatusAddresses) -> None:
        self.inner = inner
        self.addresses = addresses

    def submit(self, updates: Iterable[StatusUpdateLike]) -> None:
        self.inner.submit([self.addresses.apply(u) for u in updates])

    def forget(self, group: str, plural: str, ref: ObjectRef) -> None:
        self.inner.forget(group, plural, ref)


def sync_gateway_addresses(cache: KubernetesCache, dag: DAG | None, has_address: bool) -> bool:
    """Record GATEWAY_BIND_ADDRESS for each Gateway of `dag` while there is an address to report, and
    forget them all while there is none; True when that changed anything (a rebuild is due)."""
    wanted = set(dag.gateways) if dag is not None and has_address else set()
    changed = False
    for ref in sorted(set(cache.gateway_addresses) - wanted):
        changed |= cache.set_gateway_address(ref, None)
    for ref in sorted(wanted):
        changed |= cache.set_gateway_address(ref, GATEWAY_BIND_ADDRESS)
    return changed
