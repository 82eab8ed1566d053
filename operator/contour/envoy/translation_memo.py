"""Envoy messages of DAG objects, kept from one translation to the next.

The incremental DAG build hands later DAGs the very same `VirtualHost` and `Cluster` objects while
nothing they came from changed. This memo keys on those objects: an unchanged virtual host is not
translated again, its serialised bytes are reused, and a route configuration of N hosts is assembled
by joining N byte strings instead of building and serialising N messages (`Serialized`). Clusters
are rebuilt only when their DAG cluster differs. Entries not used by a translation are dropped at the
end of it, so the memo holds one DAG's worth.

Serialised route configurations are byte-identical to serialising the message with
`deterministic=True` (tests/unit/envoy/test_translation_memo.py): protobuf writes fields in field
number order, `name` (1) comes before `virtual_hosts` (2) and the constant fields after them, and a
repeated message field is the concatenation of its elements, each framed as the field.
https://protobuf.dev/programming-guides/encoding/#order
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from envoy.config.route.v3 import route_pb2

from contour.dag.model import Cluster, SecureVirtualHost, VirtualHost
from contour.envoy.names import cluster_name
from contour.envoy.routes import route_configuration, virtual_host


class Serialized(NamedTuple):
    """A resource already serialised (deterministically): the snapshot frames these bytes as they are."""

    name: str
    data: bytes


@dataclass(frozen=True, slots=True)
class HostTranslation:
    """One DAG virtual host, translated for the plain (secure=False) or TLS listener."""

    vhost: VirtualHost  # kept so that its id() is not reused while the entry lives
    name: str  # the Envoy virtual host name: route configurations sort by it
    entry: bytes  # RouteConfiguration.virtual_hosts element (framed); b"" when it has no routes
    clusters: tuple[tuple[str, Cluster], ...]  # every cluster its routes use, mirrors included
    with_client_certificate: tuple[Cluster, ...]  # those of them that carry Envoy's client certificate


def _route_clusters(vhost: VirtualHost) -> Iterator[Cluster]:
    for route in vhost.routes.values():
        yield from route.clusters
        for mirror in route.mirror_policies:
            yield mirror.cluster


def _translate_host(vhost: VirtualHost, secure: bool) -> HostTranslation:
    message = virtual_host(vhost, secure=secure)
    entry = b""
    name = ""
    if message is not None:
        name = message.name
        entry = route_pb2.RouteConfiguration(virtual_hosts=[message]).SerializeToString(deterministic=True)
    used = list(_route_clusters(vhost))
    certified = tuple(c for c in used if c.client_certificate is not None)
    return HostTranslation(vhost, name, entry, tuple((cluster_name(c), c) for c in used), certified)


def serialized_route_configuration(name: str, hosts: Sequence[HostTranslation]) -> Serialized:
    """`route_configuration(name, <the hosts' messages>)`, serialised, from the hosts' bytes."""
    shell = route_configuration(name).SerializeToString(deterministic=True)
    head = len(route_pb2.RouteConfiguration(name=name).SerializeToString(deterministic=True))
    entries = [h.entry for h in sorted(hosts, key=lambda h: h.name) if h.entry]
    return Serialized(name, b"".join([shell[:head], *entries, shell[head:]]))


class TranslationMemo:
    """What one controller's translations reuse; owned by one task, like the cache."""

    def __init__(self) -> None:
        self._settings: object = None
        self._hosts: dict[tuple[int, bool], HostTranslation] = {}
        self._next_hosts: dict[tuple[int, bool], HostTranslation] = {}
        self._clusters: dict[str, tuple[Cluster, Any]] = {}
        self._next_clusters: dict[str, tuple[Cluster, Any]] = {}
        self._chains: dict[tuple[int, str, object], tuple[SecureVirtualHost, Any]] = {}
        self._next_chains: dict[tuple[int, str, object], tuple[SecureVirtualHost, Any]] = {}

    def begin(self, settings: object) -> None:
        """Start a translation; everything is forgotten when the settings are not the last ones."""
        if settings != self._settings:
            self._hosts, self._clusters, self._chains = {}, {}, {}
            self._settings = settings
        self._next_hosts, self._next_clusters, self._next_chains = {}, {}, {}

    def end(self) -> None:
        """Keep only what this translation used."""
        self._hosts, self._next_hosts = self._next_hosts, {}
        self._clusters, self._next_clusters = self._next_clusters, {}
        self._chains, self._next_chains = self._next_chains, {}

    def host(self, vhost: VirtualHost, *, secure: bool) -> HostTranslation:
        key = (id(vhost), secure)
        found = self._next_hosts.get(key) or self._hosts.get(key)
        if found is None or found.vhost is not vhost:
            found = _translate_host(vhost, secure)
        self._next_hosts[key] = found
        return found

    def chain(self, listener: str, host: SecureVirtualHost, build: Callable[[], Any]) -> Any:
        """The filter chain of a secure host on `listener`: the last one while the host is the same
        object. The rate limit service is in the key: the builder sets it on hosts after the
        HTTPProxy processor, so an unchanged host may carry a new one."""
        key = (id(host), listener, host.rate_limit_service)
        found = self._next_chains.get(key) or self._chains.get(key)
        if found is None or found[0] is not host:
            found = (host, build())
        self._next_chains[key] = found
        return found[1]

    def cluster(self, name: str, dag_cluster: Cluster, build: Any) -> Any:
        """The Cluster message for `dag_cluster`: the last one if its DAG cluster is equal, else a new one."""
        found = self._clusters.get(name)
        if found is None or not (found[0] is dag_cluster or found[0] == dag_cluster):
            found = (dag_cluster, build(dag_cluster))
        self._next_clusters[name] = found
        return found[1]
