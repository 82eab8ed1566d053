"""The DAG of one Gateway: what its own Envoy serves.

Each accepted Gateway gets its own Envoy (its own xDS node group), so its listeners live apart from
Contour's `ingress_http`/`ingress_https`: `GatewayDAG.listeners` holds the HTTP and HTTPS/TLS
listeners in the existing `Listener`/`VirtualHost`/`SecureVirtualHost` types (the translators already
know them), named the way Contour names gateway-mode listeners (`http-<port>`, `https-<port>`). Plain
TCP and UDP listeners have no virtual hosts: they forward every connection (datagram) to weighted
clusters and get their own small types here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from contour.dag.model import Cluster, Listener, ObjectRef, Secret, Service


@dataclass(slots=True)
class L4Listener:
    """A TCP or UDP Gateway listener: every connection (datagram) goes to `clusters`, by weight.

    No clusters means nothing attached (TCP connections are closed). `invalid_weight` is the weight
    of backends that could not be resolved: that share of TCP connections is refused.
    """

    name: str
    address: str
    port: int
    clusters: list[Cluster] = field(default_factory=list)
    invalid_weight: int = 0


@dataclass(slots=True)
class GatewayDAG:
    """One Gateway's listeners and the Services and Secrets they use."""

    ref: ObjectRef
    address: str  # where its listeners bind ("0.0.0.0" until an address is assigned)
    listeners: dict[str, Listener] = field(default_factory=dict)  # http-<port>, https-<port>
    tcp_listeners: dict[str, L4Listener] = field(default_factory=dict)  # tcp-<port>
    udp_listeners: dict[str, L4Listener] = field(default_factory=dict)  # udp-<port>
    services: dict[str, Service] = field(default_factory=dict)  # by EDS name
    secrets: dict[ObjectRef, Secret] = field(default_factory=dict)
    # The Gateway's listener ports by protocol, as declared (for whoever runs its Envoy).
    ports: tuple[tuple[str, int], ...] = ()
    # Per https-<port> listener, the hostnames of its HTTPS Gateway listeners ("*": none), in order:
    # which listener a request's SNI and Host select (misdirected-request detection).
    https_listener_hosts: dict[str, tuple[str, ...]] = field(default_factory=dict)
