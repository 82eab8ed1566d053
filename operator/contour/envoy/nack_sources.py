"""Which Kubernetes objects produced the xDS resources an Envoy rejected (a NACK), worked out purely.

A NACK names a type, the resources of the rejected response and Envoy's error message, not the objects
behind them. `SourceIndex` records, for one node group's DAG, which objects produced each Listener,
RouteConfiguration virtual host (by host name), Cluster, ClusterLoadAssignment and Secret. `blame`
narrows the rejected resources down to "units" (a virtual host of a RouteConfiguration, a filter
chain of a Listener, or a whole resource of the other types) in this order:

1. the units the message points at: a resource or host name it mentions, or a quoted string of the
   message (Envoy quotes the offending regex, header, ...) that occurs in the unit's serialised bytes;
2. else the units whose bytes differ from the version the same Envoy last ACKed;
3. else every unit of the rejected resources.

Envoy's messages name the resource for listeners and clusters ("Error adding/updating listener(s)
ingress_http: ..."), but for a route configuration they usually name only the offending value
("regex '^/foo.*' RE2 program size of 6 > max program size of 1 ..."): hence the quoted strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from google.protobuf import any_pb2
from google.protobuf.message import DecodeError

from contour.dag.gatewayapi_model import GatewayDAG
from contour.dag.model import DAG, Cluster, Listener, ObjectRef, SecureVirtualHost, VirtualHost
from contour.envoy.core import type_url
from contour.envoy.names import cluster_name, secret_name
from contour.envoy.translate import CLUSTER, LISTENER, ROUTE, SECRET

ENDPOINT: Final = type_url(endpoint_pb2.ClusterLoadAssignment)

GATEWAY_KIND: Final = "Gateway"
HTTPPROXY_KIND: Final = "HTTPProxy"
EXTENSION_SERVICE_KIND: Final = "ExtensionService"

# Names, hosts and quoted strings shorter than this are too likely to occur by chance.
_MIN_TOKEN = 3
_QUOTED = re.compile(r"'([^']{3,})'|\"([^\"]{3,})\"")
# Characters that continue a resource or host name: a mention must not be part of a longer name.
_NAME_CHARS = r"\w./*-"


@dataclass(frozen=True, order=True, slots=True)
class Source:
    """One Kubernetes object that contributed to an xDS resource."""

    kind: str
    ref: ObjectRef


@dataclass(frozen=True, slots=True)
class Unit:
    """The smallest part of a rejected resource that can be told apart: a virtual host of a route
    configuration, a filter chain of a listener (``host`` is its first server name, "" if none), or the
    whole resource."""

    resource: str
    host: str
    content: bytes


@dataclass
class SourceIndex:
    """The objects behind each resource of one node group, keyed by (type URL, name) and by host."""

    by_resource: dict[tuple[str, str], set[Source]] = field(default_factory=dict)
    by_host: dict[str, set[Source]] = field(default_factory=dict)
    # Added to whatever a listener or secret is blamed on (the Gateway that owns them).
    listener_owner: Source | None = None

    def _add(self, type_url_: str, name: str, sources: Iterable[Source]) -> None:
        self.by_resource.setdefault((type_url_, name), set()).update(sources)

    def _add_host(self, host: str, sources: Iterable[Source]) -> None:
        self.by_host.setdefault(host, set()).update(sources)

    def sources_of(self, type_url_: str, unit: Unit) -> set[Source]:
        """The objects behind ``unit`` of a resource of ``type_url_`` (empty if unknown)."""
        found = set(self.by_host.get(unit.host, ())) if unit.host else set()
        if not found:
            found = set(self.by_resource.get((type_url_, unit.resource), ()))
        if self.listener_owner is not None and type_url_ in (LISTENER, SECRET) and found:
            found.add(self.listener_owner)
        return found

    # -- building ----------------------------------------------------------------------------------

    @classmethod
    def from_dag(cls, dag: DAG, roots: Mapping[str, ObjectRef] | None = None) -> SourceIndex:
        """The index of the default group: Contour's listeners. ``roots`` maps each HTTPProxy root's
        fqdn to the proxy (the DAG's routes know their own HTTPProxy, not the root that included it)."""
        index = cls()
        index._add_listeners(dag.listeners.values(), roots or {})
        for name, extension in dag.extension_clusters.items():
            service = {Source(EXTENSION_SERVICE_KIND, extension.ref)}
            index._add(CLUSTER, name, service)
            index._add(ENDPOINT, name, service)
            if extension.client_certificate is not None:
                index._add(SECRET, secret_name(extension.client_certificate), service)
        return index

    @classmethod
    def from_gateway(cls, gateway: GatewayDAG) -> SourceIndex:
        """The index of one Gateway's group: its routes, and the Gateway for listeners and secrets."""
        owner = Source(GATEWAY_KIND, gateway.ref)
        index = cls(listener_owner=owner)
        index._add_listeners(gateway.listeners.values(), {})
        for l4 in [*gateway.tcp_listeners.values(), *gateway.udp_listeners.values()]:
            index._add(LISTENER, l4.name, {owner})
            index._add_clusters(l4.clusters, {owner})
        return index

    def _add_listeners(self, listeners: Iterable[Listener], roots: Mapping[str, ObjectRef]) -> None:
        for listener in listeners:
            on_listener: set[Source] = set()
            hosts: list[tuple[VirtualHost, SecureVirtualHost | None]] = [
                (v, None) for v in listener.virtual_hosts.values()
            ]
            hosts += [(s.virtual_host, s) for s in listener.secure_virtual_hosts.values()]
            for vhost, secure in hosts:
                sources = self._add_host_routes(vhost, roots)
                if secure is not None:
                    self._add_secure(secure, sources)
                on_listener |= sources
            self._add(LISTENER, listener.name, on_listener)

    def _add_host_routes(self, vhost: VirtualHost, roots: Mapping[str, ObjectRef]) -> set[Source]:
        sources: set[Source] = set()
        root = roots.get(vhost.name)
        if root is not None:
            sources.add(Source(HTTPPROXY_KIND, root))
        for route in vhost.routes.values():
            owner = {Source(route.kind, route.owner)} if route.owner is not None and route.kind else set()
            sources |= owner
            self._add_clusters([*route.clusters, *(m.cluster for m in route.mirror_policies)], owner)
        self._add_host(vhost.name, sources)
        return sources

    def _add_secure(self, host: SecureVirtualHost, sources: set[Source]) -> None:
        for secret in (host.secret, host.fallback_certificate):
            if secret is not None:
                self._add(SECRET, secret_name(secret), sources)
        self._add_clusters(host.tcp_proxy or (), sources)
        authorization = host.external_authorization
        if authorization is not None:
            # The ExtensionService's own cluster is indexed from dag.extension_clusters.
            self._add(CLUSTER, authorization.cluster.name, sources)

    def _add_clusters(self, clusters: Iterable[Cluster], sources: set[Source]) -> None:
        for upstream in clusters:
            self._add(CLUSTER, cluster_name(upstream), sources)
            if not upstream.upstream.external_name:
                self._add(ENDPOINT, upstream.upstream.eds_name, sources)
            if upstream.client_certificate is not None:
                self._add(SECRET, secret_name(upstream.client_certificate), sources)


# -- units ------------------------------------------------------------------------------------------


def units_of(type_url_: str, name: str, any_bytes: bytes | None) -> list[Unit]:
    """The units of one resource, from its serialised ``google.protobuf.Any`` (None: unknown content)."""
    if any_bytes is None:
        return [Unit(name, "", b"")]
    try:
        value = any_pb2.Any.FromString(any_bytes).value
        if type_url_ == ROUTE:
            config = route_pb2.RouteConfiguration.FromString(value)
            hosts = [
                Unit(name, vh.domains[0] if vh.domains else vh.name, vh.SerializeToString(deterministic=True))
                for vh in config.virtual_hosts
            ]
            return hosts or [Unit(name, "", value)]
        if type_url_ == LISTENER:
            listener = listener_pb2.Listener.FromString(value)
            chains = [*listener.filter_chains]
            if listener.HasField("default_filter_chain"):
                chains.append(listener.default_filter_chain)
            units = [
                Unit(
                    name,
                    chain.filter_chain_match.server_names[0] if chain.filter_chain_match.server_names else "",
                    chain.SerializeToString(deterministic=True),
                )
                for chain in chains
            ]
            return units or [Unit(name, "", value)]
    except DecodeError:
        return [Unit(name, "", any_bytes)]
    return [Unit(name, "", value)]


def mentions(message: str, word: str) -> bool:
    if len(word) < _MIN_TOKEN:
        return False
    pattern = rf"(?<![{_NAME_CHARS}]){re.escape(word)}(?![{_NAME_CHARS}])"
    return re.search(pattern, message) is not None


def quoted_strings(message: str) -> list[str]:
    """The strings Envoy's message quotes ('...' or "...")."""
    return [single or double for single, double in _QUOTED.findall(message)]


@dataclass(frozen=True)
class Blame:
    """The objects a NACK is attributed to, and the units that led there (for logs and tests)."""

    sources: frozenset[Source]
    units: tuple[Unit, ...]
    how: str  # "message", "changed" or "all"


def blame(
    type_url_: str,
    message: str,
    rejected_names: Sequence[str],
    index: SourceIndex,
    *,
    rejected: Mapping[str, bytes] | None = None,
    acked: Mapping[str, bytes] | None = None,
) -> Blame:
    """Attribute a NACK of ``type_url_`` with Envoy's ``message`` to the objects behind it.

    ``rejected`` and ``acked`` map resource names to serialised Anys of the rejected response and of
    the version last ACKed by the same Envoy; either may be unknown (None).
    """
    named = [n for n in rejected_names if mentions(message, n)]
    units = [u for n in named or rejected_names for u in units_of(type_url_, n, (rejected or {}).get(n))]
    tokens = [t.encode() for t in quoted_strings(message)]
    chosen = [u for u in units if u.host and mentions(message, u.host)]
    chosen = chosen or [u for u in units if u.content and any(t in u.content for t in tokens)]
    how = "message"
    if not chosen and acked is not None and rejected is not None:
        before = {u for n, data in acked.items() for u in units_of(type_url_, n, data)}
        chosen, how = [u for u in units if u not in before], "changed"
    if not chosen:
        chosen, how = units, "all"
    sources: set[Source] = set()
    for unit in chosen:
        sources |= index.sources_of(type_url_, unit)
    return Blame(frozenset(sources), tuple(chosen), how)
