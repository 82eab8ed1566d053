"""Which other xDS resources a Listener or Cluster names, for the snapshot consistency check.

Envoy keeps a listener warming until the RouteConfiguration its HttpConnectionManager names (RDS)
arrives, and a cluster warming until its ClusterLoadAssignment (EDS) and the Secrets its transport
socket names (SDS) arrive. A snapshot that refers to a missing resource leaves Envoy waiting
(``initial_fetch_timeout``), so the caller checks before publishing.
"""

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from envoy.config.cluster.v3 import cluster_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2

from contour.xds import typeurls

_HCM = typeurls.PREFIX + http_connection_manager_pb2.HttpConnectionManager.DESCRIPTOR.full_name
_DOWNSTREAM_TLS = typeurls.PREFIX + tls_pb2.DownstreamTlsContext.DESCRIPTOR.full_name
_UPSTREAM_TLS = typeurls.PREFIX + tls_pb2.UpstreamTlsContext.DESCRIPTOR.full_name


class Reference(NamedTuple):
    """A resource one resource needs: its type URL and name."""

    type_url: str
    name: str


def references_of(type_url: str, message: Any) -> tuple[Reference, ...]:
    """The RDS, EDS and SDS resources a Listener or Cluster refers to (sorted, no duplicates)."""
    scan = scanner(type_url)
    return scan(message) if scan is not None else ()


Scanner = Callable[[Any], tuple[Reference, ...]]


def scanner(type_url: str) -> Scanner | None:
    """``references_of`` for one type, or ``None`` for a type that refers to nothing (look up once)."""
    return _SCANNERS.get(type_url)


def _listener_scan(listener: Any) -> tuple[Reference, ...]:
    return tuple(sorted(set(_listener_references(listener))))


def _cluster_scan(cluster: Any) -> tuple[Reference, ...]:
    # Reading ``type`` when the oneof holds ``cluster_type`` gives the default, STATIC, never EDS.
    eds = cluster.type == _EDS
    if not cluster.HasField("transport_socket") and not cluster.transport_socket_matches:
        # The common cases, without building a set: nothing, or the EDS resource alone.
        if not eds:
            return ()
        return (
            _new_reference(Reference, (_ENDPOINT, cluster.eds_cluster_config.service_name or cluster.name)),
        )
    return tuple(sorted(set(_cluster_references(cluster))))


_SCANNERS: dict[str, Scanner] = {typeurls.LISTENER: _listener_scan, typeurls.CLUSTER: _cluster_scan}
_EDS = cluster_pb2.Cluster.EDS
_ENDPOINT = typeurls.ENDPOINT
# A NamedTuple built without its generated Python __new__ (a third of the fast path's time).
_new_reference = tuple.__new__


def _listener_references(listener: Any) -> Iterator[Reference]:
    chains = list(listener.filter_chains)
    if listener.HasField("default_filter_chain"):
        chains.append(listener.default_filter_chain)
    for chain in chains:
        for network_filter in chain.filters:
            typed = network_filter.typed_config
            if typed.type_url == _HCM:
                hcm = http_connection_manager_pb2.HttpConnectionManager.FromString(typed.value)
                if hcm.WhichOneof("route_specifier") == "rds":
                    yield Reference(typeurls.ROUTE, hcm.rds.route_config_name)
        if chain.HasField("transport_socket"):
            yield from _transport_socket_references(chain.transport_socket)


def _cluster_references(cluster: Any) -> Iterator[Reference]:
    if cluster.WhichOneof("cluster_discovery_type") == "type" and cluster.type == cluster_pb2.Cluster.EDS:
        yield Reference(typeurls.ENDPOINT, cluster.eds_cluster_config.service_name or cluster.name)
    if cluster.HasField("transport_socket"):
        yield from _transport_socket_references(cluster.transport_socket)
    for match in cluster.transport_socket_matches:
        yield from _transport_socket_references(match.transport_socket)


def _transport_socket_references(socket: Any) -> Iterator[Reference]:
    typed = socket.typed_config
    if typed.type_url == _DOWNSTREAM_TLS:
        context = tls_pb2.DownstreamTlsContext.FromString(typed.value).common_tls_context
    elif typed.type_url == _UPSTREAM_TLS:
        context = tls_pb2.UpstreamTlsContext.FromString(typed.value).common_tls_context
    else:
        return
    configs = list(context.tls_certificate_sds_secret_configs)
    if context.HasField("validation_context_sds_secret_config"):
        configs.append(context.validation_context_sds_secret_config)
    combined = context.combined_validation_context
    if context.HasField("combined_validation_context") and combined.HasField(
        "validation_context_sds_secret_config"
    ):
        configs.append(combined.validation_context_sds_secret_config)
    for config in configs:
        # Without sds_config the secret is static, from Envoy's bootstrap, not from this server.
        if config.HasField("sds_config"):
            yield Reference(typeurls.SECRET, config.name)
