"""Incremental HTTPProxy builds: what one root HTTPProxy contributed to a build, kept for the next one.

Contour rebuilds every HTTPProxy on every change. Here the processor computes each root on its own,
against an empty DAG and an empty status collector, while the cache logs every object it reads
(`KubernetesCache.start_recording`). The result is a `RootFragment`: the virtual hosts the root
made, the status conditions it added (to itself and to the proxies it includes), the proxies it
reached, and the reads. The next build merges the same fragment again, without recomputing it, when
the root is the same object and every read returns the same object; the build is then identical to a
full one (tests/unit/dag/test_incremental.py compares them over random changes).

A root whose host name the Ingress processor already put in the DAG is computed in place and not
kept: the two share one virtual host there.
"""

from __future__ import annotations

from dataclasses import dataclass

from contour.dag.cache import Read
from contour.dag.model import DAG, Listener, ObjectRef, SecureVirtualHost, VirtualHost
from contour.dag.status import ProxyStatus, StatusCollector


@dataclass(frozen=True)
class HostEntry:
    """One virtual host a root made, on one listener."""

    listener: str
    host: str
    plain: VirtualHost | None
    secure: SecureVirtualHost | None


@dataclass(frozen=True)
class RootFragment:
    proxy: object  # the root HTTPProxy it was computed from (compared by identity)
    config: object  # the BuilderConfig it was computed with (compared by identity)
    reads: tuple[Read, ...]
    hosts: tuple[HostEntry, ...]
    statuses: tuple[ProxyStatus, ...]
    reached: frozenset[ObjectRef]  # the non-root proxies it includes, directly or not

    def still_valid(self, proxy: object, config: object) -> bool:
        if self.proxy is not proxy or self.config is not config:
            return False
        # A loop, not all(<generator>): this runs for every root on every build, and is ~2x faster.
        for table, key, value in self.reads:  # noqa: SIM110
            if table.get(key) is not value:
                return False
        return True

    def merge_into(self, dag: DAG, status: StatusCollector) -> None:
        """Add the hosts to `dag` (they are shared, never modified) and the conditions to `status`."""
        listeners = dag.listeners
        for entry in self.hosts:
            if entry.plain is not None:
                listeners[entry.listener].virtual_hosts[entry.host] = entry.plain
            if entry.secure is not None:
                listeners[entry.listener].secure_virtual_hosts[entry.host] = entry.secure
        for ps in self.statuses:
            if status.adopt(ps):
                continue
            merged = status.proxy(ps.ref, ps.generation)
            merged.valid.errors.extend(ps.valid.errors)
            merged.valid.warnings.extend(ps.valid.warnings)
            if ps.vhost:
                merged.vhost = ps.vhost


def empty_like(dag: DAG) -> DAG:
    """A DAG with the same listeners as `dag`, and no hosts."""
    return DAG(
        listeners={
            name: Listener(name=lst.name, protocol=lst.protocol, address=lst.address, port=lst.port)
            for name, lst in dag.listeners.items()
        }
    )


def fragment_of(
    proxy: object,
    *,
    config: object,
    reads: tuple[Read, ...],
    dag: DAG,
    status: StatusCollector,
    reached: frozenset[ObjectRef],
) -> RootFragment:
    """The fragment for what a root's computation left in its own `dag` and `status`."""
    hosts: list[HostEntry] = []
    for name, lst in dag.listeners.items():
        for host in sorted(set(lst.virtual_hosts) | set(lst.secure_virtual_hosts)):
            hosts.append(
                HostEntry(name, host, lst.virtual_hosts.get(host), lst.secure_virtual_hosts.get(host))
            )
    return RootFragment(
        proxy=proxy,
        config=config,
        reads=reads,
        hosts=tuple(hosts),
        statuses=tuple(status.proxies.values()),
        reached=reached,
    )
