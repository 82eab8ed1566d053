"""JWT verification: Envoy's jwt_authn filter for secure hosts with providers, and the JWKS clusters.

As Contour's `FilterJWTAuthN`: a secure host with JWT providers gets one jwt_authn filter whose
`providers` are the host's providers and whose `requirement_map` has one entry per provider, named
after it. The filter has no rules, so it verifies nothing by itself: a route that requires a provider
names that requirement in its `PerRouteConfig.requirement_name`; a route without one (verification
disabled, or no default provider) is not verified. A remote JWKS is fetched through a STRICT_DNS
cluster `dnsname/<scheme>/<host>` (Contour's DNSNameCluster), with upstream TLS for https whose SNI is
the host name; a local JWKS is inlined.
https://www.envoyproxy.io/docs/envoy/latest/api-v3/extensions/filters/http/jwt_authn/v3/config.proto
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import http_uri_pb2
from envoy.config.endpoint.v3 import endpoint_components_pb2, endpoint_pb2
from envoy.extensions.filters.http.jwt_authn.v3 import config_pb2 as jwt

from contour.dag.model import DAG, DNSNameCluster, JWTProvider, Route, SecureVirtualHost
from contour.envoy.clusters import ClusterSettings, upstream_tls_context
from contour.envoy.core import TLS_TRANSPORT_SOCKET, pack, socket_address
from contour.envoy.durations import duration
from contour.envoy.http_connection_manager import http_filter

JWT_AUTHN_FILTER: Final = "envoy.filters.http.jwt_authn"
_DNS_FAMILIES: Final = {
    "v4": cluster_pb2.Cluster.V4_ONLY,
    "v6": cluster_pb2.Cluster.V6_ONLY,
    "all": cluster_pb2.Cluster.ALL,
}


def dns_name_cluster_name(cluster: DNSNameCluster) -> str:
    """Contour's DNSNameClusterName: `dnsname/<scheme>/<host>`."""
    return f"dnsname/{cluster.scheme}/{cluster.address}"


def _provider(provider: JWTProvider) -> Any:
    result = jwt.JwtProvider(
        issuer=provider.issuer, audiences=list(provider.audiences), forward=provider.forward_jwt
    )
    cluster = provider.remote_jwks_cluster
    if cluster is not None:
        remote = result.remote_jwks
        remote.http_uri.CopyFrom(
            http_uri_pb2.HttpUri(
                uri=provider.remote_jwks_uri,
                cluster=dns_name_cluster_name(cluster),
                timeout=duration(provider.remote_jwks_timeout_seconds),
            )
        )
        if provider.remote_jwks_cache_duration_seconds is not None:
            remote.cache_duration.CopyFrom(duration(provider.remote_jwks_cache_duration_seconds))
    else:
        result.local_jwks.inline_string = provider.local_jwks
    return result


def jwt_authn_config(providers: Sequence[JWTProvider]) -> Any:
    """The filter's JwtAuthentication: every provider, and a requirement named after each."""
    config = jwt.JwtAuthentication()
    for provider in providers:
        config.providers[provider.name].CopyFrom(_provider(provider))
        config.requirement_map[provider.name].provider_name = provider.name
    return config


def jwt_authn_filter(host: SecureVirtualHost) -> Any | None:
    """The jwt_authn HTTP filter of a secure host's chain, or None when the host has no providers."""
    if not host.jwt_providers:
        return None
    return http_filter(JWT_AUTHN_FILTER, jwt_authn_config(host.jwt_providers))


def route_jwt_requirement(route: Route, *, secure: bool) -> Any | None:
    """The route's PerRouteConfig naming the requirement it must meet; None when it requires nothing
    (and on the plain listener, which has no jwt_authn filter)."""
    if not secure or not route.jwt_provider:
        return None
    return jwt.PerRouteConfig(requirement_name=route.jwt_provider)


def dns_name_cluster(cluster: DNSNameCluster, settings: ClusterSettings) -> Any:
    """Contour's DNSNameCluster: STRICT_DNS to host:port, upstream TLS with SNI for https."""
    name = dns_name_cluster_name(cluster)
    result = cluster_pb2.Cluster(
        name=name,
        type=cluster_pb2.Cluster.STRICT_DNS,
        connect_timeout=duration(settings.connect_timeout_seconds),
        dns_lookup_family=_DNS_FAMILIES.get(
            cluster.dns_lookup_family or settings.dns_lookup_family, cluster_pb2.Cluster.AUTO
        ),
        load_assignment=endpoint_pb2.ClusterLoadAssignment(
            cluster_name=name,
            endpoints=[
                endpoint_components_pb2.LocalityLbEndpoints(
                    lb_endpoints=[
                        endpoint_components_pb2.LbEndpoint(
                            endpoint=endpoint_components_pb2.Endpoint(
                                address=socket_address(cluster.address, cluster.port)
                            )
                        )
                    ]
                )
            ],
        ),
    )
    result.common_lb_config.healthy_panic_threshold.value = 0
    if cluster.scheme == "https":
        context = upstream_tls_context(
            cluster.upstream_validation, cluster.address, None, settings.upstream_tls, ads=settings.ads
        )
        result.transport_socket.name = TLS_TRANSPORT_SOCKET
        result.transport_socket.typed_config.CopyFrom(pack(context))
    return result


def _secure_hosts(dag: DAG) -> Iterable[SecureVirtualHost]:
    for listener in dag.listeners.values():
        yield from listener.secure_virtual_hosts.values()


def jwks_clusters(dag: DAG, settings: ClusterSettings) -> list[Any]:
    """The clusters of every remote JWKS the DAG's secure hosts use, by name (the first host, in name
    order, decides a name two providers share)."""
    unique: dict[str, DNSNameCluster] = {}
    hosts = sorted(_secure_hosts(dag), key=lambda h: h.name)
    for host in hosts:
        if host.tcp_proxy:
            continue
        for provider in host.jwt_providers:
            if provider.remote_jwks_cluster is not None:
                unique.setdefault(
                    dns_name_cluster_name(provider.remote_jwks_cluster), provider.remote_jwks_cluster
                )
    return [dns_name_cluster(unique[name], settings) for name in sorted(unique)]


def with_jwks_clusters(clusters: list[Any], dag: DAG, settings: ClusterSettings) -> list[Any]:
    """`clusters` (sorted by name) with the JWKS clusters merged in; a name already there is kept."""
    extra = jwks_clusters(dag, settings)
    if not extra:
        return clusters
    taken = {c.name for c in clusters}
    return sorted([*clusters, *(c for c in extra if c.name not in taken)], key=lambda c: c.name)
