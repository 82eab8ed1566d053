"""UDP Gateway listeners: Envoy's UDP proxy, split over a UDPRoute's weighted backends.

Envoy's UDP proxy routes a session to one cluster and has no weighted clusters (its route action
names a single cluster). A UDPRoute with several weighted backends therefore gets one aggregate EDS
cluster (`<listener>/weighted`) whose ClusterLoadAssignment is the union of its Services' endpoints,
one locality per backend weighted by the backend's weight, with locality-weighted load balancing: each
new session (datagrams from a new source address and port) picks a backend by weight, then an
endpoint in it. The controller publishes that assignment beside the Services' own
(`udp_weighted_backends` names the members, `udp_weighted_assignment` merges their assignments).
Backends of weight 0 get no traffic; when every weight is 0 they share it evenly, as TCP routes do
(`listeners.tcp_proxy_filter`). https://gateway-api.sigs.k8s.io/reference/spec/#backendref (weight)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from envoy.config.core.v3 import address_pb2, base_pb2
from envoy.config.endpoint.v3 import endpoint_components_pb2, endpoint_pb2
from envoy.config.listener.v3 import listener_components_pb2, listener_pb2, udp_listener_config_pb2
from envoy.extensions.filters.udp.udp_proxy.v3 import route_pb2 as udp_route_pb2
from envoy.extensions.filters.udp.udp_proxy.v3 import udp_proxy_pb2
from xds.core.v3 import extension_pb2
from xds.type.matcher.v3 import matcher_pb2

from contour.dag.gatewayapi_model import GatewayDAG, L4Listener
from contour.dag.model import Cluster, Service
from contour.envoy.clusters import ClusterSettings, cluster
from contour.envoy.core import pack, socket_address
from contour.envoy.names import cluster_name

UDP_PROXY_FILTER: Final = "envoy.filters.udp_listener.udp_proxy"


def _kept(clusters: Sequence[Cluster]) -> list[Cluster]:
    """The clusters that get traffic: those of positive weight, else all of them (evenly)."""
    return [c for c in clusters if c.weight > 0] or list(clusters)


def aggregate_name(l4: L4Listener) -> str:
    return f"{l4.name}/weighted"


def _aggregated(kept: Sequence[Cluster]) -> bool:
    """Several backends, all EDS ones (an ExternalName Service is a DNS cluster of its own)."""
    return len(kept) > 1 and not any(c.upstream.external_name for c in kept)


def udp_weighted_backends(gateway: GatewayDAG) -> dict[str, list[tuple[Service, int]]]:
    """The aggregate cluster of every UDP listener splitting over several backends: its name ->
    (Service, weight) per backend, in the route's order."""
    found: dict[str, list[tuple[Service, int]]] = {}
    for name in sorted(gateway.udp_listeners):
        l4 = gateway.udp_listeners[name]
        kept = _kept(l4.clusters)
        if _aggregated(kept):
            found[aggregate_name(l4)] = [(c.upstream, c.weight or 1) for c in kept]
    return found


def udp_weighted_assignment(name: str, parts: Sequence[tuple[Any, int]]) -> Any:
    """The ClusterLoadAssignment `name` from (a backend's assignment, its weight): one locality per
    backend (named by its position, so two backends never share one) holding all its endpoints."""
    result = endpoint_pb2.ClusterLoadAssignment(cluster_name=name)
    for index, (assignment, weight) in enumerate(parts):
        lb_endpoints = [e for locality in assignment.endpoints for e in locality.lb_endpoints]
        if not lb_endpoints:
            continue
        locality = endpoint_components_pb2.LocalityLbEndpoints(
            locality=base_pb2.Locality(sub_zone=f"backend-{index}"), lb_endpoints=lb_endpoints
        )
        locality.load_balancing_weight.value = max(weight, 1)
        result.endpoints.append(locality)
    return result


def udp_listener(l4: L4Listener, settings: ClusterSettings) -> tuple[Any, list[Any]]:
    """The UDP listener of `l4` (which has clusters) and the clusters it routes to."""
    kept = _kept(l4.clusters)
    if not _aggregated(kept):
        heaviest = max(kept, key=lambda c: (c.weight, cluster_name(c)))
        target = cluster_name(heaviest)
        clusters = [cluster(heaviest, settings)]
    else:
        target = aggregate_name(l4)
        aggregate = cluster(kept[0], settings)
        aggregate.name = target
        aggregate.eds_cluster_config.service_name = target
        aggregate.ClearField("alt_stat_name")
        aggregate.common_lb_config.locality_weighted_lb_config.SetInParent()
        clusters = [aggregate]
    action = extension_pb2.TypedExtensionConfig(
        name="route", typed_config=pack(udp_route_pb2.Route(cluster=target))
    )
    matcher = matcher_pb2.Matcher(on_no_match=matcher_pb2.Matcher.OnMatch(action=action))
    proxy = udp_proxy_pb2.UdpProxyConfig(stat_prefix=l4.name, matcher=matcher)
    address = socket_address(l4.address, l4.port)
    address.socket_address.protocol = address_pb2.SocketAddress.UDP
    listener = listener_pb2.Listener(
        name=l4.name,
        address=address,
        udp_listener_config=udp_listener_config_pb2.UdpListenerConfig(),
        listener_filters=[
            listener_components_pb2.ListenerFilter(name=UDP_PROXY_FILTER, typed_config=pack(proxy))
        ],
    )
    return listener, clusters
