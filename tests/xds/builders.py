"""Small real Envoy API resources for the xDS tests, built with the xds-protos classes."""

from typing import Any

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import address_pb2, base_pb2, config_source_pb2
from envoy.config.endpoint.v3 import endpoint_components_pb2, endpoint_pb2
from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
from envoy.config.route.v3 import route_components_pb2, route_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm
from envoy.extensions.transport_sockets.tls.v3 import common_pb2, secret_pb2, tls_pb2
from google.protobuf import any_pb2

from contour.xds import typeurls
from contour.xds.snapshot import Snapshot


def _any(message: Any) -> Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def _ads() -> Any:
    return config_source_pb2.ConfigSource(ads=config_source_pb2.AggregatedConfigSource())


def cluster(name: str, *, service_name: str = "", secret: str = "") -> Any:
    """An EDS cluster (endpoints named ``service_name`` or the cluster name), optionally upstream TLS."""
    result = cluster_pb2.Cluster(
        name=name,
        type=cluster_pb2.Cluster.EDS,
        eds_cluster_config=cluster_pb2.Cluster.EdsClusterConfig(eds_config=_ads(), service_name=service_name),
    )
    if secret:
        context = tls_pb2.UpstreamTlsContext(common_tls_context=_sds_context(secret))
        result.transport_socket.name = "envoy.transport_sockets.tls"
        result.transport_socket.typed_config.CopyFrom(_any(context))
    return result


def static_cluster(name: str) -> Any:
    """A STATIC cluster: refers to no EDS resource."""
    return cluster_pb2.Cluster(name=name, type=cluster_pb2.Cluster.STATIC)


def custom_cluster(name: str) -> Any:
    """A cluster of a custom (extension) type: ``cluster_type`` instead of ``type``, no EDS."""
    result = cluster_pb2.Cluster(name=name)
    result.cluster_type.name = "envoy.clusters.aggregate"
    return result


def tls_match_cluster(name: str, secret: str) -> Any:
    """A STATIC cluster with upstream TLS (SDS ``secret``) in a ``transport_socket_matches`` entry."""
    result = static_cluster(name)
    match = result.transport_socket_matches.add(name="tls")
    match.transport_socket.name = "envoy.transport_sockets.tls"
    match.transport_socket.typed_config.CopyFrom(
        _any(tls_pb2.UpstreamTlsContext(common_tls_context=_sds_context(secret)))
    )
    return result


def cla(cluster_name: str, *ports: int) -> Any:
    """A ClusterLoadAssignment with one 127.0.0.1 endpoint per port."""
    endpoints = [
        endpoint_components_pb2.LbEndpoint(
            endpoint=endpoint_components_pb2.Endpoint(
                address=address_pb2.Address(
                    socket_address=address_pb2.SocketAddress(address="127.0.0.1", port_value=port)
                )
            )
        )
        for port in ports
    ]
    return endpoint_pb2.ClusterLoadAssignment(
        cluster_name=cluster_name,
        endpoints=[endpoint_components_pb2.LocalityLbEndpoints(lb_endpoints=endpoints)],
    )


def _sds_context(secret: str) -> Any:
    return tls_pb2.CommonTlsContext(
        tls_certificate_sds_secret_configs=[secret_pb2.SdsSecretConfig(name=secret, sds_config=_ads())]
    )


def listener(name: str, route_config_name: str, *, port: int = 8080, secret: str = "") -> Any:
    """A listener whose HttpConnectionManager takes routes from RDS ``route_config_name``."""
    manager = hcm.HttpConnectionManager(
        stat_prefix=name,
        rds=hcm.Rds(route_config_name=route_config_name, config_source=_ads()),
        http_filters=[
            hcm.HttpFilter(name="envoy.filters.http.router", typed_config=_any(router_pb2.Router()))
        ],
    )
    chain = listener_components_pb2.FilterChain(
        filters=[listener_components_pb2.Filter(name="envoy.filters.network.http_connection_manager")]
    )
    chain.filters[0].typed_config.CopyFrom(_any(manager))
    if secret:
        context = tls_pb2.DownstreamTlsContext(common_tls_context=_sds_context(secret))
        chain.transport_socket.name = "envoy.transport_sockets.tls"
        chain.transport_socket.typed_config.CopyFrom(_any(context))
    return listener_pb2.Listener(
        name=name,
        address=address_pb2.Address(
            socket_address=address_pb2.SocketAddress(address="0.0.0.0", port_value=port)
        ),
        filter_chains=[chain],
    )


def route_config(name: str, *clusters: str) -> Any:
    """A RouteConfiguration with one virtual host per cluster, ``<cluster>.example.com`` -> cluster."""
    return route_pb2.RouteConfiguration(
        name=name,
        virtual_hosts=[
            route_components_pb2.VirtualHost(
                name=c,
                domains=[f"{c}.example.com"],
                routes=[
                    route_components_pb2.Route(
                        match=route_components_pb2.RouteMatch(prefix="/"),
                        route=route_components_pb2.RouteAction(cluster=c),
                    )
                ],
            )
            for c in clusters
        ],
    )


def secret(name: str) -> Any:
    """A TLS certificate Secret (the PEM bytes are placeholders: nothing parses them here)."""
    return secret_pb2.Secret(
        name=name,
        tls_certificate=common_pb2.TlsCertificate(
            certificate_chain=base_pb2.DataSource(inline_string=f"cert of {name}"),
            private_key=base_pb2.DataSource(inline_string=f"key of {name}"),
        ),
    )


def snapshot(
    version: str,
    *,
    clusters: tuple[str, ...] = ("app",),
    routes: tuple[str, ...] = ("http",),
    secrets: tuple[str, ...] = (),
) -> Snapshot:
    """A consistent snapshot: per cluster a Cluster and its CLA; per route name a Listener and its routes."""
    return Snapshot.build(
        version,
        {
            typeurls.CLUSTER: [cluster(c) for c in clusters],
            typeurls.ENDPOINT: [cla(c, 9000 + i) for i, c in enumerate(clusters)],
            typeurls.LISTENER: [listener(f"listener-{r}", r, port=8080 + i) for i, r in enumerate(routes)],
            typeurls.ROUTE: [route_config(r, *clusters) for r in routes],
            typeurls.SECRET: [secret(s) for s in secrets],
        },
    )
