"""Small Envoy resources for tests that drive a real Envoy: clusters to loopback backends, an HTTP
listener taking its routes from RDS, route tables, a runtime layer, and a snapshot grouping them.

Test-side only: the product's translators build the real ones. Every builder returns a protobuf
message from xds-protos, so what a test publishes is exactly what Envoy parses. Configuration
sources are passed in (``ads_source()`` or ``grpc_source(delta=...)``) because a resource must name
the same transport the bootstrap uses, or Envoy opens a second subscription that nobody answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import address_pb2, config_source_pb2, grpc_service_pb2
from envoy.config.endpoint.v3 import endpoint_components_pb2, endpoint_pb2
from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
from envoy.config.route.v3 import route_components_pb2, route_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm
from envoy.service.runtime.v3 import rtds_pb2
from google.protobuf import any_pb2, duration_pb2, struct_pb2

from contour.envoy.bootstrap import DYNAMIC_RUNTIME_LAYER_NAME, XDS_CLUSTER_NAME
from contour.xds import typeurls
from contour.xds.snapshot import Snapshot

LOOPBACK = "127.0.0.1"
HCM_FILTER = "envoy.filters.network.http_connection_manager"
ROUTER_FILTER = "envoy.filters.http.router"


def packed(message: Any) -> Any:
    """``message`` in a ``google.protobuf.Any`` (type URL ``type.googleapis.com/<full name>``)."""
    result = any_pb2.Any()
    result.Pack(message)
    return result


def ads_source() -> Any:
    """A ConfigSource for resources fetched on the aggregated stream (bootstrap with ``ads=True``)."""
    return config_source_pb2.ConfigSource(
        ads=config_source_pb2.AggregatedConfigSource(), resource_api_version=config_source_pb2.V3
    )


def grpc_source(*, delta: bool = False) -> Any:
    """A ConfigSource for a per-type stream to the bootstrap's ``contour`` cluster (Contour's default)."""
    api = config_source_pb2.ApiConfigSource(
        api_type=config_source_pb2.ApiConfigSource.DELTA_GRPC
        if delta
        else config_source_pb2.ApiConfigSource.GRPC,
        transport_api_version=config_source_pb2.V3,
        grpc_services=[
            grpc_service_pb2.GrpcService(
                envoy_grpc=grpc_service_pb2.GrpcService.EnvoyGrpc(cluster_name=XDS_CLUSTER_NAME)
            )
        ],
    )
    return config_source_pb2.ConfigSource(api_config_source=api, resource_api_version=config_source_pb2.V3)


def _socket(port: int, address: str = LOOPBACK) -> Any:
    return address_pb2.Address(socket_address=address_pb2.SocketAddress(address=address, port_value=port))


def assignment(cluster_name: str, *ports: int, address: str = LOOPBACK) -> Any:
    """A ClusterLoadAssignment with one endpoint per port on ``address``."""
    return endpoint_pb2.ClusterLoadAssignment(
        cluster_name=cluster_name,
        endpoints=[
            endpoint_components_pb2.LocalityLbEndpoints(
                lb_endpoints=[
                    endpoint_components_pb2.LbEndpoint(
                        endpoint=endpoint_components_pb2.Endpoint(address=_socket(port, address))
                    )
                    for port in ports
                ]
            )
        ],
    )


def static_cluster(name: str, *ports: int, address: str = LOOPBACK) -> Any:
    """A STATIC cluster whose endpoints are written in it (no EDS)."""
    return cluster_pb2.Cluster(
        name=name,
        type=cluster_pb2.Cluster.STATIC,
        connect_timeout=duration_pb2.Duration(seconds=2),
        load_assignment=assignment(name, *ports, address=address),
    )


def eds_cluster(name: str, source: Any) -> Any:
    """An EDS cluster; Envoy keeps it warming until the ClusterLoadAssignment named ``name`` arrives."""
    return cluster_pb2.Cluster(
        name=name,
        type=cluster_pb2.Cluster.EDS,
        connect_timeout=duration_pb2.Duration(seconds=2),
        eds_cluster_config=cluster_pb2.Cluster.EdsClusterConfig(eds_config=source),
    )


def http_listener(name: str, route_config_name: str, source: Any, *, port: int = 0) -> Any:
    """A plain-HTTP listener on loopback whose HttpConnectionManager takes routes from RDS.

    Port 0 lets the kernel choose; read the bound port back from the admin API's ``/listeners``.
    The HCM's stat prefix is the listener name, so RDS counters are ``http.<name>.rds.<route>.*``.
    """
    manager = hcm.HttpConnectionManager(
        stat_prefix=name,
        rds=hcm.Rds(route_config_name=route_config_name, config_source=source),
        http_filters=[hcm.HttpFilter(name=ROUTER_FILTER, typed_config=packed(router_pb2.Router()))],
    )
    chain = listener_components_pb2.FilterChain(
        filters=[listener_components_pb2.Filter(name=HCM_FILTER, typed_config=packed(manager))]
    )
    return listener_pb2.Listener(name=name, address=_socket(port), filter_chains=[chain])


def prefix_route(prefix: str, cluster: str) -> Any:
    """Requests whose path starts with ``prefix`` go to ``cluster``."""
    return route_components_pb2.Route(
        match=route_components_pb2.RouteMatch(prefix=prefix),
        route=route_components_pb2.RouteAction(cluster=cluster),
    )


def regex_route(regex: str, cluster: str) -> Any:
    """Requests whose whole path matches the RE2 ``regex`` go to ``cluster``."""
    match = route_components_pb2.RouteMatch()
    match.safe_regex.regex = regex
    return route_components_pb2.Route(match=match, route=route_components_pb2.RouteAction(cluster=cluster))


def virtual_host(name: str, domains: Iterable[str], routes: Iterable[Any]) -> Any:
    """A virtual host answering for ``domains`` with ``routes`` tried in order."""
    return route_components_pb2.VirtualHost(name=name, domains=list(domains), routes=list(routes))


def route_configuration(name: str, virtual_hosts: Iterable[Any]) -> Any:
    """A RouteConfiguration (what RDS serves) of ``virtual_hosts``."""
    return route_pb2.RouteConfiguration(name=name, virtual_hosts=list(virtual_hosts))


def runtime(name: str = DYNAMIC_RUNTIME_LAYER_NAME, **values: float | str | bool) -> Any:
    """An RTDS Runtime layer (the bootstrap's ``dynamic`` layer by default)."""
    layer = struct_pb2.Struct()
    layer.update(values)
    return rtds_pb2.Runtime(name=name, layer=layer)


def snapshot(version: str, *resources: Any) -> Snapshot:
    """A snapshot of ``resources`` of any types, grouped by their type URL."""
    by_type: dict[str, list[Any]] = {}
    for message in resources:
        by_type.setdefault(typeurls.type_url_of(message), []).append(message)
    return Snapshot.build(version, by_type)
